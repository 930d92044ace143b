"""Sign-up: GoTrue's response, the users row, and the project's on_auth_user_created trigger."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.authservice.conftest import PASSWORD, error_code, sign_up, signed_up, unique_email

pytestmark = pytest.mark.auth


def test_signup_with_autoconfirm_returns_a_session(auth_api: httpx.Client) -> None:
    email, body = signed_up(auth_api, full_name="Ada Test")
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert len(body["refresh_token"]) >= 12
    user = body["user"]
    assert user["email"] == email
    assert user["aud"] == "authenticated"
    assert user["role"] == "authenticated"
    assert user["user_metadata"]["full_name"] == "Ada Test"
    assert user["app_metadata"] == {"provider": "email", "providers": ["email"]}
    assert user["identities"][0]["provider"] == "email"
    assert "encrypted_password" not in user


@pytest.mark.auth_internal
def test_signup_fires_the_projects_trigger(auth_api: httpx.Client, auth_db: Any) -> None:
    email, body = signed_up(auth_api, "trigger", full_name="Grace Trigger")
    row = auth_db.execute(
        "select email, full_name from public.users where id = %s", (body["user"]["id"],)
    ).fetchone()
    assert row == (email, "Grace Trigger")
    stored = auth_db.execute(
        "select encrypted_password from auth.users where id = %s", (body["user"]["id"],)
    ).fetchone()[0]
    assert stored.startswith("$2a$04$")  # the test service's cost (GoTrue's QuickHashCost)


def test_second_signup_with_the_same_email_is_refused(auth_api: httpx.Client) -> None:
    email, _ = signed_up(auth_api)
    again = sign_up(auth_api, email.upper())
    assert again.status_code == 422
    assert error_code(again) == "user_already_exists"


@pytest.mark.parametrize(("password", "reasons"), [("short", ["length"]), ("", None)])
def test_weak_or_missing_password(auth_api: httpx.Client, password: str, reasons: Any) -> None:
    response = sign_up(auth_api, unique_email(), password)
    if reasons is None:
        assert response.status_code == 400
        assert error_code(response) == "validation_failed"
    else:
        assert response.status_code == 422
        assert error_code(response) == "weak_password"
        assert response.json()["weak_password"]["reasons"] == reasons


def test_invalid_email_is_a_400(auth_api: httpx.Client) -> None:
    response = sign_up(auth_api, "not-an-email", PASSWORD)
    assert response.status_code == 400
    assert error_code(response) in ("email_address_invalid", "validation_failed")


@pytest.mark.auth_internal
def test_a_failing_signup_trigger_is_gotrues_database_error(
    auth_api: httpx.Client, auth_db: Any
) -> None:
    """The production symptom of a broken on_auth_user_created: 500, nothing saved."""
    auth_db.execute(
        "create function public.refuse_broken() returns trigger language plpgsql as "
        "$$ begin if new.email like '%@broken.test' then raise exception 'boom'; end if; "
        "return new; end $$"
    )
    auth_db.execute(
        "create trigger refuse_broken after insert on auth.users "
        "for each row execute function public.refuse_broken()"
    )
    try:
        response = sign_up(auth_api, f"x-{unique_email('t')}".replace("@auth.test", "@broken.test"))
    finally:
        auth_db.execute("drop trigger refuse_broken on auth.users")
        auth_db.execute("drop function public.refuse_broken()")
    assert response.status_code == 500
    assert response.json()["msg"] == "Database error saving new user"
    assert auth_db.execute(
        "select count(*) from auth.users where email like '%@broken.test'"
    ).fetchone() == (0,)
