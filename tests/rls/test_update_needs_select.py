"""``UPDATE`` needs a matching ``SELECT`` policy to see its rows.

An UPDATE (or DELETE) that reads any column - in ``WHERE``, ``SET col = col``,
``RETURNING`` - is filtered by the SELECT policies as well as by its own, and its new rows
must pass them too. Without a SELECT policy it touches nothing, silently: the P1 "no access"
incident, not a "permission denied" in the log.
"""

from __future__ import annotations

import pytest

from rlsguard import Database

from .conftest import ALGEBRA

pytestmark = pytest.mark.rls

BY_KEY = "update public.classes set room = 'A102' where id = %s"


def test_an_update_sees_only_rows_a_select_policy_shows(rlsguard_clone: Database) -> None:
    db = rlsguard_clone  # the test drops a policy: a database of its own
    with db.as_persona("teacher") as s:
        assert s.execute(BY_KEY, (ALGEBRA,)) == 1
    db.execute("drop policy classes_select on public.classes")
    policies = db.fetch(
        "select policyname, cmd from pg_policies where tablename = 'classes' order by 1"
    )
    assert {"policyname": "classes_update_staff", "cmd": "UPDATE"} in policies
    assert all(p["cmd"] != "SELECT" for p in policies)
    with db.as_persona("teacher") as s:
        assert s.execute(BY_KEY, (ALGEBRA,)) == 0  # no error: the row is simply not there
        assert s.execute("update public.classes set id = id") == 0  # the matrix's no-op
        # Reading no column, the UPDATE policy alone decides: both of teacher's classes.
        assert s.execute("update public.classes set room = 'A102'") == 2
