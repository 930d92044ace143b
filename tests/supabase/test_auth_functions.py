"""auth.uid(), auth.role(), auth.email(), auth.jwt(): the semantics policies rely on."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.supabase.conftest import SupabaseCluster, acting_as, sqlstate_of

USER = "5d4f5b7e-3c1a-4e8b-9f2a-0c6d7e8f9a0b"
OTHER = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
ANON_KEY = {"iss": "supabase", "ref": "abcdefghijklmnopqrst", "role": "anon", "iat": 1, "exp": 2}
SERVICE_KEY = {**ANON_KEY, "role": "service_role"}
SESSION = {
    "aud": "authenticated",
    "sub": USER,
    "email": "ada@example.com",
    "phone": "",
    "role": "authenticated",
    "aal": "aal1",
    "app_metadata": {"provider": "email", "providers": ["email"]},
    "user_metadata": {},
    "is_anonymous": False,
}
ALL = "select auth.uid(), auth.role(), auth.email(), auth.jwt()"


@pytest.fixture(scope="module")
def conn(sb: SupabaseCluster) -> Any:
    with sb.connect() as conn:
        yield conn


def test_nothing_set_means_null(conn: psycopg.Connection[Any]) -> None:
    with acting_as(conn, "anon"):
        assert conn.execute(ALL).fetchone() == (None, None, None, None)


@pytest.mark.parametrize(("role", "claims"), [("anon", ANON_KEY), ("service_role", SERVICE_KEY)])
def test_api_keys_have_no_user(
    conn: psycopg.Connection[Any], role: str, claims: dict[str, Any]
) -> None:
    with acting_as(conn, role, claims):
        assert conn.execute(ALL).fetchone() == (None, role, None, claims)


def test_a_signed_in_user(conn: psycopg.Connection[Any]) -> None:
    with acting_as(conn, "authenticated", SESSION):
        uid, role, email, jwt = conn.execute(ALL).fetchone()
    assert (str(uid), role, email) == (USER, "authenticated", "ada@example.com")
    assert jwt["app_metadata"] == {"provider": "email", "providers": ["email"]}


def test_the_legacy_claim_wins(conn: psycopg.Connection[Any]) -> None:
    with acting_as(conn, "authenticated", SESSION, request__jwt__claim__sub=OTHER):
        assert str(conn.execute("select auth.uid()").fetchone()[0]) == OTHER


def test_an_empty_legacy_claim_falls_through(conn: psycopg.Connection[Any]) -> None:
    with acting_as(conn, "authenticated", SESSION, request__jwt__claim__sub=""):
        assert str(conn.execute("select auth.uid()").fetchone()[0]) == USER


def test_the_legacy_claim_alone_works(conn: psycopg.Connection[Any]) -> None:
    # Supabase's own pgTAP examples set only request.jwt.claim.sub.
    with acting_as(conn, "authenticated", request__jwt__claim__sub=USER):
        assert conn.execute("select auth.uid()::text, auth.role()").fetchone() == (USER, None)


@pytest.mark.parametrize("sub", ["not-a-uuid", ""])
def test_an_invalid_sub_raises(conn: psycopg.Connection[Any], sub: str) -> None:
    with acting_as(conn, "authenticated", {**SESSION, "sub": sub}):
        assert sqlstate_of(conn, "select auth.uid()") == "22P02"


def test_claims_set_locally_earlier_read_as_null(conn: psycopg.Connection[Any]) -> None:
    with acting_as(conn, "authenticated", SESSION):
        pass
    # The placeholder setting now reverts to '', not NULL; the functions still return NULL.
    assert conn.execute("select current_setting('request.jwt.claims', true)").fetchone() == ("",)
    with acting_as(conn, "anon"):
        assert conn.execute(ALL).fetchone() == (None, None, None, None)


def test_phone_users_have_an_empty_email(conn: psycopg.Connection[Any]) -> None:
    with acting_as(conn, "authenticated", {**SESSION, "email": "", "phone": "15550100"}):
        assert conn.execute("select auth.email()").fetchone() == ("",)


def test_null_comparison_hides_rows_from_anon(sb: SupabaseCluster, fresh_db: Any) -> None:
    with sb.connect(fresh_db()) as conn:
        conn.execute("set role postgres")
        conn.execute("create table public.todos (id int, user_id uuid)")
        conn.execute("alter table public.todos enable row level security")
        conn.execute("create policy own on public.todos using (auth.uid() = user_id)")
        conn.execute("insert into public.todos values (1, %s), (2, null)", (USER,))
        conn.execute("reset role")
        with acting_as(conn, "anon", ANON_KEY):
            assert conn.execute("select count(*) from public.todos").fetchone() == (0,)
        with acting_as(conn, "authenticated", SESSION):
            assert conn.execute("select id from public.todos").fetchall() == [(1,)]
