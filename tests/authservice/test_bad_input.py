"""Bad input: never a 500, never accepted when it should not be (property tests, bounded)."""

from __future__ import annotations

import json
import string
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlsguard.authservice.errors import ApiError
from rlsguard.authservice.tokens import verify_access_token
from rlsguard.identity.tokens import TokenSigner
from tests.authservice.conftest import PASSWORD, error_code, sign_in, signed_up

pytestmark = pytest.mark.auth

FAST = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HEADER_TEXT = st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=300).map(str.strip)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12,
)  # fmt: skip
FIELDS = st.sampled_from(["email", "password", "refresh_token", "token", "type", "data", "phone"])


# -- the token parser, as a unit ---------------------------------------------------------------
@FAST
@given(token=st.text(max_size=200) | st.binary(max_size=150).map(lambda b: b.hex()))
def test_token_parser_refuses_anything_unsigned(token: str) -> None:
    signer = TokenSigner(secret="s" * 48)
    with pytest.raises(ApiError) as refused:
        verify_access_token(signer, token)
    assert refused.value.status in (400, 403)


@FAST
@given(claims=st.dictionaries(st.sampled_from(["sub", "exp", "nbf", "iat", "aud", "role",
                                               "session_id"]), JSON, max_size=7))  # fmt: skip
def test_token_parser_on_signed_hostile_claims(claims: dict[str, Any]) -> None:
    """Correctly signed, any claim values: accepted only with a UUID ``sub``, else ApiError."""
    signer = TokenSigner(secret="s" * 48)
    try:
        token = signer.sign(claims)
    except (TypeError, ValueError):
        return  # not encodable as a JWT at all
    sub = claims.get("sub")
    try:
        valid_sub = uuid.UUID(str(sub)) is not None and sub not in (None, "")
    except ValueError:
        valid_sub = False
    if valid_sub and set(claims) <= {"sub", "aud", "role"}:
        assert verify_access_token(signer, token)["sub"] == sub  # nothing wrong: accepted
        return
    try:
        accepted = verify_access_token(signer, token)
    except ApiError as refused:
        assert refused.status in (400, 403)  # noqa: PT017 - either outcome is checked
        return
    assert uuid.UUID(str(accepted["sub"]))  # accepted only with a UUID sub


# -- over HTTP ---------------------------------------------------------------------------------
@FAST
@given(bearer=HEADER_TEXT)
def test_any_bearer_is_refused_without_500(auth_api: httpx.Client, bearer: str) -> None:
    response = auth_api.get("/user", headers={"Authorization": f"Bearer {bearer}".strip()})
    assert response.status_code in (400, 401, 403), response.text


@FAST
@given(email=st.text(max_size=80), password=st.text(max_size=100))
def test_password_grant_never_accepts_garbage(
    auth_api: httpx.Client, email: str, password: str
) -> None:
    response = sign_in(auth_api, email, password)
    assert response.status_code == 400, response.text
    assert error_code(response) in ("invalid_credentials", "validation_failed")


@pytest.fixture(scope="module")
def known_user(rlsguard_auth: Any) -> str:
    with httpx.Client(
        base_url=rlsguard_auth.auth_url, headers={"apikey": rlsguard_auth.anon_key}
    ) as api:
        email, _ = signed_up(api, "known")
    return email


@FAST
@given(password=st.text(max_size=100).filter(lambda p: p != PASSWORD))
def test_wrong_passwords_for_a_real_user(
    auth_api: httpx.Client, known_user: str, password: str
) -> None:
    response = sign_in(auth_api, known_user, password)
    assert response.status_code == 400
    assert error_code(response) in (
        "invalid_credentials",
        "validation_failed",
    )


@FAST
@given(token=st.text(max_size=40))
def test_otp_guesses_are_refused(auth_api: httpx.Client, known_user: str, token: str) -> None:
    response = auth_api.post("/verify", json={"type": "email", "email": known_user,
                                              "token": token})  # fmt: skip
    assert response.status_code in (400, 403), response.text


@FAST
@given(path=st.sampled_from(["/signup", "/token?grant_type=password",
                             "/token?grant_type=refresh_token", "/otp", "/verify", "/logout"]),
       body=st.dictionaries(FIELDS, JSON, max_size=4) | JSON)  # fmt: skip
def test_any_json_body_gets_a_4xx_not_a_500(auth_api: httpx.Client, path: str, body: Any) -> None:
    response = auth_api.post(path, content=json.dumps(body))
    assert response.status_code < 500, response.text


@FAST
@given(raw=st.binary(max_size=200))
def test_any_bytes_body_gets_a_4xx(auth_api: httpx.Client, raw: bytes) -> None:
    response = auth_api.post("/token?grant_type=password", content=raw)
    assert 400 <= response.status_code < 500, response.text


# -- fixed cases -------------------------------------------------------------------------------
def test_malformed_json(auth_api: httpx.Client) -> None:
    response = auth_api.post("/signup", content=b'{"email": ')
    assert response.status_code == 400
    assert error_code(response) == "bad_json"


def test_wrong_type_is_bad_json(auth_api: httpx.Client) -> None:
    response = auth_api.post("/signup", json={"email": ["a@b.co"], "password": 1})
    assert response.status_code == 400
    assert error_code(response) == "bad_json"


def test_oversized_body_is_413(auth_api: httpx.Client) -> None:
    big = json.dumps({"email": "a@b.co", "password": "x" * (1 << 20)})
    response = auth_api.post("/signup", content=big)
    assert response.status_code == 413
    assert error_code(response) == "request_entity_too_large"


def test_password_over_72_bytes(auth_api: httpx.Client) -> None:
    response = auth_api.post("/signup", json={"email": "long@auth.test", "password": "p" * 73})
    assert response.status_code == 400
    assert error_code(response) == "validation_failed"


@pytest.mark.parametrize("apikey", [None, "wrong-key"])
def test_apikey_is_required(rlsguard_auth: Any, apikey: str | None) -> None:
    headers = {"apikey": apikey} if apikey else {}
    response = httpx.get(rlsguard_auth.auth_url + "/settings", headers=headers)
    assert response.status_code == 401
    assert "API key" in response.json()["message"]


def test_service_role_key_is_accepted_too(rlsguard_auth: Any) -> None:
    if rlsguard_auth.service_role_key is None:
        pytest.skip("no service_role key for an external Supabase Auth")
    response = httpx.get(
        rlsguard_auth.auth_url + "/health", headers={"apikey": rlsguard_auth.service_role_key}
    )
    assert response.status_code == 200


def test_dated_api_version_gets_the_new_error_shape(auth_api: httpx.Client) -> None:
    response = auth_api.post(
        "/token", params={"grant_type": "password"},
        json={"email": "nobody@auth.test", "password": "x" * 8},
        headers={"X-Supabase-Api-Version": "2024-01-01"},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json() == {"code": "invalid_credentials",
                               "message": "Invalid login credentials"}  # fmt: skip
    assert response.headers["x-supabase-api-version"] == "2024-01-01"


def test_legacy_error_shape(auth_api: httpx.Client) -> None:
    response = sign_in(auth_api, "nobody@auth.test", "x" * 8)
    assert response.json() == {"code": 400, "error_code": "invalid_credentials",
                               "msg": "Invalid login credentials"}  # fmt: skip
    assert response.headers["x-sb-error-code"] == "invalid_credentials"
