"""The SQL text of every statement the checker sends, in one place.

Row statements return one ``jsonb`` value: the list of affected or visible
keys, each key a list of ``::text`` values in key-column order. Text makes
keys from the oracle, from RLS requests and from the file comparable without
caring about their types. Inserts return nothing (no ``RETURNING``, as a
client's plain insert): their row count says whether the row went in.

Texts are built with plain string operations and :func:`ident` /
:func:`~rlsguard.matrix.params.sql_literal` quoting: a matrix run builds
hundreds of statements, and composing them with ``psycopg.sql`` cost more
than the server took to run them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rlsguard.catalog.tables import TableInfo
from rlsguard.matrix.params import sql_literal
from rlsguard.vocab import quote_ident

ident = quote_ident  # always quoted: names are used exactly as the catalog has them


def table_name(table: TableInfo) -> str:
    return f"{ident(table.schema)}.{ident(table.relname)}"


def _keys_json(expressions: Sequence[str]) -> str:
    values = ", ".join(f"({e})::text" for e in expressions)
    return f"coalesce(jsonb_agg(jsonb_build_array({values})), '[]'::jsonb)"


def _match_key(table: TableInfo, key: Sequence[str], values: Sequence[str | None]) -> str:
    """``("k1", "k2") = ('v1'::type1, 'v2'::type2)``: one row, by its key as text."""
    left = ", ".join(ident(k) for k in key)
    right = ", ".join(
        f"{sql_literal(v)}::{table.columns[k].type}" for k, v in zip(key, values, strict=True)
    )
    return f"({left}) = ({right})"


def rows(table: TableInfo, key: Sequence[str], where: str | None = None) -> str:
    """The keys of the rows matching ``where`` (a predicate text), or of every row."""
    text = f"select {_keys_json([ident(k) for k in key])} from {table_name(table)}"
    return text if where is None else f"{text} where ({where})"


def normalized_keys(table: TableInfo, key: Sequence[str], keys: Sequence[Sequence[Any]]) -> str:
    """Keys written in the file, cast to the key columns' types and back to text."""
    if not keys:
        return "select '[]'::jsonb"
    names = [f"k{i}" for i in range(len(key))]
    casts = [f"{n}::{table.columns[k].type}" for n, k in zip(names, key, strict=True)]
    values = ", ".join(
        "(" + ", ".join(sql_literal(_key_text(v)) for v in row) + ")" for row in keys
    )
    return f"select {_keys_json(casts)} from (values {values}) as v({', '.join(names)})"


def _key_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def _returning(key: Sequence[str], statement: str) -> str:
    names = [f"k{i}" for i in range(len(key))]
    returning = ", ".join(f"({ident(k)})::text" for k in key)
    return (
        f"with w({', '.join(names)}) as ({statement} returning {returning}) "
        f"select {_keys_json([f'w.{n}' for n in names])} from w"
    )


def update(
    table: TableInfo, key: Sequence[str], column: str, only: Sequence[str | None] | None = None
) -> str:
    """A no-op UPDATE of every row (or one row) that reads back the keys it changed."""
    statement = f"update {table_name(table)} set {ident(column)} = {ident(column)}"
    if only is not None:
        statement += f" where {_match_key(table, key, only)}"
    return _returning(key, statement)


def key_in(table: TableInfo, key: Sequence[str], keys: Sequence[Sequence[Any]]) -> str:
    """A predicate true for exactly these rows (keys as written or as text), false for none."""
    if not keys:
        return "false"
    left = ", ".join(ident(k) for k in key)
    rows = ", ".join(
        "("
        + ", ".join(
            f"{sql_literal(_key_text(v))}::{table.columns[k].type}"
            for k, v in zip(key, row, strict=True)
        )
        + ")"
        for row in keys
    )
    return f"({left}) in (values {rows})"


def change(
    table: TableInfo,
    key: Sequence[str],
    assignments: Mapping[str, str],
    keys: Sequence[Sequence[str | None]],
) -> str:
    """An UPDATE that sets ``assignments`` (column -> SQL text) on these rows, reading back keys.

    The rows are named by key, as a client that read them first would; the update reads
    their columns, so SELECT policies apply to the old and the new rows, as through the API.
    """
    sets = ", ".join(f"{ident(c)} = {v}" for c, v in assignments.items())
    statement = f"update {table_name(table)} set {sets} where {key_in(table, key, keys)}"
    return _returning(key, statement)


def delete(table: TableInfo, key: Sequence[str], only: Sequence[str | None] | None = None) -> str:
    """A DELETE of every row (or one row) that reads back the keys it removed."""
    statement = f"delete from {table_name(table)}"
    if only is not None:
        statement += f" where {_match_key(table, key, only)}"
    return _returning(key, statement)


def insert(table: TableInfo, values: Mapping[str, str]) -> str:
    """One candidate row; ``values`` maps column -> SQL expression text."""
    if not values:
        return f"insert into {table_name(table)} default values"
    columns = ", ".join(ident(c) for c in values)
    return f"insert into {table_name(table)} ({columns}) values ({', '.join(values.values())})"


def labels(
    table: TableInfo,
    key: Sequence[str],
    label: Sequence[str],
    keys: Sequence[Sequence[str | None]],
) -> str:
    """Key and label columns (as text) of the given rows, for failure reports."""
    selected = ", ".join(f"({ident(c)})::text" for c in [*key, *label])
    matches = " or ".join(_match_key(table, key, k) for k in keys)
    return f"select {selected} from {table_name(table)} where {matches}"
