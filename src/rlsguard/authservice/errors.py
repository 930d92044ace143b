"""GoTrue's error bodies, so clients parse our errors exactly as theirs.

Shapes (supabase/auth ``internal/api/apierrors/apierrors.go``, ``internal/api/errors.go``):

- ``HTTPError``: ``{"code": <status>, "error_code": "...", "msg": "..."}`` plus the
  ``x-sb-error-code`` header; with ``X-Supabase-Api-Version: 2024-01-01`` or later (what
  supabase-py sends) the body is ``{"code": "<error_code>", "message": "..."}`` and the
  response echoes the version header.
- ``OAuthError`` (``/token`` request errors): ``{"error": "...", "error_description": "..."}``,
  always 400.
- ``WeakPasswordError``: the HTTPError shape, status 422, plus ``weak_password.reasons``.

Codes are GoTrue's (``internal/api/apierrors/errorcode.go``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024 = "2024-01-01"
_API_VERSION = re.compile(r"^2[0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")

# The codes this service answers with (a subset of errorcode.go).
UNKNOWN = "unknown"
UNEXPECTED_FAILURE = "unexpected_failure"
VALIDATION_FAILED = "validation_failed"
BAD_JSON = "bad_json"
EMAIL_EXISTS = "email_exists"
BAD_JWT = "bad_jwt"
NOT_ADMIN = "not_admin"
NO_AUTHORIZATION = "no_authorization"
USER_NOT_FOUND = "user_not_found"
SESSION_NOT_FOUND = "session_not_found"
SESSION_EXPIRED = "session_expired"
REFRESH_TOKEN_NOT_FOUND = "refresh_token_not_found"
REFRESH_TOKEN_ALREADY_USED = "refresh_token_already_used"
SIGNUP_DISABLED = "signup_disabled"
USER_BANNED = "user_banned"
EMAIL_NOT_CONFIRMED = "email_not_confirmed"
USER_ALREADY_EXISTS = "user_already_exists"
SAME_PASSWORD = "same_password"
OTP_EXPIRED = "otp_expired"
OTP_DISABLED = "otp_disabled"
WEAK_PASSWORD = "weak_password"
OVER_REQUEST_RATE_LIMIT = "over_request_rate_limit"
OVER_EMAIL_SEND_RATE_LIMIT = "over_email_send_rate_limit"
INVALID_CREDENTIALS = "invalid_credentials"
EMAIL_ADDRESS_INVALID = "email_address_invalid"
REQUEST_ENTITY_TOO_LARGE = "request_entity_too_large"
# Not GoTrue's (its limiter is in-process and cannot fail): a shared limiter that is down and
# configured to fail closed answers 503 with this code.
RATE_LIMITER_UNAVAILABLE = "rate_limiter_unavailable"


@dataclass
class ApiError(Exception):
    """GoTrue's ``HTTPError``."""

    status: int
    error_code: str
    msg: str
    weak_password_reasons: list[str] | None = field(default=None)
    headers: dict[str, str] | None = field(default=None)  # e.g. Retry-After on a 429

    def __str__(self) -> str:
        return f"{self.status}: {self.msg}"


@dataclass
class OAuthError(Exception):
    """GoTrue's ``OAuthError`` (``/token`` only), always HTTP 400."""

    error: str
    description: str


def bad_request(code: str, msg: str) -> ApiError:
    return ApiError(400, code, msg)


def unprocessable(code: str, msg: str) -> ApiError:
    return ApiError(422, code, msg)


def forbidden(code: str, msg: str) -> ApiError:
    return ApiError(403, code, msg)


def requested_api_version(header: str | None) -> str | None:
    """The client's API version if it is a valid date, else None (GoTrue: initial version)."""
    if header and _API_VERSION.match(header.strip()):
        return header.strip()
    return None


def _json(body: Any, status: int, headers: dict[str, str]) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def error_response(exc: ApiError | OAuthError, api_version: str | None) -> Response:
    """The body and headers GoTrue sends for ``exc`` to a client speaking ``api_version``."""
    if isinstance(exc, OAuthError):
        return _json({"error": exc.error, "error_description": exc.description}, 400, {})
    dated = api_version is not None and api_version >= API_VERSION_2024
    headers = {"x-sb-error-code": exc.error_code, **(exc.headers or {})}
    body: dict[str, Any]
    if dated:
        assert api_version is not None
        headers[API_VERSION_HEADER] = api_version
        body = {"code": exc.error_code, "message": exc.msg}
    else:
        body = {"code": exc.status, "error_code": exc.error_code, "msg": exc.msg}
    if exc.weak_password_reasons is not None:
        body["weak_password"] = {"reasons": exc.weak_password_reasons}
    return _json(body, exc.status, headers)
