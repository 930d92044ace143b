"""PgBouncer discovery and, where the binary is present, a transaction-mode pooler in front
of a real cluster (skipped with the reason otherwise)."""

from __future__ import annotations

import stat
import threading
import time
from pathlib import Path

import psycopg
import pytest

from rlsguard.stack.pgbouncer import ENV_BINARY, PgBouncerServer, discover_pgbouncer
from rlsguard.stack.supervisor import Stack


def test_the_override_must_be_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "pgbouncer"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv(ENV_BINARY, str(fake))
    assert discover_pgbouncer() is None
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    assert discover_pgbouncer() == str(fake)


@pytest.mark.skipif(discover_pgbouncer() is None, reason="pgbouncer is not installed")
def test_transaction_pooling_in_front_of_a_cluster() -> None:
    binary = discover_pgbouncer()
    assert binary is not None
    with Stack() as stack:
        pg = stack.postgres(max_connections=20)
        with pg.connect(autocommit=True) as conn:
            conn.execute("create role app login")
        bouncer = stack.add(
            PgBouncerServer(
                "pgbouncer", stack.context, binary, pg_socket_dir=pg.socket_dir,
                pg_port=pg.port, users=("app",), pool_size=2,
            )
        )  # fmt: skip
        with psycopg.connect(
            bouncer.conninfo("postgres", "app"), autocommit=True, prepare_threshold=None
        ) as conn:
            assert conn.execute("select current_user").fetchone() == ("app",)
        pools = bouncer.admin("SHOW POOLS")
        assert any(row[0] == "postgres" and row[1] == "app" for row in pools)
        mode = [r for r in bouncer.admin("SHOW CONFIG") if r[0] == "pool_mode"]
        assert mode[0][1] == "transaction"
        # two clients in a transaction pin the pool's two server connections: a third queues
        held = [
            psycopg.connect(bouncer.conninfo("postgres", "app"), autocommit=True) for _ in range(2)
        ]
        for conn in held:
            conn.execute("begin; select 1")
        queued = psycopg.connect(
            bouncer.conninfo("postgres", "app"), autocommit=True, prepare_threshold=None
        )
        waiter = threading.Thread(target=lambda: queued.execute("select 1"), daemon=True)
        waiter.start()

        def waiting() -> int:
            (pool,) = [p for p in bouncer.pools() if p["database"] == "postgres"]
            return int(pool["cl_waiting"])

        deadline = time.monotonic() + 60  # bounds a failure only
        while waiting() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert waiting() == 1
        held[0].close()  # its pinned server connection is let go: the queued client runs
        waiter.join(timeout=60)
        assert not waiter.is_alive()
        assert waiting() == 0
        for conn in [*held, queued]:
            conn.close()
