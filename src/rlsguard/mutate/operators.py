"""Rewrites of one SQL expression (a policy's USING or WITH CHECK) through the pglast AST.

Each operator finds its *sites* in the tree and makes one mutant per site, so a mutant
is one plausible bug, never several at once. Text in, text out: nothing here knows a
database. ``docs/mutation.md`` lists every operator with an example.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType

from rlsguard.catalog.sqlnorm import deparse, parse_expression
from rlsguard.errors import SqlNormalizationError
from rlsguard.policy.predicates import canonical_key, constant_truth

# Columns that say whose a row is: comparing them decides ownership or tenancy.
_OWNERSHIP = re.compile(r"(^id$|_id$|^owner$|_by$|^user$|^author$)")


@dataclass(frozen=True)
class Rewrite:
    """One mutated expression: the operator, the site it changed, the new text."""

    operator: str
    site: int  # 0 for operators with one site
    text: str
    note: str
    equivalent: str = ""  # why the rewrite cannot change the predicate's meaning, if cheap
    dropped: str = ""  # the operand a drop_* operator left out, the node others replaced


# -- the tree ---------------------------------------------------------------------------------


def _children(node: Any) -> Iterator[tuple[Any, str, int | None, Any]]:
    """(holder, attribute, index in a list or None, child) for every child node."""
    for attr in getattr(node, "__slots__", ()):
        value = getattr(node, attr, None)
        if isinstance(value, ast.Node):
            yield node, attr, None, value
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                if isinstance(item, ast.Node):
                    yield node, attr, index, item


def _walk(node: Any, *, into_subqueries: bool = True) -> Iterator[tuple[Any, str, int | None, Any]]:
    """Every (holder, attribute, index, node) below ``node``, depth first, in source order."""
    for holder, attr, index, child in _children(node):
        yield holder, attr, index, child
        if not into_subqueries and isinstance(child, ast.SubLink):
            continue
        yield from _walk(child, into_subqueries=into_subqueries)


def _replace(holder: Any, attr: str, index: int | None, new: Any) -> None:
    if index is None:
        setattr(holder, attr, new)
        return
    items = list(getattr(holder, attr))
    items[index] = new
    setattr(holder, attr, tuple(items))


class _Root:
    """A holder for the top node, so the top can be replaced like any child."""

    __slots__ = ("expr",)

    def __init__(self, expr: Any) -> None:
        self.expr = expr


def _expr(text: str) -> Any:
    """The expression's AST (an ``ast.Node``); None when pglast cannot parse it."""
    try:
        return parse_expression(text)
    except SqlNormalizationError:
        return None


def _sites(root: _Root, match: Callable[[Any], bool], *, into_subqueries: bool) -> list[tuple]:
    found = []
    if match(root.expr):
        found.append((root, "expr", None, root.expr))
    for site in _walk(root.expr, into_subqueries=into_subqueries):
        if match(site[3]):
            found.append(site)
    return found


def _per_site(
    text: str,
    operator: str,
    match: Callable[[Any], bool],
    change: Callable[[Any], Any],
    note: Callable[[Any], str],
    *,
    into_subqueries: bool = True,
) -> list[Rewrite]:
    """One rewrite per matching node: re-parsed each time so the rewrites never mix."""
    first = _expr(text)
    if first is None:
        return []
    count = len(_sites(_Root(first), match, into_subqueries=into_subqueries))
    out = []
    for n in range(count):
        root = _Root(_expr(text))
        holder, attr, index, node = _sites(root, match, into_subqueries=into_subqueries)[n]
        said, old = note(node), deparse(node)
        _replace(holder, attr, index, change(node))
        out.append(Rewrite(operator, n, deparse(root.expr), said, dropped=old))
    return out


# -- recognisers ----------------------------------------------------------------------------


def _func_name(node: Any) -> str | None:
    if isinstance(node, ast.FuncCall):
        return ".".join(part.sval for part in node.funcname)
    return None


def is_uid(node: Any) -> bool:
    """``auth.uid()``, or ``(select auth.uid())`` as Supabase advises for performance (a
    cast of either too)."""
    if isinstance(node, ast.TypeCast):
        return is_uid(node.arg)
    if _func_name(node) == "auth.uid":
        return True
    if isinstance(node, ast.SubLink) and isinstance(node.subselect, ast.SelectStmt):
        targets = node.subselect.targetList or ()
        return (
            len(targets) == 1
            and not node.subselect.fromClause
            and _func_name(targets[0].val) == "auth.uid"
        )
    return False


