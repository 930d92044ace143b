"""The gate pipeline on the reference platform: passes, blocks and errors for the right reasons."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rlsguard.gate import squawk
from rlsguard.gate.outputs import render_sarif
from rlsguard.gate.run import GateReport
from rlsguard.gate.summary import render_summary
from rlsguard.workspace.build import Workspace
from tests.gate.conftest import REFERENCE, GateRunner, commit, git, make_project

STEPS = ["build", "policy", "audit", "matrix", "access", "rollback"]


def test_the_reference_passes_against_itself(reference_report: GateReport) -> None:
    report = reference_report
    assert report.error is None, report.error
    assert (report.verdict, report.exit_code, report.reasons) == ("pass", 0, [])
    assert [s.name for s in report.steps] == STEPS
    assert all(s.status == "passed" for s in report.steps), report.steps
    assert report.base is not None
    assert report.base.kind == "git"
    assert report.base.commit is not None
    assert report.base.commit == report.rollback_command.split("--to ")[1].split()[0]
    assert report.policy is not None
    assert not report.policy.changes
    assert report.access is not None
    assert not report.access.changes
    assert report.access.persona_source == "project"
    assert "student" in report.access.personas
    assert report.findings, "the reference has warnings; they are old, not new"
    assert not report.new_findings
    assert report.matrix is not None
    assert report.matrix.ok
    assert report.rollback is not None
    assert not report.rollback.needed
    assert render_summary(report).startswith("## ✅ rlsguard gate: pass\n")


def test_the_reference_passes_against_the_previous_commit(
    gate: GateRunner, reference_repo: Path
) -> None:
    report = gate(reference_repo, base="HEAD~1")
    assert report.error is None, report.error
    assert (report.verdict, report.exit_code) == ("pass", 0), report.reasons
    assert report.policy is not None
    assert {c.object for c in report.policy.changes} >= {
        "public.class_roster",
        "public.class_average(p_class_id uuid)",
    }
    new = {(g.finding.rule, g.finding.object) for g in report.new_findings}
    assert new == {("authenticated_security_definer_function_executable", "public.class_average")}
    assert not report.blocking_findings  # a warning, below --fail-on error
    assert report.access is not None
    assert not report.access.changes  # a view and a function: no table row moved
    # The rollback drops what HEAD added (the view and the function cannot be dropped by a
    # policy rollback: it says so instead of failing).
    assert report.rollback is not None
    summary = render_summary(report)
    assert "public.class_average" in summary


STAFF_NOTES = "20260301090200_staff_notes_using_true.sql"


def test_head_with_uncommitted_changes(
    gate: GateRunner,
    bad_projects: dict[str, Path],
    known_bad_report: Callable[[str], GateReport],
) -> None:
    """The default head is the working tree, uncommitted files included; ``--head HEAD`` is
    the last commit, without them."""
    root = bad_projects[STAFF_NOTES]
    assert STAFF_NOTES in git(root, "status", "--porcelain", "--untracked-files=all")
    working = known_bad_report(STAFF_NOTES)
    assert working.head is not None
    assert (working.head.kind, working.exit_code) == ("directory", 1)
    assert working.access is not None
    assert {c.table for c in working.access.uncovered} == {"public.staff_notes"}

    committed = gate(root, base="HEAD", head="HEAD")
    assert committed.exit_code == 0, committed.reasons
    assert committed.head is not None
    assert committed.head.kind == "git"
    assert committed.matrix_file == "HEAD:fixtures/rls_matrix.yaml"  # the matrix of that commit
    assert committed.access is not None
    assert not committed.access.changes


AUDIT_LOG = """
create table public.audit_log (
  id bigint generated always as identity primary key,
  actor uuid not null default auth.uid(),
  action text not null
);
alter table public.audit_log enable row level security;
create policy audit_log_own on public.audit_log for select to authenticated
  using (actor = (select auth.uid()));
