"""Nothing outlives a run: a killed, frozen or terminated pytest leaves no server behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlsguard.stack import Stack
from rlsguard.stack.runtime import tagged_processes
from tests.reliability.clirun import default_signals
from tests.stack.conftest import eventually

CHILD_TEST = """
import os, pathlib, signal
from rlsguard.stack import Stack

def test_hold_servers():
    stack = Stack().open()
    pg = stack.postgres()
    if os.environ.get("CHILD_FREEZE"):
        pg.freeze()
    ready = pathlib.Path(os.environ["CHILD_READY"])
    ready.with_suffix(".tmp").write_text(f"{stack.run_id} {stack.path}")
    ready.with_suffix(".tmp").rename(ready)  # atomic: the parent never reads it half-written
    signal.pause()  # until the parent kills us
"""


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Child runs of a test, SIGKILLed at its end whatever happened (their servers follow)."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def start_child_run(
    tmp_path: Path, children: list[subprocess.Popen[bytes]], *, freeze: bool
) -> tuple[subprocess.Popen[bytes], str, Path]:
    (tmp_path / "test_child.py").write_text(CHILD_TEST)
    ready = tmp_path / "ready"
    env = {**os.environ, "CHILD_READY": str(ready)}
    if freeze:
        env["CHILD_FREEZE"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_child.py"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Explicit dispositions: a pytest started with SIGINT ignored (`cmd &` in a script)
        # would hand that on, and the child would never see the Ctrl-C sent to it.
        preexec_fn=default_signals,
    )
    children.append(proc)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None:
            pytest.fail(f"child pytest exited early with {proc.returncode}")
        assert time.monotonic() < deadline, "child run never became ready"
        time.sleep(0.01)
    run_id, run_path = ready.read_text().split()
    assert tagged_processes(run_id=run_id), "the child's servers should be running"
    return proc, run_id, Path(run_path)


def test_sigkilled_pytest_leaves_nothing_after_next_start(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    proc, run_id, run_path = start_child_run(tmp_path, children, freeze=False)
    proc.kill()
    proc.wait()
    # The parent-death signal takes the postmaster down; its children follow.
    eventually(lambda: not tagged_processes(run_id=run_id), timeout=60)
    with Stack() as stack:
        assert stack.reaped is not None
    # The next start reaps it: this one, or one that started meanwhile and got there first
    # (another xdist worker, any rlsguard run on the machine), so this start's own report may
    # not list it. Either way the killed run's folder is gone.
    assert not run_path.exists()


def test_frozen_servers_of_a_killed_run_are_reaped(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    """SIGSTOPped backends cannot notice their postmaster died; the next run kills them."""
    proc, run_id, run_path = start_child_run(tmp_path, children, freeze=True)
    proc.kill()
    proc.wait()
    with Stack() as stack:
        assert stack.reaped is not None
    eventually(lambda: not tagged_processes(run_id=run_id), timeout=60)
    assert not run_path.exists()


def test_sigterm_stops_servers_and_removes_the_run_dir(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    proc, run_id, run_path = start_child_run(tmp_path, children, freeze=False)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    assert not tagged_processes(run_id=run_id)
    assert not run_path.exists()


def test_ctrl_c_stops_servers_and_removes_the_run_dir(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    proc, run_id, run_path = start_child_run(tmp_path, children, freeze=True)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == pytest.ExitCode.INTERRUPTED
    assert not tagged_processes(run_id=run_id)
    assert not run_path.exists()
