"""``rlsguard gate`` and ``rlsguard diff --access`` from a shell's point of view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlsguard.cli import app
from tests.gate.conftest import REPO, commit, make_project

runner = CliRunner()
STAFF_NOTES = "20260301090200_staff_notes_using_true.sql"


@pytest.fixture(autouse=True)
def _cache(monkeypatch: pytest.MonkeyPatch, template_cache_dir: Path) -> None:
    """Every command builds through the session's template cache (no ~/.cache)."""
    monkeypatch.setenv("RLSGUARD_CACHE_DIR", str(template_cache_dir))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def test_fail_on_warn_blocks_a_new_warning_and_every_file_is_written(
    reference_repo: Path, tmp_path: Path
) -> None:
    """HEAD adds class_average(), a SECURITY DEFINER RPC: a new warning, blocking at warn."""
    out = tmp_path / "out"
    files = {
        "--summary": out / "summary.md",
        "--junit": out / "junit.xml",
        "--sarif": out / "gate.sarif",
        "--json": out / "gate.json",
    }
    args = ["gate", "--base", "HEAD~1", "--supabase-dir", str(reference_repo / "supabase"),
            "--fail-on", "warn"]  # fmt: skip
    for option, path in files.items():
        args += [option, str(path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""  # the summary went to its file
    for step in ("build base and head", "access diff", "rollback dry-run"):
        assert f"✓ {step}" in result.stderr
    assert "✗ lint and probe" in result.stderr
    assert (
        "blocked: 1 new finding(s) at or above warn: "
        "authenticated_security_definer_function_executable on public.class_average"
    ) in result.stderr
    assert "rlsguard gate: blocked (exit 1" in result.stderr
    assert all(path.is_file() for path in files.values())
    document = json.loads(files["--json"].read_text())
    assert (document["verdict"], document["fail_on"]) == ("blocked", "warn")
    assert [f["rule"] for f in document["findings"] if f["blocking"]] == [
        "authenticated_security_definer_function_executable"
    ]
    assert files["--summary"].read_text().startswith("## ❌ rlsguard gate: blocked")


def test_a_bad_ref_exits_2_and_still_writes_the_report(
    reference_repo: Path, tmp_path: Path
) -> None:
    report = tmp_path / "gate.json"
    result = runner.invoke(
        app,
        ["gate", "--base", "no-such-ref", "--supabase-dir", str(reference_repo / "supabase"),
         "--json", str(report)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "error:" in result.stderr
    assert "--base no-such-ref" in result.stderr
    assert "rlsguard gate: error (exit 2" in result.stderr
    document = json.loads(report.read_text())
    assert (document["verdict"], document["exit_code"]) == ("error", 2)
    assert "no-such-ref" in document["error"]
    assert result.stdout.startswith("## ⚠️ rlsguard gate: could not run")


def test_a_broken_migration_exits_2_with_file_and_line(tmp_path: Path) -> None:
    make_project(tmp_path)
    commit(tmp_path, "reference")
    name = "20260401000000_broken.sql"
    (tmp_path / "supabase" / "migrations" / name).write_text(
        "alter table public.users\n  add column nickname text;\nselect 1/0;\n"
    )
    result = runner.invoke(
        app, ["gate", "--base", "HEAD", "--supabase-dir", str(tmp_path / "supabase")]
    )
    assert result.exit_code == 2, result.output
    assert f"supabase/migrations/{name}:3:" in result.stderr
    assert "division by zero" in result.stderr


def test_diff_has_an_access_section(bad_projects: dict[str, Path]) -> None:
    folder = str(bad_projects[STAFF_NOTES] / "supabase")
    as_json = runner.invoke(
        app,
        ["diff", "--base", "HEAD", "--supabase-dir", folder, "--access", "--format", "json",
         "--fail-on", "widens"],
    )  # fmt: skip
    assert as_json.exit_code == 1
    document = json.loads(as_json.stdout)
    assert document["counts"]["widens"] == 1  # the policy diff, as before
    assert document["access"]["counts"]["widens"] == 6  # every signed-in persona but service_role
    assert {c["table"] for c in document["access"]["changes"]} == {"public.staff_notes"}
    snapshot = str(REPO / "fixtures" / "policies.snapshot.json")
    refused = runner.invoke(app, ["diff", "--base", snapshot, "--supabase-dir", folder, "--access"])
    assert refused.exit_code == 2
