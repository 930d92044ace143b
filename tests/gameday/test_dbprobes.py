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
    finally:
        notes_engine.drop(name)
