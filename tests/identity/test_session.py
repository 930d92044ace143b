"""Impersonated sessions behave like a PostgREST request, seen from inside SQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from rlsguard.database import Database
from rlsguard.harness.engine import Engine
from rlsguard.identity.personas import PersonaError
from rlsguard.identity.session import Request, denial_kind

ALICE = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def db(notes_engine: Engine) -> Iterator[Database]:
    """A clone of the notes project, inside a transaction that is rolled back."""
    with notes_engine.cloned_database() as database:
        database.conn.execute("BEGIN")
        yield database
        database.conn.execute("ROLLBACK")


def test_user_session_sees_its_claims_from_sql(db: Database) -> None:
    with db.as_persona("alice") as s:
        me = s.scalar("select public.whoami()")
        claims = s.scalar("select auth.jwt()")
    assert me["uid"] == ALICE
    assert me["role"] == "authenticated"
    assert me["email"] == "alice@notes.test"
    assert me["current_user"] == "authenticated"
    assert me["session_user"] == "authenticator"  # as PostgREST's connection
    assert claims["sub"] == ALICE
    assert claims["app_metadata"]["plan"] == "pro"
    assert claims["user_metadata"] == {"name": "Alice"}
    assert claims["role"] == "authenticated"


def test_rls_filters_rows_per_user(db: Database) -> None:
    with db.as_persona("alice") as s:
        alice = sorted(r["body"] for r in s.fetch("select body from notes"))
    with db.as_persona("bob") as s:
        bob = [r["body"] for r in s.fetch("select body from notes")]
    assert alice == ["alice 1", "alice 2"]
    assert bob == ["bob 1"]


def test_anon_and_service_role_have_no_uid(db: Database) -> None:
    with db.as_anon() as s:
        anon = s.scalar("select public.whoami()")
    with db.as_service_role() as s:
        service = s.scalar("select public.whoami()")
        service_count = s.scalar("select count(*) from notes")
    assert anon["uid"] is None
    assert anon["role"] == "anon"
    assert service["uid"] is None
    assert service["role"] == "service_role"
    assert service_count == 3  # BYPASSRLS


def test_role_settings_and_request_context_reach_sql(db: Database) -> None:
    request = Request(method="get", path="/rest/v1/notes", headers={"X-Client-Info": "supabase-js"})
    with db.as_persona("alice", request=request) as s:
        me = s.scalar("select public.whoami()")
        headers = json.loads(s.scalar("select current_setting('request.headers')"))
    assert me["method"] == "GET"
    assert me["path"] == "/rest/v1/notes"
    assert me["statement_timeout"] == "7s"  # ALTER ROLE authenticated SET, as PostgREST applies
    assert me["search_path"] == "public, public, extensions"
    assert headers["x-client-info"] == "supabase-js"  # names lower-cased
    assert headers["authorization"].startswith("Bearer ey")
    assert headers["apikey"] == me["apikey"]


def test_everything_is_gone_after_the_request(db: Database) -> None:
    with db.as_persona("alice") as s:
        s.execute("select 1")
    after = db.fetch(
        "select current_user, session_user, current_setting('request.jwt.claims', true) c, "
        "current_setting('statement_timeout') t, auth.uid() uid"
    )[0]
    assert after["current_user"] == after["session_user"] == "supabase_admin"
    assert after["c"] == ""
    assert after["t"] != "7s"
    assert after["uid"] is None


def test_writes_are_kept_on_success_and_undone_on_error(db: Database) -> None:
    with db.as_persona("alice") as s:
        s.execute("insert into notes (body) values ('kept')")
    assert db.scalar("select count(*) from notes where body = 'kept'") == 1
    session = db.as_persona("alice")
    session.__enter__()
    session.execute("insert into notes (body) values ('undone')")
    session.close(success=False)  # what 'with' does when the block raises
    assert db.scalar("select count(*) from notes where body = 'undone'") == 0


def test_read_only_requests_cannot_write(db: Database) -> None:
    with (
        db.as_persona("alice", request=Request(method="GET")) as s,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
    ):
        s.execute("insert into notes (body) values ('nope')")
    assert db.scalar("select current_setting('transaction_read_only')") == "off"


def test_the_two_42501s_are_told_apart(db: Database) -> None:
    forged = "insert into notes (owner_id, body) values (%s, 'forged')"
    with (
        db.as_persona("alice") as s,
        pytest.raises(psycopg.errors.InsufficientPrivilege) as rls,
    ):
        s.execute(forged, ("22222222-2222-2222-2222-222222222222",))
    with db.as_anon() as s, pytest.raises(psycopg.errors.InsufficientPrivilege) as grant:
        s.execute("select * from notes")
    assert denial_kind(rls.value) == "rls"
    assert "new row violates row-level security policy" in str(rls.value)
    assert denial_kind(grant.value) == "grant"
    assert "permission denied for table notes" in str(grant.value)
    assert denial_kind(ValueError()) is None


def test_claim_overrides_from_config_and_call(db: Database) -> None:
    with db.as_persona("alice_mfa") as s:
        assert s.scalar("select auth.jwt() ->> 'aal'") == "aal2"
    with db.as_persona("alice", is_anonymous=True) as s:
        assert s.scalar("select (auth.jwt() ->> 'is_anonymous')::boolean") is True


def test_as_user_by_email(db: Database) -> None:
    with db.as_user("BOB@notes.test") as s:
        assert s.scalar("select auth.email()") == "bob@notes.test"


def test_persona_bound_to_a_missing_user_says_what_to_do(db: Database) -> None:
    with pytest.raises(PersonaError, match=r"persona 'ghost' is bound to user 'ghost@notes.test'"):
        db.as_persona("ghost")
    with pytest.raises(PersonaError, match=r"unknown persona 'nobody'.*alice"):
        db.as_persona("nobody")


def test_users_created_in_the_test_can_sign_in(db: Database) -> None:
    carol = db.create_user("carol@notes.test", user_metadata={"name": "Carol"})
    assert carol.app_metadata == {"provider": "email", "providers": ["email"]}
    with db.as_user("carol@notes.test") as s:
        s.execute("insert into notes (body) values ('carol 1')")
        assert [r["body"] for r in s.fetch("select body from notes")] == ["carol 1"]
        assert s.scalar("select auth.jwt() -> 'user_metadata' ->> 'name'") == "Carol"


def test_made_up_users_are_realistic_and_reproducible(db: Database) -> None:
    first = db.create_user()
    second = db.create_user()
    assert first.email != second.email
    assert first.email is not None
    assert first.email.endswith("@example.test")
    assert " " in first.user_metadata["full_name"]
    from rlsguard.identity.factory import UserFactory

    assert UserFactory().next().email == first.email  # same seed, same first user
