"""pytest plugin: real servers and a Supabase-like database for every test, cheaply.

Fixtures compose from small parts, as in pytest-postgresql:

- ``rlsguard_stack`` (session): the process supervisor; servers started through
  it stop with the session.
- ``rlsguard_engine`` (session): the prepared template cluster of the project
  in ``--supabase-dir`` (built once, then cached on disk).
- ``rlsguard_db`` (test): a :class:`~rlsguard.database.Database` inside a
  transaction that is rolled back after the test (a fraction of a millisecond).
- ``rlsguard_clone`` (test): a database of its own, cloned from the template,
  for tests that commit, run DDL or open several connections; dropped after.
- ``rlsguard_personas`` (session), ``private_postgres`` (test).

The project's access matrix (``fixtures/rls_matrix.yaml``, see
:mod:`rlsguard.matrix.items`) becomes one ``rls`` item per persona x table x
operation. The engine is opened once per process, on first use, by whoever
needs it first (a fixture, a matrix item, the xdist controller).

Under pytest-xdist the controller builds the template once and owns the
cluster; each worker attaches to it and works in a database of its own.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlsguard.errors import RlsguardError

ENGINE_KEY = "rlsguard_engine"
_engine_key = pytest.StashKey["_Engines"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rlsguard", "rlsguard: RLS and auth regression suite")
    group.addoption(
        "--supabase-dir",
        default=None,
        help="the project's supabase/ folder (default: from rlsguard config, else ./supabase)",
    )
    group.addoption(
        "--rlsguard-backend",
        choices=("local", "dsn", "docker"),
        default=None,
        help="where Postgres comes from (default: local server binaries)",
    )
    group.addoption("--rlsguard-dsn", default=None, help="the server URL for the dsn backend")
    group.addoption(
        "--rlsguard-pg-bin", default=None, help="directory of the Postgres server binaries"
    )
    group.addoption(
        "--rlsguard-no-cache",
        action="store_true",
        default=False,
        help="rebuild the template database instead of reusing the cached one",
    )
    group.addoption(
        "--rlsguard-allow-destructive",
        default=None,
        metavar="TARGET",
        help="allow destructive faults on this exact target (a server rlsguard did not start)",
    )
    group.addoption(
        "--rlsguard-allow-empty",
        action="store_true",
        default=False,
        help="accept a configured access matrix with no cells (by default that fails: "
        "nothing would be checked)",
    )
    group.addoption(
        "--rlsguard-matrix",
        default=None,
        metavar="PATH",
        help="check this access matrix file (default: the project's matrix, when pytest runs "
        "without path arguments or is given the file or its folder)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for marker, doc in (
        ("rls", "row level security checks: the access matrix and targeted RLS tests"),
        ("auth", "auth flows against the reference auth service"),
        ("chaos", "injects a fault into a private server and reverts it, even on failure"),
        ("slow", "longer tests, left out of plain pytest; run them with -m slow"),
    ):
        config.addinivalue_line("markers", f"{marker}: {doc}")
    config.stash[_engine_key] = _Engines(config)
    if _is_xdist_controller(config):
        config.pluginmanager.register(_XdistController(config), "rlsguard-xdist-controller")
    from rlsguard.matrix.items import configure_matrix
    from rlsguard.policy.plugin import configure_drift

    project, problem = _project_config(config)  # read once, for both collectors
    configure_matrix(config, project, problem)
    configure_drift(config, project)  # fixtures/policies.snapshot.json: the approved surface


def _project_config(config: pytest.Config) -> tuple[Any, RlsguardError | None]:
    """The project's config, or why it cannot be read (the session then fails once)."""
    from rlsguard.config import load_config
    from rlsguard.errors import ConfigError

    supabase_dir = config.getoption("--supabase-dir", None)
    if supabase_dir and not Path(supabase_dir).expanduser().is_dir():
        folder = (config.invocation_params.dir / Path(supabase_dir).expanduser()).resolve()
        return None, ConfigError(
            "--supabase-dir", "", f"no such folder: {folder}. Point it at the project's supabase/"
        )
    try:
        return load_config(
            supabase_dir=Path(supabase_dir).resolve() if supabase_dir else None
        ), None
    except RlsguardError as exc:
        return None, exc


def pytest_unconfigure(config: pytest.Config) -> None:
    engines = config.stash.get(_engine_key, None)
    if engines is not None:
        engines.close()


def session_engine(config: pytest.Config) -> Any:
    """The process's engine: opened (or attached, in an xdist worker) on first use."""
    return config.stash[_engine_key].get()


