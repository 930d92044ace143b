"""Shared memory of killed postmasters does not pile up run after run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rlsguard.stack import PostgresServer, Stack
from rlsguard.stack.ipc import reap_ipc, stale_posix_files, sysv_segments


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
    live = interlock_shmid(private_postgres)
    doomed = rlsguard_stack.postgres(rlsguard_stack.unique_name("doomed"))
    shmid = interlock_shmid(doomed)
    doomed.kill()  # no clean shutdown: the segment stays behind
    rlsguard_stack.discard(doomed.name)  # and so does nothing that could clean it up
    assert shmid in {s.shmid for s in sysv_segments()}
    uid = rlsguard_stack.context.user.uid
    removed, _ = reap_ipc(uid)
    assert removed >= 1
    remaining = {s.shmid for s in sysv_segments()}
    assert shmid not in remaining
    assert live in remaining  # a running cluster's segment is never touched


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
