"""Where Postgres comes from: a local cluster, an existing server (``dsn``) or a container.

:func:`open_postgres` is the one place that turns the configuration (and the
command-line options that override it) into a running server. Whatever it
returns offers the same verbs (:class:`PostgresBackend`), and ``owned`` tells
a drill whether rlsguard started the server and may therefore crash it.

A backend that cannot be used raises :class:`BackendUnavailable` saying why
and what to do, so the pytest plugin can fail the session once with it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

import psycopg

from rlsguard.config import Backend, GucValue, ProjectConfig
from rlsguard.errors import BackendUnavailable, ServerError
from rlsguard.stack.docker import DEFAULT_IMAGE, DockerPostgres, docker_engine_available
from rlsguard.stack.external import ExternalPostgres
from rlsguard.stack.postgres import PostgresSettings
from rlsguard.stack.process import State

if TYPE_CHECKING:
    from rlsguard.stack.supervisor import Stack

DEFAULT_READY_TIMEOUT_S = 30.0
DOCKER_READY_TIMEOUT_S = 120.0  # the image runs its migrations before it listens
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@runtime_checkable
class PostgresBackend(Protocol):
    """The verbs every Postgres backend offers (local cluster, DSN, container)."""

    name: str

    @property
    def owned(self) -> bool:
        """True when rlsguard started the server; destructive faults need it (or an opt-in)."""
        ...

    @property
    def major(self) -> int: ...

    @property
    def state(self) -> State: ...

    def start(self, *, wait: bool = ..., timeout: float = ...) -> Any: ...

    def wait_ready(self, timeout: float = ...) -> Any: ...

    def stop(self) -> None: ...

    def restart(self, *, wait: bool = ..., timeout: float = ...) -> Any: ...

    def kill(self) -> None: ...

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def conninfo(self, dbname: str = ..., user: str | None = None, **extra: str) -> str: ...

    def connect(self, dbname: str = ..., **kwargs: Any) -> psycopg.Connection[Any]: ...

    def create_database(self, name: str, *, template: str | None = None) -> None: ...

    def drop_database(self, name: str) -> None: ...


@dataclass(frozen=True)
class BackendOptions:
    """What :func:`open_postgres` needs, from the config file and the command line."""

    backend: Backend = "local"
    dsn: str | None = None
    pg_bin: Path | str | None = None
    allow_destructive: str | None = None
    max_connections: int = 100
    settings: Mapping[str, GucValue] = field(default_factory=dict)
    docker_image: str = DEFAULT_IMAGE
    docker_pgdata_tmpfs: bool = True
    source: Path | None = None  # the config file, named in error messages

    @classmethod
    def from_config(cls, config: ProjectConfig) -> Self:
        """What an (already merged, see ``EngineOptions.apply``) config says."""
        return cls(
            backend=config.backend,
            dsn=config.dsn,
            pg_bin=config.pg_bin,
            allow_destructive=config.allow_destructive,
            max_connections=config.postgres.max_connections,
            settings=dict(config.postgres.settings),
            docker_image=config.docker.image,
            docker_pgdata_tmpfs=config.docker.pgdata_tmpfs,
            source=config.source,
        )

    def postgres_settings(self) -> PostgresSettings:
        return PostgresSettings(max_connections=self.max_connections, gucs=dict(self.settings))


def open_postgres(
    stack: Stack,
    config_or_options: ProjectConfig | BackendOptions,
    *,
    name: str | None = None,
    timeout: float | None = None,
) -> PostgresBackend:
    """Start (or reach) the configured Postgres, owned by ``stack`` until it closes."""
    options = (
        BackendOptions.from_config(config_or_options)
        if isinstance(config_or_options, ProjectConfig)
        else config_or_options
    )
    name = name or stack.unique_name("pg")
    if options.backend == "local":
        return _open_local(stack, options, name)
    if options.backend == "dsn":
        return _open_dsn(stack, options, name, timeout or DEFAULT_READY_TIMEOUT_S)
    if options.backend == "docker":
        return _open_docker(stack, options, name, timeout or DOCKER_READY_TIMEOUT_S)
    raise BackendUnavailable(
        f"unknown backend {options.backend!r}: choose local, dsn or docker (--rlsguard-backend)"
    )


def _open_local(stack: Stack, options: BackendOptions, name: str) -> PostgresBackend:
    try:
        binaries = stack.pg_binaries(str(options.pg_bin) if options.pg_bin else None)
    except BackendUnavailable as exc:
        raise BackendUnavailable(
            f"backend 'local': {exc}. Install the PostgreSQL server package, point pg_bin "
            "(or RLSGUARD_PG_BIN) at its bin directory, or use --rlsguard-backend docker "
            "or --rlsguard-backend dsn."
        ) from exc
    return stack.postgres(name, binaries=binaries, settings=options.postgres_settings())


def _open_dsn(stack: Stack, options: BackendOptions, name: str, timeout: float) -> PostgresBackend:
    where = f"in {options.source}" if options.source else "in [tool.rlsguard] or rlsguard.toml"
    if not options.dsn:
        raise BackendUnavailable(
            f"backend 'dsn' needs a connection URL: set dsn {where}, or pass --rlsguard-dsn "
            "postgresql://user:password@host:port/dbname; or use --rlsguard-backend local."
        )
    server = ExternalPostgres(
        expand_env(options.dsn),
        name=name,
        allow_destructive=options.allow_destructive,
        run_id=stack.run_id,
    )
    return _adopt(stack, server, timeout, "Check the DSN and that the server is up")


def _open_docker(
    stack: Stack, options: BackendOptions, name: str, timeout: float
) -> PostgresBackend:
    available, reason = docker_engine_available()
    if not available:
        raise BackendUnavailable(
            f"backend 'docker' needs a Docker engine, and none answers: {reason}. "
            "Start Docker (or set DOCKER_HOST), or use --rlsguard-backend local."
        )
    server = DockerPostgres(
        name,
        stack.run_id,
        image=options.docker_image,
        settings=options.postgres_settings(),
        pgdata_tmpfs=options.docker_pgdata_tmpfs,
    )
    return _adopt(stack, server, timeout, "See the container log above")


def _adopt(
    stack: Stack, server: ExternalPostgres | DockerPostgres, timeout: float, hint: str
) -> PostgresBackend:
    """Hand the server to the stack (which stops it at the end), then wait for it."""
    stack.add(server, start=False)  # type: ignore[type-var]  # Stack.add is typed for Server
    try:
        server.start(timeout=timeout)
    except (ServerError, BackendUnavailable) as exc:
        with contextlib.suppress(Exception):  # the reason to report is exc, not cleanup noise
            stack.discard(server.name)
        raise BackendUnavailable(
            f"backend {_backend_of(server)!r}: {exc}. {hint}, or use --rlsguard-backend local."
        ) from exc
    return server


def _backend_of(server: object) -> str:
    return "docker" if isinstance(server, DockerPostgres) else "dsn"


def expand_env(dsn: str, env: Mapping[str, str] | None = None) -> str:
    """Replace ``${NAME}`` with the environment variable, so files never hold passwords."""
    env = os.environ if env is None else env

    def value(match: re.Match[str]) -> str:
        var = match[1]
        if var not in env:
            raise BackendUnavailable(
                f"dsn refers to ${{{var}}}, which is not set in the environment: "
                f"export {var}=postgresql://... or pass --rlsguard-dsn."
            )
        return env[var]

    return _ENV_REF.sub(value, dsn)
