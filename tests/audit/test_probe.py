"""The probe, both ways per rule, on small fixtures; and that it leaves nothing behind.

``fixtures/probe/<rule>/{positive,negative}.sql`` are applied to one clone of the notes
project. The probe runs once without personas (anon and two synthetic users act), so the
synthetic-user mode is what these tests cover; the reference platform's tests cover personas.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rlsguard.audit.probe import PROBE_RULES, ProbeReport, run_probe
from rlsguard.database import Database
from rlsguard.harness.engine import Engine
from tests.audit.conftest import FIXTURES, SqlFixture, cloned, fixtures, sources

PROBE_FIXTURES = fixtures("probe")
_COUNTS = """
select (select count(*) from auth.users) as users,
       (select count(*) from public.pe_profiles) as profiles,
       (select count(*) from public.ctw_messages) as messages,
       (select count(*) from public.notes) as notes
"""


@pytest.fixture(scope="module")
def probed(notes_engine: Engine) -> Iterator[tuple[ProbeReport, Database, dict[str, int]]]:
    with cloned(notes_engine, PROBE_FIXTURES) as db:
        before = db.fetch(_COUNTS)[0]
        report = run_probe(
            db, exposed_schemas=["public"], personas=["anon"], files=sources(PROBE_FIXTURES)
        )
        yield report, db, before


def test_every_probe_rule_has_both_fixtures() -> None:
    present = {(f.rule, f.kind) for f in PROBE_FIXTURES}
    assert {(r, k) for r in PROBE_RULES for k in ("positive", "negative")} == present


@pytest.mark.parametrize("fixture", PROBE_FIXTURES, ids=lambda f: f"{f.rule}-{f.kind}")
def test_fixture(probed: tuple[ProbeReport, Database, dict[str, int]], fixture: SqlFixture) -> None:
    report = probed[0]
    for obj in fixture.objects:
        found = [f for f in report.findings if f.rule == fixture.rule and f.object == obj]
        if fixture.kind == "negative":
            assert found == [], found
            continue
        assert found, f"{fixture.rule} did not report {obj}; notes: {report.notes}"
        assert found[0].check == "probe"
        assert found[0].location is not None
        assert found[0].location.file == fixture.display


def test_synthetic_mode_actors_and_messages(
    probed: tuple[ProbeReport, Database, dict[str, int]],
) -> None:
    report = probed[0]
    assert report.actors == ["anon", "synthetic user a", "synthetic user b"]
    assert "public.notes" in report.tables
    made = [n for n in report.notes if n.startswith(("no synthetic row", "synthetic user"))]
    assert made == []  # every synthetic row could be made
    # Tried on nothing, and says why: a table whose rows belong to no one.
    assert sorted(report.untested) == [
        "public.pe_documents",
        "public.pe_ledger",
        "public.pe_reports",
    ]
    assert report.untested["public.pe_documents"].startswith("its synthetic row belongs to no one")
    by_rule = {f.rule: f for f in report.findings}
    [escalation] = [
        f
        for f in report.findings
        if f.rule == "privilege_escalation" and f.object == "public.pe_profiles"
    ]
    assert escalation.details["column"] == "role"
    assert escalation.details["grade"] == "role escalation"
    assert "private.app_role" not in escalation.remediation
    assert "pe_profiles_edit on public.pe_profiles" in escalation.remediation
    assert escalation.message.startswith("role escalation: ")
    assert "'editor'" in escalation.message  # the literal the other table's policy trusts
    read = by_rule["cross_tenant_read"]
    assert read.details["reads"] == {
        "synthetic user a": {"visible": 1, "rows": 1},
        "synthetic user b": {"visible": 1, "rows": 1},
    }
    write = by_rule["cross_tenant_write"]
    assert "a row owned by synthetic user b" in write.message


def test_a_privilege_flag_nobody_holds_is_tried_with_true(
    probed: tuple[ProbeReport, Database, dict[str, int]],
) -> None:
    [flag] = [
        f
        for f in probed[0].findings
        if f.rule == "privilege_escalation" and f.object == "public.pe_staff"
    ]
    assert flag.details["column"] == "is_admin"
    assert flag.level == "error"
    assert all(done == ["true"] for done in flag.details["changes"].values())


def test_nothing_stays_behind(probed: tuple[ProbeReport, Database, dict[str, int]]) -> None:
    _, db, before = probed
    assert db.fetch(_COUNTS)[0] == before
    assert db.scalar("select count(*) from auth.users where email like 'rlsguard-probe-%'") == 0


def test_public_by_policy_is_info_and_a_shadowing_true_stays_an_error(
    probed: tuple[ProbeReport, Database, dict[str, int]],
) -> None:
    report = probed[0]
    found = {(f.rule, f.object): f for f in report.findings}
    public = found[("public_by_policy", "public.pbp_profiles")]
    assert public.level == "info"
    assert public.details["policies"] == ["Public profiles are viewable by everyone."]
    assert ("cross_tenant_read", "public.pbp_profiles") not in found
    assert found[("cross_tenant_read", "public.pbp_staff_notes")].level == "error"


_AWKWARD = """
-- A signup trigger that needs a username in the metadata (NOT NULL).
create table public.pu_handles (
  id uuid primary key references auth.users (id) on delete cascade,
  username text not null
);
create function public.pu_on_signup() returns trigger language plpgsql security definer
set search_path = '' as $$
begin
  insert into public.pu_handles (id, username)
  values (new.id, new.raw_user_meta_data ->> 'username');
  return new;
