"""Access tokens: issued and checked with the project's one token module.

Issuing: ``tokens.Service.GenerateAccessToken`` (internal/tokens/service.go) — the claims
:meth:`rlsguard.identity.tokens.TokenSigner.user_claims` builds, with ``amr`` and ``aal``
from the session. Checking: ``parseJWTClaims`` / ``maybeLoadUserOrSession``
(internal/api/auth.go) — HS256 only (``alg: none`` and others refused), ``exp``/``nbf``
without leeway, ``sub`` required and a UUID; every failure is 403 ``bad_jwt``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

import jwt

from rlsguard.authservice.errors import BAD_JWT, NO_AUTHORIZATION, ApiError, bad_request, forbidden
from rlsguard.authservice.store import Row
from rlsguard.identity.tokens import AuthUser, TokenSigner

_BEARER = re.compile(r"^(?:B|b)earer (\S+)$")  # internal/api/auth.go bearerRegexp
MFA_METHODS = frozenset({"totp", "phone", "webauthn"})


def bearer_token(authorization: str | None) -> str:
    match = _BEARER.match(authorization or "")
    if match is None:
        raise ApiError(401, NO_AUTHORIZATION, "This endpoint requires a valid Bearer token")
    return match.group(1)


def verify_access_token(signer: TokenSigner, token: str) -> dict[str, Any]:
    """The claims of a token GoTrue would accept, else its 403 ``bad_jwt``."""
    try:
        claims = signer.verify(token, leeway_s=0)
    except jwt.PyJWTError as exc:
        raise forbidden(
            BAD_JWT, f"invalid JWT: unable to parse or verify signature, {exc}"
        ) from None
    if not isinstance(claims, dict) or not claims:
        raise forbidden(BAD_JWT, "invalid token: missing claims")
    sub = claims.get("sub")
    if not sub:
        raise forbidden(BAD_JWT, "invalid claim: missing sub claim")
    try:
        uuid.UUID(str(sub))
    except ValueError:
        raise bad_request(BAD_JWT, "invalid claim: sub claim must be a UUID") from None
    session_id = claims.get("session_id")
    if session_id:
        try:
            uuid.UUID(str(session_id))
        except ValueError:
            raise forbidden(BAD_JWT, "invalid claim: session_id claim must be a UUID") from None
    return claims


def auth_user(user: Row) -> AuthUser:
    return AuthUser(
        id=str(user["id"]),
        email=user["email"],
        phone=user["phone"],
        role=user["role"] or "authenticated",
        aud=user["aud"] or "authenticated",
        app_metadata=user["raw_app_meta_data"] or {},
        user_metadata=user["raw_user_meta_data"] or {},
        is_anonymous=bool(user["is_anonymous"]),
    )


def issue_access_token(
    signer: TokenSigner, user: Row, session_id: str, amr_rows: Sequence[Row]
) -> tuple[str, int]:
    """A signed access token and its ``exp``."""
    amr = [
        {"method": r["authentication_method"], "timestamp": int(r["created_at"].timestamp())}
        for r in amr_rows
    ]
    aal = "aal2" if any(a["method"] in MFA_METHODS for a in amr) else "aal1"
    claims = signer.user_claims(auth_user(user), aal=aal, amr=amr, session_id=session_id)
    return signer.sign(claims), int(claims["exp"])
