"""One supervised child process, with the verbs every server offers.

Postgres, Redis, the SMTP sink and HTTP services differ only in how they are
prepared, launched and probed; starting, stopping, crashing and freezing them
is the same code, so drills can treat every server alike.

Servers are spawned from the calling thread and never from a worker thread:
the parent-death signal fires when the *thread* that forked the child exits.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import ClassVar, Self

from rlsguard.errors import ServerError
from rlsguard.stack.net import LOOPBACK
from rlsguard.stack.runtime import (
    OWNER_ENV,
    RUN_ID_ENV,
    SERVER_TAG_ENV,
    ServiceUser,
    death_signal_preexec,
    kill_and_wait,
    owner_tag,
    process_state,
    tagged_processes,
)

log = logging.getLogger("rlsguard.stack")

POLL_INTERVAL_S = 0.001
DEFAULT_READY_TIMEOUT_S = 30.0
DEFAULT_STOP_TIMEOUT_S = 10.0
# A port from free_port() is free when picked and bound a little later; another process (a
# client's ephemeral port, another test worker) can take it in between. A first start that
# loses that race moves to a new port, at most this many times.
BIND_RACE_RETRIES = 3
BIND_RACE_TEXT = ("address already in use", "errno 98")


def wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Popen.wait(timeout), woken by the exit itself rather than by polling.

    Popen.wait with a timeout sleeps in growing steps of up to 50 ms; a pidfd
    becomes readable the moment the child exits, which keeps a stop of
    Postgres at its real ~10 ms.
    """
    if proc.poll() is not None:
        return proc.returncode
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return proc.wait(timeout)
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    if not ready:
        raise subprocess.TimeoutExpired(proc.args, timeout)
    return proc.wait()


