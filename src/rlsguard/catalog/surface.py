"""Read a database's security surface from the catalog: one reader for snapshots and lints.

What reaches the Data API is decided by a handful of catalog facts: which tables have row
level security enabled (and forced), which policies exist and what they say, what the API
roles (``anon``, ``authenticated``, ``service_role``) and ``PUBLIC`` were granted on tables,
columns, schemas and functions, which functions run as their owner (SECURITY DEFINER) and
with which ``search_path``, which views run with their owner's rights, what default
privileges new objects will get, and what the API roles themselves may do (BYPASSRLS,
memberships). :func:`read_catalog` reads all of it in one read-only transaction and returns
frozen dataclasses. Expressions come both raw (``pg_get_expr``) and normalised
(:mod:`rlsguard.catalog.sqlnorm`).

The reader pins the settings that change how the catalog prints (``search_path`` empty, so
every user object comes schema-qualified; UTC; ISO dates) and rolls its transaction back, so
the caller's connection is left as it was. System schemas and objects that belong to an
extension are left out: they are not the project's.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from rlsguard.catalog.sqlnorm import normalize_body, normalize_expression_or_raw, normalize_query
from rlsguard.errors import SqlNormalizationError
from rlsguard.vocab import API_ROLES

PUBLIC = "PUBLIC"
GRANTEES = (*API_ROLES, PUBLIC)  # whose grants decide what the Data API reaches

# Supabase's own schemas. auth, storage and realtime hold user data and user policies, so
# snapshots keep their tables; the rest are plumbing.
SUPABASE_SCHEMAS = frozenset(
    {
        "auth",
        "storage",
        "realtime",
        "_realtime",
        "extensions",
        "graphql",
        "graphql_public",
        "supabase_migrations",
        "supabase_functions",
        "vault",
        "pgsodium",
        "pgsodium_masks",
        "net",
        "cron",
        "pgbouncer",
        "_analytics",
        "pgtle",
    }
)
USER_DATA_SUPABASE_SCHEMAS = frozenset({"auth", "storage", "realtime"})

Command = Literal["ALL", "SELECT", "INSERT", "UPDATE", "DELETE"]
RelationKind = Literal["table", "partitioned table", "view", "materialized view", "foreign table"]
ObjectType = Literal["tables", "sequences", "functions", "types", "schemas"]
Volatility = Literal["immutable", "stable", "volatile"]

_COMMANDS: dict[str, Command] = {
    "*": "ALL",
    "r": "SELECT",
    "a": "INSERT",
    "w": "UPDATE",
    "d": "DELETE",
}
_RELKINDS: dict[str, RelationKind] = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}
_OBJECT_TYPES: dict[str, ObjectType] = {
    "r": "tables",
    "S": "sequences",
    "f": "functions",
    "T": "types",
    "n": "schemas",
}
_VOLATILITY: dict[str, Volatility] = {"i": "immutable", "s": "stable", "v": "volatile"}
_TRUE_OPTIONS = frozenset({"true", "on", "yes", "1"})

_SETTINGS = (
    "SET LOCAL search_path = ''",
    "SET LOCAL TimeZone = 'UTC'",
    "SET LOCAL DateStyle = 'ISO, MDY'",
    "SET LOCAL IntervalStyle = 'postgres'",
    "SET LOCAL extra_float_digits = 1",
    "SET LOCAL transaction_read_only = on",
)
_USER_NAMESPACE = (
    "{n}.nspname not in ('pg_catalog', 'information_schema') "
    "and {n}.nspname !~ '^pg_(toast|temp_|toast_temp_)'"
)


# The comment rlsguard's stand-ins put on every function they create: like a real
# extension's members (pg_depend), they are not the project's own surface.
STAND_IN_COMMENT = "rlsguard stand-in for "


def _not_extension_member(classid: str, oid: str) -> str:
    return (
        f"not exists (select 1 from pg_depend d where d.classid = '{classid}'::regclass "
        f"and d.objid = {oid} and d.deptype = 'e')"
    )


# -- the model ------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Grant:
    """One privilege held by one grantee (``PUBLIC`` for everyone)."""

    grantee: str
    privilege: str
    grantable: bool = False

    def describe(self) -> str:
        return self.privilege + (" WITH GRANT OPTION" if self.grantable else "")


def grants_by_grantee(grants: Iterable[Grant]) -> dict[str, tuple[Grant, ...]]:
    out: dict[str, list[Grant]] = defaultdict(list)
    for grant in sorted(grants):
        out[grant.grantee].append(grant)
    return {k: tuple(v) for k, v in out.items()}


@dataclass(frozen=True)
class Policy:
    """A row level security policy as ``pg_policy`` holds it."""

    schema: str
    table: str
    name: str
    command: Command
    permissive: bool
    roles: tuple[str, ...]  # sorted; "public" when the policy applies to every role
    using_raw: str | None
    with_check_raw: str | None
    using: str | None  # normalised
    with_check: str | None

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def mode(self) -> Literal["permissive", "restrictive"]:
        return "permissive" if self.permissive else "restrictive"

    def applies_to(self, role: str) -> bool:
        return "public" in self.roles or role in self.roles


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    grants: tuple[Grant, ...] = ()  # column-level grants (API roles and PUBLIC)


@dataclass(frozen=True)
class Table:
    """A table-like relation rows live in: table, partitioned table or foreign table."""

    schema: str
    name: str
    kind: RelationKind
    owner: str
    rls_enabled: bool
    rls_forced: bool
    exposed: bool  # its schema is one the Data API serves
    grants: tuple[Grant, ...] = ()
    # What each API role may do, memberships and PUBLIC included (has_table_privilege).
    effective: Mapping[str, frozenset[str]] = field(default_factory=dict)
    columns: tuple[Column, ...] = ()
    policies: tuple[Policy, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class View:
    """A view or materialized view: who it runs as and what it reads."""

    schema: str
    name: str
    kind: RelationKind
    owner: str
    security_invoker: bool
    security_barrier: bool
    exposed: bool
    definition_raw: str
    definition: str  # normalised
    reads: tuple[str, ...]  # schema.name of every relation its query references
    grants: tuple[Grant, ...] = ()
    effective: Mapping[str, frozenset[str]] = field(default_factory=dict)
    columns: tuple[Column, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Function:
    """A function or procedure, with what decides whose rights it runs with."""

    schema: str
    name: str
    identity_arguments: str
    result: str | None
    kind: Literal["function", "procedure"]
    language: str
    security_definer: bool
    owner: str
    config: tuple[str, ...]  # proconfig: "name=value"
    volatility: Volatility
    leakproof: bool
    exposed: bool
    body_raw: str
    body: str  # normalised
    execute_grants: tuple[Grant, ...] = ()  # explicit EXECUTE (PUBLIC by default)
    executable_by: frozenset[str] = frozenset()  # API roles that hold EXECUTE, however
    # PostgREST's db_pre_request (set on authenticator): called as the request's role before
    # every request, so anon and authenticated must be able to execute it.
    pre_request: bool = False

    @property
    def signature(self) -> str:
        return f"{self.schema}.{self.name}({self.identity_arguments})"

    @property
    def search_path(self) -> str | None:
        """The pinned ``search_path`` (``SET search_path = ...``), None when not pinned."""
        for item in self.config:
            name, _, value = item.partition("=")
            if name == "search_path":
                return value
        return None


@dataclass(frozen=True)
class DefaultPrivilege:
    """``ALTER DEFAULT PRIVILEGES [FOR ROLE r] [IN SCHEMA s]``: what new objects will get."""

    for_role: str
    schema: str | None  # None: every schema
    object_type: ObjectType
    grants: tuple[Grant, ...]  # to API roles and PUBLIC; may be empty (a revoke)


@dataclass(frozen=True)
class Schema:
    name: str
    owner: str
    exposed: bool
    supabase: bool  # one of Supabase's own schemas
    grants: tuple[Grant, ...] = ()
    usable_by: frozenset[str] = frozenset()  # API roles with USAGE, however


@dataclass(frozen=True)
class Role:
    name: str
    superuser: bool
    bypassrls: bool
    login: bool
    member_of: tuple[str, ...]  # roles whose privileges it holds, directly


@dataclass(frozen=True)
class Catalog:
    """The security surface of one database."""

    exposed_schemas: tuple[str, ...]
    schemas: tuple[Schema, ...]
    tables: tuple[Table, ...]
    views: tuple[View, ...]
    functions: tuple[Function, ...]
    default_privileges: tuple[DefaultPrivilege, ...]
    roles: tuple[Role, ...]
    server_version_num: int

    def table(self, qualified: str) -> Table | None:
        return next((t for t in self.tables if t.qualified == qualified), None)

    def view(self, qualified: str) -> View | None:
        return next((v for v in self.views if v.qualified == qualified), None)

    def function(self, signature: str) -> Function | None:
        return next((f for f in self.functions if f.signature == signature), None)

    @property
    def policies(self) -> tuple[Policy, ...]:
        return tuple(p for t in self.tables for p in t.policies)


# -- the queries ----------------------------------------------------------------------------


def _grantee(acl: str) -> str:
    """The grantee of an ``aclexplode`` row named ``acl``: a role name, or PUBLIC."""
    return f"case when {acl}.grantee = 0 then 'PUBLIC' else pg_get_userbyid({acl}.grantee) end"


def _acl_json(acl_expr: str) -> str:
    """``[[grantee, privilege, grantable], ...]`` of an ACL, API roles and PUBLIC only."""
    return (
        f"coalesce((select json_agg(json_build_array({_grantee('x')}, x.privilege_type, "
        f"x.is_grantable)) from aclexplode({acl_expr}) x "
        f"where {_grantee('x')} = any(%(grantees)s)), '[]')"
    )


_RELATIONS = f"""
select c.oid, n.nspname as schema, c.relname as name, c.relkind::text as relkind,
       pg_get_userbyid(c.relowner) as owner, c.relrowsecurity as rls_enabled,
       c.relforcerowsecurity as rls_forced, coalesce(c.reloptions, '{{}}') as options,
       case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end as definition
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm', 'f')
  and {_USER_NAMESPACE.format(n="n")}
  and {_not_extension_member("pg_class", "c.oid")}