grant select on public.audit_log to authenticated;
"""


def test_the_rollback_dry_run_catches_a_dropped_table(gate: GateRunner, tmp_path: Path) -> None:
    make_project(tmp_path, extra={"20260401000000_audit_log.sql": AUDIT_LOG})
    commit(tmp_path, "an audit log")
    migrations = tmp_path / "supabase" / "migrations"
    (migrations / "20260402000000_drop_audit_log.sql").write_text("drop table public.audit_log;\n")

    report = gate(tmp_path, base="HEAD")
    assert report.error is None, report.error
    assert report.exit_code == 1
    assert report.reasons == ["the rollback dry-run does not restore the base's security surface"]
    assert report.rollback is not None
    assert not report.rollback.restored
    assert [(s.object, s.kind) for s in report.rollback.skipped] == [("public.audit_log", "cannot")]
    assert report.access is not None
    assert report.access.tables_dropped == ["public.audit_log"]
    step = report.step("rollback")
    assert step is not None
    assert step.status == "failed"
    summary = render_summary(report)
    assert "would **not** restore" in summary
    assert "public.audit_log: the table no longer exists" in summary


def test_objects_the_change_created_are_left_alone_not_blocking(
    gate: GateRunner, tmp_path: Path
) -> None:
    make_project(tmp_path)
    commit(tmp_path, "reference")
    (tmp_path / "supabase" / "migrations" / "20260401000000_audit_log.sql").write_text(AUDIT_LOG)
    report = gate(tmp_path, base="HEAD")
    assert report.error is None, report.error
    assert report.exit_code == 0, report.reasons
    assert report.rollback is not None
    assert not report.rollback.restored  # the new table stays: a rollback does not drop tables
    assert not report.rollback_problems
    assert [item.split(":")[0] for item in report.left_alone] == ["public.audit_log"]
    assert report.access is not None
    assert report.access.tables_added == ["public.audit_log"]
    assert "leaves them for a person to review" in render_summary(report)


def test_a_broken_migration_is_an_error_with_file_and_line(
    gate: GateRunner, tmp_path: Path
) -> None:
    make_project(tmp_path)
    commit(tmp_path, "reference")
    name = "20260401000000_broken.sql"
    (tmp_path / "supabase" / "migrations" / name).write_text(
        "-- a typo on line 3\n\ncreate tabel public.oops (id int);\n"
    )
    report = gate(tmp_path, base="HEAD")
    assert (report.verdict, report.exit_code) == ("error", 2)
    assert report.error is not None
    assert f"supabase/migrations/{name}:3:" in report.error
    assert "syntax error" in report.error
    build = report.step("build")
    assert build is not None
    assert build.status == "error"
    assert [s.name for s in report.steps] == ["build"]
    summary = render_summary(report)
    assert summary.startswith("## ⚠️ rlsguard gate: could not run")
    assert f"supabase/migrations/{name}:3:" in summary


def test_a_bad_ref_is_an_error(gate: GateRunner, reference_repo: Path) -> None:
    report = gate(reference_repo, base="no-such-ref")
    assert (report.verdict, report.exit_code) == ("error", 2)
    assert report.error is not None
    assert "--base no-such-ref" in report.error
    assert "is not a commit" in report.error


def test_a_snapshot_file_is_not_a_base(gate: GateRunner, reference_repo: Path) -> None:
    snapshot = REFERENCE.parent / "fixtures" / "policies.snapshot.json"
    report = gate(reference_repo, base=str(snapshot))
    assert report.exit_code == 2
    assert report.error is not None
    assert "needs a database" in report.error


LOCK_DOWN = """
drop policy classes_select on public.classes;
create policy classes_select_nobody on public.classes for select to authenticated
  using (false);
"""
UNPINNED_DEFINER = """
create function public.class_count() returns bigint language sql stable security definer
as $$ select count(*) from public.classes $$;
revoke execute on function public.class_count() from public, anon;
grant execute on function public.class_count() to authenticated;
"""


@pytest.fixture(scope="module")
def no_matrix_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference without its access matrix, committed: the gate has no expectations."""
    root = tmp_path_factory.mktemp("no-matrix")
    make_project(root)
    shutil.rmtree(root / "fixtures")
    config = root / "rlsguard.toml"  # a configured matrix that is missing is an error
    config.write_text(config.read_text().replace('matrix = "fixtures/rls_matrix.yaml"\n', ""))
    commit(root, "reference without a matrix")
    return root


