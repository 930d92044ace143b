"""Run directories, tags and the reaper that cleans up after killed runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from rlsguard.errors import ServerError
from rlsguard.stack.runtime import (
    MARKER,
    OWNER_ENV,
    RUN_ID_ENV,
    SERVER_TAG_ENV,
    RunDir,
    ServiceUser,
    foreign_run_dirs,
    owner_tag,
    process_alive,
    proven_marker,
    reap_stale,
    tagged_processes,
    user_can_execute,
)


def dead_owner_tag() -> str:
    """The tag of a process that has certainly exited."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return f"{proc.stdout.strip()}:1"


def spawn_tagged(run_id: str, owner: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, RUN_ID_ENV: run_id, SERVER_TAG_ENV: f"{run_id}/x", OWNER_ENV: owner}
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)


def wait_tagged(run_id: str, count: int) -> None:
    deadline = time.monotonic() + 60  # bounds a failure only
    while len(tagged_processes(run_id=run_id)) < count:
        assert time.monotonic() < deadline, "tagged child never showed up"
        time.sleep(0.005)


def test_reaper_kills_processes_of_dead_owners_only(tmp_path: Path) -> None:
    orphan = spawn_tagged("deadbeef", dead_owner_tag())
    live = spawn_tagged("cafebabe", owner_tag())
    try:
        wait_tagged("deadbeef", 1)
        wait_tagged("cafebabe", 1)
        # Any run's start reaps (another xdist worker, any rlsguard run on the machine): one
        # may have killed the orphan first, and then this report cannot list it.
        reaped_already = orphan.poll() is not None
        report = reap_stale([tmp_path])
        assert orphan.pid in report.killed or reaped_already
        assert orphan.wait(timeout=60) == -9
        assert live.poll() is None
        assert live.pid not in report.killed
    finally:
        for proc in (orphan, live):
            proc.kill()
            proc.wait()


def write_marker(run_dir: Path, owner_pid: int, owner_start: int | None) -> None:
    run_dir.mkdir()
    run_id = run_dir.name.removeprefix("rlsguard-")
    marker = {
        "tool": "rlsguard",
        "run_id": run_id,
        "owner_pid": owner_pid,
        "owner_start": owner_start,
    }
    (run_dir / MARKER).write_text(json.dumps(marker))


def test_reaper_removes_directories_of_dead_runs_only(tmp_path: Path) -> None:
    pid, start = (int(x) for x in dead_owner_tag().split(":"))
    write_marker(tmp_path / "rlsguard-dead", pid, start)
    me = [int(x) for x in owner_tag().split(":")]
    write_marker(tmp_path / "rlsguard-live", me[0], me[1])
    # Same pid as ours but another start time: a reused pid does not keep a run alive.
    write_marker(tmp_path / "rlsguard-reused", me[0], me[1] + 1)
    (tmp_path / "unrelated").mkdir()
    report = reap_stale([tmp_path])
    assert sorted(p.name for p in report.removed) == ["rlsguard-dead", "rlsguard-reused"]
    assert (tmp_path / "rlsguard-live").exists()
    assert (tmp_path / "unrelated").exists()


def test_directories_without_proof_are_never_removed(tmp_path: Path) -> None:
    pid, start = (int(x) for x in dead_owner_tag().split(":"))
    (tmp_path / "rlsguard-unmarked").mkdir()
    write_marker(tmp_path / "rlsguard-renamed", pid, start)  # marker names another folder
    (tmp_path / "rlsguard-renamed").rename(tmp_path / "rlsguard-other")
    write_marker(tmp_path / "rlsguard-nostart", pid, None)  # no start time: not provably dead
    write_marker(tmp_path / "rlsguard-othertool", pid, start)
    marker = json.loads((tmp_path / "rlsguard-othertool" / MARKER).read_text())
    (tmp_path / "rlsguard-othertool" / MARKER).write_text(json.dumps({**marker, "tool": "x"}))
    assert reap_stale([tmp_path]).removed == []
    assert sorted(p.name for p in foreign_run_dirs([tmp_path])) == [
        "rlsguard-nostart",
        "rlsguard-other",
        "rlsguard-othertool",
        "rlsguard-unmarked",
    ]