"""
_RELATION_GRANTS = f"""
select c.oid, {_grantee("a")} as grantee, a.privilege_type, a.is_grantable
from pg_class c, aclexplode(c.relacl) a
where c.oid = any(%(oids)s) and {_grantee("a")} = any(%(grantees)s)
"""
_EFFECTIVE = """
select c.oid, r.rolname as role, p.privilege
from pg_class c
cross join pg_roles r
cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                        'TRIGGER']) as p(privilege)
where c.oid = any(%(oids)s) and r.rolname = any(%(roles)s)
  and has_table_privilege(r.oid, c.oid, p.privilege)
"""
_COLUMNS = f"""
select a.attrelid as oid, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
       a.attnum, {_acl_json("a.attacl")} as grants
from pg_attribute a
where a.attrelid = any(%(oids)s) and a.attnum > 0 and not a.attisdropped
order by a.attrelid, a.attnum
"""
_POLICIES = """
select pol.polrelid as oid, pol.polname as name, pol.polcmd::text as cmd,
       pol.polpermissive as permissive,
       array(select case when r = 0 then 'public' else pg_get_userbyid(r) end
             from unnest(pol.polroles) r) as roles,
       pg_get_expr(pol.polqual, pol.polrelid) as using_raw,
       pg_get_expr(pol.polwithcheck, pol.polrelid) as with_check_raw
