"""What Supabase's ``supautils`` lets the non-superuser ``postgres`` do, emulated per statement.

On Supabase, ``postgres`` is not a superuser, yet migrations create privileged extensions,
publications ``FOR ALL TABLES``, event triggers, and policies on ``auth.*`` and ``storage.*``
tables it does not own. The ``supautils`` library grants that by switching to the superuser for
those statements. Plain PostgreSQL has no such library, so the migration runner does the same
switch for the same statements (top-level, schema-qualified ones; see docs/supabase-fidelity.md),
and everything else runs as a plain ``postgres`` and fails where Supabase fails.

The lists are supabase/postgres' ``ansible/files/postgresql_config/supautils.conf.j2``
(privileged_extensions, policy_grants, drop_trigger_grants, privileged_role_allowed_configs,
reserved_roles); how each is applied follows supautils' ``src/supautils.c`` (the
``AlterRoleSetStmt``, ``VariableSetStmt``, ``AlterRoleStmt`` and ``DropRoleStmt`` cases).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast
from pglast.enums import ObjectType

PRIVILEGED_ROLE = "postgres"

PRIVILEGED_EXTENSIONS = frozenset(
    [
        "address_standardizer",
        "address_standardizer_data_us",
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
        "fuzzystrmatch",
        "hstore",
        "http",
        "hypopg",
        "index_advisor",
        "insert_username",
        "intarray",
        "isn",
        "ltree",
        "moddatetime",
        "orioledb",
        "pg_buffercache",
        "pg_cron",
        "pg_graphql",
        "pg_hashids",
        "pg_jsonschema",
        "pg_net",
        "pg_prewarm",
        "pg_repack",
        "pg_stat_monitor",
        "pg_stat_statements",
        "pg_tle",
        "pg_trgm",
        "pg_walinspect",
        "pgaudit",
        "pgcrypto",
        "pgjwt",
        "pgroonga",
        "pgroonga_database",
        "pgrouting",
        "pgrowlocks",
        "pgsodium",
        "pgstattuple",
        "pgtap",
        "plcoffee",
        "pljava",
        "plls",
        "plpgsql_check",
        "plv8",
        "postgis",
        "postgis_raster",
        "postgis_sfcgal",
        "postgis_tiger_geocoder",
        "postgis_topology",
        "postgres_fdw",
        "refint",
        "rum",
        "seg",
        "sslinfo",
        "supabase_vault",
        "supautils",
        "tablefunc",
        "tcn",
        "timescaledb",
        "tsm_system_rows",
        "tsm_system_time",
        "unaccent",
        "uuid-ossp",
        "vector",
        "wrappers",
    ]
)

# Tables postgres may create, alter and drop policies on, and drop triggers from, without owning.
GRANTED_TABLES = frozenset(
    [
        "auth.audit_log_entries",
        "auth.flow_state",
        "auth.identities",
        "auth.instances",
        "auth.mfa_amr_claims",
        "auth.mfa_challenges",
        "auth.mfa_factors",
        "auth.oauth_clients",
        "auth.one_time_tokens",
        "auth.refresh_tokens",
        "auth.saml_providers",
        "auth.saml_relay_states",
        "auth.sessions",
        "auth.sso_domains",
        "auth.sso_providers",
        "auth.users",
        "realtime.messages",
        "realtime.subscription",
        "storage.buckets",
        "storage.buckets_analytics",
        "storage.objects",
        "storage.prefixes",
        "storage.s3_multipart_uploads",
        "storage.s3_multipart_uploads_parts",
    ]
)


# Settings only a superuser may set that supautils lets postgres set (SET, and ALTER ROLE ...
# SET on a role it may alter). A trailing ".*" allows every setting with that prefix.
ALLOWED_CONFIGS = (
    "auto_explain.log_min_duration",
    "auto_explain.log_nested_statements",
    "log_lock_waits",
    "log_min_messages",
    "pg_net.batch_size",
    "pg_net.ttl",
    "pgaudit.log",
    "pgaudit.log_catalog",
    "pgaudit.log_client",
    "pgaudit.log_level",
    "pgaudit.log_relation",
    "pgaudit.log_rows",
    "pgaudit.log_statement",
    "pgaudit.log_statement_once",
    "pgaudit.role",
    "pgrst.*",
    "plan_filter.*",
    "safeupdate.enabled",
    "session_replication_role",
    "track_io_timing",
)

# Roles postgres may not alter or drop (supautils.reserved_roles); True: postgres may still
# change their settings (the "*" suffix in the configuration).
RESERVED_ROLES: dict[str, bool] = {
    "supabase_admin": False,
    "supabase_auth_admin": False,
    "supabase_storage_admin": False,
    "supabase_read_only_user": False,
    "supabase_replication_admin": False,
    "dashboard_user": False,
    "pgbouncer": False,
    "service_role": True,
    "authenticator": True,
    "authenticated": True,
    "anon": True,
}


def allowed_config(name: str | None) -> bool:
    """Whether supautils lets postgres set ``name`` (exact entry or ``prefix.*``)."""
    if not name:
        return False
    return any(
        name == entry or (entry.endswith(".*") and name.startswith(entry[:-1]))
        for entry in ALLOWED_CONFIGS
    )


def reserved_refusal(node: Any) -> str | None:
    """supautils' message when ``node`` alters or drops a reserved role, else None."""
    targets: list[str] = []
    if isinstance(node, ast.AlterRoleSetStmt):
        name = getattr(node.role, "rolename", None)
        if name is not None and RESERVED_ROLES.get(name) is False:
            targets.append(name)
    elif isinstance(node, ast.AlterRoleStmt):
        name = getattr(node.role, "rolename", None)
        if name in RESERVED_ROLES:
            targets.append(name)
    elif isinstance(node, ast.DropRoleStmt):
        targets = [r.rolename for r in node.roles or () if r.rolename in RESERVED_ROLES]
    if not targets:
        return None
    return f'"{targets[0]}" is a reserved role, only superusers can modify it'


