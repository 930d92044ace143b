"""Graded diffs: every kind of change, graded and explained in one sentence."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from rlsguard.policy.diff import Change, PolicyDiff, diff_snapshots
from rlsguard.policy.render import render, render_markdown, render_text
from rlsguard.policy.snapshot import Snapshot

CASES = [
    # (id, migration, kind, grade, fragment of the sentence)
    (
        "new permissive policy, true predicate",
        "create policy open on public.enrolments for select to authenticated using (true)",
        "policy.added",
        "widens",
        "admits every row — a `true` predicate",
    ),
    (
        "new restrictive policy",
        "create policy only_published on public.courses as restrictive for select "
        "to authenticated using (published)",
        "policy.added",
        "narrows",
        "rows must also satisfy `published`",
    ),
    (
        "dropped permissive policy",
        "drop policy courses_public on public.courses",
        "policy.removed",
        "narrows",
        "was dropped",
    ),
    (
        "predicate became true",
        "alter policy courses_read on public.courses using (true)",
        "policy.using",
        "widens",
        "it is now always true",
    ),
    (
        "dropped conjunct",
        "alter policy courses_read on public.courses using (org_id = (select private.org_id()))",
        "policy.using",
        "widens",
        "dropped conjunct `published OR owner_id = (SELECT auth.uid() AS uid)`",
    ),
    (
        "added conjunct",
        "alter policy courses_public on public.courses using (published and id > 0)",
        "policy.using",
        "narrows",
        "added conjunct `id > 0`",
    ),
    (
        "is-null inversion",
        "alter policy enrolments_own on public.enrolments "
        "using ((select auth.uid()) is null or student_id = (select auth.uid()))",
        "policy.using",
        "widens",
        "added disjunct `(SELECT auth.uid() AS uid) IS NULL`",
    ),
    (
        "unknown change",
        "alter policy courses_public on public.courses using (not published)",
        "policy.using",
        "widens",
        "cannot tell whether it admits more rows",
    ),
    (
        "reordered conjuncts",
        "alter policy courses_write on public.courses with check "
        "(org_id = (select private.org_id()) and (select auth.uid()) = owner_id)",
        "policy.with_check",
        "neutral",
        "it is equivalent",
    ),
    (
        "with check dropped",
        "drop policy courses_write on public.courses; create policy courses_write on "
        "public.courses for update to authenticated using (owner_id = (select auth.uid()))",
        "policy.with_check",
        "widens",
        "lost its WITH CHECK",
    ),
    (
        "added role",
        "alter policy courses_read on public.courses to authenticated, anon",
        "policy.roles",
        "widens",
        "now admits rows for more roles",
    ),
    (
        "role widened to public",
        "alter policy courses_read on public.courses to public",
        "policy.roles",
        "widens",
        "every role (PUBLIC)",
    ),
    (
        "removed role",
        "alter policy courses_read on public.courses to service_role",
        "policy.roles",
        "widens",  # service_role added, authenticated removed: more is the louder grade
        "instead of authenticated",
    ),
    (
        "command widened to all",
        "drop policy enrolments_own on public.enrolments; create policy enrolments_own on "
        "public.enrolments for all to authenticated using (student_id = (select auth.uid()))",
        "policy.command",
        "widens",
        "now applies to ALL instead of SELECT",
    ),
    (
        "permissive became restrictive",
        "drop policy courses_public on public.courses; create policy courses_public on "
        "public.courses as restrictive for select to anon using (published)",
        "policy.mode",
        "narrows",
        "became restrictive",
    ),
    (
        "renamed policy",
        "alter policy enrolments_own on public.enrolments rename to enrolments_mine",
        "policy.renamed",
        "neutral",
        "renamed to `enrolments_mine`",
    ),
    (
        "rls disabled",
        "alter table public.courses disable row level security",
        "table.rls",
        "widens",
        "Row level security was DISABLED on public.courses",
    ),
    (
        "rls enabled",
        "alter table private.members enable row level security",
        "table.rls",
        "narrows",
        "was enabled on private.members",
    ),
    (
        "rls forced",
        "alter table public.courses force row level security",
        "table.force_rls",
        "narrows",
        "now forced",
    ),
    (
        "grant added",
        "grant delete on public.enrolments to authenticated",
        "table.grant",
        "widens",
        "authenticated was granted DELETE on table public.enrolments",
    ),
    (
        "grant revoked",
        "revoke select on public.enrolments from authenticated",
        "table.revoke",
        "narrows",
        "authenticated lost SELECT",
    ),
    (
        "grant to public",
        "grant select on public.enrolments to public",
        "table.grant",
        "widens",
        "everyone (PUBLIC) was granted SELECT",
    ),
    (
        "column grant",
        "grant select (secret_notes) on public.courses to anon",
        "column.grant",
        "widens",
        "anon was granted SELECT on column public.courses.secret_notes",
    ),
    (
        "definer function executable by more roles",
        "grant execute on function private.org_id() to anon",
        "function.execute",
        "widens",
        "anon may now execute SECURITY DEFINER function private.org_id()",
    ),
    (
        "definer search_path unpinned",
        "alter function private.org_id() reset search_path",
        "function.search_path",
        "widens",
        "no longer pins its search_path",
    ),
    (
        "definer body changed",
        "create or replace function private.org_id() returns uuid language sql stable "
        "security definer set search_path = '' as $$ select m.org_id from private.members m "
        "limit 1 $$",
        "function.body",
        "widens",
        "The body of SECURITY DEFINER function private.org_id() changed",
    ),
    (
        "new definer function executable by everyone",
        "create function public.all_members() returns setof private.members language sql "
        "security definer as $$ select * from private.members $$",
        "function.added",
        "widens",
        "search_path NOT pinned), executable by everyone (PUBLIC)",
    ),
    (
        "view lost security_invoker",
        "alter view public.course_titles set (security_invoker = false)",
        "view.security_invoker",
        "widens",
        "lost security_invoker",
    ),
    (
        "new definer view",
        "create view public.notes as select id, secret_notes from public.courses; "
        "grant select on public.notes to anon",
        "view.added",
        "widens",
        "runs with its owner's (postgres) rights",
    ),
    (
        "default privileges",
        "alter default privileges in schema public grant select on tables to anon",
        "default_privileges.grant",
        "widens",
        "anon will be granted SELECT on tables postgres creates in schema public",
    ),
    (
        "schema usage",
        "grant usage on schema private to anon",
        "schema.grant",
        "widens",
        "anon was granted USAGE on schema private",
    ),
    (
        "role membership",
        "grant service_role to authenticated",
        "role.member_of",
        "widens",
        "Role authenticated became a member of service_role",
    ),
    (
        "table dropped",
        "drop table public.enrolments",
        "table.removed",
        "narrows",
        "Table public.enrolments was dropped",
    ),
    (
        "new table without rls",
        "create table public.leak (id int); grant select on public.leak to anon",
        "table.added",
        "widens",
        "row level security DISABLED: every row is open to anon (SELECT).",
    ),
]


@pytest.mark.parametrize(
    ("sql", "kind", "grade", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_kind_of_change_is_graded_and_explained(
    courses_snapshot: Snapshot,
    surface_after: Callable[[str], Snapshot],
    sql: str,
    kind: str,
    grade: str,
    fragment: str,
) -> None:
    diff = diff_snapshots(courses_snapshot, surface_after(sql))
    matching = [c for c in diff.changes if c.kind == kind]
    assert matching, render_text(diff)
    assert matching[0].grade == grade, matching[0].message
    assert fragment in matching[0].message, matching[0].message


def test_nothing_changed_is_an_empty_diff(
    courses_snapshot: Snapshot, surface_after: Callable[[str], Snapshot]
) -> None:
    diff = diff_snapshots(courses_snapshot, surface_after("select 1"))
    assert not diff
    assert render_text(diff).endswith("no changes to the security surface\n")


def test_settings_outside_sql_are_graded_too(courses_snapshot: Snapshot) -> None:
    doc = json.loads(courses_snapshot.dumps())
    doc["exposed_schemas"].append("private")
    doc["roles"]["authenticated"]["bypassrls"] = True
    diff = diff_snapshots(courses_snapshot, Snapshot(doc))
    kinds = {c.kind: c for c in diff.changes}
    assert kinds["api.schema_exposed"].grade == "widens"
    assert "Schema private is now served by the Data API" in kinds["api.schema_exposed"].message
    assert kinds["role.bypassrls"].grade == "widens"
    reverse = diff_snapshots(Snapshot(doc), courses_snapshot)
    assert {c.grade for c in reverse.changes} == {"narrows"}


def test_widenings_come_first_and_each_change_names_its_path(
    courses_snapshot: Snapshot, surface_after: Callable[[str], Snapshot]
) -> None:
    head = surface_after(
        "drop policy courses_public on public.courses;"
        "alter table public.courses disable row level security;"
        "alter policy enrolments_own on public.enrolments rename to enrolments_mine"
    )
    diff = diff_snapshots(courses_snapshot, head)
    assert [c.grade for c in diff.changes] == ["widens", "narrows", "neutral"]
    assert diff.counts() == {"widens": 1, "narrows": 1, "neutral": 1}
    assert diff.changes[0].path == ("tables", "public.courses", "rls")
    assert diff.changes[1].path == ("tables", "public.courses", "policies", "courses_public")


@pytest.fixture
def sample() -> PolicyDiff:
    return PolicyDiff(
        "main",
        "working tree",
        [
            Change("widens", "policy.using", "public.t", ("tables", "public.t"), "a | b widened"),
            Change("neutral", "policy.renamed", "public.t", ("tables", "public.t"), "renamed"),
        ],
    )


def test_text_output(sample: PolicyDiff) -> None:
    text = render(sample, "text")
    assert text.splitlines()[0] == "main -> working tree: 2 changes: 1 widen, 0 narrow, 1 neutral"
    assert "WIDENS (1)\n  + public.t: a | b widened" in text
    assert "NEUTRAL (1)\n  = public.t: renamed" in text


def test_json_output(sample: PolicyDiff) -> None:
    data = json.loads(render(sample, "json"))
    assert data["counts"] == {"widens": 1, "narrows": 0, "neutral": 1}
    assert data["changes"][0] == {
        "grade": "widens",
        "kind": "policy.using",
        "object": "public.t",
        "path": ["tables", "public.t"],
        "message": "a | b widened",
        "before": None,
        "after": None,
    }


def test_markdown_output(sample: PolicyDiff) -> None:
    markdown = render_markdown(sample)
    assert "| widens | `public.t` | a \\| b widened |" in markdown  # pipes escaped
    assert "<details><summary>1 neutral change(s)</summary>" in markdown
    assert markdown.index("widened") < markdown.index("<details>")


def test_unknown_format_is_refused(sample: PolicyDiff) -> None:
    with pytest.raises(ValueError, match="unknown format 'yaml'"):
        render(sample, "yaml")
