"""JWTs shaped exactly like GoTrue's, and the anon / service_role API keys.

One implementation for the whole project: impersonated sessions put these
claims into ``request.jwt.claims``, and the reference auth service signs the
same tokens for real clients. Claim shape (GoTrue ``AccessTokenClaims``):
``aud`` is a string, ``email`` and ``phone`` are always present (empty string
when unset), ``is_anonymous`` always present, ``amr`` a list of objects.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlsguard.clock import SYSTEM_CLOCK, Clock

ALGORITHM = "HS256"
DEFAULT_ISSUER = "http://127.0.0.1:54321/auth/v1"  # the CLI's default auth URL
DEFAULT_EXPIRY_S = 3600
API_KEY_ISSUER = "supabase-demo"  # what `supabase start` signs its keys with
API_KEY_EXP = 1983812996  # the CLI's fixed expiry for local keys (2032-11-12)
CLOCK_SKEW_S = 30  # PostgREST's allowed skew for exp/nbf/iat
API_ROLES = ("anon", "authenticated", "service_role")


def new_secret() -> str:
    """A per-run HS256 secret (Supabase requires at least 32 characters)."""
    return secrets.token_urlsafe(48)


@dataclass(frozen=True)
class AuthUser:
    """The parts of an ``auth.users`` row that go into a token."""

    id: str
    email: str | None = None
    phone: str | None = None
    role: str = "authenticated"
    aud: str = "authenticated"
    app_metadata: Mapping[str, Any] = field(default_factory=dict)
    user_metadata: Mapping[str, Any] = field(default_factory=dict)
    is_anonymous: bool = False


@dataclass(frozen=True)
class TokenSigner:
    """Signs and verifies tokens with one secret, reading time from a clock."""

    secret: str = field(default_factory=new_secret, repr=False)
    issuer: str = DEFAULT_ISSUER
    expiry_s: int = DEFAULT_EXPIRY_S
    clock: Clock = SYSTEM_CLOCK

    def user_claims(
        self,
        user: AuthUser,
        *,
        aal: str = "aal1",
        amr: Sequence[Mapping[str, Any]] | None = None,
        session_id: str | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The claims GoTrue issues for a signed-in user, in its field order."""
        now = int(self.clock.now())
        method = "anonymous" if user.is_anonymous else "password"
        claims: dict[str, Any] = {
            "aud": user.aud,
            "exp": now + self.expiry_s,
            "iat": now,
            "iss": self.issuer,
            "sub": user.id,
            "email": user.email or "",
            "phone": user.phone or "",
            "app_metadata": dict(user.app_metadata),
            "user_metadata": dict(user.user_metadata),
            "role": user.role or "authenticated",
            "aal": aal,
            "amr": list(amr) if amr is not None else [{"method": method, "timestamp": now}],
            "session_id": session_id or str(uuid.uuid4()),
            "is_anonymous": user.is_anonymous,
        }
        if overrides:
            claims.update(overrides)
        return claims

    def api_key_claims(self, role: str) -> dict[str, Any]:
        """The payload of a legacy API key: no ``sub``, no ``aud``."""
        if role not in ("anon", "service_role"):
            raise ValueError(f"API keys exist for anon and service_role, not {role!r}")
        return {"iss": API_KEY_ISSUER, "role": role, "exp": API_KEY_EXP}

    def sign(self, claims: Mapping[str, Any]) -> str:
        if ALGORITHM == "HS256":
            try:
                return _hs256(dict(claims), self.secret)
            except TypeError:  # a value JSON cannot hold as is (a datetime): PyJWT converts it
                pass
        import jwt

        return jwt.encode(dict(claims), self.secret, algorithm=ALGORITHM)

    def verify(
        self, token: str, *, audience: str | None = None, leeway_s: float = CLOCK_SKEW_S
    ) -> dict[str, Any]:
        """Verify like PostgREST: signature, exp/nbf/iat with 30 s skew, aud only if asked.

        GoTrue allows no skew: its auth service passes ``leeway_s=0``.

        Times are checked against our clock, not the system's, so tests can
        expire a token by advancing a ManualClock.
        """
        import jwt

        claims = jwt.decode(
            token,
            self.secret,
            algorithms=[ALGORITHM],
            audience=audience,
            options={
                "verify_aud": audience is not None,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
        now = self.clock.now()
        if not isinstance(claims, dict):
            raise jwt.DecodeError("the payload is not a JSON object")
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name)
            if name in claims and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise jwt.DecodeError(f"the {name} claim must be a number")
        if "exp" in claims and now > float(claims["exp"]) + leeway_s:
            raise jwt.ExpiredSignatureError("Signature has expired")
        if "nbf" in claims and now < float(claims["nbf"]) - leeway_s:
            raise jwt.ImmatureSignatureError("The token is not yet valid (nbf)")
        if "iat" in claims and now < float(claims["iat"]) - leeway_s:
            raise jwt.ImmatureSignatureError("The token is not yet valid (iat)")
        return claims

    @property
    def anon_key(self) -> str:
        return self.sign(self.api_key_claims("anon"))

    @property
    def service_role_key(self) -> str:
        return self.sign(self.api_key_claims("service_role"))


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _hs256(claims: dict[str, Any], secret: str) -> str:
    """What ``jwt.encode(claims, secret, "HS256")`` returns, without importing PyJWT.

    Every persona and API key is signed on each run; importing PyJWT pulls in
    ``cryptography`` (a third of ``rlsguard matrix check``'s start-up), and HS256 is one HMAC.
    Verification still goes through PyJWT.
    """
    header = _b64(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = header + b"." + payload
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + _b64(signature)).decode()