def test_losing_all_access_blocks_without_a_matrix(
    gate: GateRunner, gate_workspace: Workspace, no_matrix_project: Path
) -> None:
    migration = no_matrix_project / "supabase" / "migrations" / "20260401000000_lock.sql"
    migration.write_text(LOCK_DOWN)
    try:
        report = gate(no_matrix_project, base="HEAD")
    finally:
        migration.unlink()
        gate_workspace.release(no_matrix_project / "supabase")  # its files changed
    assert report.error is None, report.error
    assert report.matrix is None
    assert report.exit_code == 1
    [reason] = [r for r in report.reasons if "access lost entirely" in r]
    assert "public.classes (" in reason
    assert "select" in reason
    assert "--allow-narrowing" in reason
    assert set(report.lockouts) == {"public.classes"}
    summary = render_summary(report)
    assert "access lost entirely" in summary
    # --allow-narrowing (the verdict is recomputed from the same observations).
    allowed = dataclasses.replace(
        report, options=dataclasses.replace(report.options, allow_narrowing=True)
    )
    assert allowed.lockouts == {}
    assert not any("access lost entirely" in r for r in allowed.reasons)
    # A reviewed waiver does the same for its table only.
    waived = dataclasses.replace(report, lockout_waivers={"public.classes": "archived term"})
    assert waived.lockouts == {}


def test_a_change_that_adds_nothing_but_rows_does_not_lock_out(
    reference_report: GateReport,
) -> None:
    assert reference_report.lockouts == {}


def test_a_new_search_path_mutable_definer_function_blocks(
    gate: GateRunner, gate_workspace: Workspace, no_matrix_project: Path
) -> None:
    migration = no_matrix_project / "supabase" / "migrations" / "20260402000000_count.sql"
    migration.write_text(UNPINNED_DEFINER)
    try:
        report = gate(no_matrix_project, base="HEAD")
    finally:
        migration.unlink()
        gate_workspace.release(no_matrix_project / "supabase")
    assert report.error is None, report.error
    blocking = [g.finding for g in report.blocking_findings]
    assert [(f.rule, f.object) for f in blocking] == [
        ("function_search_path_mutable", "public.class_count")
    ]
    assert blocking[0].level == "warn"  # blocks although below --fail-on error
    assert report.exit_code == 1


def test_squawk_runs_on_the_changed_migrations_when_asked(
    gate: GateRunner, gate_workspace: Workspace, no_matrix_project: Path
) -> None:
    if shutil.which("squawk") is None:
        pytest.skip("squawk is not installed (pip install squawk-cli)")
    toml = no_matrix_project / "rlsguard.toml"
    original = toml.read_text()
    toml.write_text(original + "\n[gate]\nsquawk = true\n")
    migration = no_matrix_project / "supabase" / "migrations" / "20260403000000_index.sql"
    migration.write_text("create index classes_name on public.classes (name);\n")
    try:
        report = gate(no_matrix_project, base="HEAD")
    finally:
        migration.unlink()
        toml.write_text(original)
        gate_workspace.release(no_matrix_project / "supabase")
    assert report.error is None, report.error
    squawked = [g for g in report.findings if g.finding.rule.startswith("squawk/")]
    rules = {g.finding.rule for g in squawked}
    assert "squawk/require-concurrent-index-creation" in rules
    assert all(g.new for g in squawked)
    assert {g.finding.object for g in squawked} == {"supabase/migrations/20260403000000_index.sql"}
    assert report.squawk_note is not None
    assert report.squawk_note.startswith("squawk: ")
    assert "in 1 changed file(s)" in report.squawk_note
    sarif = json.loads(render_sarif(report))
    assert "squawk/require-concurrent-index-creation" in {
        r["ruleId"] for r in sarif["runs"][0]["results"]
    }
    assert "squawk: " in render_summary(report)


def test_squawk_is_skipped_with_the_reason_when_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(squawk, "find_squawk", lambda: None)
    missing = squawk.run_squawk([tmp_path / "x.sql"], tmp_path)
    assert missing.findings == []
    assert missing.skipped is not None
    assert "pip install squawk-cli" in missing.skipped
    assert squawk.run_squawk([], tmp_path).skipped == "no migration was added or changed"


def test_a_configured_matrix_that_is_missing_is_an_error_not_a_skip(
    gate: GateRunner, tmp_path: Path
) -> None:
    """The gate used to skip the matrix step and pass, having checked no cell."""
    make_project(tmp_path)
    (tmp_path / "fixtures" / "rls_matrix.yaml").unlink()
    commit(tmp_path, "reference without its matrix")
    report = gate(tmp_path, base="HEAD")
    assert (report.verdict, report.exit_code) == ("error", 2)
    assert report.error is not None
    assert "rlsguard.toml: matrix: no such file: fixtures/rls_matrix.yaml" in report.error
    assert [s.name for s in report.steps] == ["build"]  # failed before building anything