end $$;
create trigger pu_on_signup after insert on auth.users
  for each row execute function public.pu_on_signup();
-- A table whose rows a trigger refuses: the probe can try nothing there, and says why.
create table public.pu_frozen (
  id bigint generated always as identity primary key,
  owner_id uuid not null default auth.uid()
);
alter table public.pu_frozen enable row level security;
grant select on public.pu_frozen to authenticated;
create policy pu_frozen_read on public.pu_frozen for select to authenticated
  using (owner_id = (select auth.uid()));
create function public.pu_refuse() returns trigger language plpgsql
set search_path = '' as $$
begin
  raise exception 'pu_frozen is append-only through the admin API';
end $$;
create trigger pu_refuse before insert on public.pu_frozen
  for each row execute function public.pu_refuse();
-- A table no client role may touch at all is out of scope, not "0 attempts".
create table public.pu_backend (id bigint primary key);
-- Granted but closed by RLS without a policy (storage's tables in a project that uses no
-- storage): Postgres keeps every API request out, so there is nothing to try.
create table public.pu_closed (id bigint primary key, note text);
alter table public.pu_closed enable row level security;
grant select, insert, update, delete on public.pu_closed to anon, authenticated;
-- A catalog everyone reads and nobody writes: nothing differs between users.
create table public.pu_catalog (id text primary key, name text);
alter table public.pu_catalog enable row level security;
grant select, insert, update, delete on public.pu_catalog to anon, authenticated;
create policy pu_catalog_read on public.pu_catalog for select using (true);
-- A table of uploads: its synthetic row needs a storage object, whose trigger splits the
-- path (folder/file) and reads request.headers, as a trigger calling an edge function does.
create table public.pu_upload_log (file_name text not null);
create function public.pu_on_upload() returns trigger language plpgsql
set search_path = '' as $$
begin
  perform current_setting('request.headers')::json;
  insert into public.pu_upload_log (file_name) values (new.path_tokens[2]);
  return null;
end $$;
create trigger pu_on_upload after insert on storage.objects
  for each row execute function public.pu_on_upload();
create table public.pu_uploads (
  id bigint generated always as identity primary key,
  object_id uuid not null references storage.objects (id),
  created_by uuid not null references auth.users (id)
);
alter table public.pu_uploads enable row level security;
grant select, insert on public.pu_uploads to authenticated;
create policy pu_uploads_own on public.pu_uploads to authenticated
  using (created_by = (select auth.uid())) with check (created_by = (select auth.uid()));
"""


def test_untested_tables_say_why_and_signup_metadata_is_sent(
    notes_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "awkward.sql"
    path.write_text(_AWKWARD)
    with cloned(notes_engine, [path]) as db:
        report = run_probe(db, exposed_schemas=["public"], personas=["anon"])
    assert report.actors == ["anon", "synthetic user a", "synthetic user b"]
    assert any("signup trigger reads (username)" in n for n in report.notes), report.notes
    cause = report.untested["public.pu_frozen"]
    assert cause.startswith("no synthetic row could be made: a trigger refused the row")
    assert "append-only" in cause
    assert "0 attempts on public.pu_frozen: " in "\n".join(report.notes)
    assert "SECURITY DEFINER" not in cause
    assert "public.pu_backend" not in report.untested
    assert "public.pu_closed" in report.tables
    assert "public.pu_closed" not in report.untested
    assert any(n.startswith("public.pu_closed needs no attempt") for n in report.notes)
    assert "public.pu_catalog" not in report.untested
    assert "public.pu_uploads" not in report.untested
    assert not [n for n in report.notes if n.startswith("no synthetic row in storage.objects")]
    assert any(
        n.startswith("public.pu_catalog needs no attempt: its only policies let every row")
        for n in report.notes
    )
    assert "public.notes" not in report.untested


def test_a_read_points_at_the_policy_that_admits_it(
    probed: tuple[ProbeReport, Database, dict[str, int]],
) -> None:
    report = probed[0]
    [read] = [
        f
        for f in report.findings
        if f.rule == "cross_tenant_read" and f.object == "public.pbp_staff_notes"
    ]
    assert read.details["policies"] == ["pbp_staff_notes_teachers"]
    assert "admitted by pbp_staff_notes_teachers" in read.message
    assert read.location is not None
    fixture = (FIXTURES / "probe" / "public_by_policy" / "negative.sql").read_text().splitlines()
    assert "create policy pbp_staff_notes_teachers" in fixture[(read.location.line or 0) - 1]


def test_secret_columns_that_come_back_are_observed(
    probed: tuple[ProbeReport, Database, dict[str, int]],
) -> None:
    found = {(f.rule, f.object): f for f in probed[0].findings}
    members = found[("public_by_policy", "public.pbp_members")]
    assert members.level == "warn"
    assert members.details["secrets"] == ["api_token"]
    masked = found[("public_by_policy", "public.pbp_masked")]
    assert masked.level == "info"
    assert masked.details["secrets"] == []
