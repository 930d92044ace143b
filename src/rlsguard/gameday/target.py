"""Where a drill runs, and whether it may break things there (fail closed).

- ``local`` (default): a private cluster started from the cached template, owned by the run;
  each drill gets its own database cloned from the template;
- ``dsn``: an existing database on a server rlsguard did not start (a scratch server, or a
  live database). Destructive faults are refused unless the target is named exactly -
  ``--target host:port/dbname`` (or ``allow_destructive`` in the config) equal to the
  DSN's own name. The check happens before any connection is made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from rlsguard.config import ProjectConfig
from rlsguard.errors import DestructiveActionRefused, RlsguardError
from rlsguard.gameday.ledger import CHAOS_APP
from rlsguard.stack.pglog import PgLog


def dsn_name(dsn: str) -> str:
    """``host:port/dbname`` of a libpq DSN or URL: the name a destructive opt-in must use."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise RlsguardError(f"the DSN is not valid: {exc}") from None
    host = str(params.get("host") or "localhost")
    port = str(params.get("port") or "5432")
    dbname = str(params.get("dbname") or params.get("user") or "postgres")
    return f"{host}:{port}/{dbname}"


@dataclass
class Target:
    """One database a drill may connect to, and what it is allowed to do there."""

    name: str
    kind: str  # local | dsn
    dbname: str
    base_conninfo: str
    destructive: bool
    log: PgLog | None = None
    server: Any = None  # the PostgresServer when rlsguard started it (crash drills need it)

    def conninfo(self, application: str = CHAOS_APP) -> str:
        return psycopg.conninfo.make_conninfo(
            self.base_conninfo, dbname=self.dbname, application_name=application
        )

    def connect(self, application: str = CHAOS_APP) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo(application), autocommit=True)

    def require_destructive(self, what: str) -> None:
        if not self.destructive:
            raise DestructiveActionRefused(
                f"refusing to {what} on {self.name}: rlsguard did not start this server. If "
                f"it is a database you may break, name it: --target {self.name}"
            )

    # ConnTarget (what MigrationSession connects through)
    def as_conn_target(self) -> _DsnConnTarget:
        return _DsnConnTarget(self.base_conninfo)


class _DsnConnTarget:
    def __init__(self, base: str) -> None:
        self.base = base

    def conninfo(self, dbname: str = "postgres", user: str | None = None, **extra: str) -> str:
        more: dict[str, str] = {"dbname": dbname, **extra}
        if user:
            more["user"] = user
        return psycopg.conninfo.make_conninfo(self.base, **more)


def dsn_target(dsn: str, *, named: str | None, config: ProjectConfig) -> Target:
    """A database on a server rlsguard did not start; destructive only when named exactly."""
    name = dsn_name(dsn)
    opt_in = named or config.allow_destructive
    if named is not None and named != name:
        raise DestructiveActionRefused(
            f"--target {named} does not match the configured target {name}: refusing every "
            f"destructive fault. Name the database you mean: --target {name}"
        )
    dbname = name.rsplit("/", 1)[1]
    return Target(name, "dsn", dbname, dsn, destructive=opt_in == name)


@contextlib.contextmanager
def local_cluster(
    config: ProjectConfig, supabase_dir: Path | None = None, *, scratch_dsn: str | None = None
) -> Iterator[Any]:
    """A private cluster from the cached template (never a cluster another run shares); or,
    with ``scratch_dsn``, the engine's template on a scratch server (the engine's dsn backend
    creates, migrates and drops its own databases there)."""
    from rlsguard.harness.engine import Engine, EngineOptions

    options = EngineOptions(supabase_dir=supabase_dir)
    if scratch_dsn is not None:
        options = EngineOptions(supabase_dir=supabase_dir, backend="dsn", dsn=scratch_dsn)
    with Engine(config, options) as engine:
        yield engine


@contextlib.contextmanager
def local_database(engine: Any, name: str) -> Iterator[Target]:
    """A database cloned from the engine's template for one drill; dropped afterwards."""
    engine.clone(name)
    try:
        server = getattr(engine.prepared, "server", None)
        log = getattr(server, "log", None)  # a scratch server's log is not ours to read
        base = engine.conninfo("postgres")
        where = dsn_name(engine.conninfo(name))
        kind = "local" if log is not None else "scratch"
        # rlsguard created this database: breaking it is allowed wherever it lives.
        owned = server if kind == "local" else None
        yield Target(f"{kind}:{where}", kind, name, base, destructive=True, log=log, server=owned)
    finally:
        engine.drop(name)
