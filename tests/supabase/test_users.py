"""create_user behaves like a GoTrue signup, as triggers on auth.users see it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from rlsguard.supabase import SupabaseProject, UserCreationError, apply_project, create_user
from rlsguard.supabase.errors import SqlProblem
from tests.supabase.conftest import PROJECTS, SupabaseCluster

# What the tutorials get wrong: not SECURITY DEFINER, and "profiles" without its schema.
NAIVE_TRIGGER = """
create or replace function public.handle_new_user() returns trigger
language plpgsql
as $$
begin
  insert into profiles (id, first_name) values (new.id, new.raw_user_meta_data ->> 'first_name');
  return new;
end;
$$;
"""
QUALIFIED_INVOKER_TRIGGER = NAIVE_TRIGGER.replace("into profiles", "into public.profiles")


@pytest.fixture
def db(sb: SupabaseCluster, fresh_db: Any) -> str:
    """A database with the documented profiles table and SECURITY DEFINER trigger."""
    dbname = fresh_db()
    apply_project(
        sb.server,
        SupabaseProject.load(PROJECTS / "auth_user_trigger"),
        dbname=dbname,
    )
    return dbname


def test_a_signup_as_gotrue_does_it(sb: SupabaseCluster, db: str) -> None:
    user_id = create_user(
        sb.server,
        dbname=db,
        email="Grace@Example.com",
        password="hunter22",
        user_metadata={"first_name": "Grace"},
    )
    with sb.connect(db) as conn:
        row = conn.execute(
            "select email, role, aud, encrypted_password, raw_app_meta_data, raw_user_meta_data,"
            " email_confirmed_at is not null, confirmed_at is not null, instance_id::text"
            " from auth.users where id = %s",
            (user_id,),
        ).fetchone()
        identity = conn.execute(
            "select provider_id, provider, identity_data, email from auth.identities"
            " where user_id = %s",
            (user_id,),
        ).fetchone()
        profile = conn.execute(
            "select first_name from public.profiles where id = %s", (user_id,)
        ).fetchone()
    email, role, aud, hashed, app, meta, confirmed, generated, instance = row
    assert (email, role, aud) == ("grace@example.com", "authenticated", "authenticated")
    assert hashed.startswith("$2a$")
    assert app == {"provider": "email", "providers": ["email"]}
    assert meta == {"first_name": "Grace"}
    assert (confirmed, generated) == (True, True)
    assert instance == "00000000-0000-0000-0000-000000000000"
    assert identity[:2] == (str(user_id), "email")
    assert identity[2]["sub"] == str(user_id)
    assert identity[2]["first_name"] == "Grace"
    assert identity[3] == "grace@example.com"
    assert profile == ("Grace",)


def test_triggers_see_what_gotrue_inserts(sb: SupabaseCluster, db: str) -> None:
    with sb.connect(db) as conn, conn.transaction():
        conn.execute("set local role postgres")
        conn.execute(
            """
            create table public.signup_log (role text, who text, confirmed boolean, identities int);
            create function public.log_signup() returns trigger
            language plpgsql security definer set search_path = '' as $$
            begin
              insert into public.signup_log
              select new.role, session_user, new.email_confirmed_at is not null,
                     (select count(*) from auth.identities where user_id = new.id);
              return new;
            end $$;
            create trigger log_signup after insert on auth.users
              for each row execute function public.log_signup();
            """
        )
    create_user(sb.server, dbname=db, email="lin@example.com")
    with sb.connect(db) as conn:
        assert conn.execute("select * from public.signup_log").fetchall() == [
            ("", "supabase_auth_admin", False, 0)
        ]


@pytest.mark.parametrize(
    ("function", "sqlstate", "message"),
    [
        (NAIVE_TRIGGER, "42P01", 'relation "profiles" does not exist'),
        (QUALIFIED_INVOKER_TRIGGER, "42501", "permission denied for table profiles"),
    ],
    ids=["unqualified", "not-security-definer"],
)
def test_a_wrong_trigger_fails_the_signup(
    sb: SupabaseCluster, db: str, function: str, sqlstate: str, message: str
) -> None:
    with sb.connect(db) as conn, conn.transaction():
        conn.execute("set local role postgres")
        conn.execute(function)
    with pytest.raises(UserCreationError) as info:
        create_user(sb.server, dbname=db, email="eve@example.com", password="x")
    error = info.value
    assert error.sqlstate == sqlstate
    assert str(error).startswith("Database error saving new user 'eve@example.com'")
    assert message in str(error)
    assert "handle_new_user" in (error.problem.context or "")
    assert "must be SECURITY DEFINER" in str(error)  # not found / not allowed: its rights
    with sb.connect(db) as conn:
        assert conn.execute(
            "select count(*) from auth.users where email = 'eve@example.com'"
        ).fetchone() == (0,)


def test_the_same_trigger_works_from_a_seed_as_postgres(sb: SupabaseCluster, db: str) -> None:
    # Seeds run as postgres with public on the search_path: the naive trigger "works" there,
    # which is exactly why it reaches production before it fails.
    with sb.connect(db) as conn:
        with conn.transaction():
            conn.execute("set local role postgres")
            conn.execute(NAIVE_TRIGGER)
            conn.execute("set local search_path = public, extensions")
            conn.execute(
                "insert into auth.users (id, email, raw_user_meta_data) values (%s, %s, '{}')",
                (uuid.uuid4(), "seed@example.com"),
            )
        assert conn.execute("select count(*) from public.profiles").fetchone() == (2,)


def test_on_an_open_connection_the_caller_is_restored(sb: SupabaseCluster, db: str) -> None:
    with sb.connect(db) as conn, conn.transaction(force_rollback=True):
        conn.execute("set local search_path = public")
        user_id = create_user(conn, email="tx@example.com")
        assert conn.execute("select current_user, current_setting('search_path')").fetchone() == (
            "supabase_admin",
            "public",
        )
        assert conn.execute(
            "select count(*) from auth.users where id = %s", (user_id,)
        ).fetchone() == (1,)
    with sb.connect(db) as conn:
        assert conn.execute(
            "select count(*) from auth.users where email = 'tx@example.com'"
        ).fetchone() == (0,)


def test_phone_and_anonymous_users(sb: SupabaseCluster, db: str) -> None:
    phone_user = create_user(sb.server, dbname=db, phone="15550100")
    anonymous = create_user(sb.server, dbname=db, anonymous=True)
    with sb.connect(db) as conn:
        rows = {
            str(uid): rest
            for uid, *rest in conn.execute(
                "select u.id, u.email, u.phone_confirmed_at is not null, u.is_anonymous,"
                " u.raw_app_meta_data, (select array_agg(provider) from auth.identities i"
                " where i.user_id = u.id) from auth.users u"
            ).fetchall()
        }
    assert rows[str(phone_user)] == [
        None,
        True,
        False,
        {"provider": "phone", "providers": ["phone"]},
        ["phone"],
    ]
    assert rows[str(anonymous)] == [None, False, True, {}, None]


def test_a_duplicate_email_is_a_database_error(sb: SupabaseCluster, db: str) -> None:
    create_user(sb.server, dbname=db, email="twice@example.com")
    with pytest.raises(UserCreationError) as info:
        create_user(sb.server, dbname=db, email="TWICE@example.com")
    assert info.value.sqlstate == "23505"


def test_a_user_needs_an_identity(sb: SupabaseCluster) -> None:
    with pytest.raises(ValueError, match="email, a phone"):
        create_user(sb.server)


def test_a_not_null_column_is_not_blamed_on_the_functions_rights() -> None:
    problem = SqlProblem(
        'null value in column "username" of relation "profiles" violates not-null constraint',
        "23502",
        context="PL/pgSQL function handle_new_user() line 3 at SQL statement",
    )
    text = str(UserCreationError("eve@example.com", problem))
    assert "SECURITY DEFINER" not in text
    assert "raw_user_meta_data was not sent at sign-up" in text