def test_run_dir_appears_with_its_marker_and_leaves_no_staging() -> None:
    root = Path(tempfile.mkdtemp(prefix="rg"))  # short: tmp_path is too long for sockets
    try:
        run = RunDir(root=root).create(ServiceUser.current())
        assert proven_marker(run.path) is not None
        assert [p.name for p in root.iterdir()] == [run.path.name]
        with pytest.raises(ServerError, match="already exists"):
            RunDir(run.run_id, root=root).create(ServiceUser.current())
    finally:
        shutil.rmtree(root)


def test_run_dir_marker_names_its_owner(tmp_path: Path) -> None:
    run = RunDir(root=tmp_path).create(ServiceUser.current())
    marker = json.loads((run.path / MARKER).read_text())
    assert marker["owner_pid"] == os.getpid()
    assert process_alive(marker["owner_pid"], marker["owner_start"])
    run.remove()
    assert not run.path.exists()


def test_long_roots_fall_back_to_short_socket_paths(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 100)
    run = RunDir(root=deep)
    assert len(str(run.path)) + 40 <= 107


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to test another user's access")
def test_user_can_execute_checks_every_parent() -> None:
    user = ServiceUser.resolve()
    # pytest's tmp_path lives under a 0700 directory: use a traversable one.
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    base.chmod(0o755)
    private = base / "private"
    private.mkdir(mode=0o700)
    tool = private / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    try:
        assert not user_can_execute(user, tool)
        private.chmod(0o755)
        assert user_can_execute(user, tool)
        tool.chmod(0o744)
        assert not user_can_execute(user, tool)
    finally:
        shutil.rmtree(base)


def test_a_command_line_that_mentions_a_tag_is_not_ours(tmp_path: Path) -> None:
    """Only a Postgres process title carries our tag; ``grep 'rlsguard …'`` is left alone."""
    tag = f"rlsguard 0badf00d/pg {dead_owner_tag()}"
    proc = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(60)", tag])
    try:
        deadline = time.monotonic() + 60  # bounds a failure only
        while tag.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes().replace(
            b"\0", b" "
        ):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        assert proc.pid not in tagged_processes()
        assert proc.pid not in reap_stale([tmp_path]).killed
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_a_dead_run_of_an_older_rlsguard_is_still_reaped(tmp_path: Path) -> None:
    """Its marker (no ``tool`` yet) names the same run id and owner: proof enough."""
    pid, start = (int(x) for x in dead_owner_tag().split(":"))
    legacy = tmp_path / "rlsguard-0ld0ld00"
    legacy.mkdir()
    marker = {"run_id": "0ld0ld00", "owner_pid": pid, "owner_start": start}
    (legacy / MARKER).write_text(json.dumps(marker))
    assert reap_stale([tmp_path]).removed == [legacy]


def test_a_run_killed_before_publishing_its_directory(tmp_path: Path) -> None:
    """Marked staging is provably ours and reaped; unmarked staging is only reported."""
    pid, start = (int(x) for x in dead_owner_tag().split(":"))
    marked = tmp_path / ".rlsguard-new-abc123"
    marked.mkdir()
    marker = {"tool": "rlsguard", "run_id": "1", "owner_pid": pid, "owner_start": start}
    (marked / MARKER).write_text(json.dumps(marker))
    empty = tmp_path / ".rlsguard-new-def456"  # killed before the marker was written
    empty.mkdir()
    assert reap_stale([tmp_path]).removed == [marked]
    assert empty.is_dir()
    assert foreign_run_dirs([tmp_path]) == [empty]
