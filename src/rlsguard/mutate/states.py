"""Data states for the property-based isolation search, derived from the live catalog.

A *state* is a few rows per table, built by hypothesis strategies the catalog dictates:
foreign keys pick existing keys, enums and ``CHECK (col IN (...))`` constraints pick their
values, the rest follow the column's type (faker for text). Rows are inserted by the
superuser (RLS bypassed, as the service role's backend would) inside the caller's
transaction, each in a savepoint: a row a constraint refuses is left out rather than
failing the example, and the SQL of the rows that went in is what reproduces a failure.

Per-project overrides: ``overrides[table][column]`` is a strategy of its own (or a list of
values to sample).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from faker import Faker
from hypothesis import strategies as st

_COLUMNS = """
select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.atthasdef or a.attidentity <> '' or a.attgenerated <> '',
       t.typtype = 'e', coalesce((select array_agg(e.enumlabel order by e.enumsortorder)
                                   from pg_enum e where e.enumtypid = a.atttypid), '{}')
from pg_attribute a join pg_type t on t.oid = a.atttypid
where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
order by a.attnum
"""
_FOREIGN_KEYS = """
select (select attname from pg_attribute where attrelid = c.conrelid and attnum = c.conkey[1]),
       c.confrelid::regclass::text,
       (select attname from pg_attribute where attrelid = c.confrelid and attnum = c.confkey[1])
from pg_constraint c
where c.conrelid = %s::regclass and c.contype = 'f' and cardinality(c.conkey) = 1
"""
_CHECKS = """
select (select attname from pg_attribute where attrelid = c.conrelid and attnum = c.conkey[1]),
       pg_get_constraintdef(c.oid)
from pg_constraint c
where c.conrelid = %s::regclass and c.contype = 'c' and cardinality(c.conkey) = 1
"""
_QUOTED = re.compile(r"'((?:[^']|'')*)'")
_SAMPLE_KEYS = 20  # existing keys a foreign key may point at


@dataclass(frozen=True)
class ColumnPlan:
    name: str
    type: str
    not_null: bool
    has_default: bool
    choices: tuple[Any, ...] = ()  # enum labels, CHECK IN values, or existing foreign keys


@dataclass(frozen=True)
class TablePlan:
    name: str
    columns: tuple[ColumnPlan, ...]


@dataclass
class State:
    """Rows per table, in insertion order."""

    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __repr__(self) -> str:  # what hypothesis prints for a falsifying example
        return f"State({len(self.rows)} row(s))"


def plan_tables(conn: psycopg.Connection[Any], tables: Sequence[str]) -> list[TablePlan]:
    """What each table's rows need, read from the catalog once."""
    plans = []
    for table in tables:
        fks = {c: (t, k) for c, t, k in conn.execute(_FOREIGN_KEYS, (table,)).fetchall()}
        checks: dict[str, list[str]] = {}
        for column, definition in conn.execute(_CHECKS, (table,)).fetchall():
            if re.search(r"\bIN\b|= ANY", definition):
                checks[column] = [v.replace("''", "'") for v in _QUOTED.findall(definition)]
        columns = []
        for name, type_, not_null, has_default, is_enum, labels in conn.execute(
            _COLUMNS, (table,)
        ).fetchall():
            choices: tuple[Any, ...] = ()
            if name in fks:
                target, key = fks[name]
                found = conn.execute(
                    f"select {key}::text from {target} order by 1 limit {_SAMPLE_KEYS}"  # type: ignore[arg-type]
                ).fetchall()
                choices = tuple(r[0] for r in found)
            elif is_enum:
                choices = tuple(labels)
            elif name in checks:
                choices = tuple(checks[name])
            columns.append(ColumnPlan(name, type_, not_null, has_default, choices))
        plans.append(TablePlan(table, tuple(columns)))
    return plans


def _faker_text(fake: Faker) -> st.SearchStrategy[str]:
    return st.integers(0, 10_000).map(lambda seed: (fake.seed_instance(seed), fake.word())[1])


def _value(column: ColumnPlan, fake: Faker) -> st.SearchStrategy[Any] | None:
    """A strategy for one column; None to leave it to its default."""
    if column.choices:
        return st.sampled_from(column.choices)
    if column.has_default and (column.name == "id" or "time" in column.type):
        return None
    type_ = column.type
    if type_ == "uuid":
        return st.uuids(version=4).map(str)
    if type_ == "boolean":
        return st.booleans()
    if type_.startswith(("integer", "bigint", "smallint", "numeric")):
        return st.integers(0, 100)
    if type_ == "text" or type_.startswith("character"):
        return _faker_text(fake).map(lambda w: w.lower())
    return None


def rows_strategy(
    plans: Sequence[TablePlan],
    *,
    max_rows: int = 3,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
) -> st.SearchStrategy[State]:
    """States of up to ``max_rows`` rows per table (tables in the order given)."""
    fake = Faker()
    fake.seed_instance(seed)
    per_table = []
    for plan in plans:
        fields: dict[str, st.SearchStrategy[Any]] = {}
        for column in plan.columns:
            override = (overrides or {}).get(plan.name, {}).get(column.name)
            if override is not None:
                fields[column.name] = (
                    override
                    if isinstance(override, st.SearchStrategy)
                    else st.sampled_from(list(override))
                )
                continue
            strategy = _value(column, fake)
            if strategy is None:
                continue
            if not column.not_null and not column.choices:
                strategy = st.one_of(st.none(), strategy)
            fields[column.name] = strategy
        row = st.fixed_dictionaries(fields)
        per_table.append(
            st.lists(row, max_size=max_rows).map(lambda rs, n=plan.name: [(n, r) for r in rs])
        )
    return st.tuples(*per_table).map(lambda parts: State([r for part in parts for r in part]))


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def insert_sql(table: str, row: Mapping[str, Any]) -> str:
    if not row:
        return f"INSERT INTO {table} DEFAULT VALUES"
    columns = ", ".join(f'"{c}"' for c in row)
    values = ", ".join(_literal(v) for v in row.values())
    return f"INSERT INTO {table} ({columns}) VALUES ({values})"


def insert_state(conn: psycopg.Connection[Any], state: State) -> list[str]:
    """Insert what the constraints accept (each row in a savepoint); the SQL that went in."""
    done = []
    for table, row in state.rows:
        statement = insert_sql(table, row)
        try:
            with conn.transaction():
                conn.execute(statement)  # type: ignore[arg-type]
        except psycopg.Error:
            continue
        done.append(statement)
    return done