class _Engines:
    """One engine per pytest process, shared by fixtures, matrix items and the xdist controller."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.engine: Any = None
        self.error: str | None = None

    def get(self) -> Any:
        from rlsguard.engine import Engine, EngineState

        if self.engine is not None:
            return self.engine
        if self.error is not None:
            raise RlsguardError(self.error)
        workerinput = getattr(self.config, "workerinput", None)
        try:
            if workerinput and ENGINE_KEY in workerinput:
                state = json.loads(workerinput[ENGINE_KEY])
                if "error" in state:
                    raise RlsguardError(state["error"])
                self.engine = Engine.attach(EngineState(**state))
            else:
                self.engine = Engine(options=_engine_options(self.config)).open()
        except RlsguardError as exc:
            self.error = str(exc)
            raise
        except (OSError, UnicodeError) as exc:
            # Not our own error, but the session must still fail once, not per test
            # (and not rebuild the template for every test that asks).
            self.error = f"{type(exc).__name__}: {exc}"
            raise RlsguardError(self.error) from exc
        return self.engine

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


def _engine_options(config: pytest.Config) -> Any:
    from rlsguard.engine import EngineOptions

    supabase_dir = config.getoption("--supabase-dir")
    return EngineOptions(
        supabase_dir=Path(supabase_dir).resolve() if supabase_dir else None,
        backend=config.getoption("--rlsguard-backend"),
        dsn=config.getoption("--rlsguard-dsn"),
        pg_bin=config.getoption("--rlsguard-pg-bin"),
        no_cache=config.getoption("--rlsguard-no-cache"),
        allow_destructive=config.getoption("--rlsguard-allow-destructive"),
    )


def _is_xdist_controller(config: pytest.Config) -> bool:
    return (
        config.pluginmanager.hasplugin("xdist")
        and getattr(config.option, "dist", "no") != "no"
        and not hasattr(config, "workerinput")
    )


def _worker_id(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else "main"


def _fail_session(exc: BaseException) -> None:
    """A backend that cannot start ends the session once, with the reason."""
    pytest.exit(f"rlsguard could not prepare its database: {exc}", returncode=3)


class _XdistController:
    """In the xdist controller: build the template once, hand workers a description of it."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_configure_node(self, node: Any) -> None:
        engines = self.config.stash[_engine_key]
        try:
            state = dataclasses.asdict(engines.get().state())
        except RlsguardError as exc:
            # Projects without a supabase/ folder still run their other tests.
            state = {"error": str(exc)}
        node.workerinput[ENGINE_KEY] = json.dumps(state)


@pytest.fixture(scope="session")
def rlsguard_stack() -> Iterator[Any]:
    """The session's supervisor: every server a test starts through it stops with the session."""
    from rlsguard.stack.supervisor import Stack

    with Stack() as stack:
        yield stack


@pytest.fixture(scope="session")
def rlsguard_engine(request: pytest.FixtureRequest) -> Any:
    """The project's prepared template cluster (owned here, or the xdist controller's)."""
    try:
        return session_engine(request.config)
    except RlsguardError as exc:
        _fail_session(exc)


@pytest.fixture(scope="session")
def rlsguard_personas(rlsguard_engine: Any) -> Any:
    """The project's personas (config file plus anon and service_role); add more in code."""
    return rlsguard_engine.personas


@pytest.fixture(scope="session")
def _rlsguard_worker_db(request: pytest.FixtureRequest, rlsguard_engine: Any) -> Iterator[str]:
    name = f"rlsguard_{_worker_id(request.config)}_{os.getpid()}"
    rlsguard_engine.clone(name)
    try:
        yield name
    finally:
        rlsguard_engine.drop(name)


@pytest.fixture(scope="session")
def _rlsguard_pool(rlsguard_engine: Any, _rlsguard_worker_db: str) -> Iterator[Any]:
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(
        rlsguard_engine.conninfo(_rlsguard_worker_db),
        min_size=1,
        max_size=4,
        kwargs={"autocommit": True},
        open=True,
    )
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def rlsguard_db(rlsguard_engine: Any, _rlsguard_pool: Any) -> Iterator[Any]:
    """The project's database inside a transaction rolled back after the test."""
    from psycopg.pq import TransactionStatus

    with _rlsguard_pool.connection() as conn:
        conn.execute("BEGIN")
        try:
            yield rlsguard_engine.database(conn)
        finally:
            status = conn.info.transaction_status
            if status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
                conn.execute("ROLLBACK")
            else:
                raise RlsguardError(
                    "the test ended the transaction rlsguard_db runs in (COMMIT?), so its "
                    "changes stay in the shared test database; use rlsguard_clone for tests "
                    "that commit"
                )


@pytest.fixture
def rlsguard_clone(rlsguard_engine: Any) -> Iterator[Any]:
    """A database of the test's own, cloned from the template; commits and DDL allowed."""
    with rlsguard_engine.cloned_database() as database:
        yield database


@pytest.fixture
def private_postgres(rlsguard_stack: Any) -> Iterator[Any]:
    """A cluster of the test's own, for tests that crash, freeze or exhaust it."""
    server = rlsguard_stack.postgres(rlsguard_stack.unique_name("private"))
    try:
        yield server
    finally:
        rlsguard_stack.discard(server.name)
