"""Is a new policy predicate wider or narrower than the old one? Read from the syntax tree.

Policies are OR-ed (permissive) or AND-ed (restrictive), but in both cases a *weaker*
predicate lets more rows through, so one question serves both: does ``new`` admit every row
``old`` admits, and more? :func:`relate` answers from the AST, without a solver:

- the same normalised text is the same predicate; so are the same ``AND`` conjuncts or ``OR``
  disjuncts in another order, and ``a = b`` written as ``b = a`` (also for ``<>``);
- ``true`` (or ``1 = 1``) admits everything, ``false`` nothing;
- dropping an ``AND`` conjunct or adding an ``OR`` disjunct widens; the reverse narrows;
- when exactly one conjunct (or disjunct) was swapped for another, the answer for that pair
  is the answer for the whole, since ``AND``/``OR`` are monotone; ``NOT`` flips it.

Anything else is ``unknown``: the caller decides how careful to be (the policy diff treats it
as a possible widening).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pglast import ast
from pglast.enums import BoolExprType

from rlsguard.catalog.sqlnorm import deparse, parse_expression
from rlsguard.errors import SqlNormalizationError


class Relation(StrEnum):
    EQUAL = "equal"
    WIDER = "wider"
    NARROWER = "narrower"
    UNKNOWN = "unknown"

    def flipped(self) -> Relation:
        return {Relation.WIDER: Relation.NARROWER, Relation.NARROWER: Relation.WIDER}.get(
            self, self
        )


@dataclass(frozen=True)
class Verdict:
    """How ``new`` relates to ``old``, and the part that made the difference."""

    relation: Relation
    reason: str = ""

    def flipped(self) -> Verdict:
        return Verdict(self.relation.flipped(), f"under NOT, {self.reason}" if self.reason else "")


TRUE = "TRUE"
FALSE = "FALSE"


def _parse(text: str) -> Any | None:
    try:
        return parse_expression(text)
    except SqlNormalizationError:
        return None


def constant_truth(node: Any) -> bool | None:
    """True/False for ``true``/``false`` and comparisons of two equal constants, else None."""
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Boolean):
        return bool(node.val.boolval)
    if isinstance(node, ast.TypeCast):
        return constant_truth(node.arg)
    if (
        isinstance(node, ast.A_Expr)
        and node.kind == 0  # AEXPR_OP
        and len(node.name or ()) == 1
        and isinstance(node.lexpr, ast.A_Const)
        and isinstance(node.rexpr, ast.A_Const)
        and deparse(node.lexpr) == deparse(node.rexpr)
    ):
        operator = node.name[0].sval
        if operator in ("=", "<=", ">="):
            return True
        if operator in ("<>", "!=", "<", ">"):
            return False
    return None


def is_always_true(text: str | None) -> bool:
    """``true``-like predicates (``true``, ``1 = 1``, ``'a' = 'a'``); None counts as true."""
    if text is None:
        return True
    node = _parse(text)
    return node is not None and constant_truth(node) is True


def flatten(node: Any, op: BoolExprType) -> list[Any]:
    """Top-level operands of nested ``AND`` (or ``OR``) nodes; the node itself otherwise."""
    if isinstance(node, ast.BoolExpr) and node.boolop == op:
        out: list[Any] = []
        for arg in node.args:
            out.extend(flatten(arg, op))
        return out
    return [node]


def conjuncts(text: str) -> list[str]:
    """The normalised top-level ``AND`` operands of an expression (itself when it has none)."""
    node = _parse(text)
    if node is None:
        return [text]
    return [deparse(part) for part in flatten(node, BoolExprType.AND_EXPR)]


def disjuncts(text: str) -> list[str]:
    node = _parse(text)
    if node is None:
        return [text]
    return [deparse(part) for part in flatten(node, BoolExprType.OR_EXPR)]


_COMMUTATIVE = frozenset({"=", "<>", "!="})


def canonical_key(node: Any) -> str:
    """A text that is equal for predicates that only differ in the order of ``AND``/``OR``
    operands or of the two sides of ``=``/``<>``."""
    if isinstance(node, ast.BoolExpr):
        if node.boolop == BoolExprType.NOT_EXPR:
            return f"NOT ({canonical_key(node.args[0])})"
        parts = sorted(canonical_key(part) for part in flatten(node, node.boolop))
        word = " AND " if node.boolop == BoolExprType.AND_EXPR else " OR "
        return "(" + word.join(parts) + ")"
    if (
        isinstance(node, ast.A_Expr)
        and node.kind == 0  # AEXPR_OP
        and len(node.name or ()) == 1
        and node.name[0].sval in _COMMUTATIVE
        and node.lexpr is not None
        and node.rexpr is not None
    ):
        left, right = sorted((canonical_key(node.lexpr), canonical_key(node.rexpr)))
        operator = "<>" if node.name[0].sval == "!=" else node.name[0].sval
        return f"({left} {operator} {right})"
    return deparse(node)


def relate(old: str | None, new: str | None) -> Verdict:
    """How predicate ``new`` relates to ``old`` (None: no predicate, i.e. ``true``)."""
    old_node = _parse(old) if old is not None else None
    new_node = _parse(new) if new is not None else None
    if (old is not None and old_node is None) or (new is not None and new_node is None):
        if old == new:
            return Verdict(Relation.EQUAL)
        return Verdict(Relation.UNKNOWN, "the expression could not be parsed")
    return _relate(old_node, new_node)


def _relate(old: Any | None, new: Any | None) -> Verdict:
    old_key = deparse(old) if old is not None else TRUE
    new_key = deparse(new) if new is not None else TRUE
    if old_key == new_key:
        return Verdict(Relation.EQUAL)
    if old is not None and new is not None and canonical_key(old) == canonical_key(new):
        return Verdict(Relation.EQUAL, "the same predicate with its operands in another order")
    old_truth = True if old is None else constant_truth(old)
    new_truth = True if new is None else constant_truth(new)
    if new_truth is True:
        return Verdict(Relation.WIDER, "it is now always true")
    if new_truth is False:
        return Verdict(Relation.NARROWER, "it is now always false")
    if old_truth is True:
        return Verdict(Relation.NARROWER, "it was always true")
    if old_truth is False:
        return Verdict(Relation.WIDER, "it was always false")
    for op, word in ((BoolExprType.AND_EXPR, "conjunct"), (BoolExprType.OR_EXPR, "disjunct")):
        verdict = _compare_operands(old, new, op, word)
        if verdict is not None:
            return verdict
    if (
        isinstance(old, ast.BoolExpr)
        and isinstance(new, ast.BoolExpr)
        and old.boolop == new.boolop == BoolExprType.NOT_EXPR
    ):
        return _relate(old.args[0], new.args[0]).flipped()
    return Verdict(Relation.UNKNOWN, f"`{old_key}` became `{new_key}`")


def _compare_operands(old: Any, new: Any, op: BoolExprType, word: str) -> Verdict | None:
    """Compare two predicates as sets of AND conjuncts (or OR disjuncts); None: undecided."""
    old_parts = {canonical_key(n): n for n in flatten(old, op)}
    new_parts = {canonical_key(n): n for n in flatten(new, op)}
    if len(old_parts) == 1 and len(new_parts) == 1:
        return None
    gone = [k for k in old_parts if k not in new_parts]
    added = [k for k in new_parts if k not in old_parts]
    # AND: fewer conjuncts admit more rows. OR: more disjuncts admit more rows.
    wider_when_gone = op == BoolExprType.AND_EXPR
    if not gone and not added:
        return Verdict(Relation.EQUAL, f"the same {word}s in another order")
    if gone and not added:
        relation = Relation.WIDER if wider_when_gone else Relation.NARROWER
        return Verdict(relation, f"dropped {word} {_list(old_parts, gone)}")
    if added and not gone:
        relation = Relation.NARROWER if wider_when_gone else Relation.WIDER
        return Verdict(relation, f"added {word} {_list(new_parts, added)}")
    if len(gone) == 1 and len(added) == 1:
        inner = _relate(old_parts[gone[0]], new_parts[added[0]])
        if inner.relation is not Relation.UNKNOWN:
            return inner
    return None


def _list(parts: dict[str, Any], keys: list[str]) -> str:
    return ", ".join(f"`{deparse(parts[key])}`" for key in keys)