from pg_policy pol
where pol.polrelid = any(%(oids)s)
"""
_VIEW_READS = """
select distinct r.ev_class as oid, rn.nspname || '.' || rc.relname as relation
from pg_rewrite r
join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
                and d.refclassid = 'pg_class'::regclass
join pg_class rc on rc.oid = d.refobjid
join pg_namespace rn on rn.oid = rc.relnamespace
where r.ev_class = any(%(oids)s) and d.refobjid <> r.ev_class
"""
_FUNCTIONS = f"""
select p.oid, n.nspname as schema, p.proname as name,
       pg_get_function_identity_arguments(p.oid) as identity_arguments,
       pg_get_function_result(p.oid) as result, p.prokind::text as prokind,
       l.lanname as language, p.prosecdef as security_definer,
       pg_get_userbyid(p.proowner) as owner, coalesce(p.proconfig, '{{}}') as config,
       p.provolatile::text as volatility, p.proleakproof as leakproof,
       case when p.prosqlbody is not null then pg_get_function_sqlbody(p.oid)
            else p.prosrc end as body,
       {_acl_json("coalesce(p.proacl, acldefault('f', p.proowner))")} as grants,
       array(select r from unnest(%(roles)s::text[]) r
             where has_function_privilege(r, p.oid, 'EXECUTE')) as executable_by,
       exists (select 1 from pg_db_role_setting s
               join pg_roles a on a.oid = s.setrole and a.rolname = 'authenticator'
               cross join unnest(s.setconfig) c
               where s.setdatabase in (0, (select oid from pg_database
                                           where datname = current_database()))
                 and starts_with(c, 'pgrst.db_pre_request=')
                 and to_regproc(substr(c, length('pgrst.db_pre_request=') + 1)) = p.oid
              ) as pre_request
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_language l on l.oid = p.prolang
where p.prokind in ('f', 'p')
  and {_USER_NAMESPACE.format(n="n")}
  and {_not_extension_member("pg_proc", "p.oid")}
  and not starts_with(coalesce(obj_description(p.oid, 'pg_proc'), ''), '{STAND_IN_COMMENT}')
