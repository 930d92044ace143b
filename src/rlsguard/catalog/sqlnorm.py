"""Normalise SQL so formatting, parentheses and casing never show up as a change.

Expressions are parsed with pglast (PostgreSQL's own parser) as ``SELECT <expr>`` and
deparsed again: ``((auth.uid() = id) OR (role = 'admin'::text))`` from ``pg_get_expr`` and
``auth.uid()=id or ROLE = 'admin'::text`` as written in a migration both become
``auth.uid() = id OR role = 'admin'::text``. Casts keep PostgreSQL's ``::`` form, so
normalised text still reads like the catalog's.

Catalog output differs between server versions in places the parser alone does not absorb:
since PostgreSQL 16 ``pg_get_viewdef`` no longer qualifies columns of a query with a single
``FROM`` item (15 printed ``t.id``, 16+ prints ``id``), so :func:`normalize_query` drops that
qualifier at the top level of such a query. Function bodies are compared as token streams
(:func:`normalize_body`): comments, whitespace and keyword/identifier case do not count.

Every function here is pure and cached; :func:`normalize_expression` is idempotent.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError, scan
from pglast.stream import RawStream
from pglast.visitors import Skip, Visitor

from rlsguard.errors import SqlNormalizationError

_WHITESPACE = re.compile(r"\s+")


class _Stream(RawStream):  # type: ignore[misc]
    """pglast's printer, with ``value::type`` casts instead of ``CAST(value AS type)``."""

    def print_node(self, node: Any, is_name: bool = False, is_symbol: bool = False) -> None:
        if isinstance(node, ast.TypeCast) and _plain_cast(node):
            if _needs_parens(node.arg):
                self.write("(")
                self.print_node(node.arg)
                self.write(")")
            else:
                self.print_node(node.arg)
            self.write("::")
            self.print_node(node.typeName)
            return
        super().print_node(node, is_name=is_name, is_symbol=is_symbol)


def _plain_cast(node: Any) -> bool:
    """pglast prints ``bpchar`` without a length as ``char 'x'``: leave that case to it."""
    names = tuple(getattr(n, "sval", "") for n in node.typeName.names or ())
    return not (names == ("pg_catalog", "bpchar") and node.typeName.typmods is None)


def _needs_parens(arg: Any) -> bool:
    """``x::t`` binds tighter than anything but a name, a call or a non-negative constant."""
    if isinstance(arg, ast.A_Const):
        value = arg.val
        number = getattr(value, "ival", None)
        if number is None:
            number = getattr(value, "fval", None)
        return number is not None and str(number).startswith("-")
    return not isinstance(
        arg, ast.ColumnRef | ast.FuncCall | ast.TypeCast | ast.ParamRef | ast.A_ArrayExpr
    ) and not (isinstance(arg, ast.SubLink) and arg.subLinkType == 4)  # EXPR_SUBLINK


def deparse(node: Any) -> str:
    """One node (expression or statement) as canonical single-line SQL."""
    return str(_Stream(remove_pg_catalog_from_functions=True)(node))


def parse_expression(text: str) -> Any:
    """The AST of one SQL expression; :class:`SqlNormalizationError` for anything else."""
    try:
        statements = parse_sql(f"SELECT {text}")
    except ParseError as exc:
        raise SqlNormalizationError(f"not an SQL expression: {text!r} ({exc})") from exc
    stmt = statements[0].stmt if len(statements) == 1 else None
    if (
        not isinstance(stmt, ast.SelectStmt)
        or len(stmt.targetList or ()) != 1
        or stmt.fromClause
        or stmt.whereClause
        or stmt.groupClause
        or stmt.havingClause
        or stmt.sortClause
        or stmt.limitCount
        or stmt.limitOffset
        or stmt.distinctClause
        or stmt.windowClause
        or stmt.targetList[0].name
    ):
        raise SqlNormalizationError(f"not a single SQL expression: {text!r}")
    return stmt.targetList[0].val


@functools.lru_cache(maxsize=8192)
def normalize_expression(text: str) -> str:
    """Canonical text of one expression; raises :class:`SqlNormalizationError`."""
    return deparse(parse_expression(text))


