"""Sign-out scopes (logout.go): local ends this session, others the rest, global all."""

from __future__ import annotations

import httpx
import pytest

from tests.authservice.conftest import error_code, refresh, sign_in, signed_up

pytestmark = pytest.mark.auth


def _logout(api: httpx.Client, token: str, scope: str | None = None) -> httpx.Response:
    params = {"scope": scope} if scope else {}
    return api.post("/logout", params=params, headers={"Authorization": f"Bearer {token}"})


def _sessions(api: httpx.Client, n: int) -> tuple[str, list[dict[str, str]]]:
    email, first = signed_up(api)
    others = [sign_in(api, email).json() for _ in range(n - 1)]
    return email, [first, *others]


@pytest.mark.parametrize(
    ("scope", "alive"),
    [("local", [False, True, True]), ("others", [True, False, False]),
     ("global", [False, False, False]), (None, [False, False, False])],
)  # fmt: skip
def test_scopes(auth_api: httpx.Client, scope: str | None, alive: list[bool]) -> None:
    _, sessions = _sessions(auth_api, 3)
    response = _logout(auth_api, sessions[0]["access_token"], scope)
    assert response.status_code == 204
    result = [refresh(auth_api, s["refresh_token"]).status_code == 200 for s in sessions]
    assert result == alive


def test_logged_out_session_token_is_refused(auth_api: httpx.Client) -> None:
    _, session = signed_up(auth_api)
    assert _logout(auth_api, session["access_token"], "local").status_code == 204
    user = auth_api.get("/user", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert user.status_code == 403
    assert error_code(user) == "session_not_found"


def test_unknown_scope(auth_api: httpx.Client) -> None:
    _, session = signed_up(auth_api)
    response = _logout(auth_api, session["access_token"], "everything")
    assert response.status_code == 400
    assert error_code(response) == "validation_failed"


def test_logout_needs_a_bearer_token(auth_api: httpx.Client) -> None:
    response = auth_api.post("/logout")
    assert response.status_code == 401
    assert error_code(response) == "no_authorization"
