"""Shared memory a killed postmaster leaves behind, and its removal.

A postmaster that dies by ``kill -9`` (a crash drill, a killed pytest, the
reaper) cannot remove its System V interlock segment (56 bytes, one per
cluster) nor its POSIX dynamic shared memory files (``/dev/shm/PostgreSQL.*``).
Postgres cleans them up only when the same data directory starts again, and
ours is deleted with its run. Left alone they pile up run after run until the
kernel's segment limit is reached.

Clusters therefore keep their dynamic shared memory inside the data
directory (``dynamic_shared_memory_type = mmap``), so they make no
``PostgreSQL.*`` files at all. The interlock segment is released only when
it is provably ours: the ``postmaster.pid`` of a data directory inside one
of our run directories names it (line 7) and its creator (line 1), the
segment still has that creator, nobody is attached and the postmaster is
gone. Segments and files that cannot be traced to a run of ours (another
Postgres of the same user, an older rlsguard) are only reported by
``rlsguard doctor``, never removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from dataclasses import dataclass
from pathlib import Path

from rlsguard.stack.procinfo import process_alive

_IPC_RMID = 0
SYSV_TABLE = Path("/proc/sysvipc/shm")
POSIX_SHM_DIR = Path("/dev/shm")
_PG_INTERLOCK_BYTES = 56  # the size of Postgres's System V interlock segment


@dataclass(frozen=True)
class Segment:
    shmid: int
    size: int
    creator: int
    attached: int
    uid: int


def sysv_segments(table: Path = SYSV_TABLE) -> list[Segment]:
    try:
        lines = table.read_text(encoding="ascii").splitlines()[1:]
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 8:
            found.append(
                Segment(
                    shmid=int(fields[1]),
                    size=int(fields[3]),
                    creator=int(fields[4]),
                    attached=int(fields[6]),
                    uid=int(fields[7]),
                )
            )
    return found


def stale_sysv_segments(uid: int, table: Path = SYSV_TABLE) -> list[int]:
    """Interlock segments of ``uid`` nobody is attached to, whose creating postmaster is gone."""
    return [
        s.shmid
        for s in sysv_segments(table)
        if s.uid == uid
        and s.attached == 0
        and s.size == _PG_INTERLOCK_BYTES
        and not process_alive(s.creator)
    ]


def _interlock_of(pidfile: Path) -> tuple[int, int] | None:
    """(postmaster pid, shmid) from a ``postmaster.pid``, None when it names no segment."""
    try:
        lines = pidfile.read_text(encoding="utf-8", errors="replace").splitlines()
        pid = int(lines[0])
        shmid = int(lines[6].split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pid, shmid


def release_ipc(path: Path | None) -> int:
    """Remove the interlock segments of dead postmasters whose data directories lie in ``path``.

    ``path`` is a run directory of ours (or a server's folder inside one);
    data directories sit at most two levels down. Returns how many were removed.
    """
    if path is None:  # a server that is not ours has no folder here
        return 0
    pidfiles: list[Path] = []
    for pattern in ("postmaster.pid", "*/postmaster.pid", "*/*/postmaster.pid"):
        with contextlib.suppress(OSError):
            pidfiles.extend(path.glob(pattern))
    if not pidfiles:
        return 0
    segments = {s.shmid: s for s in sysv_segments()}
    removed = 0
    for pidfile in pidfiles:
        found = _interlock_of(pidfile)
        if found is None:
            continue
        pid, shmid = found
        segment = segments.get(shmid)
        if segment is None or segment.creator != pid or segment.attached != 0:
            continue
        if process_alive(pid):
            continue
        removed += remove_sysv_segment(shmid)
    return removed


def remove_sysv_segment(shmid: int) -> bool:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return int(libc.shmctl(shmid, _IPC_RMID, None)) == 0


def _mapped_posix_files(uid: int) -> set[str]:
    """``/dev/shm`` files some live process of ``uid`` has mapped."""
    mapped: set[str] = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            with open(f"/proc/{entry.name}/maps", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if "/dev/shm/PostgreSQL." in line:
                        mapped.add(line.rsplit(None, 1)[-1])
        except OSError:
            continue
    return mapped


def stale_posix_files(uid: int, shm_dir: Path = POSIX_SHM_DIR) -> list[Path]:
    """``PostgreSQL.*`` dynamic shared memory files of ``uid`` that no live process maps."""
    try:
        candidates = [p for p in shm_dir.glob("PostgreSQL.*") if p.stat().st_uid == uid]
    except OSError:
        return []
    if not candidates:
        return []
    mapped = _mapped_posix_files(uid)
    return [p for p in candidates if str(p) not in mapped]


def orphaned_ipc(uid: int) -> tuple[list[int], list[Path]]:
    """Orphaned interlock segments and ``PostgreSQL.*`` files of ``uid``: for doctor to report.

    They cannot be traced to a run of ours (that run's directory, which named
    them, is gone), so rlsguard never removes them itself.
    """
    if uid == 0:
        return ([], [])
    return stale_sysv_segments(uid), stale_posix_files(uid)
