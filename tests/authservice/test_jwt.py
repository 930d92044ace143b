"""Bearer tokens the service refuses (auth.go parseJWTClaims / maybeLoadUserOrSession).

Every bad token is forged with the service's own secret except where the signature is the
point, so the only reason it can fail is the property under test.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from tests.authservice.conftest import error_code, signed_up

pytestmark = [pytest.mark.auth, pytest.mark.auth_internal]


def _get_user(api: httpx.Client, token: str) -> httpx.Response:
    return api.get("/user", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def valid_claims(auth_api: httpx.Client) -> dict[str, Any]:
    _, session = signed_up(auth_api)
    return jwt.decode(session["access_token"], options={"verify_signature": False})


def _unsigned(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_the_real_token_is_accepted(
    auth_api: httpx.Client, rlsguard_auth: Any, valid_claims: dict[str, Any]
) -> None:
    token = rlsguard_auth.signer.sign(valid_claims)
    response = _get_user(auth_api, token)
    assert response.status_code == 200
    assert response.json()["id"] == valid_claims["sub"]


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("expired", 403, "bad_jwt"),
        ("not_yet_valid", 403, "bad_jwt"),
        ("wrong_signature", 403, "bad_jwt"),
        ("alg_none", 403, "bad_jwt"),
        ("hs512", 403, "bad_jwt"),
        ("missing_sub", 403, "bad_jwt"),
        ("sub_not_uuid", 400, "bad_jwt"),
        ("unknown_user", 403, "user_not_found"),
        ("unknown_session", 403, "session_not_found"),
        ("wrong_aud", 400, "validation_failed"),
        ("garbage", 403, "bad_jwt"),
    ],
)
def test_bad_tokens(
    auth_api: httpx.Client,
    rlsguard_auth: Any,
    valid_claims: dict[str, Any],
    case: str,
    status: int,
    code: str,
) -> None:
    signer = rlsguard_auth.signer
    now = int(time.time())
    claims = dict(valid_claims)
    if case == "expired":
        claims.update(iat=now - 7200, exp=now - 1)  # no leeway in GoTrue
    elif case == "not_yet_valid":
        claims["nbf"] = now + 600
    elif case == "missing_sub":
        del claims["sub"]
    elif case == "sub_not_uuid":
        claims["sub"] = "not-a-uuid"
    elif case == "unknown_user":
        claims["sub"] = str(uuid.uuid4())
    elif case == "unknown_session":
        claims["session_id"] = str(uuid.uuid4())
    elif case == "wrong_aud":
        claims["aud"] = "someone-else"
    if case == "wrong_signature":
        token = jwt.encode(claims, "x" * 48, algorithm="HS256")
    elif case == "alg_none":
        token = _unsigned(claims)
    elif case == "hs512":
        token = jwt.encode(claims, signer.secret, algorithm="HS512")
    elif case == "garbage":
        token = "not.a.jwt"
    else:
        token = signer.sign(claims)
    response = _get_user(auth_api, token)
    assert response.status_code == status, response.text
    assert error_code(response) == code


def test_no_bearer_token(auth_api: httpx.Client) -> None:
    response = auth_api.get("/user")
    assert response.status_code == 401
    assert error_code(response) == "no_authorization"


def test_expiry_is_read_from_the_services_clock(auth_api: httpx.Client, auth_clock: Any) -> None:
    """A token good now is refused once the service's time passes ``exp``."""
    _, session = signed_up(auth_api)
    assert _get_user(auth_api, session["access_token"]).status_code == 200
    auth_clock.advance(3601)
    response = _get_user(auth_api, session["access_token"])
    assert response.status_code == 403
    assert error_code(response) == "bad_jwt"
