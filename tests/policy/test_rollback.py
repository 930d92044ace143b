"""rollback: a migration that restores the snapshot, verified, idempotent, honest about limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rlsguard.harness.engine import Engine
from rlsguard.policy.diff import diff_snapshots
from rlsguard.policy.snapshot import Snapshot
from rlsguard.workspace.build import Workspace
from rlsguard.workspace.rollback import (
    Rollback,
    generate_rollback,
    grant_statements,
    plan_rollback,
    rollback_database,
    rollback_filename,
    rollback_version,
)
from rlsguard.workspace.trial import trial
from tests.policy.helpers import copy_project

EXPOSED = ("public", "graphql_public")

# Everything a bad migration can do to the courses surface that a rollback can undo.
DAMAGE = """
drop policy courses_write on public.courses;
create policy courses_write on public.courses for update to authenticated
  using (owner_id = (select auth.uid()));
alter policy courses_read on public.courses to authenticated, anon using (true);
create policy everything on public.enrolments for all to public using (true);
drop policy courses_public on public.courses;
alter table public.enrolments disable row level security;
alter table public.courses force row level security;
grant insert, delete on public.enrolments to anon;
revoke select on public.enrolments from authenticated;
grant select (secret_notes) on public.courses to anon;
grant select on public.courses to anon with grant option;
alter function private.org_id() reset search_path;
grant execute on function private.org_id() to anon, public;
alter view public.course_titles set (security_invoker = false);
grant usage on schema private to anon;
alter default privileges in schema public grant select on tables to anon;
grant service_role to authenticated;
"""


@pytest.fixture
def damaged(
    workspace: Workspace, courses_dir: Path, tmp_path: Path
) -> Iterator[tuple[Path, Engine]]:
    """The courses project plus the damaging migration, built in a cluster of its own."""
    folder = copy_project(courses_dir, tmp_path, {"20250103000000_damage.sql": DAMAGE})
    try:
        yield folder, workspace.engine(folder)
    finally:
        workspace.release(folder)


def test_head_plus_rollback_equals_the_snapshot(
    workspace: Workspace,
    damaged: tuple[Path, Engine],
    courses_snapshot: Snapshot,
) -> None:
    folder, _ = damaged
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
    rollback = generate_rollback(workspace, folder, courses_snapshot, now=now)
    assert rollback.restored, rollback.residual.changes
    assert rollback.idempotent
    assert rollback.filename == "20250601120000_rollback_rls.sql"
    assert not [s for s in rollback.skipped if s.kind == "cannot"]
    sql = rollback.sql
    assert "ALTER TABLE public.enrolments ENABLE ROW LEVEL SECURITY;" in sql
    assert "DROP POLICY IF EXISTS everything ON public.enrolments;" in sql
    assert "REVOKE service_role FROM authenticated;" in sql
    assert "ALTER FUNCTION private.org_id() SET search_path = '';" in sql
    # The table-level REVOKE also takes anon's column grants: the approved ones come back.
    assert "REVOKE SELECT ON TABLE public.courses FROM anon;" in sql
    assert "GRANT SELECT (title) ON TABLE public.courses TO anon;" in sql
    assert "(secret_notes)" not in sql
    assert "sorts after every existing" in sql

    # End to end: the file as the next migration of the project, built from scratch.
    rollback.write(folder / "migrations")
    workspace.release(folder)
    rebuilt = workspace.snapshot(folder)
    assert not diff_snapshots(courses_snapshot, rebuilt).changes
    assert rebuilt.dumps() == courses_snapshot.dumps()


def test_generating_leaves_the_head_database_and_cluster_as_they_were(
    workspace: Workspace, damaged: tuple[Path, Engine], courses_snapshot: Snapshot
) -> None:
    folder, _engine = damaged
    before = workspace.snapshot(folder)
    generate_rollback(workspace, folder, courses_snapshot)
    assert workspace.snapshot(folder) == before  # roles included: the trial was rolled back


def test_applying_the_rollback_twice_changes_nothing(
    damaged: tuple[Path, Engine], courses_snapshot: Snapshot
) -> None:
    _, engine = damaged
    rollback = rollback_database(
        engine, engine.template_db, courses_snapshot, exposed_schemas=EXPOSED
    )
    with trial(engine, engine.template_db, EXPOSED) as t:
        t.apply(rollback.sql)
        once = t.snapshot()
        t.apply(rollback.sql)
        t.apply(rollback.sql)
        assert t.snapshot() == once == Snapshot(courses_snapshot.doc)


def _rollback_after(
    engine: Engine, clone_of: Callable[..., str], sql: str, target: Snapshot
) -> Rollback:
    name = clone_of(engine, sql)
    return rollback_database(engine, name, target, exposed_schemas=EXPOSED)


def test_a_dropped_table_is_explained_not_recreated(
    courses_engine: Engine, clone_of: Callable[..., str], courses_snapshot: Snapshot
) -> None:
    rollback = _rollback_after(
        courses_engine, clone_of, "drop table public.enrolments", courses_snapshot
    )
    assert not rollback.restored
    [cannot] = [s for s in rollback.skipped if s.kind == "cannot"]
    assert cannot.object == "public.enrolments"
    assert "no longer exists" in cannot.reason
    assert "public.enrolments" not in "\n".join(u.sql for u in rollback.units)
    assert "-- Not restored (needs a person):" in rollback.sql
    assert "--  public.enrolments: the table no longer exists" in rollback.sql
    assert rollback.unexplained == []  # every residual difference is the dropped table


def test_sql_that_cannot_work_any_more_becomes_an_explanation(
    courses_engine: Engine, clone_of: Callable[..., str], courses_snapshot: Snapshot
) -> None:
    # The column the policies and the view read is gone: re-creating them would fail.
    rollback = _rollback_after(
        courses_engine,
        clone_of,
        "alter table public.courses drop column published cascade",
        courses_snapshot,
    )
    reasons = {s.object: s.reason for s in rollback.skipped if s.kind == "cannot"}
    assert 'column "published" does not exist' in reasons["public.courses"]
    assert "public.course_titles" in reasons
    assert "CREATE POLICY courses_public" not in rollback.sql
    assert rollback.idempotent
    assert rollback.unexplained == []


def test_objects_newer_than_the_snapshot_are_left_alone_and_listed(
    courses_engine: Engine, clone_of: Callable[..., str], courses_snapshot: Snapshot
) -> None:
    rollback = _rollback_after(
        courses_engine,
        clone_of,
        "create table public.tags (id int); create function public.f() returns int "
        "language sql security definer as $$ select 1 $$",
        courses_snapshot,
    )
    left = {s.object for s in rollback.skipped if s.kind == "left alone"}
    assert left == {"public.tags", "public.f()"}
    assert "-- Left alone (not in the snapshot):" in rollback.sql
    assert rollback.unexplained == []


def test_nothing_to_do_when_the_surface_already_matches(
    courses_engine: Engine, courses_snapshot: Snapshot
) -> None:
    rollback = rollback_database(
        courses_engine, courses_engine.template_db, courses_snapshot, exposed_schemas=EXPOSED
    )
    assert not rollback.needed
    assert rollback.restored
    assert rollback.units == []


def test_plan_without_a_database(courses_snapshot: Snapshot) -> None:
    head = Snapshot(courses_snapshot.doc)
    head.doc["exposed_schemas"].append("private")
    del head.doc["functions"]["private.org_id()"]
    head.doc["tables"]["public.courses"]["rls"] = False
    plan = plan_rollback(head, courses_snapshot)
    assert [u.statements for u in plan.units] == [
        ("ALTER TABLE public.courses ENABLE ROW LEVEL SECURITY;",)
    ]
    reasons = {s.object: s.reason for s in plan.skipped}
    assert "config.toml" in reasons["exposed_schemas"]
    assert "restore its CREATE FUNCTION" in reasons["private.org_id()"]


def test_grant_statements_cover_grant_options_and_columns() -> None:
    assert grant_statements(
        "TABLE public.t",
        {"anon": ["SELECT"], "authenticated": ["UPDATE WITH GRANT OPTION"]},
        {"anon": ["SELECT WITH GRANT OPTION", "DELETE"], "PUBLIC": ["SELECT"]},
    ) == [
        "REVOKE SELECT ON TABLE public.t FROM PUBLIC;",
        "REVOKE DELETE ON TABLE public.t FROM anon;",
        "REVOKE GRANT OPTION FOR SELECT ON TABLE public.t FROM anon;",
        "GRANT UPDATE ON TABLE public.t TO authenticated WITH GRANT OPTION;",
    ]
    assert grant_statements("TABLE public.t", {}, {"anon": ["SELECT"]}, column="Order") == [
        'REVOKE SELECT ("Order") ON TABLE public.t FROM anon;'
    ]


@pytest.mark.parametrize(
    ("versions", "now", "expected"),
    [
        (["20250101000000", "20250102000000"], "2025-06-01T12:00:00", "20250601120000"),
        # A migration dated in the future: one second after it, still sorting last.
        (["20250101000000", "20300101000000"], "2025-06-01T12:00:00", "20300101000001"),
        (["20300101235959"], "2025-06-01T12:00:00", "20300102000000"),
        ([], "2025-06-01T12:00:00", "20250601120000"),
        # Not timestamps at all: the next number of the same width.
        (["001", "002"], "2025-06-01T12:00:00", "20250601120000"),
    ],
)
def test_the_version_sorts_after_every_migration(
    versions: list[str], now: str, expected: str
) -> None:
    moment = datetime.fromisoformat(now).replace(tzinfo=UTC)
    version = rollback_version(versions, moment)
    assert version == expected
    assert all(version > v for v in versions)


def test_the_runbooks_epoch_name_would_sort_first_and_ours_last() -> None:
    existing = ["20260105090000_tenancy.sql", "20260105090400_reporting.sql"]
    runbook = "1764000000_rollback_rls.sql"  # $(date +%s) on 2025-11-24
    ours = rollback_filename(
        [n.split("_")[0] for n in existing], datetime(2026, 11, 28, tzinfo=UTC)
    )
    assert sorted([*existing, runbook, ours]) == [runbook, *existing, ours]
    assert ours == "20261128000000_rollback_rls.sql"
    # UTC, whatever the local zone of the moment given.
    local = datetime.fromisoformat("2026-11-28T01:30:00+02:00")
    assert rollback_version([], local) == "20261127233000"
