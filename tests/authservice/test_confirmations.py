"""With ``[auth.email] enable_confirmations = true``: no session before the email is confirmed.

The app runs under uvicorn in this process (real socket, database and SMTP sink), so the test
can give it other settings and a clock it moves.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rlsguard.authservice.app import create_app
from rlsguard.authservice.mailer import SmtpMailer
from rlsguard.authservice.server import AUTH_ADMIN
from rlsguard.authservice.settings import load_auth_settings
from rlsguard.clock import ManualClock
from tests.authservice.conftest import PASSWORD, error_code, serve_in_thread, unique_email

pytestmark = [pytest.mark.auth, pytest.mark.auth_internal]


@pytest.fixture
def confirming(rlsguard_auth: Any, rlsguard_engine: Any) -> Iterator[tuple[httpx.Client, Any]]:
    settings = load_auth_settings(
        None,
        email={"enable_confirmations": True},
        rate_limit={"email_sent": 2},
        rate_limit_header="X-Forwarded-For",
        bcrypt_cost=4,
        minimum_password_length=8,
    )
    clock = ManualClock(time.time())
    app = create_app(
        dsn=rlsguard_engine.conninfo(rlsguard_auth.dbname, user=AUTH_ADMIN),
        secret=rlsguard_auth.jwt_secret,
        settings=settings,
        issuer="http://testserver/auth/v1",
        clock=clock,
        mailer=SmtpMailer(rlsguard_auth.smtp.host, rlsguard_auth.smtp.port),
    )
    headers = {"apikey": rlsguard_auth.anon_key, "X-Forwarded-For": "10.9.9.9"}
    with (
        serve_in_thread(app) as url,
        httpx.Client(base_url=url + "/auth/v1", headers=headers) as client,
    ):
        yield client, clock


def test_signup_waits_for_confirmation(
    confirming: tuple[httpx.Client, Any], rlsguard_auth: Any
) -> None:
    client, _ = confirming
    email = unique_email("confirm")
    signup = client.post("/signup", json={"email": email, "password": PASSWORD})
    assert signup.status_code == 200, signup.text
    assert "access_token" not in signup.json()
    assert signup.json()["confirmation_sent_at"]
    refused = client.post("/token?grant_type=password", json={"email": email, "password": PASSWORD})
    assert refused.status_code == 400
    assert error_code(refused) == "email_not_confirmed"
    mail = [m for m in rlsguard_auth.smtp.messages() if email in m.rcpt_tos][-1]
    code = re.search(r"code is (\d+)", mail.text or "")
    assert code is not None
    verified = client.post("/verify", json={"type": "signup", "email": email, "token": code[1]})
    assert verified.status_code == 200, verified.text
    signed_in = client.post(
        "/token?grant_type=password", json={"email": email, "password": PASSWORD}
    )
    assert signed_in.status_code == 200


def test_repeated_signup_does_not_reveal_the_account(confirming: tuple[httpx.Client, Any]) -> None:
    client, clock = confirming
    email = unique_email("enum")
    first = client.post("/signup", json={"email": email, "password": PASSWORD}).json()
    clock.advance(3600)  # a fresh email allowance
    again = client.post("/signup", json={"email": email, "password": PASSWORD})
    assert again.status_code == 200  # GoTrue answers with a made-up user (sanitizeUser)
    assert again.json()["id"] != first["id"]


def test_email_rate_limit(confirming: tuple[httpx.Client, Any]) -> None:
    client, clock = confirming
    clock.advance(3600)
    codes = [
        client.post("/otp", json={"email": unique_email("limited")}).status_code for _ in range(3)
    ]
    assert codes[:2] == [200, 200]
    assert codes[2] == 429


def test_request_rate_limit(confirming: tuple[httpx.Client, Any]) -> None:
    client, _ = confirming
    body = {"email": "nobody@auth.test", "password": "wrong-password"}
    statuses = [client.post("/token?grant_type=password", json=body).status_code for _ in range(31)]
    assert statuses[:30] == [400] * 30  # burst of 30
    assert statuses[30] == 429
    last = client.post("/token?grant_type=password", json=body)
    assert error_code(last) == "over_request_rate_limit"