def normalize_expression_or_raw(text: str | None) -> str | None:
    """Like :func:`normalize_expression`, but text the parser rejects comes back with its
    whitespace collapsed (a newer server's syntax must not stop a snapshot)."""
    if text is None:
        return None
    try:
        return normalize_expression(text)
    except SqlNormalizationError:
        return _WHITESPACE.sub(" ", text).strip()


class _TopLevelQualifier(Visitor):  # type: ignore[misc]
    """Drops ``alias.`` from column references of one query level (not of its subqueries)."""

    def __init__(self, refname: str) -> None:
        self.refname = refname

    def visit_SubLink(self, ancestors: Any, node: Any) -> Any:
        # The subquery prints its own qualifiers on every version; its left operand does not.
        if node.testexpr is not None:
            node.testexpr = _TopLevelQualifier(self.refname)(node.testexpr)
        return Skip

    def visit_RangeSubselect(self, ancestors: Any, node: Any) -> Any:
        return Skip

    def visit_CommonTableExpr(self, ancestors: Any, node: Any) -> Any:
        return Skip

    def visit_ColumnRef(self, ancestors: Any, node: Any) -> Any:
        fields = node.fields or ()
        if len(fields) == 2 and getattr(fields[0], "sval", None) == self.refname:
            return ast.ColumnRef(fields=(fields[1],))
        return None


def _single_from_refname(stmt: Any) -> str | None:
    """The name columns are qualified with when the query has exactly one FROM item."""
    if stmt.op != 0 or len(stmt.fromClause or ()) != 1:  # SETOP_NONE
        return None
    item = stmt.fromClause[0]
    if isinstance(item, ast.RangeVar):
        return str(item.alias.aliasname) if item.alias else str(item.relname)
    if isinstance(item, ast.RangeFunction | ast.RangeSubselect) and item.alias:
        return str(item.alias.aliasname)
    return None


@functools.lru_cache(maxsize=1024)
def normalize_query(text: str) -> str:
    """Canonical text of one query (a view definition), the same from PG 15 and PG 16+."""
    try:
        statements = parse_sql(text)
    except ParseError as exc:
        raise SqlNormalizationError(f"not an SQL query: {text[:80]!r} ({exc})") from exc
    if len(statements) != 1 or not isinstance(statements[0].stmt, ast.SelectStmt):
        raise SqlNormalizationError(f"not a single query: {text[:80]!r}")
    stmt = statements[0].stmt
    refname = _single_from_refname(stmt)
    if refname is not None:
        qualifier = _TopLevelQualifier(refname)
        for clause in ("targetList", "whereClause", "groupClause", "havingClause", "sortClause"):
            value = getattr(stmt, clause)
            if value is not None:
                setattr(stmt, clause, qualifier(value))
    return deparse(stmt)


def normalize_statements(text: str) -> str:
    """SQL statements (a ``LANGUAGE sql`` body), canonical and joined by ``; ``."""
    try:
        statements = parse_sql(text)
    except ParseError as exc:
        raise SqlNormalizationError(f"not SQL: {text[:80]!r} ({exc})") from exc
    return "; ".join(deparse(s.stmt) for s in statements if s.stmt is not None)


_NO_SPACE_BEFORE = frozenset({",", ";", ")", ".", "]", "::"})
_NO_SPACE_AFTER = frozenset({"(", ".", "[", "::"})


def normalize_tokens(text: str) -> str:
    """The body as PostgreSQL's scanner sees it: no comments, one space between tokens,
    unquoted words in lower case. Works for plpgsql and anything else SQL-lexed."""
    try:
        tokens = scan(text)
    except ParseError:
        return _WHITESPACE.sub(" ", text).strip()
    out: list[str] = []
    for token in tokens:
        if token.name in ("SQL_COMMENT", "C_COMMENT"):
            continue
        word = text[token.start : token.end + 1]
        if token.kind != "NO_KEYWORD" or (token.name == "IDENT" and not word.startswith('"')):
            word = word.lower()
        if out and word not in _NO_SPACE_BEFORE and out[-1] not in _NO_SPACE_AFTER:
            out.append(" ")
        out.append(word)
    return "".join(out)


@functools.lru_cache(maxsize=2048)
def normalize_body(text: str, language: str) -> str:
    """A function body: parsed and deparsed for ``sql``, token-normalised for the rest."""
    if language == "sql":
        try:
            return normalize_statements(text)
        except SqlNormalizationError:
            pass
    return normalize_tokens(text)
