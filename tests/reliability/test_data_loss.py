"""rlsguard deletes only what it can prove it created, whose owner is provably dead."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlsguard.config import load_config
from rlsguard.harness.templates import STAGING_OWNER, TemplateCache
from rlsguard.stack.runtime import RunDir, ServiceUser, foreign_run_dirs, proven_marker, reap_stale

CRASHED_RUN = """
import os, sys
from pathlib import Path
from rlsguard.stack.runtime import RunDir, ServiceUser
run = RunDir(root=Path(sys.argv[1])).create(ServiceUser.current())
(run.path / "pg").mkdir()
print(run.path, flush=True)
os._exit(9)  # killed: nothing of ours is cleaned up
"""


@pytest.fixture
def root() -> Iterator[Path]:
    """A temp root of the test's own (short: run directories hold sockets)."""
    path = Path(tempfile.mkdtemp(prefix="rg"))
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=True)


def crashed_run(root: Path) -> Path:
    proc = subprocess.run(
        [sys.executable, "-c", CRASHED_RUN, str(root)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 9, proc.stderr
    return Path(proc.stdout.strip())


def age(path: Path, minutes: float) -> None:
    then = time.time() - minutes * 60
    for p in [*path.rglob("*"), path]:
        os.utime(p, (then, then))


def test_a_foreign_rlsguard_folder_survives_ten_reaper_runs(root: Path) -> None:
    mine = root / "rlsguard-mine"
    mine.mkdir()
    (mine / "f").write_text("keep")
    age(mine, 15)
    venv = root / "rlsguard-venv"  # an old folder that even has a run.json of someone else's
    venv.mkdir()
    (venv / "run.json").write_text('{"owner_pid": 1}')
    age(venv, 60 * 24)
    crashed = crashed_run(root)
    assert proven_marker(crashed) is not None
    for attempt in range(10):
        report = reap_stale([root])
        assert report.removed == ([crashed] if attempt == 0 else [])
        assert (mine / "f").read_text() == "keep"
        assert (venv / "run.json").exists()
    assert not crashed.exists()
    assert foreign_run_dirs([root]) == [mine, venv]


def test_doctor_lists_what_it_leaves_alone(root: Path) -> None:
    from rlsguard.config import load_config
    from rlsguard.harness.doctor import check_leftovers

    (root / "rlsguard-mine").mkdir()
    check = check_leftovers(load_config(supabase_dir=root), roots=[root])
    assert check.status == "info"
    assert any(str(root / "rlsguard-mine") in line for line in check.details)
    assert (root / "rlsguard-mine").is_dir()


def test_a_live_runs_folder_is_never_reaped(root: Path) -> None:
    run = RunDir(root=root).create(ServiceUser.current())
    age(run.path, 60)
    assert reap_stale([root]).removed == []
    assert run.path.is_dir()


def test_the_gates_git_export_is_a_marked_run_directory(tmp_path: Path) -> None:
    """``rlsguard-ref-*`` exports are provably ours: reaped only once their owner died."""
    from rlsguard.workspace.sources import open_source

    repo = tmp_path / "repo"
    (repo / "supabase" / "migrations").mkdir(parents=True)
    (repo / "supabase" / "migrations" / "0001_a.sql").write_text("select 1;\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    with open_source("HEAD", supabase_dir=repo / "supabase") as source:
        assert source.supabase_dir is not None
        export = source.supabase_dir.parent.parent
        assert export.name.startswith("rlsguard-ref-")
        assert proven_marker(export) is not None
        assert export not in reap_stale([export.parent]).removed  # its owner (we) is alive
        assert (source.supabase_dir / "migrations" / "0001_a.sql").is_file()
    assert not export.exists()


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


def test_only_our_interrupted_cache_stores_are_pruned(tmp_path: Path) -> None:
    cache = TemplateCache(tmp_path / "templates")
    cache.root.mkdir(parents=True)
    interrupted = cache.root / ".0123456789abcdef01234567.x1y2"
    interrupted.mkdir()
    owner = {"tool": "rlsguard", "pid": dead_pid(), "start": 1}
    (interrupted / STAGING_OWNER).write_text(json.dumps(owner))
    (interrupted / "data.tar").write_bytes(b"\0" * 1024)
    legacy = cache.root / f".0123456789abcdef01234567.{dead_pid()}.140000"
    legacy.mkdir()
    (legacy / "data.tar").write_bytes(b"\0" * 1024)
    alive = cache.root / ".0123456789abcdef01234567.live"
    alive.mkdir()
    me = {"tool": "rlsguard", "pid": os.getpid(), "start": _start()}
    (alive / STAGING_OWNER).write_text(json.dumps(me))
    foreign = cache.root / ".git"  # not ours: no owner file, not the legacy shape
    foreign.mkdir()
    (foreign / "HEAD").write_text("ref: x")
    legacy_plus = cache.root / f".0123456789abcdef01234567.{dead_pid()}.1"
    legacy_plus.mkdir()
    (legacy_plus / "notes.txt").write_text("keep")  # a file we never write there
    removed = cache.prune_staging()
    assert sorted(removed) == sorted([interrupted, legacy])
    assert alive.is_dir()
    assert foreign.is_dir()
    assert legacy_plus.is_dir()


def _start() -> int:
    from rlsguard.stack.runtime import process_start_time

    start = process_start_time(os.getpid())
    assert start is not None
    return start


def test_a_postgres_shm_file_no_run_of_ours_names_is_left_alone(rlsguard_stack: Any) -> None:
    """Another Postgres of the same user (or one started by hand) owns such files too."""
    from rlsguard.harness.doctor import check_leftovers
    from rlsguard.stack.supervisor import Stack

    user = rlsguard_stack.context.user
    orphan = Path("/dev/shm") / f"PostgreSQL.{os.getpid()}{secrets.randbelow(10**6)}"
    if not Path("/dev/shm").is_dir():
        pytest.skip("no /dev/shm on this machine")
    orphan.write_bytes(b"\0" * 16)
    try:
        user.chown(orphan)
        with Stack():  # opening a stack reaps what dead runs left
            pass
        assert orphan.exists()
        if user.uid != 0:
            check = check_leftovers(load_config(supabase_dir=orphan.parent), roots=[])
            assert any(str(orphan) in line for line in check.details)
    finally:
        orphan.unlink(missing_ok=True)


MAKE_SEGMENT = """
import ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
print(libc.shmget(0, 56, 0o1600))  # IPC_PRIVATE, IPC_CREAT | 0600: Postgres's interlock size
"""


def test_a_segment_no_run_of_ours_names_is_left_alone(rlsguard_stack: Any) -> None:
    """An orphaned 56-byte segment of the service user is not provably ours: it stays.

    Beware on a shared machine: an older rlsguard opening a stack at the same moment
    sweeps such segments (the bug this guards against) and can remove it under us.
    """
    from rlsguard.stack.ipc import remove_sysv_segment, sysv_segments
    from rlsguard.stack.runtime import user_can_execute
    from rlsguard.stack.supervisor import Stack

    user = rlsguard_stack.context.user
    python = next(
        (p for p in (sys.executable, "/usr/bin/python3") if user_can_execute(user, Path(p))), None
    )
    if python is None:
        pytest.skip(f"no Python interpreter that {user.name} may run")
    made = subprocess.run(
        [python, "-c", MAKE_SEGMENT],
        capture_output=True,
        text=True,
        check=True,
        **user.popen_kwargs(),  # type: ignore[arg-type]
    )
    shmid = int(made.stdout)
    assert shmid >= 0, made.stderr
    try:
        segment = next(s for s in sysv_segments() if s.shmid == shmid)
        assert (segment.uid, segment.size, segment.attached) == (user.uid, 56, 0)
        with Stack():  # its creator is dead: the old sweep removed it here
            pass
        assert shmid in {s.shmid for s in sysv_segments()}
    finally:
        remove_sysv_segment(shmid)
