"""Shared memory of killed postmasters does not pile up run after run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlsguard.stack import PostgresServer, Stack
from rlsguard.stack.ipc import stale_posix_files, sysv_segments
from rlsguard.stack.runtime import reap_stale


def interlock_shmid(server: PostgresServer) -> int:
    """Line 7 of postmaster.pid: the System V key and shmid of the cluster's interlock."""
    line = (server.datadir / "postmaster.pid").read_text().splitlines()[6]
    return int(line.split()[1])


def test_dynamic_shared_memory_lives_in_the_data_directory(
    private_postgres: PostgresServer,
) -> None:
    with private_postgres.connect() as conn:
        assert conn.execute("show dynamic_shared_memory_type").fetchone() == ("mmap",)
    assert (private_postgres.datadir / "pg_dynshmem").is_dir()


def test_a_killed_clusters_segment_is_reaped_and_live_ones_are_not(
    rlsguard_stack: Stack, private_postgres: PostgresServer
) -> None:
    """Discarding a killed cluster releases its segment; a concurrent reaper never does.

    The reaper acts only on run directories whose owner is dead, so another
    pytest worker reaping at the same moment cannot touch this run's segments
    (before, a worker's global sweep removed it between kill and assert).
    """
    live = interlock_shmid(private_postgres)
    doomed = rlsguard_stack.postgres(rlsguard_stack.unique_name("doomed"))
    shmid = interlock_shmid(doomed)
    doomed.kill()  # no clean shutdown: the segment stays behind
    reap_stale()  # what any concurrent run does when it opens its stack
    assert shmid in {s.shmid for s in sysv_segments()}  # our run is alive: not theirs to take
    rlsguard_stack.discard(doomed.name)
    remaining = {s.shmid for s in sysv_segments()}
    assert shmid not in remaining
    assert live in remaining  # a running cluster's segment is never touched


def test_a_crashed_runs_segment_is_released_with_its_directory(
    rlsguard_stack: Stack, tmp_path: Path
) -> None:
    doomed = rlsguard_stack.postgres(rlsguard_stack.unique_name("doomed"))
    shmid = interlock_shmid(doomed)
    doomed.kill()
    # A run whose owner died, holding this cluster's postmaster.pid where a data directory sits.
    dead = tmp_path / "rlsguard-0badc0de"
    (dead / "pg" / "data").mkdir(parents=True)
    pidfile = doomed.datadir / "postmaster.pid"
    (dead / "pg" / "data" / "postmaster.pid").write_text(pidfile.read_text())
    pidfile.unlink()  # discarding the doomed server must not release it first
    rlsguard_stack.discard(doomed.name)
    assert shmid in {s.shmid for s in sysv_segments()}
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    marker = {
        "tool": "rlsguard",
        "run_id": "0badc0de",
        "owner_pid": int(gone.stdout),
        "owner_start": 1,
    }
    (dead / "run.json").write_text(json.dumps(marker))
    report = reap_stale([tmp_path])
    assert report.removed == [dead]
    assert report.segments == 1
    assert shmid not in {s.shmid for s in sysv_segments()}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a second owner: run as root")
def test_only_orphaned_files_of_the_service_user_are_stale(
    rlsguard_stack: Stack, tmp_path: Path
) -> None:
    user = rlsguard_stack.context.user
    orphan = tmp_path / "PostgreSQL.123456"
    orphan.write_bytes(b"\0" * 16)
    user.chown(orphan)
    foreign = tmp_path / "PostgreSQL.654321"  # root's: never ours to remove
    foreign.write_bytes(b"\0" * 16)
    assert stale_posix_files(user.uid, tmp_path) == [orphan]
