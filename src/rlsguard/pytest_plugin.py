"""pytest plugin: fixtures that hand tests real servers owned by one Stack per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rlsguard.stack import PostgresServer, Stack


def pytest_configure(config: pytest.Config) -> None:
    for marker, doc in (
        ("rls", "row level security checks (pytest -m rls)"),
        ("auth", "auth flows against the reference auth service"),
        ("chaos", "injects a fault into a private server and reverts it"),
        ("slow", "longer tests, left out of plain pytest; run them with -m slow"),
    ):
        config.addinivalue_line("markers", f"{marker}: {doc}")


@pytest.fixture(scope="session")
def rlsguard_stack() -> Iterator[Stack]:
    """The session's supervisor: every server a test starts through it stops with the session."""
    with Stack() as stack:
        yield stack


@pytest.fixture
def private_postgres(rlsguard_stack: Stack) -> Iterator[PostgresServer]:
    """A cluster of the test's own, for tests that crash, freeze or exhaust it."""
    server = rlsguard_stack.postgres(rlsguard_stack.unique_name("private"))
    try:
        yield server
    finally:
        rlsguard_stack.discard(server.name)
