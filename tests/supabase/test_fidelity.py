"""Behaviours a policy author meets on Supabase, reproduced here (SUPABASE_FACTS §9.8)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from rlsguard.vocab import API_ROLES
from tests.supabase.conftest import SupabaseCluster, acting_as, sqlstate_of

ALICE = "a1a1a1a1-0000-4000-8000-000000000001"
BOB = "b0b0b0b0-0000-4000-8000-000000000002"


def claims(sub: str) -> dict[str, Any]:
    return {"sub": sub, "role": "authenticated", "aud": "authenticated"}


SCHEMA = f"""
create table public.docs (id int primary key, owner uuid not null, body text);
alter table public.docs enable row level security;
create policy "read own" on public.docs for select to authenticated using (owner = auth.uid());
insert into public.docs values (1, '{ALICE}', 'alice'), (2, '{BOB}', 'bob');

create view public.docs_view as select * from public.docs;
create view public.docs_invoker with (security_invoker = true) as select * from public.docs;

create function public.all_docs_count() returns bigint
language sql security definer set search_path = '' as $$ select count(*) from public.docs $$;
create function public.visible_docs_count() returns bigint
language sql security invoker set search_path = '' as $$ select count(*) from public.docs $$;

create table public.tasks (id int primary key, owner uuid not null, done boolean default false);
alter table public.tasks enable row level security;
create policy "update own" on public.tasks for update to authenticated using (owner = auth.uid());
insert into public.tasks values (1, '{ALICE}');

create function public.email_of_user(uid uuid) returns text
language sql security definer set search_path = '' as $$
  select email from auth.users where id = uid
$$;
create policy "via auth.users" on public.docs for select to authenticated
  using (exists (select 1 from auth.users u where u.id = auth.uid() and u.email like '%@staff'));
"""


@pytest.fixture(scope="module")
def conn(sb: SupabaseCluster) -> Iterator[psycopg.Connection[Any]]:
    dbname = sb.fresh("expose")
    try:
        with sb.connect(dbname) as conn:
            with conn.transaction():
                conn.execute("set local role postgres")
                conn.execute(SCHEMA)
            yield conn
    finally:
        sb.server.drop_database(dbname)


@pytest.mark.parametrize("role", API_ROLES)
def test_api_roles_cannot_read_auth_users(conn: psycopg.Connection[Any], role: str) -> None:
    with acting_as(conn, role, claims(ALICE)):
        assert sqlstate_of(conn, "select count(*) from auth.users") == "42501"


def test_a_policy_reading_auth_users_fails_for_users(conn: psycopg.Connection[Any]) -> None:
    # "via auth.users" is OR-ed into docs' select policies: evaluating it needs auth.users.
    with acting_as(conn, "authenticated", claims(ALICE)):
        assert sqlstate_of(conn, "select * from public.docs") == "42501"


def test_a_definer_function_owned_by_postgres_reads_auth_users(
    conn: psycopg.Connection[Any],
) -> None:
    with acting_as(conn, "authenticated", claims(ALICE)):
        assert conn.execute("select public.email_of_user(%s)", (ALICE,)).fetchone() == (None,)


def test_views_owned_by_postgres_bypass_rls(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction(force_rollback=True):
        conn.execute('drop policy "via auth.users" on public.docs')
        with acting_as(conn, "authenticated", claims(ALICE)):
            assert conn.execute("select count(*) from public.docs").fetchone() == (1,)
            assert conn.execute("select count(*) from public.docs_view").fetchone() == (2,)
            assert conn.execute("select count(*) from public.docs_invoker").fetchone() == (1,)


def test_security_definer_functions_bypass_rls(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction(force_rollback=True):
        conn.execute('drop policy "via auth.users" on public.docs')
        with acting_as(conn, "authenticated", claims(BOB)):
            assert conn.execute("select public.all_docs_count()").fetchone() == (2,)
            assert conn.execute("select public.visible_docs_count()").fetchone() == (1,)


def test_update_needs_a_select_policy(conn: psycopg.Connection[Any]) -> None:
    with acting_as(conn, "authenticated", claims(ALICE)):
        updated = conn.execute("update public.tasks set done = true where id = 1").rowcount
    assert updated == 0
    with conn.transaction(force_rollback=True):
        conn.execute(
            'create policy "read own" on public.tasks for select to authenticated '
            "using (owner = auth.uid())"
        )
        with acting_as(conn, "authenticated", claims(ALICE)):
            assert conn.execute("update public.tasks set done = true where id = 1").rowcount == 1


def test_service_role_bypasses_rls_but_not_grants(conn: psycopg.Connection[Any]) -> None:
    with acting_as(conn, "service_role"):
        assert conn.execute("select count(*) from public.docs").fetchone() == (2,)
        assert sqlstate_of(conn, "select count(*) from auth.users") == "42501"


def test_postgres_reads_everything(conn: psycopg.Connection[Any]) -> None:
    with acting_as(conn, "postgres"):
        assert conn.execute("select count(*) from public.docs").fetchone() == (2,)
        assert conn.execute("select count(*) from auth.users").fetchone() == (0,)


def test_per_role_statement_timeouts(sb: SupabaseCluster) -> None:
    for role, timeout in (("anon", "3s"), ("authenticated", "8s"), ("authenticator", "8s")):
        row = None
        with sb.connect() as conn:
            row = conn.execute(
                "select s.setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole"
                " where r.rolname = %s and s.setdatabase = 0",
                (role,),
            ).fetchone()
        assert row is not None
        assert f"statement_timeout={timeout}" in row[0]
    # authenticator logs in and gets its own settings applied by the server.
    with sb.connect(user="authenticator") as conn:
        assert conn.execute("show statement_timeout").fetchone() == ("8s",)
        assert conn.execute("show lock_timeout").fetchone() == ("8s",)