def port_in_use(port: int) -> bool:
    """Whether anything holds ``port`` on the loopback (a listener or a client's socket): the
    check that does not wait for a logging process to write why a server exited."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class State(Enum):
    STOPPED = "stopped"
    RUNNING = "running"
    FROZEN = "frozen"
    CRASHED = "crashed"


class RemoteServer:
    """The state properties of a server that is not our child (a dsn target, a container)."""

    _state: State

    @property
    def state(self) -> State:
        return self._state

    @property
    def is_running(self) -> bool:
        return self._state is State.RUNNING

    @property
    def pid(self) -> None:
        """No local process of ours: signals and /proc do not apply."""
        return None


@dataclass(frozen=True)
class Context:
    """What every server of one run shares: the run id, its directory and the service user."""

    run_id: str
    run_dir: Path
    user: ServiceUser


class Server(ABC):
    """A child process under supervision.

    Subclasses say how to prepare their files, what to run and when it is
    ready; this class does the rest and keeps every process tagged with the
    run id, so a later run can reap it if this one is killed.
    """

    kind: ClassVar[str] = "server"
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def __init__(self, name: str, ctx: Context) -> None:
        self.name = name
        self.ctx = ctx
        self.workdir = ctx.run_dir / name
        self._proc: subprocess.Popen[bytes] | None = None
        self._state = State.STOPPED
        self._prepared = False
        self._lock = threading.RLock()
        self.starts = 0
        self._ever_ready = False
        self._bind_retries = 0
        self._spawn_offsets: dict[Path, int] = {}

    # -- hooks -----------------------------------------------------------------
    def prepare(self) -> None:  # noqa: B027  (optional hook)
        """One-time setup before the first start (directories, initdb, config)."""

    @abstractmethod
    def command(self) -> list[str]:
        """The argv to run."""

    def environment(self) -> Mapping[str, str]:
        return {}

    @abstractmethod
    def probe(self) -> bool:
        """True once the server accepts work; must be cheap, it is polled every millisecond."""

    def before_spawn(self) -> None:  # noqa: B027  (optional hook)
        """Runs before each spawn, after the previous process is fully gone."""

    def move_port(self) -> bool:
        """Listen on another free port from the next spawn on (after a lost bind race on the
        first start, before any client knows the port); False where the port cannot move."""
        return False

    def startup_logs(self) -> list[Path]:
        """Where a failed start explains itself (a bind error is looked for there)."""
        return [self.log_path]

    # -- state -----------------------------------------------------------------
    @property
    def server_tag(self) -> str:
        return f"{self.ctx.run_id}/{self.name}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def state(self) -> State:
        with self._lock:
            if self._state in (State.RUNNING, State.FROZEN) and self._exited():
                self._state = State.CRASHED
            return self._state

    @property
    def is_running(self) -> bool:
        return self.state is State.RUNNING

    @property
    def log_path(self) -> Path:
        """Where the process's stdout and stderr go."""
        return self.workdir / f"{self.kind}.out"

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _exited(self) -> bool:
        return self._proc is None or self._proc.poll() is not None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self._state.value} pid={self.pid}>"

    # -- verbs -----------------------------------------------------------------
    def start(self, *, wait: bool = True, timeout: float = DEFAULT_READY_TIMEOUT_S) -> Self:
        """Start the process; with ``wait``, return once it is ready."""
        with self._lock:
            if self._state in (State.RUNNING, State.FROZEN) and not self._exited():
                return self
            if not self._prepared:
                self.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
                self.ctx.user.chown(self.workdir)
                self.prepare()
                self._prepared = True
            self._reap_leftovers()
            self.before_spawn()
            self._spawn()
        if wait:
            self.wait_ready(timeout)
        return self

    def _spawn(self) -> None:
        env = dict(os.environ)
        env.update(self.environment())
        env[RUN_ID_ENV] = self.ctx.run_id
        env[SERVER_TAG_ENV] = self.server_tag
        env[OWNER_ENV] = owner_tag()
        self._spawn_offsets = {path: _size(path) for path in self.startup_logs()}
        with open(self.log_path, "ab") as out:
            self.ctx.user.chown(self.log_path)
            try:
                self._proc = subprocess.Popen(
                    self.command(),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    env=env,
                    start_new_session=True,  # Ctrl-C reaches us, not the servers
                    close_fds=True,
                    preexec_fn=death_signal_preexec(os.getpid()),
                    **self.ctx.user.popen_kwargs(),  # type: ignore[arg-type]
                )
            except OSError as exc:
                raise ServerError(f"{self.name}: could not run {self.command()[0]}: {exc}") from exc
        self._state = State.RUNNING
        self.starts += 1
        log.debug("%s: started pid %s", self.name, self._proc.pid)

    def wait_ready(self, timeout: float = DEFAULT_READY_TIMEOUT_S) -> Self:
        """Block until :meth:`probe` answers, the process dies, or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._state is State.FROZEN:
                    raise ServerError(f"{self.name} is frozen; thaw() it before waiting for it")
                if self._exited() and self._retry_lost_bind_race():
                    continue
                if self._exited():
                    self._state = State.CRASHED
                    code = self._proc.returncode if self._proc else None
                    raise ServerError(
                        f"{self.name} exited with code {code} before it was ready.\n"
                        f"Last lines of {self.log_path}:\n{self.log_tail()}"
                    )
            if self.probe():
                self._ever_ready = True
                return self
            if time.monotonic() > deadline:
                raise ServerError(
                    f"{self.name} was not ready after {timeout:.1f}s.\n"
                    f"Last lines of {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(POLL_INTERVAL_S)

    def _retry_lost_bind_race(self) -> bool:
        """Respawn on a new port when the first start died because its port was taken."""
        if self._ever_ready or self._bind_retries >= BIND_RACE_RETRIES:
            return False
        said = ""
        for path, offset in self._spawn_offsets.items():
            with contextlib.suppress(OSError), open(path, "rb") as f:
                f.seek(offset)
                said += f.read(1 << 16).decode("utf-8", errors="replace").lower()
        port = getattr(self, "port", None)
        lost = any(text in said for text in BIND_RACE_TEXT) or (
            isinstance(port, int) and port_in_use(port)
        )
        if not lost or not self.move_port():
            return False
        self._bind_retries += 1
        log.warning("%s: its port was taken before it bound it; trying another", self.name)
        self.before_spawn()
        self._spawn()
        return True

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> None:
        """Graceful stop; escalates to SIGKILL after ``timeout``."""
        with self._lock:
            if self._proc is None:
                return
            if self._state is State.FROZEN:
                self._signal_tree(signal.SIGCONT)
            if self._proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.send_signal(self.stop_signal)
                try:
                    wait_exit(self._proc, timeout)
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop in %.1fs; killing it", self.name, timeout)
                    self._proc.kill()
                    self._proc.wait()
            self._reap_leftovers()
            self._state = State.STOPPED

    def kill(self) -> None:
        """``kill -9`` the main process, as a crash would; its children are left to notice."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                raise ServerError(f"{self.name} is not running")
            self._proc.kill()
            self._proc.wait()
            self._state = State.CRASHED

    def restart(self, *, wait: bool = True, timeout: float = DEFAULT_READY_TIMEOUT_S) -> Self:
        """Stop (or, after a crash, just clean up) and start again."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self.stop()
            return self.start(wait=wait, timeout=timeout)

    def freeze(self) -> None:
        """SIGSTOP every process of this server: connections hang, nothing answers."""
        with self._lock:
            if self.state is not State.RUNNING:
                raise ServerError(f"{self.name} is {self.state.value}, not running")
            self._signal_tree(signal.SIGSTOP)
            self._state = State.FROZEN
            self._wait_until_stopped()

    def thaw(self) -> None:
        """SIGCONT what :meth:`freeze` stopped."""
        with self._lock:
            if self._state is not State.FROZEN:
                return
            self._signal_tree(signal.SIGCONT, reverse=True)
            self._state = State.RUNNING

    # -- helpers ---------------------------------------------------------------
    def tree_pids(self) -> list[int]:
        """The main process first, then every other process carrying this server's tag."""
        main = self.pid if not self._exited() else None
        others = sorted(tagged_processes(server_tag=self.server_tag))
        return ([main] if main else []) + [p for p in others if p != main]

    def _signal_tree(self, sig: signal.Signals, *, reverse: bool = False) -> None:
        """Signal the main process and every tagged child.

        Freezing stops the main process first and only then looks for its
        children, so none forked in between is missed; thawing goes the other
        way round, so the main process wakes to children that already run.
        """
        main = self.pid if not self._exited() else None

        def signal_children() -> None:
            for pid in sorted(tagged_processes(server_tag=self.server_tag)):
                if pid != main:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)

        if reverse:
            signal_children()
        if main is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(main, sig)
        if not reverse:
            signal_children()

    def _wait_until_stopped(self, timeout: float = 2.0) -> None:
        """SIGSTOP lands asynchronously: return only once every process shows state T."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(process_state(pid) in ("T", None) for pid in self.tree_pids()):
                return
            time.sleep(POLL_INTERVAL_S)
        log.warning("%s: some processes did not stop within %.1fs", self.name, timeout)

    def _reap_leftovers(self) -> None:
        """After the main process is gone, wait for (and then kill) children it left."""
        if self._proc is not None and self._proc.poll() is None:
            return
        deadline = time.monotonic() + 2.0
        while (left := tagged_processes(server_tag=self.server_tag)) and (
            time.monotonic() < deadline
        ):
            time.sleep(POLL_INTERVAL_S)
        if left:
            kill_and_wait(left)
