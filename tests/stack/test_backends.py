"""Choosing the Postgres backend from the configuration and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsguard.config import EngineOptions, ProjectConfig, load_config
from rlsguard.errors import BackendUnavailable, DestructiveActionRefused
from rlsguard.stack import PostgresServer, Stack, State
from rlsguard.stack.backends import BackendOptions, PostgresBackend, expand_env, open_postgres
from rlsguard.stack.docker import docker_engine_available
from rlsguard.stack.external import ExternalPostgres
from rlsguard.stack.net import free_port


@pytest.fixture(scope="module")
def foreign(rlsguard_stack: Stack) -> PostgresServer:
    return rlsguard_stack.postgres(rlsguard_stack.unique_name("backends"))


def test_local_is_the_default(rlsguard_stack: Stack) -> None:
    config = ProjectConfig.model_validate({"postgres": {"max_connections": 17}})
    server = open_postgres(rlsguard_stack, config, name=rlsguard_stack.unique_name("local"))
    try:
        assert isinstance(server, PostgresServer)
        assert isinstance(server, PostgresBackend)
        assert server.owned is True
        assert server.major == server.binaries.major
        with server.connect() as conn:
            assert conn.execute("show max_connections").fetchone() == ("17",)
            assert conn.execute("show synchronous_commit").fetchone() == ("on",)
    finally:
        rlsguard_stack.discard(server.name)


def test_dsn_from_the_config_file(
    tmp_path: Path, rlsguard_stack: Stack, foreign: PostgresServer
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "rlsguard.toml").write_text(
        f'backend = "dsn"\ndsn = "{foreign.url()}"\n', encoding="utf-8"
    )
    server = open_postgres(rlsguard_stack, load_config(tmp_path))
    try:
        assert isinstance(server, ExternalPostgres)
        assert isinstance(server, PostgresBackend)
        assert server.owned is False
        assert server.state is State.RUNNING
        assert rlsguard_stack[server.name] is server  # the stack stops it at the end
        with pytest.raises(DestructiveActionRefused):
            server.kill()
    finally:
        rlsguard_stack.discard(server.name)


def test_command_line_overrides_the_file(rlsguard_stack: Stack, foreign: PostgresServer) -> None:
    target = f"127.0.0.1:{foreign.port}/postgres"
    overrides = EngineOptions(backend="dsn", dsn=foreign.url(), allow_destructive=target)
    options = BackendOptions.from_config(overrides.apply(ProjectConfig(), env={}))
    server = open_postgres(rlsguard_stack, options)
    try:
        assert isinstance(server, ExternalPostgres)
        assert server.opted_in
    finally:
        rlsguard_stack.discard(server.name)


def test_dsn_reads_secrets_from_the_environment(
    rlsguard_stack: Stack, foreign: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLSGUARD_TEST_PW", foreign.password)
    dsn = (
        f"postgresql://{foreign.superuser}:${{RLSGUARD_TEST_PW}}@127.0.0.1:{foreign.port}/postgres"
    )
    server = open_postgres(rlsguard_stack, BackendOptions(backend="dsn", dsn=dsn))
    try:
        assert server.state is State.RUNNING
    finally:
        rlsguard_stack.discard(server.name)


def test_dsn_with_an_unset_variable() -> None:
    with pytest.raises(BackendUnavailable, match=r"\$\{NOT_SET_ANYWHERE\}, which is not set"):
        expand_env("postgresql://u:${NOT_SET_ANYWHERE}@h/db", env={})
    assert expand_env("postgresql://u:p$ss@h/db", env={}) == "postgresql://u:p$ss@h/db"


def test_dsn_backend_without_a_dsn_says_what_to_do(rlsguard_stack: Stack) -> None:
    with pytest.raises(BackendUnavailable) as info:
        open_postgres(rlsguard_stack, BackendOptions(backend="dsn"))
    assert "--rlsguard-dsn" in str(info.value)
    assert "--rlsguard-backend local" in str(info.value)


def test_dsn_that_does_not_answer(rlsguard_stack: Stack) -> None:
    before = set(rlsguard_stack.servers)
    options = BackendOptions(backend="dsn", dsn=f"postgresql://x@127.0.0.1:{free_port()}/db")
    with pytest.raises(BackendUnavailable, match="did not answer") as info:
        open_postgres(rlsguard_stack, options, timeout=0.2)
    assert "--rlsguard-backend local" in str(info.value)
    assert set(rlsguard_stack.servers) == before  # nothing half-adopted is left behind


def test_docker_without_an_engine_names_the_reason(rlsguard_stack: Stack) -> None:
    available, reason = docker_engine_available()
    if available:
        pytest.skip(f"a Docker engine answers here: {reason}")
    config = ProjectConfig.model_validate({"backend": "docker"})
    with pytest.raises(BackendUnavailable) as info:
        open_postgres(rlsguard_stack, config)
    message = str(info.value)
    assert reason in message
    assert "--rlsguard-backend local" in message


def test_local_with_unusable_binaries(rlsguard_stack: Stack, tmp_path: Path) -> None:
    options = BackendOptions(backend="local", pg_bin=tmp_path / "no-such-bin")
    with pytest.raises(BackendUnavailable) as info:
        open_postgres(rlsguard_stack, options)
    message = str(info.value)
    assert message.startswith("backend 'local': ")
    assert "no-such-bin" in message
    assert "--rlsguard-backend docker" in message