"""
_SCHEMAS = f"""
select n.nspname as name, pg_get_userbyid(n.nspowner) as owner,
       {_acl_json("coalesce(n.nspacl, acldefault('n', n.nspowner))")} as grants,
       array(select r from unnest(%(roles)s::text[]) r
             where has_schema_privilege(r, n.oid, 'USAGE')) as usable_by
from pg_namespace n
where {_USER_NAMESPACE.format(n="n")}
  and {_not_extension_member("pg_namespace", "n.oid")}
"""
_DEFAULT_PRIVILEGES = f"""
select pg_get_userbyid(d.defaclrole) as for_role, n.nspname as schema,
       d.defaclobjtype::text as objtype,
       {_acl_json("d.defaclacl")} as grants
from pg_default_acl d
left join pg_namespace n on n.oid = d.defaclnamespace
"""
_ROLES = """
select r.rolname as name, r.rolsuper as superuser, r.rolbypassrls as bypassrls,
       r.rolcanlogin as login,
       array(select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid
             where m.member = r.oid order by g.rolname) as member_of
from pg_roles r
where r.rolname = any(%(roles)s)
"""


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """A Storage bucket (rows of ``storage.buckets``)."""

    id: str
    public: bool


_BUCKETS = "select id, public from storage.buckets order by id"


def read_buckets(conn: psycopg.Connection[Any]) -> list[Bucket]:
    """Storage buckets (none when the database has no storage schema)."""
    exists = conn.execute("select to_regclass('storage.buckets') is not null").fetchone()
    if not exists or not exists[0]:
        return []
    return [Bucket(str(i), bool(p)) for i, p in conn.execute(_BUCKETS).fetchall()]


@dataclass(frozen=True)
class Trigger:
    """A BEFORE UPDATE row trigger (``pg_trigger``) and the function it runs."""

    table: str  # schema.name
    name: str
    function: str  # schema.name
    language: str
    body: str
    when: str | None = None  # the WHEN condition, without parentheses


# BEFORE UPDATE row triggers (tgtype bits: 1 row, 2 before, 16 update), enabled, user-made.
_TRIGGERS = """
select n.nspname || '.' || c.relname, t.tgname, pn.nspname || '.' || p.proname, l.lanname,
       p.prosrc, pg_get_triggerdef(t.oid)
from pg_trigger t
join pg_class c on c.oid = t.tgrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_proc p on p.oid = t.tgfoid
join pg_namespace pn on pn.oid = p.pronamespace
join pg_language l on l.oid = p.prolang
where not t.tgisinternal and t.tgenabled <> 'D'
  and t.tgtype & 1 = 1 and t.tgtype & 2 = 2 and t.tgtype & 16 = 16
  and n.nspname not in ('pg_catalog', 'information_schema')
