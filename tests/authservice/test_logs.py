"""The service's log: one JSON object per line, and no secret ever written to it."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.authservice.conftest import PASSWORD, error_code, refresh, sign_in, signed_up

pytestmark = [pytest.mark.auth, pytest.mark.auth_internal]


def test_no_secret_reaches_the_log(auth_api: httpx.Client, rlsguard_auth: Any) -> None:
    email, session = signed_up(auth_api, "logs")
    rotated = refresh(auth_api, session["refresh_token"]).json()
    assert sign_in(auth_api, email, "wrong-password-for-logs").status_code == 400
    assert auth_api.post("/otp", json={"email": email}).status_code == 200
    otp_mail = rlsguard_auth.smtp.messages()[-1]
    otp = re.search(r"code is (\d+)", otp_mail.text or "")
    assert otp is not None
    bad = auth_api.post("/verify", json={"type": "email", "email": email, "token": "999999x"})
    assert bad.status_code == 403
    assert error_code(bad) == "otp_expired"
    secrets = {
        "password": PASSWORD,
        "wrong password": "wrong-password-for-logs",
        "jwt secret": rlsguard_auth.jwt_secret,
        "anon key": rlsguard_auth.anon_key,
        "service_role key": rlsguard_auth.service_role_key,
        "access token": session["access_token"],
        "refresh token": session["refresh_token"],
        "rotated refresh token": rotated["refresh_token"],
        "otp": otp.group(1),
    }
    text = rlsguard_auth.server.log_path.read_text(encoding="utf-8", errors="replace")
    assert '"event":"request"' in text  # the log is being written
    leaked = [name for name, value in secrets.items() if value and value in text]
    assert leaked == []
    for line in text.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            assert {"time", "level", "msg"} <= set(record)
