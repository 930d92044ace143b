"""The Stack: the one owner of every server process a run starts.

Nothing outlives a run. Each child gets the parent-death signal (so a
``kill -9`` of pytest takes the servers with it), every process and directory
is tagged with the run id (so the next run reaps whatever slipped through),
and the stack stops everything at exit, on SIGTERM and SIGHUP, and when its
``with`` block ends for any reason.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import threading
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from rlsguard.errors import ServerError
from rlsguard.stack.bincache import default_cache_root
from rlsguard.stack.ipc import release_ipc
from rlsguard.stack.pgbin import PgBinaries, accessible_copy, discover_pg_binaries
from rlsguard.stack.postgres import PostgresServer, PostgresSettings
from rlsguard.stack.process import Context, Server
from rlsguard.stack.runtime import ReapReport, RunDir, ServiceUser, reap_stale

if TYPE_CHECKING:  # imported where used: a command that only needs Postgres skips them
    from rlsguard.stack.http import HttpService
    from rlsguard.stack.redis import ConfigValue, RedisBinary, RedisServer
    from rlsguard.stack.smtp import SmtpSink

log = logging.getLogger("rlsguard.stack")

S = TypeVar("S", bound=Server)

_LIVE: weakref.WeakSet[Stack] = weakref.WeakSet()
_handlers_installed = False
_handlers_lock = threading.Lock()


def close_all_stacks() -> None:
    """Stop every live stack of this process (atexit and signal handlers call this)."""
    for stack in list(_LIVE):
        with contextlib.suppress(Exception):
            stack.close()


def _on_fatal_signal(signum: int, frame: FrameType | None) -> None:
    close_all_stacks()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    global _handlers_installed
    with _handlers_lock:
        if _handlers_installed:
            return
        atexit.register(close_all_stacks)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGHUP):
                # Keep a handler someone else installed (e.g. a web server's).
                if signal.getsignal(sig) in (signal.SIG_DFL, None):
                    signal.signal(sig, _on_fatal_signal)
        _handlers_installed = True


class Stack:
    """Starts, tracks and stops the servers of one run.

    >>> with Stack() as stack:
    ...     pg = stack.postgres()
    ...     pg.kill(); pg.restart()
    """

    def __init__(
        self,
        *,
        run_id: str | None = None,
        root: Path | None = None,
        user: ServiceUser | str | None = None,
        reap: bool = True,
    ) -> None:
        self.run = RunDir(run_id, root)
        self._user_spec = user
        self._reap = reap
        self.reaped: ReapReport | None = None
        self.user: ServiceUser | None = None
        self.servers: dict[str, Server] = {}
        self._ctx: Context | None = None
        self._pg_binaries: dict[str | None, PgBinaries] = {}
        self._lock = threading.RLock()

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def is_open(self) -> bool:
        return self._ctx is not None

    # -- lifecycle -------------------------------------------------------------
    def open(self) -> Self:
        with self._lock:
            if self._ctx is not None:
                return self
            if self._reap:
                self.reaped = reap_stale()
            user = self._user_spec
            self.user = user if isinstance(user, ServiceUser) else ServiceUser.resolve(user)
            self.run.create(self.user)
            self._ctx = Context(self.run.run_id, self.run.path, self.user)
            _install_handlers()
            _LIVE.add(self)
            log.info("stack %s at %s, servers run as %s", self.run_id, self.path, self.user.name)
            return self

    def close(self) -> None:
        """Stop every server (newest first) and delete the run directory."""
        with self._lock:
            if self._ctx is None:
                return
            errors: list[str] = []
            for server in reversed(list(self.servers.values())):
                try:
                    server.stop()
                except Exception as exc:  # keep stopping the others
                    errors.append(f"{server.name}: {exc}")
            self.servers.clear()
            self.run.remove()
            self._ctx = None
            _LIVE.discard(self)
            if errors:
                raise ServerError("some servers did not stop cleanly: " + "; ".join(errors))

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- servers ---------------------------------------------------------------
    @property
    def context(self) -> Context:
        if self._ctx is None:
            raise ServerError("the stack is not open: use 'with Stack() as stack:' or stack.open()")
        return self._ctx

    def add(self, server: S, *, start: bool = True) -> S:
        """Take ownership of a server (and start it)."""
        with self._lock:
            if server.name in self.servers:
                raise ServerError(f"a server named {server.name!r} already runs in this stack")
            self.servers[server.name] = server
        if start:
            server.start()
        return server

    def discard(self, name: str) -> None:
        """Stop a server and forget it (its files go too)."""
        with self._lock:
            server = self.servers.pop(name, None)
        if server is not None:
            server.stop()
            release_ipc(server.workdir)  # a killed postmaster's interlock segment
            shutil.rmtree(server.workdir, ignore_errors=True)

    def __getitem__(self, name: str) -> Server:
        return self.servers[name]

    def __iter__(self) -> Iterator[Server]:
        return iter(list(self.servers.values()))

    def unique_name(self, prefix: str) -> str:
        with self._lock:
            if prefix not in self.servers:
                return prefix
            n = 2
            while f"{prefix}{n}" in self.servers:
                n += 1
            return f"{prefix}{n}"

    def pg_binaries(self, pg_bin: str | None = None, *, prefer: str | None = None) -> PgBinaries:
        """Discovered once per stack, and made reachable for the service user."""
        key = f"{prefer}:{pg_bin}"
        with self._lock:
            if key not in self._pg_binaries:
                found = discover_pg_binaries(pg_bin, prefer=prefer)
                assert self.user is not None
                self._pg_binaries[key] = accessible_copy(found, self.user, default_cache_root())
            return self._pg_binaries[key]

    def postgres(
        self,
        name: str | None = None,
        *,
        binaries: PgBinaries | None = None,
        settings: PostgresSettings | None = None,
        datadir_source: Path | None = None,
        start: bool = True,
        **settings_kw: Any,
    ) -> PostgresServer:
        """A new local cluster owned by this stack."""
        ctx = self.context
        binaries = binaries or self.pg_binaries()
        if settings is None:
            settings = PostgresSettings(**settings_kw)
        server = PostgresServer(
            name or self.unique_name("pg"), ctx, binaries, settings, datadir_source=datadir_source
        )
        return self.add(server, start=start)

    def start_all(self, timeout: float = 30.0) -> None:
        """Start every stopped server, spawning all before waiting for any."""
        pending = [s for s in self.servers.values() if not s.is_running]
        for server in pending:
            server.start(wait=False)
        for server in pending:
            server.wait_ready(timeout)

    def redis(
        self,
        name: str | None = None,
        *,
        binary: RedisBinary | str | os.PathLike[str] | None = None,
        persistence: bool = False,
        config: Mapping[str, ConfigValue] | None = None,
        start: bool = True,
    ) -> RedisServer:
        """A new local Redis/Valkey owned by this stack (no persistence unless asked)."""
        from rlsguard.stack.redis import (
            RedisBinary,
            RedisServer,
            accessible_binary,
            discover_redis_binary,
        )

        ctx = self.context
        if not isinstance(binary, RedisBinary):
            binary = discover_redis_binary(binary)
        binary = accessible_binary(binary, ctx.user, default_cache_root())
        server = RedisServer(
            name or self.unique_name("redis"), ctx, binary, persistence=persistence, config=config
        )
        return self.add(server, start=start)

    def smtp(self, name: str | None = None, *, start: bool = True) -> SmtpSink:
        """A new SMTP sink on 127.0.0.1 that records every message it accepts."""
        from rlsguard.stack.smtp import SmtpSink

        return self.add(SmtpSink(name or self.unique_name("smtp"), self.context), start=start)

    def http(
        self,
        name: str,
        app: str,
        *,
        path: str = "/",
        env: Mapping[str, str] | None = None,
        factory: bool = False,
        app_dir: str | os.PathLike[str] | None = None,
        start: bool = True,
        workers: int = 1,
    ) -> HttpService:
        """An ASGI app (``"package.module:app"``) under uvicorn on 127.0.0.1."""
        from rlsguard.stack.http import HttpService

        server = HttpService(
            name,
            self.context,
            app,
            path=path,
            env=env,
            factory=factory,
            app_dir=app_dir,
            workers=workers,
        )
        return self.add(server, start=start)