def _op(node: Any) -> str | None:
    if isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP and node.name:
        return str(node.name[-1].sval)
    return None


def _column(node: Any) -> str | None:
    if isinstance(node, ast.ColumnRef) and isinstance(node.fields[-1], ast.String):
        return str(node.fields[-1].sval)
    return None


def _uid_comparison(node: Any) -> bool:
    return _op(node) == "=" and (is_uid(node.lexpr) or is_uid(node.rexpr))


def _ownership_comparison(node: Any) -> bool:
    if _op(node) not in ("=", "<>"):
        return False
    sides = (node.lexpr, node.rexpr)
    if any(is_uid(s) for s in sides):
        return True
    return any(_OWNERSHIP.search(_column(s) or "") for s in sides)


def _boolean(value: bool) -> Any:
    return ast.A_Const(val=ast.Boolean(boolval=value))


def _uid_not_null() -> Any:
    return _expr("(SELECT auth.uid()) IS NOT NULL")


# -- the operators --------------------------------------------------------------------------


def constant(text: str, value: bool) -> Rewrite | None:
    """The whole expression replaced by ``true`` or ``false``."""
    word = "true" if value else "false"
    if _expr(text) is None:
        return None
    return Rewrite(word, 0, word.upper(), f"the whole predicate becomes {word}")


def drop_operands(text: str, boolop: BoolExprType) -> list[Rewrite]:
    """Each operand of each ``AND`` (``OR``) left out, one at a time (outside subqueries)."""
    name = "drop_conjunct" if boolop == BoolExprType.AND_EXPR else "drop_disjunct"
    first = _expr(text)
    if first is None:
        return []

    def matches(node: Any) -> bool:
        return isinstance(node, ast.BoolExpr) and node.boolop == boolop

    out: list[Rewrite] = []
    nodes = _sites(_Root(first), matches, into_subqueries=False)
    for n, (_, _, _, node) in enumerate(nodes):
        for i in range(len(node.args)):
            root = _Root(_expr(text))
            holder, attr, index, target = _sites(root, matches, into_subqueries=False)[n]
            dropped = deparse(target.args[i])
            rest = tuple(a for j, a in enumerate(target.args) if j != i)
            same = _implied(target.args[i], rest, boolop)
            new = rest[0] if len(rest) == 1 else ast.BoolExpr(boolop=boolop, args=rest)
            _replace(holder, attr, index, new)
            out.append(
                Rewrite(name, len(out), deparse(root.expr), f"without {dropped}", same, dropped)
            )
    return out


def _implied(dropped: Any, rest: tuple[Any, ...], boolop: BoolExprType) -> str:
    """Why leaving ``dropped`` out changes nothing: a duplicate operand, or the neutral
    constant (``true`` in an AND, ``false`` in an OR). Empty when that is not cheap to see."""
    key = canonical_key(dropped)
    if any(canonical_key(other) == key for other in rest):
        return f"{deparse(dropped)} is repeated: another operand implies it"
    neutral = boolop == BoolExprType.AND_EXPR
    if constant_truth(dropped) is neutral:
        return f"{deparse(dropped)} is {'true' if neutral else 'false'}: it never decides"
    return ""


def row_independent(text: str) -> bool:
    """The expression reads no column of the row (outside subqueries): same for every row."""
    node = _expr(text)
    if node is None or isinstance(node, ast.ColumnRef):
        return False
    return not any(isinstance(n, ast.ColumnRef) for *_, n in _walk(node, into_subqueries=False))


def operand_keys(text: str, boolop: BoolExprType = BoolExprType.AND_EXPR) -> set[str]:
    """Canonical keys of the top-level operands (for "is it repeated elsewhere?")."""
    from rlsguard.policy.predicates import flatten

    node = _expr(text)
    return {canonical_key(n) for n in flatten(node, boolop)} if node is not None else set()


def requires_uid(text: str | None) -> bool:
    """Every row the expression admits needs ``x = auth.uid()`` to be true: each top-level
    disjunct has such a conjunct. For ``anon`` (no uid: NULL) it then admits nothing."""
    from rlsguard.policy.predicates import flatten

    node = _expr(text) if text else None
    if node is None:
        return False
    return all(
        any(_uid_comparison(c) for c in flatten(d, BoolExprType.AND_EXPR))
        for d in flatten(node, BoolExprType.OR_EXPR)
    )


