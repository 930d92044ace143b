"""Operators rewrite one site at a time, through the AST, into SQL pglast reads back."""

from __future__ import annotations

from pglast.enums import BoolExprType

from rlsguard.mutate.operators import (
    drop_operands,
    expression_rewrites,
    flip_equality,
    ignore_argument,
    row_independent,
    uid_always_true,
)
from rlsguard.policy.sqlnorm import normalize_expression

EXPR = "owner_id = (select auth.uid()) and (school_id = private.school_id() or private.is_admin())"


def texts(rewrites: list) -> list[str]:
    return [r.text for r in rewrites]


def test_each_conjunct_and_each_disjunct_is_dropped_once() -> None:
    assert texts(drop_operands(EXPR, BoolExprType.AND_EXPR)) == [
        "school_id = private.school_id() OR private.is_admin()",
        "owner_id = (SELECT auth.uid())",
    ]
    assert texts(drop_operands(EXPR, BoolExprType.OR_EXPR)) == [
        "owner_id = (SELECT auth.uid()) AND private.is_admin()",
        "owner_id = (SELECT auth.uid()) AND school_id = private.school_id()",
    ]


def test_a_repeated_conjunct_is_flagged_equivalent() -> None:
    found = drop_operands("a = 1 and b = 2 and 1 = a", BoolExprType.AND_EXPR)
    assert [bool(r.equivalent) for r in found] == [True, False, True]


def test_uid_comparisons_become_any_signed_in_user() -> None:
    (only,) = uid_always_true(EXPR)
    assert only.text.startswith("(SELECT auth.uid()) IS NOT NULL AND")


def test_flip_touches_ownership_comparisons_only() -> None:
    found = flip_equality("user_id = auth.uid() and status = 'open'")
    assert texts(found) == ["user_id <> auth.uid() AND status = 'open'"]


def test_every_rewrite_is_valid_sql_and_differs() -> None:
    for rewrite in expression_rewrites(EXPR):
        assert normalize_expression(rewrite.text) != normalize_expression(EXPR)


def test_ignore_argument_removes_the_filter_on_it() -> None:
    body = "select role from private.memberships where user_id = p_user_id and active"
    assert ignore_argument(body, "p_user_id", 1) == (
        "SELECT role FROM private.memberships WHERE TRUE AND active"
    )
    assert ignore_argument(body, "p_other", 2) is None


def test_row_independence() -> None:
    assert row_independent("(select private.is_admin())")
    assert not row_independent("school_id = private.school_id()")


def test_requires_uid_sees_casts_and_every_disjunct() -> None:
    from rlsguard.mutate.operators import requires_uid

    assert requires_uid(
        "bucket_id = 'a' and (storage.foldername(name))[1] = (select auth.uid())::text"
    )
    assert not requires_uid("owner_id = auth.uid() or shared")
    assert requires_uid("(owner_id = auth.uid() and a) or (b and editor_id = auth.uid())")
