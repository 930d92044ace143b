"""The app rig's pure parts: what the synthetic users call."""

from __future__ import annotations

import json

from rlsguard.gameday.rig import table_call, write_call


def test_a_users_call_carries_its_postgrest_filter() -> None:
    assert table_call("classes", "c1").params == {}
    call = table_call("assignments?class_id=eq.{class_id}", "c1")
    assert (call.path, call.params) == ("/rest/v1/assignments", {"class_id": "eq.c1"})


def test_a_users_write_is_rolled_back_as_postgrest_does() -> None:
    call = write_call("assignments", {"class_id": "{class_id}", "title": "synthetic"}, "c1")
    assert (call.method, call.path) == ("POST", "/rest/v1/assignments")
    assert call.headers == {"Prefer": "tx=rollback"}
    assert json.loads(call.params["row"]) == {"class_id": "c1", "title": "synthetic"}
