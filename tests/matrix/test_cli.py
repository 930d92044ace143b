"""``rlsguard matrix schema | check | record`` from a shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlsguard.cli import app
from rlsguard.matrix.model import json_schema_text

from .conftest import DATA, MALFORMED

runner = CliRunner()


@pytest.fixture
def env(template_cache_dir: Path) -> dict[str, str]:
    return {"RLSGUARD_CACHE_DIR": str(template_cache_dir), "COLUMNS": "200"}


def test_schema_prints_the_committed_schema() -> None:
    result = runner.invoke(app, ["matrix", "schema"])
    assert result.exit_code == 0
    assert result.output == json_schema_text()


def test_check_passes_and_lists_what_is_untested(notes_project: Path, env: dict[str, str]) -> None:
    args = ["matrix", "check", "--supabase-dir", str(notes_project), "--matrix"]
    result = runner.invoke(app, [*args, str(DATA / "notes.yaml")], env=env)
    assert result.exit_code == 0, result.output
    assert "19 cell(s) checked, 0 failed" in result.output
    assert "untested: personas not in personas: ghost" in result.output


def test_check_fails_with_explanations(notes_project: Path, env: dict[str, str]) -> None:
    args = ["matrix", "check", "--supabase-dir", str(notes_project), "--matrix"]
    result = runner.invoke(app, [*args, str(DATA / "notes_wrong.yaml")], env=env)
    assert result.exit_code == 1, result.output
    assert "10 cell(s) checked, 9 failed" in result.output
    assert "alice: UPDATE on public.notes: 2 row(s), 2 expected; 1 unexpected; 1 missing" in (
        result.output
    )
    assert "'owners edit their notes' PERMISSIVE UPDATE TO authenticated" in result.output


def test_check_of_a_malformed_file_names_the_problem(
    notes_project: Path, env: dict[str, str]
) -> None:
    args = ["matrix", "check", "--supabase-dir", str(notes_project), "--matrix"]
    result = runner.invoke(app, [*args, str(MALFORMED / "unknown_persona.yaml")], env=env)
    assert result.exit_code == 2, result.output  # printed like every command's errors
    assert "unknown_persona.yaml:2: personas[1]: unknown persona 'carol'" in result.output


def test_record_then_check(notes_project: Path, tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "fixtures" / "rls_matrix.yaml"
    base = ["--supabase-dir", str(notes_project)]
    result = runner.invoke(app, ["matrix", "record", *base, "-o", str(target)], env=env)
    assert result.exit_code == 0, result.output
    assert "5 persona(s), 1 table(s), 15 cell(s)" in result.output
    assert "# recorded" in target.read_text()
    result = runner.invoke(app, ["matrix", "check", *base, "--matrix", str(target)], env=env)
    assert result.exit_code == 0, result.output
    assert "15 cell(s) checked, 0 failed" in result.output
    again = runner.invoke(app, ["matrix", "record", *base, "-o", str(target)], env=env)
    assert again.exit_code == 2, again.output
    assert "exists; pass --force" in again.output


def test_an_unknown_table_is_exit_2_and_said_once(notes_project: Path, env: dict[str, str]) -> None:
    args = ["matrix", "check", "--supabase-dir", str(notes_project), "--matrix"]
    result = runner.invoke(app, [*args, str(MALFORMED / "unknown_table.yaml")], env=env)
    assert result.exit_code == 2, result.output
    assert result.output.count("no table public.note") == 1
    assert "did you mean 'public.notes'?" in result.output
    assert "database" not in result.output.split("problem(s)")[0]  # no internal names
    as_json = runner.invoke(app, [*args, str(MALFORMED / "unknown_table.yaml"), "--json"], env=env)
    assert as_json.exit_code == 2
    assert len(json.loads(as_json.stdout)["problems"]) == 1


def test_json_of_a_failed_insert_names_the_candidate(
    notes_project: Path, env: dict[str, str]
) -> None:
    args = ["matrix", "check", "--supabase-dir", str(notes_project), "--json", "--matrix"]
    result = runner.invoke(app, [*args, str(DATA / "notes_wrong.yaml")], env=env)
    assert result.exit_code == 1, result.output
    cells = json.loads(result.stdout)["cells"]
    inserts = [
        c for c in cells if c["operation"] in ("insert", "changes") and c["status"] != "pass"
    ]
    assert inserts, [c["id"] for c in cells]
    candidate = inserts[0]["candidates"][0]
    assert set(candidate) >= {"label", "expected", "outcome", "sqlstate", "message"}
    assert candidate["outcome"] in ("accepted", "skipped", "unchanged", "rls", "grant", "error")
