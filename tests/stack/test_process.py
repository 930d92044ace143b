"""A first start that loses the race for its port (taken between free_port() and the bind)
moves to another port instead of failing; a server that cannot move still fails clearly."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rlsguard.errors import ServerError
from rlsguard.stack import Stack, State, net
from rlsguard.stack import http as http_module
from rlsguard.stack import postgres as postgres_module
from rlsguard.stack import redis as redis_module
from rlsguard.stack import smtp as smtp_module
from rlsguard.stack.process import BIND_RACE_RETRIES

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken() -> Iterator[int]:
    """A port something else listens on, as another process would after our pick."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((net.LOOPBACK, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def first_pick_is(monkeypatch: pytest.MonkeyPatch, module: Any, port: int, times: int = 1) -> None:
    """``free_port`` in ``module`` returns ``port`` for its first ``times`` calls."""
    picks = iter([port] * times)
    monkeypatch.setattr(module, "free_port", lambda *a: next(picks, None) or net.free_port())


STARTERS: dict[str, tuple[Any, Callable[[Stack], Any]]] = {
    "postgres": (postgres_module, lambda s: s.postgres(s.unique_name("race"))),
    "redis": (redis_module, lambda s: s.redis(s.unique_name("race"))),
    "smtp": (smtp_module, lambda s: s.smtp(s.unique_name("race"))),
    "http": (
        http_module,
        lambda s: s.http(s.unique_name("race"), "tests.stack.asgi_app:app", app_dir=REPO_ROOT),
    ),
}


@pytest.mark.parametrize("kind", sorted(STARTERS))
def test_a_first_start_that_lost_its_port_moves_to_another(
    kind: str, rlsguard_stack: Stack, taken: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, start = STARTERS[kind]
    first_pick_is(monkeypatch, module, taken)
    server = start(rlsguard_stack)
    try:
        assert server.state is State.RUNNING
        assert server.port != taken
        assert server.starts == 2  # the lost race, then the start on the new port
        assert net.tcp_accepts(server.port)
        if kind == "postgres":  # the config and the unix socket follow the port
            with psycopg.connect(server.conninfo(), autocommit=True) as conn:
                row = conn.execute("show port").fetchone()
            assert row is not None
            assert int(row[0]) == server.port
    finally:
        rlsguard_stack.discard(server.name)


def test_a_port_that_stays_taken_fails_after_the_retries(
    rlsguard_stack: Stack, taken: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_pick_is(monkeypatch, redis_module, taken, times=BIND_RACE_RETRIES + 1)
    name = rlsguard_stack.unique_name("race")
    with pytest.raises(ServerError, match="exited with code") as info:
        rlsguard_stack.redis(name)
    assert "already in use" in str(info.value).lower()
    server = rlsguard_stack.servers[name]
    assert server.starts == BIND_RACE_RETRIES + 1
    rlsguard_stack.discard(name)


def test_a_server_that_was_ready_keeps_its_port_when_restarted(
    rlsguard_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = rlsguard_stack.redis(rlsguard_stack.unique_name("race"))
    port = server.port
    try:
        server.kill()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((net.LOOPBACK, port))
            sock.listen()
            # Clients know this port: moving would strand them, so the restart fails loudly.
            with pytest.raises(ServerError, match="already in use"):
                server.restart()
        assert server.port == port
    finally:
        rlsguard_stack.discard(server.name)
