"""The fixtures the plugin declares: servers, the engine, databases, personas.

Declared (imported) by :mod:`rlsguard.pytest.plugin`, which is what pytest loads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from rlsguard.errors import RlsguardError
from rlsguard.pytest.session import fail_session, session_engine, worker_id


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
        fail_session(exc)


@pytest.fixture(scope="session")
def rlsguard_personas(rlsguard_engine: Any) -> Any:
    """The project's personas (config file plus anon and service_role); add more in code."""
    return rlsguard_engine.personas


@pytest.fixture(scope="session")
def _rlsguard_worker_db(request: pytest.FixtureRequest, rlsguard_engine: Any) -> Iterator[str]:
    name = f"rlsguard_{worker_id(request.config)}_{os.getpid()}"
    with rlsguard_engine.worker_database(name) as dbname:  # the live database itself on live
        yield dbname


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
    if rlsguard_engine.live:
        pytest.skip(
            "rlsguard_clone needs a database of the test's own, and the dsn target is a live "
            "Supabase database (rlsguard creates nothing there); run it against a scratch "
            "server or the local backend"
        )
    with rlsguard_engine.cloned_database() as database:
        yield database


@pytest.fixture
def rlsguard_isolation(rlsguard_engine: Any, rlsguard_db: Any) -> Any:
    """The isolation property on the project's database and matrix (see
    :mod:`rlsguard.pytest.isolation`): ``strategy()`` for ``@given``, ``check(state)``."""
    from rlsguard.matrix.load import load_matrix
    from rlsguard.pytest.isolation import Isolation

    matrix = load_matrix(rlsguard_engine.config.matrix, rlsguard_engine.personas.names)
    schemas = list(rlsguard_engine.load_project().config.api_schemas)
    return Isolation(rlsguard_db, matrix, schemas)


@pytest.fixture
def private_postgres(rlsguard_stack: Any) -> Iterator[Any]:
    """A cluster of the test's own, for tests that crash, freeze or exhaust it."""
    server = rlsguard_stack.postgres(rlsguard_stack.unique_name("private"))
    try:
        yield server
    finally:
        rlsguard_stack.discard(server.name)


@pytest.fixture(scope="session")
def rlsguard_auth(request: pytest.FixtureRequest, rlsguard_stack: Any) -> Iterator[Any]:
    """The auth API to test: the reference service (started here) or an external one."""
    from rlsguard.authservice.harness import auth_endpoint

    config = request.config
    with auth_endpoint(config, rlsguard_stack, lambda: session_engine(config)) as endpoint:
        yield endpoint