def uid_always_true(text: str) -> list[Rewrite]:
    """``col = auth.uid()`` becomes ``(select auth.uid()) IS NOT NULL``: any signed-in user
    matches (wrapped in a subquery as the original is, so no performance lint fires)."""
    return _per_site(
        text,
        "uid_always_true",
        _uid_comparison,
        lambda node: _uid_not_null(),
        lambda node: f"{deparse(node)} becomes (SELECT auth.uid()) IS NOT NULL",
    )


def flip_equality(text: str) -> list[Rewrite]:
    """``=`` and ``<>`` swapped in a comparison of an ownership column or of ``auth.uid()``."""

    def flip(node: Any) -> Any:
        new = "<>" if _op(node) == "=" else "="
        return ast.A_Expr(
            kind=A_Expr_Kind.AEXPR_OP,
            name=(ast.String(sval=new),),
            lexpr=node.lexpr,
            rexpr=node.rexpr,
        )

    return _per_site(
        text,
        "flip_equality",
        _ownership_comparison,
        flip,
        lambda node: f"{deparse(node)}: {_op(node)} becomes {'<>' if _op(node) == '=' else '='}",
    )


def expression_rewrites(text: str) -> list[Rewrite]:
    """Every rewrite of one expression, constants first."""
    out = [r for r in (constant(text, True), constant(text, False)) if r is not None]
    out += drop_operands(text, BoolExprType.AND_EXPR)
    out += drop_operands(text, BoolExprType.OR_EXPR)
    out += uid_always_true(text)
    out += flip_equality(text)
    return out


# -- function bodies ----------------------------------------------------------------------------


def ignore_argument(body: str, argument: str, position: int) -> str | None:
    """A SQL function body whose every comparison that reads ``argument`` became ``true``.

    The classic helper bug: the filter on the argument is lost, so the helper answers for
    everyone. None when the body does not read the argument or cannot be parsed.
    """
    from pglast import parse_sql

    try:
        statements = parse_sql(body)
    except Exception:
        return None

    def reads(node: Any) -> bool:
        if _column(node) == argument and len(node.fields) == 1:
            return True
        return isinstance(node, ast.ParamRef) and node.number == position

    def comparison(node: Any) -> bool:
        if not isinstance(node, ast.A_Expr):
            return False
        return reads(node) or any(reads(n) for *_, n in _walk(node))

    changed = False
    for raw in statements:
        root = _Root(raw.stmt)
        while True:
            sites = _sites(root, comparison, into_subqueries=True)
            if not sites:
                break
            holder, attr, index, _ = sites[0]
            _replace(holder, attr, index, _boolean(True))
            changed = True
        raw.stmt = root.expr
    if not changed:
        return None
    return ";\n".join(deparse(raw.stmt) for raw in statements)


def _constant(node: Any) -> str | None:
    if isinstance(node, ast.TypeCast):
        return _constant(node.arg)
    if isinstance(node, ast.A_Const) and node.val is not None:
        return repr(node.val)
    return None


def _pinned(node: Any) -> tuple[str, str] | None:
    """``col = <constant>`` (either side, casts allowed): the column and the constant."""
    if _op(node) != "=":
        return None
    for col, const in ((node.lexpr, node.rexpr), (node.rexpr, node.lexpr)):
        name, value = _column(col), _constant(const)
        if name is not None and value is not None:
            return name, value
    return None


def implied_by(condition: str, predicate: str | None, beside: str | None = None) -> bool:
    """Every row ``predicate`` admits that ``beside`` admits too satisfies ``condition``.

    Syntactic, cheap and certain: each top-level disjunct of the predicate has the condition
    as a top-level conjunct, or pins a column to a constant (``bucket_id = 'a'``) that a
    top-level conjunct of ``beside`` pins to another (no row passes both)."""
    from rlsguard.policy.predicates import flatten

    wanted, node = _expr(condition), _expr(predicate) if predicate else None
    if wanted is None or node is None:
        return False
    key = canonical_key(wanted)
    other = _expr(beside) if beside else None
    pins = (
        {p for c in flatten(other, BoolExprType.AND_EXPR) if (p := _pinned(c))} if other else set()
    )

    def settled(disjunct: Any) -> bool:
        conjuncts = flatten(disjunct, BoolExprType.AND_EXPR)
        if any(canonical_key(c) == key for c in conjuncts):
            return True
        mine = [p for c in conjuncts if (p := _pinned(c))]
        return any(col == c and value != v for col, value in mine for c, v in pins)

    return all(settled(d) for d in flatten(node, BoolExprType.OR_EXPR))
