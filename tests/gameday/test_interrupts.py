"""A drill interrupted by SIGINT, or killed by SIGKILL and followed by ``--cleanup``, leaves no
fault behind. Real subprocesses, real signals; the test waits on the ledger's NOTIFY (the
fault is applied) rather than on time."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from rlsguard.cli import app
from rlsguard.config import load_config
from rlsguard.gameday.ledger import CHANNEL, DbLedger, FileLedger
from rlsguard.gameday.probes import drift
from rlsguard.gameday.run import platform_for
from rlsguard.gameday.target import dsn_name, local_cluster
from tests.reliability.clirun import default_signals

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.chaos

# A drill that stalls in detection: a policy fault leaves sign-ins working, so the auth
# detector never fires and the drill keeps ticking until it is interrupted.
STALL = """\
name: stall
title: a drill that waits to be interrupted
runbook: {incident: RLS policy broken (no access), severity: P1}
steady_state: [drift]
fault:
  kind: replace_policy
  params: {table: public.classes, policy: classes_select, using: "false"}
detection: {expect: [auth]}
remediation: [{kind: rollback_migration}]
verify: [drift]
budgets: {tick_s: 0.05, detect_ticks: 100000, recover_ticks: 3}
root_cause: a test
"""


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Any, Any]]:
    """A private cluster playing a server the drill did not start (reached by DSN)."""
    config = load_config(ROOT)
    with local_cluster(config) as engine:
        yield engine, platform_for(engine, config)


@pytest.fixture
def database(server: tuple[Any, Any], request: pytest.FixtureRequest) -> Iterator[str]:
    engine, _ = server
    name = f"interrupt_{request.node.name.split('_')[-1]}"
    engine.clone(name)
    yield engine.conninfo(name)
    engine.drop(name)


def start(dsn: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "stall.yaml").write_text(STALL, encoding="utf-8")
    ledger = tmp_path / "ledger.jsonl"
    command = [sys.executable, "-m", "rlsguard.cli", "gameday", str(folder / "stall.yaml")]
    command += ["--dsn", dsn, "--target", dsn_name(dsn), "--ledger", str(ledger)]
    # SIGINT back to its default in the child: pytest itself may run with it ignored (a
    # script's `pytest &`), and the drill would then never see the SIGINT the test sends.
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, preexec_fn=default_signals)
    return proc, ledger


def wait_applied(listener: psycopg.Connection[Any], proc: subprocess.Popen[bytes]) -> None:
    for note in listener.notifies(timeout=60):
        if note.payload.endswith(" applied"):
            return
    proc.kill()
    pytest.fail(f"the fault was never applied: {proc.communicate()[1].decode()[-2000:]}")


def changes(dsn: str, server: tuple[Any, Any]) -> list[str]:
    platform = server[1]
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [c.message for c in drift(conn, platform.exposed, platform.approved)]


def sessions(dsn: str) -> list[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "select application_name from pg_stat_activity where datname = current_database() "
            "and application_name like 'rlsguard-chaos%' and pid <> pg_backend_pid()"
        ).fetchall()
    return [r[0] for r in rows]


def outstanding(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return DbLedger(conn).outstanding()


def test_sigint_during_a_drill_reverts_the_fault(
    server: tuple[Any, Any], database: str, tmp_path: Path
) -> None:
    with psycopg.connect(database, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        proc, ledger = start(database, tmp_path)
        wait_applied(listener, proc)
    assert changes(database, server)  # the fault is in place while the drill runs
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert changes(database, server) == [], err.decode()[-2000:]
    assert outstanding(database) == []
    assert FileLedger(ledger).outstanding() == []


def test_sigkill_then_cleanup_reverts_the_fault(
    server: tuple[Any, Any], database: str, tmp_path: Path
) -> None:
    with psycopg.connect(database, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        proc, ledger = start(database, tmp_path)
        wait_applied(listener, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert changes(database, server)  # killed: its finally never ran, the fault stayed
    assert len(outstanding(database)) == 1
    cleanup = subprocess.run(
        [sys.executable, "-m", "rlsguard.cli", "gameday", "--cleanup", "--dsn", database,
         "--target", dsn_name(database), "--ledger", str(ledger)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert cleanup.returncode == 0, cleanup.stderr
    assert "reverted stall" in cleanup.stderr
    assert changes(database, server) == []
    assert sessions(database) == []  # the killed run's sessions, if any were left, are gone
    assert outstanding(database) == []
    assert FileLedger(ledger).outstanding() == []


def test_cleanup_of_a_database_not_named_is_refused(database: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rlsguard.cli", "gameday", "--cleanup", "--dsn", database,
         "--ledger", str(tmp_path / "l.jsonl")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "refusing to revert faults" in result.stderr


@pytest.mark.slow
def test_sigkill_then_the_next_run_reverts_the_fault_first(
    server: tuple[Any, Any], database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(database, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        proc, ledger = start(database, tmp_path)
        wait_applied(listener, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert changes(database, server)
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["gameday", "using-false", "--dsn", database, "--target", dsn_name(database),
         "--ledger", str(ledger), "--report", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    journal = json.loads((out / "using-false" / "journal.json").read_text())
    cleanup = [e for e in journal["events"] if e["kind"] == "cleanup"]
    assert len(cleanup) == 1
    assert journal["summary"]["unavailable"] == ["pg_log"]  # no server log on a DSN target
    assert changes(database, server) == []
    assert outstanding(database) == []
    assert FileLedger(ledger).outstanding() == []
