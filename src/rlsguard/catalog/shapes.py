"""The data shape the probe needs to build valid rows: columns, keys and foreign keys.

This is not the security surface (:mod:`rlsguard.catalog.surface` reads that); it is what a
row must look like to be accepted: NOT NULL columns without defaults, primary and unique
keys, and where each foreign key points. From the foreign keys it also derives *owner
columns*: columns whose value is a user id, because they reference ``auth.users(id)``
directly or through a chain of keys (``students.id -> users.id -> auth.users.id``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

AUTH_USERS = "auth.users"

_SHAPE = """
select n.nspname as schema, c.relname as name,
  coalesce((select json_agg(json_build_object(
      'name', a.attname,
      'type', format_type(a.atttypid, a.atttypmod),
      'base', format_type(coalesce(nullif(t.typbasetype, 0), a.atttypid), null),
      'category', bt.typcategory,
      'notnull', a.attnotnull,
      'default', pg_get_expr(d.adbin, d.adrelid),
      'generated', a.attidentity <> '' or a.attgenerated <> '',
      'enum', (select json_agg(e.enumlabel order by e.enumsortorder) from pg_enum e
               where e.enumtypid = coalesce(nullif(t.typbasetype, 0), a.atttypid)))
      order by a.attnum)
    from pg_attribute a
    join pg_type t on t.oid = a.atttypid
    join pg_type bt on bt.oid = coalesce(nullif(t.typbasetype, 0), a.atttypid)
    left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '[]') as columns,
  coalesce((select json_agg(json_build_object(
      'type', con.contype,
      'columns', (select json_agg(a.attname order by k.ord) from unnest(con.conkey)
                  with ordinality k(attnum, ord)
                  join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum),
      'target', case when con.contype = 'f' then
                  (select rn.nspname || '.' || rc.relname from pg_class rc
                   join pg_namespace rn on rn.oid = rc.relnamespace where rc.oid = con.confrelid)
                end,
      'target_columns', (select json_agg(a.attname order by k.ord) from unnest(con.confkey)
                         with ordinality k(attnum, ord)
                         join pg_attribute a on a.attrelid = con.confrelid
                                            and a.attnum = k.attnum))
      order by con.conname)
    from pg_constraint con
    where con.conrelid = c.oid and con.contype in ('p', 'u', 'f')), '[]') as constraints
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
"""


@dataclass(frozen=True)
class ColumnShape:
    name: str
    type: str
    base: str  # the type under a domain, without modifiers
    category: str  # pg_type.typcategory: S string, N numeric, B boolean, D date/time, U user...
    notnull: bool
    default: str | None
    generated: bool
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableShape:
    schema: str
    name: str
    columns: tuple[ColumnShape, ...]
    primary_key: tuple[str, ...]
    unique: tuple[tuple[str, ...], ...]
    foreign_keys: tuple[ForeignKey, ...]
    owner_columns: frozenset[str] = frozenset()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> ColumnShape | None:
        return next((c for c in self.columns if c.name == name), None)

    def foreign_key(self, column: str) -> ForeignKey | None:
        """The single-column foreign key on ``column``, if any."""
        return next((f for f in self.foreign_keys if f.columns == (column,)), None)

    @property
    def unique_columns(self) -> frozenset[str]:
        """Columns that alone are a key (their value must be new in every synthetic row)."""
        keys = [self.primary_key, *self.unique]
        return frozenset(k[0] for k in keys if len(k) == 1)


@dataclass
class Shapes:
    """Every user table's shape, by ``schema.name``."""

    tables: dict[str, TableShape] = field(default_factory=dict)

    def get(self, qualified: str) -> TableShape | None:
        return self.tables.get(qualified)

    def order(self, names: Iterable[str]) -> list[str]:
        """``names`` and the tables they reference, referenced ones first (cycles broken)."""
        out: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in out or name in visiting or name not in self.tables or name == AUTH_USERS:
                return
            visiting.add(name)
            for fk in self.tables[name].foreign_keys:
                if fk.target != name:
                    visit(fk.target)
            visiting.discard(name)
            out.append(name)

        for name in sorted(names):
            visit(name)
        return out


_CHECKS = """
select n.nspname || '.' || c.relname, pg_get_constraintdef(k.oid)
from pg_constraint k
join pg_class c on c.oid = k.conrelid
join pg_namespace n on n.oid = c.relnamespace
where k.contype = 'c' and n.nspname not in ('pg_catalog', 'information_schema')
"""


def read_check_constraints(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """``(schema.table, definition)`` of every CHECK constraint outside the system schemas:
    enum-like ones say which values a synthetic row may hold."""
    return [(str(t), str(d)) for t, d in conn.execute(_CHECKS)]


def read_shapes(conn: psycopg.Connection[Any]) -> Shapes:
    """Shapes of all user tables, ``owner_columns`` empty (the probe derives them: see
    :func:`rlsguard.audit.synth.with_owner_columns`). Runs in a rolled-back transaction (a
    savepoint when one is open)."""
    # An empty search_path prints every name in defaults schema-qualified (auth.uid()); the
    # rolled-back savepoint undoes the setting.
    with conn.transaction(force_rollback=True), conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SET LOCAL search_path = ''")
        rows = cur.execute(_SHAPE).fetchall()
    raw: dict[str, TableShape] = {}
    for row in rows:
        constraints = row["constraints"]
        raw[f"{row['schema']}.{row['name']}"] = TableShape(
            schema=row["schema"],
            name=row["name"],
            columns=tuple(
                ColumnShape(
                    name=c["name"],
                    type=c["type"],
                    base=c["base"],
                    category=c["category"],
                    notnull=c["notnull"],
                    default=c["default"],
                    generated=c["generated"],
                    enum=tuple(c["enum"] or ()),
                )
                for c in row["columns"]
            ),
            primary_key=next((tuple(k["columns"]) for k in constraints if k["type"] == "p"), ()),
            unique=tuple(tuple(k["columns"]) for k in constraints if k["type"] == "u"),
            foreign_keys=tuple(
                ForeignKey(tuple(k["columns"]), k["target"], tuple(k["target_columns"]))
                for k in constraints
                if k["type"] == "f"
            ),
        )
    return Shapes(raw)
