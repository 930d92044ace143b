"""Synthetic users with worlds of their own: one row in every table, owned by them.

The probe needs rows that certainly belong to someone else. For each synthetic user it signs
a user up (``auth.users`` triggers fire, as at a real signup) and then, in foreign-key order,
gives them a row in every table in scope: owner columns (see :mod:`.shape`) hold the user's
id, foreign keys point at the user's own rows (their own school, class, assignment...), so
the user's rows form a tenant of their own that no seeded user belongs to. Rows are written
by the superuser (RLS and grants do not apply, as for the service role), each in a savepoint:
a table whose row cannot be made (a check constraint the generic values miss) is skipped with
a note instead of stopping the probe.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind, BoolExprType
from pglast.parser import ParseError
from psycopg import sql
from psycopg.rows import dict_row

from rlsguard.audit.exprs import analyse
from rlsguard.catalog.shapes import AUTH_USERS, ColumnShape, Shapes, TableShape
from rlsguard.errors import Unsupported

STORAGE_OBJECTS = "storage.objects"
_LENGTH = re.compile(r"\((\d+)\)")
_counter = itertools.count(1)


def make_value(
    column: ColumnShape, label: str, *, unique: bool = False, choices: Sequence[Any] = ()
) -> Any:
    """A value ``column`` accepts in most schemas: short lower-case text, small numbers;
    the first of ``choices`` (an enum-like CHECK) or of the enum's labels when it has them."""
    n = next(_counter)
    base = column.base
    if choices:
        return choices[0]
    if column.enum:
        return column.enum[0]
    if base == "uuid":
        return uuid.uuid4()
    if base in ("json", "jsonb"):
        return "{}"
    if base == "bytea":
        return b"rlsguard"
    category = column.category
    if category == "S":
        text = f"rlsguard-probe-{label}-{n}"
        match = _LENGTH.search(column.type)
        return text[-int(match.group(1)) :] if match else text
    if category == "N":
        return 900_000_000 + n if unique else 1
    if category == "B":
        return False
    if category == "D":
        return "2026-01-01" if base == "date" else "2026-01-01 00:00:00+00"
    if category == "T":
        return "1 hour"
    if category == "A":
        return "{}"
    if category == "I":
        return "127.0.0.1"
    raise Unsupported(f"no generic value for type {column.type}")


Choices = Mapping[str, Mapping[str, tuple[Any, ...]]]  # table -> column -> allowed values


def enum_choices(checks: Iterable[tuple[str, str]]) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Values enum-like CHECK constraints allow: ``status in ('draft', 'live')``,
    ``kind = any (array[...])``, ``role = 'member'`` - per table and column.

    ``checks``: ``(schema.table, definition)`` pairs, as
    :meth:`rlsguard.catalog.CatalogReader.check_constraints` reads them.
    """
    out: dict[str, dict[str, tuple[Any, ...]]] = {}
    for table, definition in checks:
        text = re.sub(r"^CHECK\s*", "", definition).removesuffix(" NOT VALID")
        try:
            node = parse_sql(f"select 1 where {text}")[0].stmt.whereClause
        except (ParseError, IndexError, AttributeError):
            continue
        for column, values in _allowed(node):
            out.setdefault(table, {}).setdefault(column, values)
    return out


def _allowed(node: Any) -> list[tuple[str, tuple[Any, ...]]]:
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        return [found for part in node.args for found in _allowed(part)]
    if not isinstance(node, ast.A_Expr) or not isinstance(node.lexpr, ast.ColumnRef):
        return []
    column = getattr(node.lexpr.fields[-1], "sval", None)
    operator = node.name[0].sval if node.name else None
    if column is None or operator != "=":
        return []
    if node.kind == A_Expr_Kind.AEXPR_IN:
        items = node.rexpr
    elif node.kind == A_Expr_Kind.AEXPR_OP_ANY and isinstance(node.rexpr, ast.A_ArrayExpr):
        items = node.rexpr.elements
    elif node.kind == A_Expr_Kind.AEXPR_OP:
        items = (node.rexpr,)
    else:
        return []
    values = [_literal(i) for i in items or ()]
    if not values or any(v is None for v in values):
        return []
    return [(column, tuple(values))]


def _literal(node: Any) -> Any:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_Const) and not node.isnull:
        value = node.val
        for attribute in ("sval", "ival", "fval", "boolval"):
            if hasattr(value, attribute):
                return getattr(value, attribute)
    return None


def describe_failure(exc: psycopg.Error) -> str:
    """Why a synthetic row was refused, in the terms a user fixes it with."""
    diag = exc.diag
    message = diag.message_primary or str(exc)
    state = diag.sqlstate or ""
    where = f" (in {diag.context.splitlines()[0]})" if diag.context else ""
    if state == "23502":
        return f"NOT NULL column {diag.column_name or '?'} got no value: {message}{where}"
    if state == "23514":
        return f"check constraint {diag.constraint_name or '?'} rejected the values: {message}"
    if state == "23505":
        return f"unique constraint {diag.constraint_name or '?'}: {message}"
    if state == "23503":
        return f"foreign key {diag.constraint_name or '?'}: {message}"
    if state == "P0001" or (diag.context and "PL/pgSQL" in diag.context):
        return f"a trigger refused the row: {message}{where}"
    if state in ("22P02", "22023"):
        return f"a value of the wrong form: {message}"
    if state == "42501":
        return f"missing privilege: {message}"
    return f"{state or 'error'}: {message}{where}"


@dataclass
class World:
    """One synthetic user and the rows made (or found) for them, by table."""

    label: str
    email: str
    user_id: str
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    owned: set[str] = field(default_factory=set)  # tables whose row belongs to the user
    failures: dict[str, str] = field(default_factory=dict)  # table -> why it has no row
    tenants: set[str] = field(default_factory=set)  # tenant roots: their own school, org...
    choices: Choices = field(default_factory=dict)

    def value(self, table: str, column: str) -> Any:
        row = self.rows.get(table)
        return None if row is None else row.get(column)


def insert_row(
    conn: psycopg.Connection[Any], table: TableShape, values: Mapping[str, Any]
) -> dict[str, Any]:
    """Insert one row as the connection's role; returns it (all columns)."""
    query = insert_query(table, values) + sql.SQL(" RETURNING *")
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query)
        row = cur.fetchone()
    assert row is not None
    return row


