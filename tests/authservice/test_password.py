"""Password sign-in: success, and the failures a support engineer sees (runbook P2)."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest

from rlsguard.supabase.users import create_user
from tests.authservice.conftest import PASSWORD, error_code, sign_in, signed_up, unique_email

pytestmark = pytest.mark.auth


def test_sign_in_returns_gotrue_shaped_tokens(auth_api: httpx.Client, rlsguard_auth: Any) -> None:
    email, _ = signed_up(auth_api)
    response = sign_in(auth_api, email)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"access_token", "token_type", "expires_in", "expires_at",
                         "refresh_token", "user"}  # fmt: skip
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == body["user"]["id"]
    assert claims["aud"] == "authenticated"
    assert claims["role"] == "authenticated"
    assert claims["email"] == email
    assert claims["aal"] == "aal1"
    assert claims["amr"][0]["method"] == "password"
    assert claims["exp"] == body["expires_at"]
    assert body["user"]["last_sign_in_at"]


def test_wrong_password_and_unknown_user_get_the_same_answer(auth_api: httpx.Client) -> None:
    email, _ = signed_up(auth_api)
    wrong = sign_in(auth_api, email, "not-the-password")
    unknown = sign_in(auth_api, unique_email("nobody"), "not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()
    assert error_code(wrong) == "invalid_credentials"


@pytest.mark.auth_internal
def test_unconfirmed_user_cannot_sign_in(auth_api: httpx.Client, auth_db: Any) -> None:
    email = unique_email("unconfirmed")
    create_user(auth_db, email=email, password=PASSWORD, confirmed=False)
    response = sign_in(auth_api, email)
    assert response.status_code == 400
    assert error_code(response) == "email_not_confirmed"
    assert sign_in(auth_api, email, "wrong-password-1").json()["msg"] == (
        "Invalid login credentials"
    )  # the password is checked first: no confirmation status leaks to a guesser


@pytest.mark.auth_internal
def test_banned_user_cannot_sign_in_or_refresh(auth_api: httpx.Client, auth_db: Any) -> None:
    email, session = signed_up(auth_api, "banned")
    auth_db.execute(
        "update auth.users set banned_until = now() + interval '1 day' where email = %s",
        (email,),
    )
    response = sign_in(auth_api, email)
    assert response.status_code == 400
    assert error_code(response) == "user_banned"
    refreshed = auth_api.post(
        "/token", params={"grant_type": "refresh_token"},
        json={"refresh_token": session["refresh_token"]},
    )  # fmt: skip
    assert refreshed.status_code == 400
    assert error_code(refreshed) == "user_banned"
    user = auth_api.get("/user", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert user.status_code == 403
    assert error_code(user) == "user_banned"


def test_unsupported_grant_type(auth_api: httpx.Client) -> None:
    response = auth_api.post("/token", params={"grant_type": "magic"}, json={})
    assert response.status_code == 400
    assert error_code(response) == "invalid_credentials"


def test_sign_in_needs_an_email(auth_api: httpx.Client) -> None:
    response = auth_api.post("/token", params={"grant_type": "password"}, json={"password": "x"})
    assert response.status_code == 400
    assert error_code(response) == "validation_failed"
