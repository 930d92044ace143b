"""GoTrue's JSON for users and sessions (``models.User``, ``tokens.AccessTokenResponse``).

Field names and omit-when-empty rules follow the Go structs' json tags: secrets
(``encrypted_password``, token columns) are never serialised.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rlsguard.authservice.store import Row


def rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def identity_json(row: Row) -> dict[str, Any]:
    """models.Identity: ``identity_id`` is the row id, ``id`` the provider's id."""
    out: dict[str, Any] = {
        "identity_id": str(row["id"]),
        "id": row["provider_id"],
        "user_id": str(row["user_id"]),
        "identity_data": row["identity_data"] or {},
        "provider": row["provider"],
        "last_sign_in_at": rfc3339(row["last_sign_in_at"]),
        "created_at": rfc3339(row["created_at"]),
        "updated_at": rfc3339(row["updated_at"]),
    }
    if row.get("email"):
        out["email"] = row["email"]
    return {k: v for k, v in out.items() if v is not None or k in ("created_at", "updated_at")}


def user_json(user: Row, identities: list[Row] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(user["id"]),
        "aud": user["aud"] or "",
        "role": user["role"] or "",
        "email": user["email"] or "",
        "phone": user["phone"] or "",
    }
    for key in (
        "email_confirmed_at",
        "phone_confirmed_at",
        "confirmation_sent_at",
        "confirmed_at",
        "recovery_sent_at",
        "last_sign_in_at",
        "invited_at",
    ):
        if user.get(key) is not None:
            out[key] = rfc3339(user[key])
    out["app_metadata"] = user["raw_app_meta_data"] or {}
    out["user_metadata"] = user["raw_user_meta_data"] or {}
    out["identities"] = [identity_json(i) for i in identities or []]
    out["created_at"] = rfc3339(user["created_at"])
    out["updated_at"] = rfc3339(user["updated_at"])
    if user.get("banned_until") is not None:
        out["banned_until"] = rfc3339(user["banned_until"])
    out["is_anonymous"] = bool(user["is_anonymous"])
    return out


def token_json(
    access_token: str, expires_in: int, expires_at: int, refresh_token: str, user: dict[str, Any]
) -> dict[str, Any]:
    return {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": expires_in,
        "expires_at": expires_at,
        "refresh_token": refresh_token,
        "user": user,
    }