def insert_query(table: TableShape, values: Mapping[str, Any]) -> sql.Composed:
    """``INSERT INTO t (cols) VALUES ('v'::type, ...)``, or ``DEFAULT VALUES``."""
    target = sql.Identifier(table.schema, table.name)
    if not values:
        return sql.SQL("INSERT INTO {} DEFAULT VALUES").format(target)
    return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        target,
        sql.SQL(", ").join(sql.Identifier(c) for c in values),
        sql.SQL(", ").join(cast_literal(table, c, v) for c, v in values.items()),
    )


def cast_literal(table: TableShape, column: str, value: Any) -> sql.Composable:
    """``'value'::type``: text reaches enums, domains and json columns as itself."""
    shape = table.column(column)
    literal = sql.Literal(str(value) if isinstance(value, uuid.UUID) else value)
    if shape is None:
        return literal
    return sql.SQL("{}::").format(literal) + sql.SQL(shape.type)  # catalog-printed type


def row_values(
    table: TableShape,
    world: World,
    worlds_rows: Mapping[str, Mapping[str, Any]],
    conn: psycopg.Connection[Any],
    *,
    owner_id: str,
) -> dict[str, Any]:
    """Values for a new row of ``table`` that belongs to ``owner_id``'s world.

    ``worlds_rows``: the rows of that world so far (foreign keys point at them). Raises
    :class:`Unsupported` when a required value cannot be made.
    """
    values: dict[str, Any] = {}
    fk_columns = {c for fk in table.foreign_keys for c in fk.columns}
    for fk in table.foreign_keys:
        target = worlds_rows.get(fk.target)
        if fk.target == AUTH_USERS:
            if len(fk.columns) == 1:
                values[fk.columns[0]] = owner_id
            continue
        if target is not None:
            for column, target_column in zip(fk.columns, fk.target_columns, strict=True):
                values.setdefault(column, target.get(target_column))
            continue
        required = [c for c in fk.columns if (shape := table.column(c)) and shape.notnull]
        if not required:
            continue
        borrowed = _existing(conn, fk.target, fk.target_columns)
        if borrowed is None:
            raise Unsupported(f"{fk.target} has no row to reference")
        for column, value in zip(fk.columns, borrowed, strict=True):
            values.setdefault(column, value)
    unique = table.unique_columns
    for column in table.columns:
        if column.generated or column.name in values:
            continue
        if column.name in table.owner_columns:
            values[column.name] = owner_id
        elif column.name in fk_columns or column.default is not None:
            continue
        elif column.notnull or column.name in unique:
            allowed = world.choices.get(table.qualified, {}).get(column.name, ())
            values[column.name] = make_value(
                column, world.label, unique=column.name in unique, choices=allowed
            )
    if table.qualified == STORAGE_OBJECTS and values.get("name") is None and table.column("name"):
        # An upload is named folder/file, the first folder its user's id by Supabase's
        # convention; triggers (path_tokens[2]) and folder policies split that path.
        values["name"] = f"{owner_id}/rlsguard-probe-{world.label}-{next(_counter)}"
    return values


def _existing(
    conn: psycopg.Connection[Any], table: str, columns: Iterable[str]
) -> tuple[Any, ...] | None:
    schema, name = table.split(".", 1)
    row = conn.execute(
        sql.SQL("SELECT {} FROM {} LIMIT 1").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            sql.Identifier(schema, name),
        )
    ).fetchone()
    return tuple(row) if row else None


