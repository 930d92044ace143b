"""The tests that Ctrl-C a child pass, and leak nothing, when pytest starts with SIGINT ignored.

A script's ``pytest &`` (CI runners do this) starts pytest with SIGINT ignored; children
inherit that, so a test whose child never sees the SIGINT it sends timed out and left the
child and its cluster running for good.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rlsguard.stack.runtime import OWNER_ENV, process_alive, tagged_processes
from tests.reliability.clirun import kill_group

REPO = Path(__file__).resolve().parents[2]
SIGNALLING_TESTS = [
    "tests/stack/test_leaks.py::test_ctrl_c_stops_servers_and_removes_the_run_dir",
    "tests/test_cli.py::test_up_serves_until_ctrl_c_and_leaves_nothing",
    "tests/gameday/test_interrupts.py::test_sigint_during_a_drill_reverts_the_fault",
]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def orphans(started_after: float) -> list[int]:
    """Tagged servers started during the test whose owning process is gone."""
    found = []
    for pid, env in tagged_processes().items():
        owner = env.get(OWNER_ENV, "").split(":")[0]
        if owner.isdigit() and not process_alive(int(owner)):
            stat = Path(f"/proc/{pid}")
            if stat.exists() and stat.stat().st_mtime >= started_after:
                found.append(pid)
    return found


@pytest.mark.slow  # nested pytest runs that start servers: ~20 s
def test_signalling_tests_pass_from_a_parent_that_ignores_sigint(
    tmp_path: Path, template_cache_dir: Path
) -> None:
    started = Path("/proc/self").stat().st_mtime
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--basetemp", str(tmp_path / "inner"), *SIGNALLING_TESTS],
        cwd=REPO,
        env={**os.environ, "RLSGUARD_CACHE_DIR": str(template_cache_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_ignore_sigint,
    )  # fmt: skip
    try:
        output, _ = proc.communicate(timeout=300)
    finally:
        kill_group(proc)
    assert proc.returncode == 0, output
    assert f"{len(SIGNALLING_TESTS)} passed" in output, output
    assert orphans(started) == []
