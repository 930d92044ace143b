"""The app rig's pure parts: what the synthetic users call."""

from __future__ import annotations

from rlsguard.gameday.rig import table_call


def test_a_users_call_carries_its_postgrest_filter() -> None:
    assert table_call("classes", "c1").params == {}
    call = table_call("assignments?class_id=eq.{class_id}", "c1")
    assert (call.path, call.params) == ("/rest/v1/assignments", {"class_id": "eq.c1"})