def own_row(
    conn: psycopg.Connection[Any], table: TableShape, user_id: str
) -> dict[str, Any] | None:
    """A row of ``table`` whose owner column holds ``user_id`` (the first by key)."""
    if not table.owner_columns:
        return None
    where = sql.SQL(" OR ").join(
        sql.SQL("{} = %s").format(sql.Identifier(c)) for c in sorted(table.owner_columns)
    )
    order = sql.SQL(", ").join(sql.Identifier(c) for c in table.primary_key) or sql.SQL("1")
    query = sql.SQL("SELECT * FROM {} WHERE {} ORDER BY {} LIMIT 1").format(
        sql.Identifier(table.schema, table.name), where, order
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, [user_id] * len(table.owner_columns))
        return cur.fetchone()


def build_world(
    conn: psycopg.Connection[Any],
    shapes: Shapes,
    tables: Iterable[str],
    world: World,
    notes: list[str],
) -> World:
    """Give ``world``'s user a row in each of ``tables`` and the tables they reference."""
    for name in shapes.order(tables):
        table = shapes.tables[name]
        existing = own_row(conn, table, world.user_id)
        if existing is not None:
            world.rows[name] = existing
            continue
        try:
            values = row_values(table, world, world.rows, conn, owner_id=world.user_id)
        except Unsupported as exc:
            world.failures[name] = str(exc)
            notes.append(f"no synthetic row in {name} for {world.email}: {exc}")
            continue
        try:
            with conn.transaction():
                # Rows are made as the service would make them through the API, where every
                # request carries request.headers: triggers that read it must not fail.
                conn.execute("select set_config('request.headers', '{}', true)")
                world.rows[name] = insert_row(conn, table, values)
                conn.execute("select set_config('request.headers', '', true)")
        except psycopg.Error as exc:
            world.failures[name] = describe_failure(exc)
            notes.append(f"no synthetic row in {name} for {world.email}: {world.failures[name]}")
    world.owned = _belonging(shapes, world)
    return world


def _belonging(shapes: Shapes, world: World) -> set[str]:
    """Tables whose world row is the user's: an owner column holds their id, or a foreign
    key points at a row of theirs, or at a row of their tenant (a world row one of their own
    rows references, such as their school)."""
    owned = {
        name
        for name, row in world.rows.items()
        if any(str(row.get(c)) == world.user_id for c in shapes.tables[name].owner_columns)
    }

    def points_into(name: str, targets: set[str]) -> bool:
        table = shapes.tables[name]
        row = world.rows[name]
        for fk in table.foreign_keys:
            target = world.rows.get(fk.target)
            if fk.target in targets and target is not None:
                ours = [target.get(c) for c in fk.target_columns]
                if [row.get(c) for c in fk.columns] == ours:
                    return True
        return False

    changed = True
    while changed:
        changed = False
        for name in world.rows:
            if name not in owned and points_into(name, owned):
                owned.add(name)
                changed = True
    tenants = {
        fk.target
        for name in owned
        for fk in shapes.tables[name].foreign_keys
        if fk.target in world.rows and fk.target not in owned and fk.target != AUTH_USERS
    }
    changed = True
    while changed:
        changed = False
        for name in world.rows:
            if name not in owned and points_into(name, owned | tenants):
                owned.add(name)
                changed = True
    world.tenants = tenants - owned
    return owned


def with_owner_columns(shapes: Shapes, uid_columns: Mapping[str, Iterable[str]]) -> Shapes:
    """``shapes`` with each table's owner columns: ``uid_columns`` (per table, the columns
    policies compare with ``auth.uid()``), defaults of ``auth.uid()``, and keys chained to
    ``auth.users(id)``."""
    owners = _owner_columns(shapes.tables, uid_columns)
    return Shapes(
        {
            name: replace(table, owner_columns=frozenset(owners.get(name, ())))
            for name, table in shapes.tables.items()
        }
    )


def _owner_columns(
    tables: Mapping[str, TableShape], uid_columns: Mapping[str, Iterable[str]]
) -> dict[str, set[str]]:
    """Columns holding a user id: keys chained to auth.users(id), defaults of auth.uid(),
    and what policies compare with auth.uid()."""
    owners: dict[str, set[str]] = {name: set(uid_columns.get(name, ())) for name in tables}
    owners[AUTH_USERS] = {"id"}
    for name, table in tables.items():
        for column in table.columns:
            if column.default and any(
                call.function == "auth.uid" for call in analyse(column.default).auth_calls
            ):
                owners[name].add(column.name)
    changed = True
    while changed:
        changed = False
        for name, table in tables.items():
            for fk in table.foreign_keys:
                if len(fk.columns) != 1 or fk.columns[0] in owners[name]:
                    continue
                if fk.target_columns[0] in owners.get(fk.target, set()):
                    owners[name].add(fk.columns[0])
                    changed = True
    owners.pop(AUTH_USERS, None)
    return owners
