"""Run the real ``rlsguard`` command the way a user does, and see what it left behind.

Every run gets a private run root (``RLSGUARD_RUN_ROOT``) so "nothing left behind" can be
checked exactly: no run directory in it, no server process the run's owner tagged. The
template cache is the test session's, so the base layer (initdb + bootstrap) is built once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rlsguard.stack.runtime import OWNER_ENV, tagged_processes

NOTES = Path(__file__).resolve().parents[1] / "projects" / "notes"
COMMAND = [sys.executable, "-m", "rlsguard"]


@dataclass
class Ran:
    """One finished command: its exit code, output and what it left in its run root."""

    args: list[str]
    code: int
    stdout: str
    stderr: str
    leftovers: list[str]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def first_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[0] if lines else ""

    def __str__(self) -> str:
        return (
            f"rlsguard {' '.join(self.args)} -> {self.code}\n--- stdout\n{self.stdout}"
            f"\n--- stderr\n{self.stderr}\n--- left behind: {self.leftovers}"
        )


def owned_by(pid: int) -> list[int]:
    """Server processes whose owner tag names ``pid`` (the harness tags every child)."""
    prefix = f"{pid}:"
    return [p for p, env in tagged_processes().items() if env.get(OWNER_ENV, "").startswith(prefix)]


def leftovers(run_root: Path, pid: int) -> list[str]:
    found = [str(p) for p in run_root.iterdir()] if run_root.exists() else []
    return found + [f"process {p}" for p in owned_by(pid)]


@pytest.fixture
def run_root() -> Iterator[Path]:
    """A private, short (unix socket paths are limited) run root the server user can enter."""
    root = Path(tempfile.mkdtemp(prefix="rg-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def environment(cache: Path, run_root: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "RLSGUARD_CACHE_DIR": str(cache),
        "RLSGUARD_RUN_ROOT": str(run_root),
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    env.update(extra)
    return env


def rlsguard(
    *args: str, cwd: Path, cache: Path, run_root: Path, timeout: float = 120, **env: str
) -> Ran:
    """Run ``rlsguard *args`` in ``cwd`` to the end (a real process: its entry point too)."""
    proc = subprocess.Popen(
        [*COMMAND, *args],
        cwd=cwd,
        env=environment(cache, run_root, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        kill_group(proc)
    return Ran(list(args), proc.returncode, stdout, stderr, leftovers(run_root, proc.pid))


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL a child started with ``start_new_session`` and all it spawned, then reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def default_signals() -> None:
    """preexec_fn: SIGINT and SIGTERM back to their defaults in the child.

    A parent started with SIGINT ignored (``cmd &`` in a script, CI runners) hands the ignored
    disposition to its children, and Python then installs no KeyboardInterrupt handler: a
    test that sends SIGINT must not depend on how pytest itself was started.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60) -> object:
    """Poll an observable condition (a file, a log line); fail with ``what`` if it never holds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def copy_notes(dest: Path) -> Path:
    """A private copy of the notes project (rlsguard.toml and supabase/), to break at will."""
    shutil.copytree(NOTES, dest, symlinks=True)
    return dest
