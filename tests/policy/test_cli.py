"""The four commands from a shell's point of view: output, files written, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlsguard.cli import app
from rlsguard.policy.snapshot import Snapshot
from tests.policy.helpers import copy_project

runner = CliRunner()
OPEN_UP = "alter policy courses_read on public.courses using (true);\n"


@pytest.fixture(autouse=True)
def _cache(monkeypatch: pytest.MonkeyPatch, template_cache_dir: Path) -> None:
    """Every command builds through the session's template cache (no ~/.cache)."""
    monkeypatch.setenv("RLSGUARD_CACHE_DIR", str(template_cache_dir))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def approved(courses_snapshot: Snapshot, tmp_path: Path) -> Path:
    return courses_snapshot.write(tmp_path / "fixtures" / "policies.snapshot.json")


@pytest.fixture
def opened(courses_dir: Path, tmp_path: Path) -> Path:
    """The courses project plus a migration that opens a policy to every row."""
    return copy_project(courses_dir, tmp_path, {"20250103000000_open.sql": OPEN_UP})


def test_snapshot_writes_the_file(
    courses_dir: Path, courses_snapshot: Snapshot, tmp_path: Path
) -> None:
    out = tmp_path / "snap.json"
    result = runner.invoke(app, ["snapshot", "--supabase-dir", str(courses_dir), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == courses_snapshot.dumps()
    assert "wrote" in result.stderr
    assert "15 tables, 4 policies, 1 views, 1 functions" in result.stderr
    printed = runner.invoke(app, ["snapshot", "--supabase-dir", str(courses_dir)])
    assert printed.stdout == courses_snapshot.dumps()


def test_diff_in_every_format_and_fail_on(opened: Path, approved: Path) -> None:
    base = ["diff", "--base", str(approved), "--supabase-dir", str(opened)]
    text = runner.invoke(app, base)
    assert text.exit_code == 0, text.output
    assert "1 change: 1 widen, 0 narrow, 0 neutral" in text.stdout
    assert "+ public.courses: USING of policy `courses_read`" in text.stdout
    as_json = runner.invoke(app, [*base, "--format", "json", "--fail-on", "widens"])
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["counts"]["widens"] == 1
    assert data["changes"][0]["path"] == ["tables", "public.courses", "policies",
                                          "courses_read", "using"]  # fmt: skip
    markdown = runner.invoke(app, [*base, "--format", "markdown", "--fail-on", "any"])
    assert markdown.exit_code == 1
    assert markdown.stdout.startswith("### Security surface diff")
    same = ["diff", "--base", str(approved), "--head", str(approved), "--fail-on", "any"]
    assert runner.invoke(app, [*same, "--supabase-dir", str(opened)]).exit_code == 0


def test_blame_exit_codes_and_json(opened: Path, approved: Path, courses_dir: Path) -> None:
    found = runner.invoke(
        app,
        ["blame", "--supabase-dir", str(opened), "--against", str(approved), "--format", "json"],
    )
    assert found.exit_code == 1, found.output
    assert json.loads(found.stdout)["first_departure"] == (
        "supabase/migrations/20250103000000_open.sql"
    )
    clean = runner.invoke(
        app, ["blame", "--supabase-dir", str(courses_dir), "--against", str(approved)]
    )
    assert clean.exit_code == 0
    assert "nothing to blame" in clean.stdout


def test_blame_defaults_to_the_snapshot_beside_the_project(opened: Path, approved: Path) -> None:
    # approved is <tmp>/fixtures/policies.snapshot.json and opened is <tmp>/supabase.
    result = runner.invoke(app, ["blame", "--supabase-dir", str(opened)])
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "supabase/migrations/20250103000000_open.sql is the first file that departs from "
        f"{approved}"
    )


def test_rollback_writes_a_migration_that_sorts_last(opened: Path, approved: Path) -> None:
    result = runner.invoke(app, ["rollback", "--to", str(approved), "--supabase-dir", str(opened)])
    assert result.exit_code == 0, result.output
    [written] = [p for p in (opened / "migrations").iterdir() if "rollback_rls" in p.name]
    assert sorted((opened / "migrations").iterdir())[-1] == written
    assert f"wrote {written}" in result.stderr
    assert "verified: head + rollback equals" in result.stderr
    assert "CREATE POLICY courses_read ON public.courses" in written.read_text()
    # Now the surface is back: nothing more to roll back, nothing to blame.
    again = runner.invoke(app, ["rollback", "--to", str(approved), "--supabase-dir", str(opened)])
    assert again.exit_code == 0
    assert "nothing to roll back" in again.stderr
    assert runner.invoke(app, ["blame", "--supabase-dir", str(opened)]).exit_code == 0


def test_rollback_to_stdout_and_what_it_cannot_do(
    courses_dir: Path, approved: Path, tmp_path: Path
) -> None:
    folder = copy_project(
        courses_dir, tmp_path / "p", {"20250103000000_drop.sql": "drop table public.enrolments;"}
    )
    result = runner.invoke(
        app, ["rollback", "--to", str(approved), "--supabase-dir", str(folder), "-o", "-"]
    )
    assert result.exit_code == 1
    assert "cannot restore: public.enrolments: the table no longer exists" in result.stderr
    assert not [p for p in (folder / "migrations").iterdir() if "rollback" in p.name]


def test_usage_errors_exit_2_with_the_reason(courses_dir: Path, tmp_path: Path) -> None:
    bad_ref = runner.invoke(app, ["diff", "--base", "no-such-ref", "--supabase-dir",
                                  str(courses_dir)])  # fmt: skip
    assert bad_ref.exit_code == 2
    assert "no-such-ref" in bad_ref.stderr
    (tmp_path / "empty").mkdir()
    no_project = runner.invoke(app, ["snapshot", "--supabase-dir", str(tmp_path / "empty")])
    assert no_project.exit_code == 2
    assert "no Supabase project here" in no_project.stderr
