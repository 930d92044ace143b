"""Email OTP: the code is mailed (never stored in clear), verifies once, and expires."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.authservice.conftest import error_code, signed_up, unique_email

pytestmark = [pytest.mark.auth, pytest.mark.auth_internal]


def _code_for(smtp: Any, email: str) -> str:
    """The code in the newest mail to ``email`` (the sink stored it before /otp answered)."""
    for message in reversed(smtp.messages()):
        if email in message.rcpt_tos:
            match = re.search(r"code is (\d{6,10})", message.text or "")
            assert match, message.text
            return match.group(1)
    raise AssertionError(f"no OTP mail for {email}")


def test_otp_signs_a_new_user_in(auth_api: httpx.Client, rlsguard_auth: Any, auth_db: Any) -> None:
    email = unique_email("otp")
    response = auth_api.post("/otp", json={"email": email, "data": {"full_name": "Otto"}})
    assert response.status_code == 200
    assert response.json() == {}
    code = _code_for(rlsguard_auth.smtp, email)
    stored = auth_db.execute(
        "select confirmation_token from auth.users where email = %s", (email,)
    ).fetchone()[0]
    assert stored
    assert code not in stored
    wrong = auth_api.post("/verify", json={"type": "email", "email": email, "token": "000000"})
    assert wrong.status_code == 403
    assert error_code(wrong) == "otp_expired"
    ok = auth_api.post("/verify", json={"type": "email", "email": email, "token": code})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["user"]["email"] == email
    assert body["user"]["email_confirmed_at"]
    assert body["user"]["user_metadata"]["full_name"] == "Otto"
    again = auth_api.post("/verify", json={"type": "email", "email": email, "token": code})
    assert again.status_code == 403  # one use only


def test_otp_expires(auth_api: httpx.Client, rlsguard_auth: Any, auth_clock: Any) -> None:
    email, _ = signed_up(auth_api, "otp-expiry")
    assert auth_api.post("/otp", json={"email": email}).status_code == 200
    code = _code_for(rlsguard_auth.smtp, email)
    auth_clock.advance(3601)  # [auth.email] otp_expiry = 3600
    late = auth_api.post("/verify", json={"type": "magiclink", "email": email, "token": code})
    assert late.status_code == 403
    assert error_code(late) == "otp_expired"


def test_otp_without_signup(auth_api: httpx.Client) -> None:
    response = auth_api.post("/otp", json={"email": unique_email("nobody"), "create_user": False})
    assert response.status_code == 422
    assert error_code(response) == "otp_disabled"


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "validation_failed"), ({"type": "email"}, "validation_failed"),
     ({"type": "sms", "token": "123456", "email": "a@b.co"}, "validation_failed")],
)  # fmt: skip
def test_verify_input(auth_api: httpx.Client, body: dict[str, Any], code: str) -> None:
    response = auth_api.post("/verify", json=body)
    assert response.status_code == 400
    assert error_code(response) == code
