"""Database drills killed at any phase, then ``--cleanup``: no held connection, lock, paused
process or changed setting is left. Real subprocesses and real signals; the tests wait on
observable conditions (the ledger's NOTIFY, pg_stat_activity, the ledger file), not on time.

A lock holder running ``pg_sleep`` does not notice that its client died (the server only
reads the socket between statements), so after SIGKILL its lock outlives the runner: that is
what ``--cleanup`` must end, and only that (named after the run, in this database).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rlsguard.config import load_config
from rlsguard.gameday.ledger import CHANNEL, DbLedger, FileLedger
from rlsguard.gameday.probes import database_settings
from rlsguard.gameday.target import dsn_name, local_cluster
from rlsguard.stack.pgbouncer import discover_pgbouncer
from rlsguard.stack.process import process_state

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.chaos

STALL = """\
name: stall-lock
title: a lock drill that waits to be interrupted
runbook: {incident: Database query failure, section: "2. Database Query Failure", severity: P1}
steady_state: [drift]
fault: {kind: long_transaction, params: {table: public.classes, seconds: 3600}}
detection: {expect: [auth]}
remediation: [{kind: cancel_long_queries}]
verify: [drift]
budgets: {tick_s: 0.05, detect_ticks: 100000, recover_ticks: 3}
root_cause: a test
"""


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    """A private cluster playing a server the drill did not start (reached by DSN)."""
    with local_cluster(load_config(ROOT)) as engine:
        yield engine


@pytest.fixture
def database(engine: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"dbkill_{request.node.name.split('[')[-1].rstrip(']').replace('-', '_')}"
    engine.clone(name)
    yield engine.conninfo(name)
    engine.drop(name)


def run(args: list[str], folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rlsguard.cli", "gameday", *args], cwd=ROOT, stderr=subprocess.PIPE
    )


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    """Poll an observable condition (the drill's process must still run meanwhile)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"the drill ended before {what}: {proc.communicate()[1].decode()[-2000:]}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"never saw {what}")


def chaos_sessions(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            "select application_name, state from pg_stat_activity where "
            "datname = current_database() and application_name like 'rlsguard-chaos%' "
            "and pid <> pg_backend_pid()"
        ).fetchall()


def locks_on_classes(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from pg_locks where relation = 'public.classes'::regclass "
            "and pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("phase", [pytest.param("steady", marks=pytest.mark.slow), "applied"])
def test_sigkill_at_a_phase_then_cleanup_leaves_nothing(
    database: str, tmp_path: Path, phase: str
) -> None:
    (tmp_path / "stall-lock.yaml").write_text(STALL, encoding="utf-8")
    ledger = tmp_path / "ledger.jsonl"
    with psycopg.connect(database, autocommit=True) as conn:
        settings_before = database_settings(conn)
    target = ["--dsn", database, "--target", dsn_name(database), "--ledger", str(ledger)]
    with psycopg.connect(database, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        proc = run([str(tmp_path / "stall-lock.yaml"), *target], tmp_path)
        if phase == "steady":
            wait_until(lambda: bool(chaos_sessions(database)), proc, "the runner's session")
        else:
            for note in listener.notifies(timeout=60):
                if note.payload.endswith(" applied"):
                    break
            else:
                proc.kill()
                pytest.fail("the fault was never applied")
    proc.kill()
    proc.communicate(timeout=60)
    if phase == "applied":
        # the runner is gone, its lock holder is not: pg_sleep never reads the socket
        assert [s for s in chaos_sessions(database) if s[0].endswith(":long-tx")]
        assert locks_on_classes(database) >= 1
        (entry,) = FileLedger(ledger).outstanding()
        assert entry["processes"]
        assert entry["processes"][0]["kind"] == "backend"
    cleanup = subprocess.run(
        [sys.executable, "-m", "rlsguard.cli", "gameday", "--cleanup", *target],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert cleanup.returncode == 0, cleanup.stderr
    assert chaos_sessions(database) == []
    assert locks_on_classes(database) == 0
    with psycopg.connect(database, autocommit=True) as conn:
        assert DbLedger(conn).outstanding() == []
        assert not DbLedger(conn).exists()
        assert database_settings(conn) == settings_before
    assert FileLedger(ledger).outstanding() == []


CRASH_STALL = """\
name: stall-crash
title: a crash drill killed before it restarts the server
runbook: {incident: Database query failure, section: "2. Database Query Failure", severity: P1}
steady_state: [app]
app: {pool_max: 2, rate_hz: 5, personas: [teacher]}
fault: {kind: crash_server}
detection: {expect: [connections]}
remediation: [{kind: restart_server}]
verify: [app]
budgets: {tick_s: 0.05, detect_ticks: 100000, recover_ticks: 3}
root_cause: a test
"""


def _run_processes(run_dir: str) -> list[int]:
    """Live processes whose command line or working directory is in the run's directory."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(f"/proc/{entry.name}/cwd")
        except OSError:
            continue
        if run_dir in cmd or cwd.startswith(run_dir):
            out.append(int(entry.name))
    return out


FREEZE_STALL = (
    CRASH_STALL.replace("stall-crash", "stall-freeze")
    .replace("personas: [teacher]}", "personas: [teacher], pooler: pgbouncer}")
    .replace("{kind: crash_server}", "{kind: pgbouncer_down, params: {how: freeze}}")
    .replace("restart_server", "restart_pooler")
)
NO_PGBOUNCER = pytest.mark.skipif(
    discover_pgbouncer() is None, reason="pgbouncer is not installed (rlsguard doctor)"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        pytest.param(CRASH_STALL, "postmaster", id="crashed-server"),
        pytest.param(FREEZE_STALL, "pgbouncer", id="frozen-pgbouncer", marks=NO_PGBOUNCER),
    ],
)
def test_sigkill_after_a_process_fault_leaves_no_process_and_cleanup_closes_the_entry(
    tmp_path: Path, text: str, kind: str
) -> None:
    """On a private cluster the run owns everything: killed after the fault (a crashed
    server not yet restarted, a SIGSTOPped pooler), its app and every server process go with
    it - a stopped process too, SIGKILL needs no SIGCONT; --cleanup closes the ledger."""
    name = text.split("\n", 1)[0].removeprefix("name: ")
    (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    ledger = tmp_path / "ledger.jsonl"
    proc = run([str(tmp_path / f"{name}.yaml"), "--ledger", str(ledger)], tmp_path)

    def crashed() -> bool:
        entries = FileLedger(ledger).entries().values()
        return any(e.get("processes") for e in entries)

    wait_until(crashed, proc, "the crash")
    (entry,) = FileLedger(ledger).outstanding()
    run_dir = str(entry["target"]).split(":", 1)[1].rsplit("/template", 1)[0]
    proc.kill()
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 60  # bounds a failure only
    while _run_processes(run_dir) and time.monotonic() < deadline:
        time.sleep(0.02)  # children die on their parent-death signal, asynchronously
    left = _run_processes(run_dir)
    assert left == [], [(p, process_state(p)) for p in left]
    cleanup = subprocess.run(
        [sys.executable, "-m", "rlsguard.cli", "gameday", "--cleanup", "--ledger", str(ledger)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert cleanup.returncode == 0, cleanup.stderr
    assert "went with its private cluster" in cleanup.stderr
    assert FileLedger(ledger).outstanding() == []
    assert json.dumps(entry["processes"])  # the process was recorded when the fault hit it
    assert entry["processes"][0]["kind"] == kind
