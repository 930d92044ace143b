"""pg_stat_statements as the drills read it, on a real private cluster."""

from __future__ import annotations

import uuid

import pytest

from rlsguard.gameday.dbprobes import statements
from rlsguard.harness.engine import Engine


def test_statements_are_unavailable_until_installed_then_name_the_query(
    notes_engine: Engine,
) -> None:
    name = f"probe_{uuid.uuid4().hex[:8]}"
    notes_engine.clone(name)
    cloned: list[str] = []
    try:
        with notes_engine.connect(name, autocommit=True) as conn:
            conn.execute("drop extension if exists pg_stat_statements")
            assert statements(conn) is None  # not installed here: unavailable, no error
            rows = statements(conn, create=True)
            if rows is None:
                pytest.skip("pg_stat_statements is not preloaded by this server's binaries")
            conn.execute("select pg_sleep(0.05) as rlsguard_probe_marker")
            after = statements(conn)
            assert after is not None
            mine = [r for r in after.values() if "rlsguard_probe_marker" in r["query"]]
            assert len(mine) == 1
            assert mine[0]["calls"] >= 1
            assert mine[0]["total_ms"] >= 40
            assert mine[0]["blocks"] >= 0
            # the caller's own statements left out (a drill's setup is not the workload)
            others = statements(conn, others_only=True)
            assert others is not None
            assert not [r for r in others.values() if "rlsguard_probe_marker" in r["query"]]
        # the same text in another database is that database's row, not this one's
        notes_engine.clone(f"{name}_b")
        cloned.append(f"{name}_b")
        with notes_engine.connect(f"{name}_b", autocommit=True) as other:
            other.execute("create extension if not exists pg_stat_statements")
            other.execute("select pg_sleep(0.05) as rlsguard_probe_marker")
        with notes_engine.connect(name, autocommit=True) as conn:
            again = statements(conn)
            assert again is not None
            (row,) = [r for r in again.values() if "rlsguard_probe_marker" in r["query"]]
            assert row["calls"] == mine[0]["calls"]
    finally:
        notes_engine.drop(name)
        for extra in cloned:
            notes_engine.drop(extra)
