"""Data-state strategies: choices from the catalog win, overrides win over both, SQL quotes."""

from __future__ import annotations

from hypothesis import given, settings

from rlsguard.mutate.states import ColumnPlan, State, TablePlan, insert_sql, rows_strategy

PLANS = [
    TablePlan(
        "public.notes",
        (
            ColumnPlan("id", "uuid", True, True),
            ColumnPlan("school_id", "uuid", True, False, ("s1", "s2")),
            ColumnPlan("category", "text", True, False, ("general", "safeguarding")),
            ColumnPlan("teacher_id", "uuid", False, False, ("t1",)),
            ColumnPlan("body", "text", False, False),
            ColumnPlan("listed", "boolean", True, False),
        ),
    )
]
seen: list[State] = []


@settings(max_examples=30, deadline=None)
@given(rows_strategy(PLANS, overrides={"public.notes": {"teacher_id": [None]}}))
def _collect(state: State) -> None:
    seen.append(state)


def test_rows_follow_the_catalog_and_the_overrides() -> None:
    seen.clear()
    _collect()
    rows = [row for state in seen for _, row in state.rows]
    assert rows  # the strategy makes rows, not only empty states
    for row in rows:
        assert "id" not in row  # the default makes ids
        assert row["school_id"] in ("s1", "s2")
        assert row["category"] in ("general", "safeguarding")
        assert row["teacher_id"] is None  # the override
        assert row["body"] is None or isinstance(row["body"], str)
        assert isinstance(row["listed"], bool)


def test_insert_sql_quotes_values() -> None:
    assert insert_sql("public.t", {"a": "it's", "b": None, "c": True, "d": 3}) == (
        'INSERT INTO public.t ("a", "b", "c", "d") VALUES (\'it\'\'s\', NULL, true, 3)'
    )
    assert insert_sql("public.t", {}) == "INSERT INTO public.t DEFAULT VALUES"
