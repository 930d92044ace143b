"""GET/PUT /user, /settings and /health."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.authservice.conftest import PASSWORD, error_code, refresh, sign_in, signed_up

pytestmark = pytest.mark.auth


def _bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}"}


def test_get_user(auth_api: httpx.Client) -> None:
    email, session = signed_up(auth_api, full_name="Get Me")
    response = auth_api.get("/user", headers=_bearer(session))
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == email
    assert body["user_metadata"] == {"full_name": "Get Me"}
    assert body["identities"][0]["identity_data"]["email"] == email


def test_update_metadata_merges_and_null_removes(auth_api: httpx.Client) -> None:
    _, session = signed_up(auth_api, full_name="Old", keep="yes")
    response = auth_api.put(
        "/user", headers=_bearer(session), json={"data": {"full_name": "New", "keep": None}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["user_metadata"] == {"full_name": "New"}


def test_users_cannot_edit_app_metadata(auth_api: httpx.Client) -> None:
    _, session = signed_up(auth_api)
    response = auth_api.put(
        "/user", headers=_bearer(session), json={"app_metadata": {"role": "admin"}}
    )
    assert response.status_code == 403
    assert error_code(response) == "not_admin"


def test_password_change_ends_other_sessions(auth_api: httpx.Client) -> None:
    email, first = signed_up(auth_api)
    second = sign_in(auth_api, email).json()
    same = auth_api.put("/user", headers=_bearer(second), json={"password": PASSWORD})
    assert same.status_code == 422
    assert error_code(same) == "same_password"
    changed = auth_api.put("/user", headers=_bearer(second), json={"password": "brand-new-pass-2"})
    assert changed.status_code == 200, changed.text
    assert sign_in(auth_api, email).status_code == 400
    assert sign_in(auth_api, email, "brand-new-pass-2").status_code == 200
    assert refresh(auth_api, first["refresh_token"]).status_code == 400  # other session gone
    assert refresh(auth_api, second["refresh_token"]).status_code == 200  # this one kept


def test_settings_and_health(auth_api: httpx.Client) -> None:
    settings = auth_api.get("/settings").json()
    assert settings["external"]["email"] is True
    assert settings["disable_signup"] is False
    assert settings["mailer_autoconfirm"] is True  # [auth.email] enable_confirmations = false
    assert auth_api.get("/health").status_code == 200
