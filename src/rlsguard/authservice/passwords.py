"""Password rules and bcrypt, as GoTrue applies them.

Strength: ``internal/api/password.go`` ``checkPasswordStrength`` (length over 72 is a
validation error; too short is reason ``length``; a missing required character set is reason
``characters``). Hashing: ``internal/crypto/password.go`` (bcrypt, ``$2a$``, Go's
``bcrypt.DefaultCost`` = 10). Verification is bcrypt's own constant-time comparison.
"""

from __future__ import annotations

import functools

import bcrypt

from rlsguard.authservice.errors import VALIDATION_FAILED, WEAK_PASSWORD, ApiError, bad_request
from rlsguard.authservice.settings import MAX_PASSWORD_LENGTH, AuthSettings

# A hash of nothing anyone knows, at the configured cost: checked against when the user does
# not exist, so an unknown email costs the same bcrypt work as a wrong password (GoTrue
# returns at once there; we do not let timing tell who has an account).


@functools.cache
def _dummy_hash(cost: int) -> bytes:
    return bcrypt.hashpw(b"rlsguard-no-such-user", bcrypt.gensalt(cost, prefix=b"2a"))


def check_strength(password: str, settings: AuthSettings) -> None:
    """Raise GoTrue's weak-password error (422, reasons) or validation error (400)."""
    if len(password.encode("utf-8")) > MAX_PASSWORD_LENGTH:
        raise bad_request(
            VALIDATION_FAILED, f"Password cannot be longer than {MAX_PASSWORD_LENGTH} characters"
        )
    reasons: list[str] = []
    messages: list[str] = []
    if len(password) < settings.minimum_password_length:
        reasons.append("length")
        messages.append(
            f"Password should be at least {settings.minimum_password_length} characters."
        )
    required = settings.required_characters
    if any(not any(c in charset for c in password) for charset in required):
        reasons.append("characters")
        messages.append(
            "Password should contain at least one character of each: " + ", ".join(required) + "."
        )
    if reasons:
        raise ApiError(422, WEAK_PASSWORD, " ".join(messages), weak_password_reasons=reasons)


def hash_password(password: str, cost: int) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(cost, prefix=b"2a")).decode()


def verify_password(password: str, encrypted: str | None, cost: int) -> bool:
    """True when ``password`` matches; an unusable or missing hash costs the same and fails."""
    candidate = password.encode("utf-8")[:MAX_PASSWORD_LENGTH]
    stored = (encrypted or "").encode()
    if not stored.startswith((b"$2a$", b"$2b$", b"$2y$")):
        bcrypt.checkpw(candidate, _dummy_hash(cost))
        return False
    try:
        return bcrypt.checkpw(candidate, stored)
    except ValueError:  # a malformed hash in the table
        bcrypt.checkpw(candidate, _dummy_hash(cost))
        return False
