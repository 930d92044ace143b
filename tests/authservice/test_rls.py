"""A token earned by a real sign-in drives the RLS checks, like a minted persona token."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from rlsguard.identity.session import Identity, denial_kind
from tests.authservice.conftest import sign_in

pytestmark = [pytest.mark.auth, pytest.mark.auth_internal]

STUDENT = "student@school.test"  # seeded by supabase/seed.sql, password "password123"


def _visible_emails(session: Any) -> set[str]:
    return {r["email"] for r in session.fetch("select email from public.users")}


def test_signed_in_token_runs_the_reference_platforms_policies(
    auth_api: httpx.Client, rlsguard_auth: Any, rlsguard_engine: Any
) -> None:
    response = sign_in(auth_api, STUDENT, "password123")
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    # Verified as PostgREST verifies the bearer token: same secret, signature and times.
    claims = rlsguard_engine.signer.verify(token)
    earned = Identity(role=claims["role"], claims=claims, token=token, user_id=claims["sub"])
    with rlsguard_engine.connect(rlsguard_auth.dbname, autocommit=True) as conn:
        db = rlsguard_engine.database(conn)
        with db.session(earned) as session:
            assert session.scalar("select auth.uid()::text") == claims["sub"]
            seen = _visible_emails(session)
        with db.as_persona("student") as minted:
            assert _visible_emails(minted) == seen  # earned and minted tokens agree
    assert STUDENT in seen
    assert "teacher@school.test" in seen  # staff of the student's own school
    assert "student2@school.test" not in seen  # other students stay hidden
    assert "other-student@other.test" not in seen  # another tenant


def test_the_services_anon_key_is_refused_profiles(
    rlsguard_auth: Any, rlsguard_engine: Any
) -> None:
    """The anon key the service hands out is the engine's: no grant on profiles."""
    claims = rlsguard_engine.signer.verify(rlsguard_auth.anon_key)
    anon = Identity(role=claims["role"], claims=claims, token=rlsguard_auth.anon_key)
    with rlsguard_engine.connect(rlsguard_auth.dbname, autocommit=True) as conn:
        db = rlsguard_engine.database(conn)
        with pytest.raises(psycopg.Error) as denied, db.session(anon) as session:
            session.fetch("select email from public.users")
    assert denial_kind(denied.value) == "grant"
