"""Where a run keeps its files, whom its servers run as, and how a dead run is cleaned up.

Every run gets a short run id. Its directory is ``<root>/rlsguard-<run id>/``
(``/dev/shm`` when it is a writable tmpfs: file creation there is ~60x cheaper
than on ext4) and every process it starts carries ``RLSGUARD_RUN_ID=<run id>``
in its environment. A later run uses both tags to find and remove what a
killed run left behind.

The reaper deletes only what it can prove rlsguard made: the directory is
built under a private ``mkdtemp`` name, its marker is written there, and only
then is it renamed to ``rlsguard-<run id>``. So a ``rlsguard-*`` directory
without our marker was never ours (a user's notes, a virtualenv, another
tool's checkout) and is left alone, however old; ``rlsguard doctor`` lists it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlsguard.errors import ServerError
from rlsguard.stack.ipc import release_ipc
from rlsguard.stack.procinfo import _is_zombie, process_alive, process_start_time
from rlsguard.stack.procinfo import process_state as process_state  # re-exported

log = logging.getLogger("rlsguard.stack")

RUN_ID_ENV = "RLSGUARD_RUN_ID"
SERVER_TAG_ENV = "RLSGUARD_SERVER"
OWNER_ENV = "RLSGUARD_OWNER"
RUN_PREFIX = "rlsguard-"
MARKER = "run.json"
MARKER_TOOL = "rlsguard"
# Where a run directory is built before it gets its public name (see RunDir.create).
STAGING_PREFIX = f".{RUN_PREFIX}new-"
DEFAULT_USER = "rlsguard"
SOCKET_PATH_LIMIT = 107


def new_run_id() -> str:
    return secrets.token_hex(4)


def _is_writable_tmpfs(path: Path) -> bool:
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        return False
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) >= 3 and parts[1] == str(path) and parts[2] == "tmpfs":
                    return True
    except OSError:
        return False
    return False


def run_roots() -> list[Path]:
    """Candidate parent directories, best first; the reaper scans all of them."""
    roots: list[Path] = []
    override = os.environ.get("RLSGUARD_RUN_ROOT")
    if override:
        roots.append(Path(override))
    shm = Path("/dev/shm")
    if _is_writable_tmpfs(shm):
        roots.append(shm)
    roots.append(Path(tempfile.gettempdir()))
    seen: list[Path] = []
    for root in roots:
        if root not in seen:
            seen.append(root)
    return seen


_TAG_KEYS = (RUN_ID_ENV.encode(), SERVER_TAG_ENV.encode(), OWNER_ENV.encode())


# Postgres children overwrite their environment block with their process
# title, so clusters carry the same tags in cluster_name, which shows in every
# child's title: "postgres: rlsguard <run id>/<server> <owner>: checkpointer".
# Anchored: only a Postgres process title counts, never a command line that merely
# mentions such a tag (``grep 'rlsguard 1f2e/pg 9:9'``), which is not ours to kill.
_TITLE_RE = re.compile(rb"^postgres: rlsguard ([0-9a-f]+)/([\w.-]+) (\d+:\d+)")


def cluster_title(run_id: str, server: str, owner: str) -> str:
    return f"rlsguard {run_id}/{server} {owner}"


def _environ(pid: int) -> dict[str, str]:
    """The rlsguard tags of a process, from its environment or its title."""
    env: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            raw = fh.read()
    except OSError:
        raw = b""
    if b"RLSGUARD_" in raw:
        for item in raw.split(b"\0"):
            key, sep, value = item.partition(b"=")
            if sep and key in _TAG_KEYS:
                env[key.decode()] = value.decode(errors="replace")
    if RUN_ID_ENV not in env:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                title = fh.read(512)
        except OSError:
            return env
        if match := _TITLE_RE.search(title):
            run_id, server, owner = (g.decode() for g in match.groups())
            env = {RUN_ID_ENV: run_id, SERVER_TAG_ENV: f"{run_id}/{server}", OWNER_ENV: owner}
    return env


def tagged_processes(
    *, run_id: str | None = None, server_tag: str | None = None
) -> dict[int, dict[str, str]]:
    """Live processes carrying rlsguard tags, filtered by run id and/or server tag."""
    found: dict[int, dict[str, str]] = {}
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == me:
            continue
        env = _environ(pid)
        if RUN_ID_ENV not in env:
            continue
        if run_id is not None and env[RUN_ID_ENV] != run_id:
            continue
        if server_tag is not None and env.get(SERVER_TAG_ENV) != server_tag:
            continue
        if _is_zombie(pid):
            continue
        found[pid] = env
    return found


def kill_and_wait(pids: Iterable[int], timeout: float = 5.0) -> list[int]:
    """SIGKILL the processes and wait until they are gone; returns those that would not die."""
    pending = {pid: process_start_time(pid) for pid in pids}
    for pid in pending:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            # A stopped process dies on SIGKILL too; SIGCONT is harmless and
            # makes sure nothing stays frozen if the kill was refused.
            os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = {p: t for p, t in pending.items() if process_alive(p, t)}
        if pending:
            time.sleep(0.002)
    return sorted(pending)


@dataclass(frozen=True)
class ServiceUser:
    """The OS identity servers run as; root is never used for a server."""

    name: str
    uid: int
    gid: int

    @property
    def is_current(self) -> bool:
        return self.uid == os.geteuid()

    @classmethod
    def current(cls) -> ServiceUser:
        entry = pwd.getpwuid(os.geteuid())
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    @classmethod
    def resolve(cls, wanted: str | None = None) -> ServiceUser:
        """As root, find or create the unprivileged user; otherwise run as ourselves."""
        if os.geteuid() != 0:
            return cls.current()
        name = wanted or os.environ.get("RLSGUARD_RUN_AS") or DEFAULT_USER
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            entry = _create_user(name)
        if entry.pw_uid == 0:
            raise ServerError(
                f"user {name!r} has uid 0; Postgres refuses to run as root. "
                "Set RLSGUARD_RUN_AS to an unprivileged user."
            )
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    def chown(self, path: Path) -> None:
        if not self.is_current:
            os.chown(path, self.uid, self.gid)

    def popen_kwargs(self) -> dict[str, object]:
        if self.is_current:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _create_user(name: str) -> pwd.struct_passwd:
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    nologin = shutil.which("nologin") or "/usr/sbin/nologin"
    if os.path.exists(useradd):
        proc = subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", nologin, name],
            capture_output=True,
            text=True,
            check=False,
        )
        # 9: the user was created concurrently by another run; fine.
        if proc.returncode not in (0, 9):
            log.warning("useradd %s failed: %s", name, proc.stderr.strip())
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    with contextlib.suppress(KeyError):
        log.warning("could not create user %r; running servers as 'nobody'", name)
        return pwd.getpwnam("nobody")
    raise ServerError(
        f"running as root, and neither user {name!r} nor 'nobody' exists or can be created. "
        "Create an unprivileged user and name it in RLSGUARD_RUN_AS."
    )


def user_can_execute(user: ServiceUser, path: Path) -> bool:
    """Whether ``user`` can reach and execute ``path`` (each parent needs the x bit)."""
    if user.is_current or user.uid == 0:
        return os.access(path, os.X_OK)
    path = path.resolve()
    for part in [*reversed(path.parents), path]:
        try:
            st = part.stat()
        except OSError:
            return False
        if st.st_uid == user.uid:
            ok = st.st_mode & 0o100
        elif st.st_gid == user.gid:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            return False
    return True


_libc: ctypes.CDLL | None = None
_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int]:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc.prctl


def death_signal_preexec(parent_pid: int) -> Callable[[], None]:
    """A preexec_fn that makes the child die with its parent.

    subprocess switches uid/gid before calling preexec_fn, and a uid switch
    clears the parent-death signal, so it must be set here, after the switch.
    The function pointer is resolved in the parent: the forked child only calls it.
    """
    prctl = _prctl()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def run_tied(cmd: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run`` for a helper that dies with us (initdb, tar, cp).

    Killed by SIGKILL, we cannot stop a child ourselves: an orphaned initdb would keep writing
    into a run directory the next run reaps. initdb's own ``postgres --single`` child reads
    its commands from initdb's pipe and exits at the EOF initdb's death gives it.
    """
    return subprocess.run(cmd, preexec_fn=death_signal_preexec(os.getpid()), **kwargs)