@dataclass(frozen=True)
class Elevation:
    """How to run one statement: as the superuser, and what to run after it (as postgres)."""

    reason: str
    after: tuple[str, ...] = field(default=())


def _qualified(rangevar: Any) -> str | None:
    if rangevar is None or not getattr(rangevar, "schemaname", None):
        return None
    return f"{rangevar.schemaname}.{rangevar.relname}"


def _names(obj: Any) -> list[str]:
    """The strings of a name list node (``[schema, table, name]`` for policies and triggers)."""
    items = obj if isinstance(obj, tuple | list) else getattr(obj, "items", None) or ()
    return [getattr(item, "sval", None) or str(item) for item in items]


def created_extension(node: Any) -> tuple[str, str | None, bool] | None:
    """(name, schema, if_not_exists) when ``node`` is CREATE EXTENSION."""
    if not isinstance(node, ast.CreateExtensionStmt):
        return None
    schema = None
    for option in node.options or ():
        if option.defname == "schema":
            schema = getattr(option.arg, "sval", None) or str(option.arg)
    return node.extname, schema, bool(node.if_not_exists)


def elevation(node: Any) -> Elevation | None:
    """The supautils rule that applies to a parsed statement, if any."""
    if isinstance(node, ast.CreateExtensionStmt):
        if node.extname in PRIVILEGED_EXTENSIONS:
            return Elevation(f"privileged extension {node.extname}")
        return None
    if isinstance(node, ast.AlterExtensionStmt | ast.AlterExtensionContentsStmt):
        name = getattr(node, "extname", None)
        return Elevation(f"privileged extension {name}") if name in PRIVILEGED_EXTENSIONS else None
    if isinstance(node, ast.CreatePolicyStmt | ast.AlterPolicyStmt):
        table = _qualified(node.table)
        return Elevation(f"policy on {table}") if table in GRANTED_TABLES else None
    if isinstance(node, ast.DropStmt):
        return _drop_elevation(node)
    if isinstance(node, ast.CreatePublicationStmt):
        if node.for_all_tables or _publishes_schemas(node):
            name = node.pubname
            return Elevation(
                "publication for all tables or schemas",
                after=(f'ALTER PUBLICATION "{name}" OWNER TO {PRIVILEGED_ROLE}',),
            )
        return None
    if isinstance(node, ast.CreateEventTrigStmt):
        return Elevation("event trigger")
    if isinstance(node, ast.AlterRoleSetStmt):
        name = getattr(node.setstmt, "name", None)
        if allowed_config(name) and node.role is not None:
            return Elevation(f"setting {name} (privileged_role_allowed_configs)")
        return None
    if isinstance(node, ast.VariableSetStmt):
        if node.name != "session_authorization" and allowed_config(node.name):
            return Elevation(f"setting {node.name} (privileged_role_allowed_configs)")
        return None
    if isinstance(node, ast.CreateFdwStmt):
        return Elevation(
            "foreign data wrapper",
            after=(f'ALTER FOREIGN DATA WRAPPER "{node.fdwname}" OWNER TO {PRIVILEGED_ROLE}',),
        )
    return None


def _publishes_schemas(node: Any) -> bool:
    return any(
        "SCHEMA" in getattr(obj.pubobjtype, "name", str(obj.pubobjtype))
        for obj in node.pubobjects or ()
    )


def _drop_elevation(node: Any) -> Elevation | None:
    kind = node.removeType
    if kind == ObjectType.OBJECT_EXTENSION:
        names = {getattr(obj, "sval", None) or str(obj) for obj in node.objects or ()}
        if names and names <= PRIVILEGED_EXTENSIONS:
            return Elevation(f"privileged extension {', '.join(sorted(names))}")
        return None
    if kind in (ObjectType.OBJECT_POLICY, ObjectType.OBJECT_TRIGGER):
        for obj in node.objects or ():
            parts = _names(obj)
            if len(parts) >= 3 and f"{parts[-3]}.{parts[-2]}" in GRANTED_TABLES:
                what = "policy" if kind == ObjectType.OBJECT_POLICY else "trigger"
                return Elevation(f"drop {what} on {parts[-3]}.{parts[-2]}")
    return None


def session_authorization(node: Any) -> str | None:
    """``"reset"``/``"set"`` for SET/RESET SESSION AUTHORIZATION, which must not escape postgres."""
    if isinstance(node, ast.VariableSetStmt) and node.name == "session_authorization":
        kind = node.kind.name
        return "reset" if kind in ("VAR_RESET", "VAR_SET_DEFAULT") else "set"
    return None
