"""``rlsguard lint`` and ``rlsguard probe`` from the command line: formats, exit codes,
waivers from the project config, locations in a project that carries a bad migration."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlsguard.cli import app
from tests.audit.conftest import KNOWN_BAD, REFERENCE, REPO
from tests.audit.sarif_check import problems

runner = CliRunner()
RUNBOOK = "20260301090000_runbook_quick_rollback.sql"


@pytest.fixture(autouse=True)
def _cache(monkeypatch: pytest.MonkeyPatch, template_cache_dir: Path) -> None:
    monkeypatch.setenv("RLSGUARD_CACHE_DIR", str(template_cache_dir))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(scope="module")
def bad_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference platform plus the runbook's Quick Rollback, with waivers in its config."""
    root = tmp_path_factory.mktemp("bad-project")
    (root / ".git").mkdir()
    shutil.copytree(REFERENCE, root / "supabase")
    shutil.copy(KNOWN_BAD / RUNBOOK, root / "supabase" / "migrations" / RUNBOOK)
    config = (REFERENCE.parent / "rlsguard.toml").read_text(encoding="utf-8")
    config += textwrap.dedent(
        """
        [[lint.waivers]]
        rule = "multiple_permissive_policies"
        object = "public.*"
        reason = "one policy per audience reads better; measured, no slowdown"

        [[lint.waivers]]
        rule = "security_definer_view"
        object = "public.class_roster"
        reason = "left over from before security_invoker"
        """
    )
    (root / "rlsguard.toml").write_text(config, encoding="utf-8")
    return root / "supabase"


def test_lint_reference_sarif_and_fail_on(tmp_path: Path) -> None:
    out = tmp_path / "lint.sarif"
    args = ["lint", "--supabase-dir", str(REFERENCE), "-f", "sarif", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    log = json.loads(out.read_text())
    assert problems(log) == []
    assert {r["level"] for r in log["runs"][0]["results"]} == {"warning"}
    # The same findings fail a stricter gate.
    result = runner.invoke(app, [*args, "--fail-on", "warn"])
    assert result.exit_code == 1


def test_lint_a_bad_migration_markdown_with_waivers(bad_project: Path) -> None:
    result = runner.invoke(app, ["lint", "--supabase-dir", str(bad_project), "-f", "markdown"])
    assert result.exit_code == 1, result.output
    text = result.output
    assert "| ERROR | `row_role_confusion` | `public.users` |" in text
    assert f"`supabase/migrations/{RUNBOOK}:52`" in text
    assert "one policy per audience reads better" in text  # waived, with its reason
    assert "| WARN | `unused_waiver` | `public.class_roster` |" in text
    assert "| WARN | `multiple_permissive_policies` | `public." not in text


def test_probe_a_bad_migration_json(bad_project: Path) -> None:
    result = runner.invoke(app, ["probe", "--supabase-dir", str(bad_project), "-f", "json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    assert doc["checks"] == ["probe"]
    escalations = [f for f in doc["findings"] if f["rule"] == "privilege_escalation"]
    assert escalations[0]["object"] == "public.users"
    assert escalations[0]["level"] == "error"
    assert escalations[0]["details"]["column"] == "role"
    assert escalations[0]["location"] == {"file": f"supabase/migrations/{RUNBOOK}", "line": 56}
    assert any(n.startswith("acted as anon, student") for n in doc["notes"])


def test_a_missing_project_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["lint", "--supabase-dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 2


def test_probe_fails_when_a_table_got_no_attempt(tmp_path: Path) -> None:
    """The storage corpus project: profiles are tried, its storage tables cannot be."""
    project = tmp_path / "storage"
    shutil.copytree(REPO / "tests" / "projects" / "public" / "storage_folders", project)
    args = ["probe", "--supabase-dir", str(project / "supabase")]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "not every table was checked" in result.output
    assert "0 attempts on 1 table(s)" in result.output
    assert "storage.objects: its synthetic row belongs to no one" in result.output
    # No client holds a policy on buckets: RLS closes it, there is nothing to try.
    assert "storage.buckets needs no attempt" in result.output
    allowed = runner.invoke(app, [*args, "--allow-empty"])
    assert allowed.exit_code == 0, allowed.output
    assert "not every table was checked" not in allowed.output
    # The reference platform tries every table: no flag needed.
    assert runner.invoke(app, ["probe", "--supabase-dir", str(REFERENCE)]).exit_code == 0


def test_a_probe_that_tried_nothing_names_every_cause(tmp_path: Path) -> None:
    """It used to name only the last table's cause and tell the user to seed users."""
    supabase = tmp_path / "supabase"
    (supabase / "migrations").mkdir(parents=True)
    (supabase / "config.toml").write_text(
        '[api]\nschemas = ["public"]\nauto_expose_new_tables = false\n', encoding="utf-8"
    )
    (supabase / "migrations" / "20240101000000_init.sql").write_text(
        textwrap.dedent(
            """
            create table public.notes (id bigint primary key, owner uuid references auth.users);
            alter table public.notes enable row level security;
            create policy own on public.notes using (owner = (select auth.uid()));
            create table public.plans (id bigint primary key, name text);
            alter table public.plans enable row level security;
            grant select on public.plans to anon, authenticated;
            create policy named on public.plans for select using (name is not null);
            """
        ),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["probe", "--supabase-dir", str(supabase)])
    assert result.exit_code == 1, result.output
    verdict = result.output[result.output.index("nothing was checked") :]
    assert "reachable by anon or authenticated (public.notes)" in verdict
    assert "auto_expose_new_tables = true" in verdict
    assert "public.plans: its synthetic row belongs to no one" in verdict
    assert "Seed the personas" not in verdict
