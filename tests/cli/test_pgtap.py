"""``rlsguard test-db``: TAP on stdout, JUnit on request, exit codes 0 / 1 / 2."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlsguard.cli import app
from tests.pgtap.conftest import PGTAP_PROJECT

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, template_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RLSGUARD_CACHE_DIR", str(template_cache_dir))
    monkeypatch.chdir(tmp_path)
    return PGTAP_PROJECT / "supabase"


def test_passing_files_exit_0_with_tap_and_junit(project: Path, tmp_path: Path) -> None:
    junit = tmp_path / "pgtap.xml"
    tests = project / "tests"
    result = runner.invoke(
        app,
        ["test-db", str(tests / "01_schema.sql"), str(tests / "11_claims.sql"),
         "--supabase-dir", str(project), "--pgtap", "rlsguard", "--junit", str(junit)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "1..2"
    assert "    ok 1 - Table public.teams should exist" in lines
    assert lines[-1].startswith("ok 2 - ")
    assert lines[-1].endswith("11_claims.sql")
    suites = ET.parse(junit).getroot()
    assert (suites.get("tests"), suites.get("failures")) == ("15", "0")
    case = suites.find("testsuite/testcase")
    assert case is not None
    assert case.get("line") == "4"


def test_a_failing_file_exits_1_and_junit_names_the_assertion(
    project: Path, tmp_path: Path
) -> None:
    failing = tmp_path / "bad.sql"
    failing.write_text("begin;\nselect plan(2);\nselect pass('fine');\nselect is(1, 2, 'wrong');\n")
    junit = tmp_path / "pgtap.xml"
    result = runner.invoke(
        app, ["test-db", str(failing), "--supabase-dir", str(project), "--junit", str(junit)]
    )
    assert result.exit_code == 1, result.output
    assert "    not ok 2 - wrong" in result.stdout
    assert "not ok 1 - " in result.stdout
    failure = ET.parse(junit).getroot().find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == "not ok 2"
    assert "#         have: 1" in (failure.text or "")


def test_no_test_files_exits_2(project: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["test-db", str(tmp_path / "nope.sql"), "--supabase-dir", str(project)]
    )
    assert result.exit_code == 2
    assert "no such test file or folder" in " ".join(result.output.split())
