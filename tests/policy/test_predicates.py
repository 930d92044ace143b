"""Predicate comparison on the syntax tree: wider, narrower, equal, or unknown."""

from __future__ import annotations

import pytest

from rlsguard.policy.predicates import (
    Relation,
    conjuncts,
    disjuncts,
    is_always_true,
    relate,
)

WIDER, NARROWER, EQUAL, UNKNOWN = (
    Relation.WIDER,
    Relation.NARROWER,
    Relation.EQUAL,
    Relation.UNKNOWN,
)


@pytest.mark.parametrize(
    ("old", "new", "relation", "reason"),
    [
        ("a = 1 AND b = 2", "b = 2", WIDER, "dropped conjunct `a = 1`"),
        ("a = 1", "a = 1 AND b = 2", NARROWER, "added conjunct `b = 2`"),
        ("a = 1", "a = 1 OR b = 2", WIDER, "added disjunct `b = 2`"),
        ("a = 1 OR b = 2", "b = 2", NARROWER, "dropped disjunct `a = 1`"),
        ("owner = auth.uid()", "true", WIDER, "now always true"),
        ("owner = auth.uid()", "1 = 1", WIDER, "now always true"),
        ("true", "owner = auth.uid()", NARROWER, "was always true"),
        ("owner = auth.uid()", "false", NARROWER, "now always false"),
        ("false", "owner = auth.uid()", WIDER, "was always false"),
        ("a AND (b OR c)", "a AND (b OR c OR d)", WIDER, "added disjunct `d`"),
        ("a AND (b OR c)", "a AND b", NARROWER, "dropped disjunct `c`"),
        ("x AND y", "(x AND y) OR z", WIDER, "added disjunct `z`"),
        ("NOT (a AND b)", "NOT a", NARROWER, "under NOT"),
        (
            "auth.uid() = id",
            "auth.uid() IS NULL OR auth.uid() = id",
            WIDER,
            "added disjunct `auth.uid() IS NULL`",
        ),
        ("a = 1 AND b = 2", "b = 2 AND a = 1", EQUAL, "another order"),
        ("id = auth.uid()", "auth.uid() = id", EQUAL, "another order"),
        ("a <> 1", "1 != a", EQUAL, "another order"),
        ("a = 1", "a = 2", UNKNOWN, "`a = 1` became `a = 2`"),
        ("a = 1 AND b = 2", "a = 1 AND b = 3", UNKNOWN, ""),
        (None, "x", NARROWER, ""),
        ("x", None, WIDER, ""),
    ],
)
def test_relate(old: str | None, new: str | None, relation: Relation, reason: str) -> None:
    verdict = relate(old, new)
    assert verdict.relation is relation
    assert reason in verdict.reason


def test_the_with_check_of_the_known_bad_update_policy_lost_two_conjuncts() -> None:
    old = (
        "id = (SELECT auth.uid() AS uid) AND NOT school_id IS DISTINCT FROM "
        "(SELECT private.school_id() AS school_id) AND NOT role IS DISTINCT FROM "
        "(SELECT private.app_role() AS app_role)"
    )
    verdict = relate(old, "(SELECT auth.uid() AS uid) = id")
    assert verdict.relation is WIDER
    assert "school_id IS DISTINCT FROM" in verdict.reason
    assert "role IS DISTINCT" in verdict.reason


def test_true_like_predicates() -> None:
    assert is_always_true("true")
    assert is_always_true("1 = 1")
    assert is_always_true("'a' = 'a'")
    assert is_always_true(None)
    assert not is_always_true("1 = 2")
    assert not is_always_true("published")


def test_conjuncts_and_disjuncts_flatten_nested_operators() -> None:
    assert conjuncts("(a AND b) AND (c OR d)") == ["a", "b", "c OR d"]
    assert disjuncts("a OR (b OR c AND d)") == ["a", "b", "c AND d"]
