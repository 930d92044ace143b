"""blame: replay the migrations one by one and name the file that departed from the snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsguard.policy.snapshot import Snapshot
from rlsguard.supabase.errors import MigrationError
from rlsguard.workspace.blame import BOOTSTRAP, blame
from rlsguard.workspace.build import Workspace
from tests.policy.helpers import copy_project

WIDEN = (
    "drop policy courses_read on public.courses;\n"
    "create policy courses_read on public.courses for select to authenticated using (true);\n"
)
LATER = "create table public.tags (id int primary key);\n"
CREATE_THEN = (
    "create policy courses_staff on public.courses for select to authenticated "
    "using (owner_id = (select auth.uid()));\n"
)
CHANGE_LATER = "alter policy courses_staff on public.courses using (true);\n"


def test_the_migration_that_widened_a_policy_is_named(
    workspace: Workspace, courses_dir: Path, courses_snapshot: Snapshot, tmp_path: Path
) -> None:
    folder = copy_project(
        courses_dir,
        tmp_path,
        {"20250103000000_open_courses.sql": WIDEN, "20250104000000_tags.sql": LATER},
    )
    report = blame(workspace, folder, courses_snapshot)
    assert not report.clean
    assert report.first_departure == "supabase/migrations/20250103000000_open_courses.sql"
    assert report.matches_through == "supabase/migrations/20250102000000_audit.sql"
    by_file = report.by_file()
    assert list(by_file) == [
        "supabase/migrations/20250103000000_open_courses.sql",
        "supabase/migrations/20250104000000_tags.sql",
    ]
    [widened] = by_file["supabase/migrations/20250103000000_open_courses.sql"]
    assert widened.change.kind == "policy.using"
    assert widened.change.grade == "widens"
    assert widened.history == (
        "supabase/migrations/20250101000000_courses.sql",
        "supabase/migrations/20250103000000_open_courses.sql",
    )
    assert {c.change.kind for c in by_file["supabase/migrations/20250104000000_tags.sql"]} >= {
        "table.added"
    }
    text = report.render()
    assert text.startswith(
        "supabase/migrations/20250103000000_open_courses.sql is the first file that departs"
    )
    assert "[widens] USING of policy `courses_read` on public.courses changed" in text
    data = report.as_dict()
    assert data["first_departure"] == report.first_departure
    assert data["culprits"][0]["file"].endswith(".sql")


def test_an_added_object_is_blamed_on_the_file_that_created_it(
    workspace: Workspace, courses_dir: Path, courses_snapshot: Snapshot, tmp_path: Path
) -> None:
    folder = copy_project(
        courses_dir,
        tmp_path,
        {"20250103000000_staff.sql": CREATE_THEN, "20250104000000_open.sql": CHANGE_LATER},
    )
    report = blame(workspace, folder, courses_snapshot)
    [culprit] = report.culprits
    assert culprit.change.kind == "policy.added"
    assert culprit.file == "supabase/migrations/20250103000000_staff.sql"
    assert culprit.history[-1] == "supabase/migrations/20250104000000_open.sql"
    assert report.matches_through == "supabase/migrations/20250102000000_audit.sql"


def test_a_matching_project_has_nothing_to_blame(
    workspace: Workspace, courses_dir: Path, courses_snapshot: Snapshot
) -> None:
    report = blame(workspace, courses_dir, courses_snapshot)
    assert report.clean
    assert report.first_departure is None
    assert report.files == [
        "supabase/migrations/20250101000000_courses.sql",
        "supabase/migrations/20250102000000_audit.sql",
    ]
    assert report.render().endswith("nothing to blame.\n")


def test_a_difference_no_migration_made_is_blamed_on_the_bootstrap(
    workspace: Workspace, courses_dir: Path, courses_snapshot: Snapshot
) -> None:
    approved = Snapshot(courses_snapshot.doc)
    approved.doc["tables"]["storage.objects"]["rls"] = False  # as if Supabase had changed
    report = blame(workspace, courses_dir, approved)
    assert [c.file for c in report.culprits] == [BOOTSTRAP]
    assert report.matches_through is None


def test_replaying_twice_in_one_workspace_starts_from_a_fresh_cluster(
    workspace: Workspace, courses_dir: Path, courses_snapshot: Snapshot, tmp_path: Path
) -> None:
    # Roles belong to the cluster: a second replay must not find the first one's role.
    folder = copy_project(
        courses_dir, tmp_path, {"20250103000000_role.sql": "create role reporting nologin;"}
    )
    first = blame(workspace, folder, courses_snapshot)
    second = blame(workspace, folder, courses_snapshot)
    assert first.clean
    assert second.clean


def test_a_broken_migration_stops_blame_with_file_and_line(
    workspace: Workspace, courses_dir: Path, courses_snapshot: Snapshot, tmp_path: Path
) -> None:
    folder = copy_project(
        courses_dir, tmp_path, {"20250103000000_broken.sql": "select 1;\nselect * from nowhere;"}
    )
    with pytest.raises(MigrationError) as info:
        blame(workspace, folder, courses_snapshot)
    assert info.value.display_path == "supabase/migrations/20250103000000_broken.sql"
    assert info.value.line == 2
