"""The catalog reader sees every part of the security surface, typed, raw and normalised."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rlsguard.harness.engine import Engine
from rlsguard.policy.catalog import Catalog, Grant, read_catalog
from rlsguard.workspace.trial import trial

EXTRA = """
create table public.events (id bigint, at date not null) partition by range (at);
alter table public.events enable row level security;
alter table public.events force row level security;
grant select on public.events to anon;

create materialized view public.course_counts as select org_id, count(*) from public.courses
  group by org_id;
grant select on public.course_counts to authenticated;

create view public.all_courses as select id, title, secret_notes from public.courses;
grant select on public.all_courses to anon;

create function public.leaky() returns setof public.courses
language sql security definer as $$ select * from public.courses $$;

create function public.harmless(x int) returns int language sql immutable as $$ select x $$;
revoke execute on function public.harmless(int) from public;

alter default privileges for role postgres in schema public grant select on tables to anon;
grant authenticated to anon;
"""


@pytest.fixture(scope="module")
def catalog(courses_engine: Engine) -> Catalog:
    # In a rolled-back trial: `grant authenticated to anon` would otherwise outlive a clone.
    with trial(courses_engine, courses_engine.template_db, ["public", "graphql_public"]) as t:
        t.apply(EXTRA)
        return t.catalog()


def test_tables_carry_rls_flags_kind_owner_and_grants(catalog: Catalog) -> None:
    courses = catalog.table("public.courses")
    assert courses is not None
    assert (courses.kind, courses.owner, courses.rls_enabled, courses.rls_forced) == (
        "table", "postgres", True, False,
    )  # fmt: skip
    assert courses.exposed
    # The 2026 default privileges still add REFERENCES, TRIGGER and TRUNCATE to new tables.
    assert {g.privilege for g in courses.grants if g.grantee == "authenticated"} == {
        "SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES", "TRIGGER", "TRUNCATE",
    }  # fmt: skip
    assert courses.effective["authenticated"] >= {"SELECT", "DELETE"}
    events = catalog.table("public.events")
    assert events is not None
    assert (events.kind, events.rls_enabled, events.rls_forced) == ("partitioned table", True, True)
    members = catalog.table("private.members")
    assert members is not None
    assert not members.exposed
    assert not members.rls_enabled


def test_column_grants(catalog: Catalog) -> None:
    courses = catalog.table("public.courses")
    assert courses is not None
    by_column = {c.name: c.grants for c in courses.columns}
    assert by_column["title"] == (Grant("anon", "SELECT"),)
    assert by_column["secret_notes"] == ()
    assert [c.name for c in courses.columns][:2] == ["id", "org_id"]  # in column order


def test_policies_raw_and_normalised(catalog: Catalog) -> None:
    courses = catalog.table("public.courses")
    assert courses is not None
    by_name = {p.name: p for p in courses.policies}
    assert sorted(by_name) == ["courses_public", "courses_read", "courses_write"]
    write = by_name["courses_write"]
    assert (write.command, write.mode, write.roles) == ("UPDATE", "permissive", ("authenticated",))
    assert write.using_raw == "(owner_id = ( SELECT auth.uid() AS uid))"
    assert write.using == "owner_id = (SELECT auth.uid() AS uid)"
    assert write.with_check == (
        "owner_id = (SELECT auth.uid() AS uid) AND org_id = (SELECT private.org_id() AS org_id)"
    )
    assert by_name["courses_public"].roles == ("anon",)
    assert by_name["courses_public"].applies_to("anon")
    assert not by_name["courses_public"].applies_to("authenticated")
    assert len(catalog.policies) == 4  # three on courses, one on enrolments


def test_functions_security_search_path_and_executors(catalog: Catalog) -> None:
    helper = catalog.function("private.org_id()")
    assert helper is not None
    assert helper.security_definer
    assert helper.search_path == '""'
    assert helper.owner == "postgres"
    assert helper.execute_grants == (Grant("authenticated", "EXECUTE"),)
    # Effective: anon holds authenticated's privileges through `grant authenticated to anon`.
    assert helper.executable_by == {"anon", "authenticated"}
    assert helper.body == (
        "SELECT m.org_id FROM private.members AS m WHERE m.user_id = (SELECT auth.uid())"
    )
    leaky = catalog.function("public.leaky()")
    assert leaky is not None
    assert leaky.security_definer
    assert leaky.search_path is None
    assert Grant("PUBLIC", "EXECUTE") in leaky.execute_grants  # the built-in default
    assert leaky.executable_by == {"anon", "authenticated", "service_role"}
    harmless = catalog.function("public.harmless(x integer)")
    assert harmless is not None
    assert not harmless.security_definer
    assert harmless.volatility == "immutable"
    assert harmless.executable_by == frozenset()
    # Supabase's own functions (auth.uid() and friends) are read too, for the lints.
    assert catalog.function("auth.uid()") is not None


def test_views_security_invoker_reads_and_definition(catalog: Catalog) -> None:
    titles = catalog.view("public.course_titles")
    assert titles is not None
    assert titles.security_invoker
    assert titles.reads == ("public.courses",)
    assert titles.definition == "SELECT id, title FROM public.courses AS c WHERE published"
    leaky_view = catalog.view("public.all_courses")
    assert leaky_view is not None
    assert not leaky_view.security_invoker
    assert Grant("anon", "SELECT") in leaky_view.grants
    counts = catalog.view("public.course_counts")
    assert counts is not None
    assert counts.kind == "materialized view"


def test_schemas_default_privileges_and_roles(catalog: Catalog) -> None:
    schemas = {s.name: s for s in catalog.schemas}
    assert schemas["private"].grants == (Grant("authenticated", "USAGE"),)
    assert schemas["private"].usable_by == {"anon", "authenticated"}  # anon through membership
    assert not schemas["private"].supabase
    assert schemas["auth"].supabase
    assert schemas["public"].exposed
    assert not schemas["private"].exposed
    public_tables = [
        d
        for d in catalog.default_privileges
        if (d.for_role, d.schema, d.object_type) == ("postgres", "public", "tables")
    ]
    assert Grant("anon", "SELECT") in public_tables[0].grants
    roles = {r.name: r for r in catalog.roles}
    assert roles["anon"].member_of == ("authenticated",)
    assert roles["service_role"].bypassrls
    assert not roles["authenticated"].bypassrls


def test_the_reader_leaves_the_connection_as_it_was(
    courses_engine: Engine, clone_of: Callable[..., str]
) -> None:
    name = clone_of()
    with courses_engine.connect(name, autocommit=True) as conn:
        conn.execute("set search_path = public, extensions")
        read_catalog(conn)
        assert conn.execute("show search_path").fetchone() == ("public, extensions",)
        assert conn.execute("show transaction_read_only").fetchone() == ("off",)
    with courses_engine.connect(name) as conn:  # inside the caller's transaction: a savepoint
        conn.execute("set local search_path = public")
        read_catalog(conn)
        assert conn.execute("show search_path").fetchone() == ("public",)
        conn.rollback()
