"""What the checker needs to know about the tables of a matrix, in one round trip each.

Tables are named ``schema.table`` exactly as in the catalog (no quoting); the
SQL built from them always quotes identifiers, so odd names are safe.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

_TABLES = """
select n.name, (
  select jsonb_build_object(
    'kind', c.relkind,
    'rls', c.relrowsecurity,
    'force', c.relforcerowsecurity,
    'columns', (
      select jsonb_agg(jsonb_build_array(a.attname, format_type(a.atttypid, a.atttypmod),
                                         a.attidentity = 'a' or a.attgenerated <> '')
                       order by a.attnum)
      from pg_attribute a
      where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped),
    'primary_key', (
      select jsonb_agg(a.attname order by k.ord)
      from pg_index i
      cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
      join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
      where i.indrelid = c.oid and i.indisprimary),
    'updatable', (
      select jsonb_object_agg(r.rolname, (
        select coalesce(jsonb_agg(a.attname order by a.attnum), '[]')
        from pg_attribute a
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
          and a.attidentity <> 'a' and a.attgenerated = ''
          and has_column_privilege(r.oid, c.oid, a.attnum, 'UPDATE')))
      from pg_roles r where r.rolname = any(%(roles)s)),
    -- a DELETE may skip foreign-key triggers: referenced, and no trigger or rule of the
    -- table's own acts on DELETE (then replica mode changes nothing but the FK checks)
    'delete_skips_fks', c.relkind = 'r'
      and exists (select 1 from pg_constraint f where f.confrelid = c.oid and f.contype = 'f')
      and not exists (select 1 from pg_trigger t where t.tgrelid = c.oid
                        and not t.tgisinternal and t.tgtype & 8 <> 0)
      and not exists (select 1 from pg_rewrite w where w.ev_class = c.oid and w.ev_type = '4')
  )
  from pg_class c
  join pg_namespace s on s.oid = c.relnamespace
  where s.nspname = split_part(n.name, '.', 1)
    and c.relname = substr(n.name, strpos(n.name, '.') + 1)
) as info
from unnest(%(names)s::text[]) as n(name)
"""

_EXPOSED = """
select s.nspname || '.' || c.relname
from pg_class c
join pg_namespace s on s.oid = c.relnamespace
where c.relkind in ('r', 'p') and not c.relispartition
  and (s.nspname = any(%(schemas)s)
       or (s.nspname = 'storage' and exists (select 1 from pg_policy p where p.polrelid = c.oid)))
order by 1
"""

_POLICIES = """
select p.polname,
       p.polpermissive,
       p.polcmd,
       array(select case when r = 0 then 'public' else pg_get_userbyid(r) end
             from unnest(p.polroles) as r),
       pg_get_expr(p.polqual, p.polrelid),
       pg_get_expr(p.polwithcheck, p.polrelid),
       0 = any(p.polroles)
         or exists (select 1 from unnest(p.polroles) as r
                    where r <> 0 and pg_has_role(%(role)s, r, 'MEMBER'))
from pg_policy p
join pg_class c on c.oid = p.polrelid
join pg_namespace s on s.oid = c.relnamespace
where s.nspname = %(schema)s and c.relname = %(table)s
order by p.polname
"""

_PRIVILEGES = """
select r.rolbypassrls,
       has_table_privilege(r.oid, c.oid, 'SELECT'),
       has_table_privilege(r.oid, c.oid, 'INSERT'),
       has_table_privilege(r.oid, c.oid, 'UPDATE'),
       has_table_privilege(r.oid, c.oid, 'DELETE')
