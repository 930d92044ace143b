"""Fail closed: a database rlsguard did not start is never broken unless named exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlsguard.cli import app
from rlsguard.config import ProjectConfig
from rlsguard.errors import DestructiveActionRefused
from rlsguard.gameday.target import dsn_name, dsn_target

ROOT = Path(__file__).parents[2]
DSN = "postgresql://u:pw@db.example.invalid:6543/prod"


def test_the_name_is_host_port_and_database() -> None:
    assert dsn_name(DSN) == "db.example.invalid:6543/prod"
    assert dsn_name("host=/tmp/sock port=5433 dbname=x") == "/tmp/sock:5433/x"


def test_an_unnamed_dsn_may_not_be_broken() -> None:
    target = dsn_target(DSN, named=None, config=ProjectConfig())
    assert not target.destructive
    with pytest.raises(DestructiveActionRefused, match=r"--target db\.example\.invalid:6543/prod"):
        target.require_destructive("inject drop_policy")


def test_a_name_that_does_not_match_is_refused() -> None:
    with pytest.raises(DestructiveActionRefused, match="does not match"):
        dsn_target(DSN, named="db.example.invalid:6543/staging", config=ProjectConfig())


def test_the_exact_name_or_the_config_opt_in_allows_it() -> None:
    assert dsn_target(DSN, named="db.example.invalid:6543/prod", config=ProjectConfig()).destructive
    config = ProjectConfig(allow_destructive="db.example.invalid:6543/prod")
    assert dsn_target(DSN, named=None, config=config).destructive


def test_the_cli_refuses_before_connecting_and_exits_2() -> None:
    # The host does not resolve: had the command connected, the error would be another one.
    result = CliRunner().invoke(app, ["gameday", "--dsn", DSN, "--target", "x:1/y"])
    assert result.exit_code == 2
    assert "does not match the configured target" in result.output
    result = CliRunner().invoke(app, ["gameday", "--dsn", DSN])
    assert result.exit_code == 2
    assert "refusing to inject" in result.output


def test_a_target_without_a_database_to_name_is_refused() -> None:
    result = CliRunner().invoke(app, ["gameday", "--target", "db.example.invalid:6543/prod"])
    assert result.exit_code == 2
    assert "none is configured" in result.output


def test_the_configured_dsn_is_the_target_a_name_must_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rlsguard.toml").write_text(
        'backend = "dsn"\ndsn = "postgresql://u:${GAMEDAY_PW}@db.example.invalid:6543/prod"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAMEDAY_PW", "secret")
    scenario = str(ROOT / "fixtures" / "gameday" / "using-false.yaml")
    result = CliRunner().invoke(
        app, ["gameday", scenario, "--target", "db.example.invalid:6543/staging"]
    )
    assert result.exit_code == 2
    assert "does not match the configured target db.example.invalid:6543/prod" in (
        result.output.replace("\n", "")
    )
    assert "secret" not in result.output