order by 1, 2
"""
_COMMENTS = """
select n.nspname || '.' || c.relname, a.attname, d.description
from pg_description d
join pg_class c on c.oid = d.objoid and d.classoid = 'pg_class'::regclass
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum = d.objsubid
where d.objsubid > 0 and n.nspname not in ('pg_catalog', 'information_schema')
"""
_WHEN = re.compile(r"\bWHEN \((.*)\) EXECUTE (?:FUNCTION|PROCEDURE)\b", re.S)


def read_triggers(conn: psycopg.Connection[Any]) -> list[Trigger]:
    """BEFORE UPDATE row triggers: they may refuse changes an UPDATE policy would allow."""
    out = []
    for table, name, function, language, body, definition in conn.execute(_TRIGGERS):
        when = _WHEN.search(definition)
        out.append(Trigger(table, name, function, language, body, when.group(1) if when else None))
    return out


def read_column_comments(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], str]:
    """``{(schema.table, column): comment}``: comments say what a column holds."""
    return {(t, c): str(d) for t, c, d in conn.execute(_COMMENTS)}


def read_catalog(
    conn: psycopg.Connection[Any], exposed_schemas: Iterable[str] = ("public", "graphql_public")
) -> Catalog:
    """The security surface of the database ``conn`` is connected to.

    ``exposed_schemas``: the schemas the Data API serves (``[api] schemas`` of the project's
    ``config.toml``). Runs in a transaction (a savepoint when one is open) that is rolled
    back, so the settings it pins do not outlive the call.
    """
    exposed = tuple(dict.fromkeys(exposed_schemas))
    params: dict[str, Any] = {"grantees": list(GRANTEES), "roles": list(API_ROLES)}
    with conn.transaction(force_rollback=True), conn.cursor(row_factory=dict_row) as cur:
        for statement in _SETTINGS:
            cur.execute(statement)
        version_row = cur.execute(
            "select current_setting('server_version_num')::int as version"
        ).fetchone()
        assert version_row is not None
        relations = cur.execute(_RELATIONS).fetchall()
        params["oids"] = [r["oid"] for r in relations]
        rel_grants = _group(cur.execute(_RELATION_GRANTS, params).fetchall(), "oid")
        effective_rows = cur.execute(_EFFECTIVE, params).fetchall()
        columns = _group(cur.execute(_COLUMNS, params).fetchall(), "oid")
        policies = _group(cur.execute(_POLICIES, params).fetchall(), "oid")
        reads = _group(cur.execute(_VIEW_READS, params).fetchall(), "oid")
        functions = cur.execute(_FUNCTIONS, params).fetchall()
        schemas = cur.execute(_SCHEMAS, params).fetchall()
        defaults = cur.execute(_DEFAULT_PRIVILEGES, params).fetchall()
        roles = cur.execute(_ROLES, params).fetchall()

    effective: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for row in effective_rows:
        effective[row["oid"]][row["role"]].add(row["privilege"])

    tables: list[Table] = []
    views: list[View] = []
    for rel in relations:
        oid = rel["oid"]
        kind = _RELKINDS[rel["relkind"]]
        common: dict[str, Any] = {
            "schema": rel["schema"],
            "name": rel["name"],
            "kind": kind,
            "owner": rel["owner"],
            "exposed": rel["schema"] in exposed,
            "grants": tuple(
                sorted(
                    Grant(g["grantee"], g["privilege_type"], g["is_grantable"])
                    for g in rel_grants.get(oid, ())
                )
            ),
            "effective": {role: frozenset(privs) for role, privs in sorted(effective[oid].items())},
            "columns": tuple(
                Column(c["name"], c["type"], _grants(c["grants"])) for c in columns.get(oid, ())
            ),
        }
        if rel["relkind"] in ("v", "m"):
            options = _options(rel["options"])
            views.append(
                View(
                    **common,
                    security_invoker=options.get("security_invoker", "false") in _TRUE_OPTIONS,
                    security_barrier=options.get("security_barrier", "false") in _TRUE_OPTIONS,
                    definition_raw=rel["definition"] or "",
                    definition=_normalize_query(rel["definition"] or ""),
                    reads=tuple(sorted(r["relation"] for r in reads.get(oid, ()))),
                )
            )
        else:
            tables.append(
                Table(
                    **common,
                    rls_enabled=rel["rls_enabled"],
                    rls_forced=rel["rls_forced"],
                    policies=tuple(
                        sorted(
                            (_policy(rel, p) for p in policies.get(oid, ())),
                            key=lambda p: p.name,
                        )
                    ),
                )
            )

    return Catalog(
        exposed_schemas=exposed,
        schemas=tuple(
            sorted(
                (
                    Schema(
                        name=s["name"],
                        owner=s["owner"],
                        exposed=s["name"] in exposed,
                        supabase=s["name"] in SUPABASE_SCHEMAS,
                        grants=_grants(s["grants"]),
                        usable_by=frozenset(s["usable_by"]),
                    )
                    for s in schemas
                ),
                key=lambda s: s.name,
            )
        ),
        tables=tuple(sorted(tables, key=lambda t: (t.schema, t.name))),
        views=tuple(sorted(views, key=lambda v: (v.schema, v.name))),
        functions=tuple(
            sorted((_function(f, exposed) for f in functions), key=lambda f: f.signature)
        ),
        default_privileges=tuple(
            sorted(
                (
                    DefaultPrivilege(
                        for_role=d["for_role"],
                        schema=d["schema"],
                        object_type=_OBJECT_TYPES.get(d["objtype"], "tables"),
                        grants=_grants(d["grants"]),
                    )
                    for d in defaults
                ),
                key=lambda d: (d.for_role, d.schema or "", d.object_type),
            )
        ),
        roles=tuple(
            sorted(
                (
                    Role(
                        name=r["name"],
                        superuser=r["superuser"],
                        bypassrls=r["bypassrls"],
                        login=r["login"],
                        member_of=tuple(r["member_of"]),
                    )
                    for r in roles
                ),
                key=lambda r: r.name,
            )
        ),
        server_version_num=version_row["version"],
    )


def _group(rows: list[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[row[key]].append(row)
    return out


def _grants(raw: Iterable[list[Any]]) -> tuple[Grant, ...]:
    return tuple(sorted(Grant(g[0], g[1], bool(g[2])) for g in raw))


def _options(options: Iterable[str]) -> dict[str, str]:
    out = {}
    for item in options:
        name, _, value = item.partition("=")
        out[name.lower()] = value.lower()
    return out


def _normalize_query(text: str) -> str:
    try:
        return normalize_query(text)
    except SqlNormalizationError:
        return " ".join(text.split())


def _policy(rel: Mapping[str, Any], row: Mapping[str, Any]) -> Policy:
    return Policy(
        schema=rel["schema"],
        table=rel["name"],
        name=row["name"],
        command=_COMMANDS[row["cmd"]],
        permissive=row["permissive"],
        roles=tuple(sorted(row["roles"])),
        using_raw=row["using_raw"],
        with_check_raw=row["with_check_raw"],
        using=normalize_expression_or_raw(row["using_raw"]),
        with_check=normalize_expression_or_raw(row["with_check_raw"]),
    )


def _function(row: Mapping[str, Any], exposed: tuple[str, ...]) -> Function:
    volatility = _VOLATILITY[row["volatility"]]
    body = row["body"] or ""
    return Function(
        schema=row["schema"],
        name=row["name"],
        identity_arguments=row["identity_arguments"],
        result=row["result"],
        kind="procedure" if row["prokind"] == "p" else "function",
        language=row["language"],
        security_definer=row["security_definer"],
        owner=row["owner"],
        config=tuple(row["config"]),
        volatility=volatility,
        leakproof=row["leakproof"],
        exposed=row["schema"] in exposed,
        body_raw=body,
        body=normalize_body(body, row["language"]),
        execute_grants=_grants(row["grants"]),
        executable_by=frozenset(row["executable_by"]),
        pre_request=bool(row.get("pre_request")),
    )