class RunDir:
    """The directory of one run: created tagged, owned by the service user, removed at the end."""

    def __init__(self, run_id: str | None = None, root: Path | None = None) -> None:
        self.run_id = run_id or new_run_id()
        self.root = root or run_roots()[0]
        self.path = self.root / f"{RUN_PREFIX}{self.run_id}"
        if len(str(self.path)) + 40 > SOCKET_PATH_LIMIT:
            # Unix socket paths are limited to 107 bytes: fall back to a short root.
            self.root = Path("/tmp")
            self.path = self.root / f"{RUN_PREFIX}{self.run_id}"

    def create(self, user: ServiceUser) -> RunDir:
        """Build the directory privately, mark it, then publish it under its name.

        The public name never exists without the marker, which is what lets
        the reaper tell our directories from anyone else's.
        """
        if self.path.exists() or self.path.is_symlink():
            raise ServerError(f"{self.path} already exists; it is not this run's to reuse")
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.root))
        try:
            marker = {
                "tool": MARKER_TOOL,
                "run_id": self.run_id,
                "owner_pid": os.getpid(),
                "owner_start": process_start_time(os.getpid()),
                "created": time.time(),
                "user": user.name,
            }
            (staging / MARKER).write_text(json.dumps(marker), encoding="utf-8")
            staging.chmod(0o755)
            staging.rename(self.path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self

    def subdir(self, name: str, user: ServiceUser, mode: int = 0o700) -> Path:
        sub = self.path / name
        sub.mkdir(mode=mode, exist_ok=True)
        user.chown(sub)
        return sub

    def remove(self) -> None:
        release_ipc(self.path)
        shutil.rmtree(self.path, ignore_errors=True)


def _read_marker(run_dir: Path) -> dict[str, object] | None:
    try:
        data = json.loads((run_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def proven_marker(run_dir: Path) -> dict[str, object] | None:
    """The marker of a run directory rlsguard provably made, else None.

    Proof: our marker (tool, run id matching the folder name, owner pid and
    start time) in a real directory owned by the user we run as. A folder
    without it is never ours: ours get their name only once the marker is in.
    """
    try:
        st = run_dir.lstat()
    except OSError:
        return None
    if not run_dir.is_dir() or run_dir.is_symlink() or st.st_uid != os.geteuid():
        return None
    marker = _read_marker(run_dir)
    # Markers of rlsguard before 'tool' existed carry the same run id and owner: as good a proof.
    if marker is None or marker.get("tool", MARKER_TOOL) != MARKER_TOOL:
        return None
    if run_dir.name.startswith(STAGING_PREFIX):
        # Killed between marking and publishing: the marker, written first, still proves it.
        if marker.get("tool") != MARKER_TOOL:
            return None
    elif run_dir.name != f"{RUN_PREFIX}{marker.get('run_id')}":
        return None
    pid, start = marker.get("owner_pid"), marker.get("owner_start")
    if not isinstance(pid, int) or not isinstance(start, int):
        return None
    return marker


def _run_dirs(roots: Iterable[Path]) -> Iterator[Path]:
    for root in roots:
        try:
            entries = list(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            named = entry.name.startswith((RUN_PREFIX, STAGING_PREFIX))
            if named and entry.is_dir() and not entry.is_symlink():
                yield entry


def owner_alive(marker: dict[str, object]) -> bool:
    pid, start = marker.get("owner_pid"), marker.get("owner_start")
    return isinstance(pid, int) and process_alive(pid, start if isinstance(start, int) else None)


def foreign_run_dirs(roots: Iterable[Path] | None = None) -> list[Path]:
    """``rlsguard-*`` entries of the temp roots that are not provably ours: never touched.

    Includes staging folders (``.rlsguard-new-*``) a run was killed in before
    it could write its marker: they cannot be told from anyone else's.
    (One killed after writing it is provably ours and reaped like a run directory.)
    """
    roots = list(roots) if roots is not None else run_roots()
    found: list[Path] = []
    for root in roots:
        try:
            entries = sorted(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            named = entry.name.startswith((RUN_PREFIX, STAGING_PREFIX))
            if named and proven_marker(entry) is None:
                found.append(entry)
    return found


@dataclass
class ReapReport:
    killed: list[int]
    removed: list[Path]
    segments: int = 0


def owner_tag() -> str:
    """``<pid>:<start time>`` of this process: what a child's ``RLSGUARD_OWNER`` says."""
    return f"{os.getpid()}:{process_start_time(os.getpid())}"


def _owner_tag_alive(tag: str) -> bool:
    pid, _, start = tag.partition(":")
    if not pid.isdigit():
        return False
    return process_alive(int(pid), int(start) if start.isdigit() else None)


def reap_stale(roots: Iterable[Path] | None = None) -> ReapReport:
    """Remove what killed runs left: their tagged processes first, then their directories.

    A process is stale when the owner named in its ``RLSGUARD_OWNER`` tag is
    gone (pid and start time, so a reused pid does not count as alive); a
    directory is stale when it is provably ours (:func:`proven_marker`) and
    the owner in its marker is gone. Live runs, ours or concurrent ones, and
    anything without our marker are never touched.
    """
    roots = list(roots) if roots is not None else run_roots()
    victims = [
        pid
        for pid, env in tagged_processes().items()
        if not _owner_tag_alive(env.get(OWNER_ENV, ""))
    ]
    survivors = kill_and_wait(victims)
    if survivors:
        log.warning("stale rlsguard processes would not die: %s", survivors)
    removed: list[Path] = []
    segments = 0
    for run_dir in _run_dirs(roots):
        marker = proven_marker(run_dir)
        if marker is None or owner_alive(marker):
            continue
        # The interlock segments of its killed postmasters are named in their
        # postmaster.pid files: release them before those files go.
        segments += release_ipc(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)
        if not run_dir.exists():
            removed.append(run_dir)
    if victims or removed:
        log.info("reaped %d stale process(es) and %d directory(ies)", len(victims), len(removed))
    return ReapReport(
        killed=[p for p in victims if p not in survivors], removed=removed, segments=segments
    )