from pg_roles r, pg_class c join pg_namespace s on s.oid = c.relnamespace
where r.rolname = %(role)s and s.nspname = %(schema)s and c.relname = %(table)s
"""

POLICY_COMMANDS = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "*": "ALL"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    generated: bool  # GENERATED ALWAYS (identity or stored): cannot be assigned


@dataclass(frozen=True)
class TableInfo:
    """One table as the checker sees it."""

    name: str
    kind: str
    rls: bool
    force_rls: bool
    columns: dict[str, Column]
    primary_key: tuple[str, ...]
    updatable: dict[str, tuple[str, ...]] = field(default_factory=dict)
    delete_skips_fks: bool = False  # see Checker: a delete then needs no row-by-row retry

    @property
    def schema(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def relname(self) -> str:
        return self.name.split(".", 1)[1]

    def noop_column(self, role: str, key: Sequence[str]) -> str:
        """A column ``role`` may ``SET col = col`` on: a key column if possible, else any.

        Identity (GENERATED ALWAYS) and generated columns cannot be assigned, and
        column-level UPDATE grants may leave out the key; without any column the
        role may update, an assignable one is used and the grant check answers.
        """
        allowed = self.updatable.get(role, ())
        for name in (*key, *allowed):
            if name in allowed:
                return name
        assignable = [c.name for c in self.columns.values() if not c.generated]
        for name in (*key, *assignable):
            if name in assignable:
                return name  # the role may not update it: the grant check answers
        return key[0]

    def default_labels(self, key: Sequence[str]) -> list[str]:
        """Up to two text columns that help a human recognise a row."""
        preferred = ("name", "title", "email", "full_name", "display_name", "slug", "label")
        texts = [
            c.name
            for c in self.columns.values()
            if c.name not in key and (c.type in ("text", "citext") or c.type.startswith("char"))
        ]
        ranked = sorted(texts, key=lambda n: (n not in preferred, texts.index(n)))
        return ranked[:2]


@dataclass(frozen=True)
class Policy:
    name: str
    permissive: bool
    command: str
    roles: tuple[str, ...]
    using: str | None
    with_check: str | None
    applies: bool  # to the role in question (directly, through membership, or PUBLIC)


@dataclass(frozen=True)
class Privileges:
    bypass_rls: bool
    select: bool
    insert: bool
    update: bool
    delete: bool


def describe_tables(
    conn: psycopg.Connection[Any], names: Iterable[str], roles: Iterable[str]
) -> dict[str, TableInfo | None]:
    """Catalog facts for each ``schema.table``; None for a table that does not exist."""
    names = list(names)
    rows = conn.execute(_TABLES, {"names": names, "roles": sorted(set(roles))}).fetchall()
    found: dict[str, TableInfo | None] = {}
    for name, info in rows:
        if info is None:
            found[name] = None
            continue
        found[name] = TableInfo(
            name=name,
            kind=info["kind"],
            rls=info["rls"],
            force_rls=info["force"],
            columns={c[0]: Column(c[0], c[1], c[2]) for c in info["columns"] or []},
            primary_key=tuple(info["primary_key"] or ()),
            updatable={r: tuple(cols) for r, cols in (info["updatable"] or {}).items()},
            delete_skips_fks=bool(info.get("delete_skips_fks")),
        )
    return found


def exposed_tables(conn: psycopg.Connection[Any], schemas: Sequence[str]) -> list[str]:
    """Tables the Data API exposes (the API schemas), plus storage tables with policies."""
    return [r[0] for r in conn.execute(_EXPOSED, {"schemas": list(schemas)}).fetchall()]


def similar_table(conn: psycopg.Connection[Any], name: str) -> str | None:
    """The closest existing table name, to suggest for a typo."""
    rows = conn.execute(
        "select s.nspname || '.' || c.relname from pg_class c "
        "join pg_namespace s on s.oid = c.relnamespace "
        "where c.relkind in ('r', 'p', 'v', 'm', 'f') "
        "and s.nspname not in ('pg_catalog', 'information_schema')"
    ).fetchall()
    close = difflib.get_close_matches(name, [r[0] for r in rows], n=1)
    return close[0] if close else None


@contextlib.contextmanager
def plain_search_path(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Only pg_catalog on the search path, so expressions print schema-qualified (auth.uid())."""
    row = conn.execute("select current_setting('search_path')").fetchone()
    conn.execute("select set_config('search_path', 'pg_catalog', false)")
    try:
        yield
    finally:
        conn.execute("select set_config('search_path', %s, false)", (row[0] if row else "",))


def policies(conn: psycopg.Connection[Any], table: str, role: str) -> list[Policy]:
    schema, relname = table.split(".", 1)
    rows = conn.execute(_POLICIES, {"schema": schema, "table": relname, "role": role}).fetchall()
    return [
        Policy(name, permissive, POLICY_COMMANDS.get(cmd, cmd), tuple(roles), using, check, applies)
        for name, permissive, cmd, roles, using, check, applies in rows
    ]


def privileges(conn: psycopg.Connection[Any], table: str, role: str) -> Privileges | None:
    schema, relname = table.split(".", 1)
    row = conn.execute(_PRIVILEGES, {"schema": schema, "table": relname, "role": role}).fetchone()
    return Privileges(*row) if row else None
