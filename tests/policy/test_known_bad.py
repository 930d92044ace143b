"""The known-bad migrations of the reference platform: graded, blamed, and rolled back.

Each file in ``fixtures/known-bad/`` is applied on top of the reference migrations, as the
next migration. The diff must grade it as the file's header describes, blame must name it,
and head + the generated rollback must give exactly the approved snapshot
(``fixtures/policies.snapshot.json``), twice over.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rlsguard.harness.engine import Engine
from rlsguard.policy.diff import diff_snapshots
from rlsguard.policy.snapshot import Snapshot
from rlsguard.supabase.project import SupabaseProject
from rlsguard.workspace.blame import blame
from rlsguard.workspace.build import Workspace
from rlsguard.workspace.rollback import rollback_database
from rlsguard.workspace.trial import surface_with, trial
from tests.policy.helpers import APPROVED, KNOWN_BAD, REFERENCE, apply_sql

# file -> (kind, grade, fragment) of the change the diff must report
EXPECTED = {
    "20260301090000_runbook_quick_rollback.sql": (
        "policy.added",
        "widens",
        "`auth_policy_select` on public.users (to every role (PUBLIC)) admits rows where "
        "`auth.uid() = id OR role = 'admin'::text`",
    ),
    "20260301090100_classes_using_false.sql": (
        "policy.using",
        "narrows",
        "it is now always false",
    ),
    "20260301090200_staff_notes_using_true.sql": (
        "policy.added",
        "widens",
        "`staff_notes_select_teachers` on public.staff_notes (to authenticated) admits every row",
    ),
    "20260301090300_submissions_rls_disabled.sql": (
        "table.rls",
        "widens",
        "Row level security was DISABLED on public.submissions",
    ),
    "20260301090400_users_update_without_with_check.sql": (
        "policy.with_check",
        "widens",
        "lost its WITH CHECK",
    ),
    "20260301090500_grades_rebuilt_without_grants.sql": (
        "table.revoke",
        "narrows",
        "authenticated lost DELETE, INSERT, SELECT, UPDATE on table public.grades",
    ),
}
BAD_FILES = sorted(p.name for p in KNOWN_BAD.glob("*.sql"))


def test_every_known_bad_file_is_covered() -> None:
    assert sorted(EXPECTED) == BAD_FILES


@pytest.fixture(scope="module")
def reference(workspace: Workspace) -> Engine:
    return workspace.engine(REFERENCE)


@pytest.fixture(scope="module")
def approved() -> Snapshot:
    return Snapshot.load(APPROVED)


@pytest.fixture(scope="module")
def versions() -> list[str]:
    return [m.version for m in SupabaseProject.load(REFERENCE).migrations]


@pytest.mark.parametrize("name", BAD_FILES)
def test_the_diff_grades_it(reference: Engine, approved: Snapshot, name: str) -> None:
    head = surface_with(reference, reference.template_db, (KNOWN_BAD / name).read_text())
    diff = diff_snapshots(approved, head)
    kind, grade, fragment = EXPECTED[name]
    matching = [c for c in diff.changes if c.kind == kind and fragment in c.message]
    assert matching, [c.message for c in diff.changes]
    assert matching[0].grade == grade


@pytest.mark.parametrize("name", BAD_FILES)
def test_head_plus_rollback_is_the_approved_snapshot(
    reference: Engine,
    approved: Snapshot,
    versions: list[str],
    clone_of: Callable[..., str],
    name: str,
) -> None:
    head = clone_of(reference)
    apply_sql(reference, head, (KNOWN_BAD / name).read_text(), name.split("_")[0])
    rollback = rollback_database(
        reference,
        head,
        approved,
        exposed_schemas=SupabaseProject.load(REFERENCE).config.api_schemas,
        versions=[*versions, name.split("_")[0]],
    )
    assert rollback.restored, [c.message for c in rollback.residual.changes]
    assert rollback.idempotent
    assert rollback.filename > name  # sorts after the bad migration
    assert not rollback.skipped
    with trial(reference, head, ("public", "graphql_public")) as t:
        t.apply(rollback.sql)
        assert t.snapshot().dumps() == APPROVED.read_text()


def test_blame_names_the_known_bad_file(
    workspace: Workspace, approved: Snapshot, tmp_path: Path
) -> None:
    name = "20260301090300_submissions_rls_disabled.sql"
    folder = tmp_path / "supabase"
    shutil.copytree(REFERENCE, folder)
    shutil.copy(KNOWN_BAD / name, folder / "migrations" / name)
    report = blame(workspace, folder, approved)
    assert report.first_departure == f"supabase/migrations/{name}"
    assert report.matches_through == "supabase/migrations/20260105090400_reporting.sql"
    assert [c.change.kind for c in report.culprits] == ["table.rls"]
