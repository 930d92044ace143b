"""SQL on ``auth.*``, the way GoTrue's models read and write it (``internal/models/*.go``).

The service connects as ``supabase_auth_admin`` with ``search_path = auth``, like GoTrue, so
triggers on ``auth.users`` run exactly as they would in production. Times written here come
from the service's clock (passed in), so tests can move time; ``created_at`` of new users is
the database's, as in :func:`rlsguard.supabase.users.create_user`.
"""

from __future__ import annotations

import json
import secrets
import string
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

NIL_UUID = "00000000-0000-0000-0000-000000000000"
_ALPHANUMERIC = string.ascii_letters + string.digits
_USER_COLUMNS = """
  id, aud, role, email, phone, encrypted_password, email_confirmed_at, phone_confirmed_at,
  confirmed_at, invited_at, confirmation_sent_at, recovery_sent_at, last_sign_in_at,
  raw_app_meta_data, raw_user_meta_data, is_anonymous, is_sso_user, banned_until,
  deleted_at, created_at, updated_at, confirmation_token, recovery_token
"""

Row = dict[str, Any]
Conn = psycopg.Connection[Any]


def ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def new_refresh_token() -> str:
    """internal/crypto: ``SecureAlphanumeric(12)``, a legacy (v1) refresh token."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(12))


def cursor(conn: Conn) -> psycopg.Cursor[Row]:
    return conn.cursor(row_factory=dict_row)


# -- users -----------------------------------------------------------------------------------
def find_user_by_email(conn: Conn, email: str, aud: str) -> Row | None:
    """models.FindUserByEmailAndAudience: lower-cased email, not an SSO user."""
    return (
        cursor(conn)
        .execute(
            f"SELECT {_USER_COLUMNS} FROM auth.users WHERE instance_id = %s AND lower(email) = %s "
            "AND aud = %s AND is_sso_user = false",
            (NIL_UUID, email.lower(), aud),
        )
        .fetchone()
    )


def find_user_by_id(conn: Conn, user_id: str, *, for_update: bool = False) -> Row | None:
    lock = " FOR UPDATE" if for_update else ""
    return (
        cursor(conn)
        .execute(f"SELECT {_USER_COLUMNS} FROM auth.users WHERE id = %s{lock}", (user_id,))
        .fetchone()
    )


def identities(conn: Conn, user_id: str) -> list[Row]:
    return (
        cursor(conn)
        .execute(
            "SELECT id, provider_id, user_id, identity_data, provider, last_sign_in_at, "
            "created_at, updated_at, email FROM auth.identities WHERE user_id = %s "
            "ORDER BY created_at",
            (user_id,),
        )
        .fetchall()
    )


def set_otp(conn: Conn, user_id: str, column: str, token_hash: str, now: float) -> None:
    """Store a hashed OTP in ``confirmation_token`` or ``recovery_token`` with its send time."""
    sent = {"confirmation_token": "confirmation_sent_at", "recovery_token": "recovery_sent_at"}
    conn.execute(
        f"UPDATE auth.users SET {column} = %s, {sent[column]} = %s, updated_at = %s WHERE id = %s",
        (token_hash, ts(now), ts(now), user_id),
    )


def clear_otps(conn: Conn, user_id: str, now: float) -> None:
    conn.execute(
        "UPDATE auth.users SET confirmation_token = '', recovery_token = '', updated_at = %s "
        "WHERE id = %s",
        (ts(now), user_id),
    )


def confirm_email(conn: Conn, user_id: str, now: float) -> None:
    """models.User.Confirm, and the identity's ``email_verified`` (verify.go)."""
    conn.execute(
        "UPDATE auth.users SET email_confirmed_at = coalesce(email_confirmed_at, %s), "
        "confirmation_token = '', updated_at = %s WHERE id = %s",
        (ts(now), ts(now), user_id),
    )
    conn.execute(
        "UPDATE auth.identities SET identity_data = identity_data || "
        "'{\"email_verified\": true}'::jsonb, updated_at = %s "
        "WHERE user_id = %s AND provider = 'email'",
        (ts(now), user_id),
    )


def update_user_metadata(conn: Conn, user_id: str, data: Mapping[str, Any], now: float) -> None:
    """models.User.UpdateUserMetaData: keys merge; a null value removes the key."""
    removed = [k for k, v in data.items() if v is None]
    kept = {k: v for k, v in data.items() if v is not None}
    conn.execute(
        "UPDATE auth.users SET raw_user_meta_data = (coalesce(raw_user_meta_data, '{}'::jsonb) "
        "|| %s) - %s::text[], updated_at = %s WHERE id = %s",
        (Jsonb(kept), removed, ts(now), user_id),
    )


def update_password(conn: Conn, user_id: str, encrypted: str, now: float) -> None:
    conn.execute(
        "UPDATE auth.users SET encrypted_password = %s, updated_at = %s WHERE id = %s",
        (encrypted, ts(now), user_id),
    )


def mark_signed_in(conn: Conn, user_id: str, now: float) -> Row:
    """User.UpdateLastSignInAt (every new refresh token does it); the updated row."""
    row = (
        cursor(conn)
        .execute(
            "UPDATE auth.users SET last_sign_in_at = %s, updated_at = %s WHERE id = %s "
            f"RETURNING {_USER_COLUMNS}",
            (ts(now), ts(now), user_id),
        )
        .fetchone()
    )
    assert row is not None
    return row


# -- sessions and refresh tokens ---------------------------------------------------------------
def create_session(
    conn: Conn, user_id: str, method: str, now: float, *, user_agent: str, ip: str | None
) -> tuple[str, str, Row]:
    """A session, its first refresh token and its amr claim (models.createRefreshToken).

    Returns ``(session_id, refresh_token, user)``.
    """
    session_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip) "
        "VALUES (%s, %s, %s, %s, 'aal1', %s, %s)",
        (session_id, user_id, ts(now), ts(now), user_agent or None, ip),
    )
    conn.execute(
        "INSERT INTO auth.mfa_amr_claims (id, session_id, created_at, updated_at, "
        "authentication_method) VALUES (%s, %s, %s, %s, %s)",
        (str(uuid.uuid4()), session_id, ts(now), ts(now), method),
    )
    token = insert_refresh_token(conn, user_id, session_id, None, now)
    return session_id, token, mark_signed_in(conn, user_id, now)


def insert_refresh_token(
    conn: Conn, user_id: str, session_id: str, parent: str | None, now: float
) -> str:
    token = new_refresh_token()
    conn.execute(
        "INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, "
        "updated_at, parent, session_id) VALUES (%s, %s, %s, false, %s, %s, %s, %s)",
        (NIL_UUID, token, user_id, ts(now), ts(now), parent, session_id),
    )
    return token


def find_refresh_token(conn: Conn, token: str) -> Row | None:
    """The token row, locked, with its session's existence (models.FindUserWithRefreshToken)."""
    return (
        cursor(conn)
        .execute(
            "SELECT r.id, r.token, r.user_id, r.revoked, r.parent, r.session_id, r.updated_at, "
            "s.id AS live_session FROM auth.refresh_tokens r "
            "LEFT JOIN auth.sessions s ON s.id = r.session_id "
            "WHERE r.instance_id = %s AND r.token = %s FOR UPDATE OF r",
            (NIL_UUID, token),
        )
        .fetchone()
    )


def active_refresh_token(conn: Conn, session_id: str) -> Row | None:
    """Session.FindCurrentlyActiveRefreshToken: the newest unrevoked token of the session."""
    return (
        cursor(conn)
        .execute(
            "SELECT id, token, parent FROM auth.refresh_tokens WHERE session_id = %s "
            "AND revoked = false ORDER BY id DESC LIMIT 1",
            (session_id,),
        )
        .fetchone()
    )


def swap_refresh_token(conn: Conn, old: Row, now: float) -> tuple[str, Row]:
    """models.GrantRefreshTokenSwap: revoke ``old``, issue its child in the same session.

    Returns the new token and the user row (its ``last_sign_in_at`` moves, as in GoTrue).
    """
    conn.execute(
        "UPDATE auth.refresh_tokens SET revoked = true, updated_at = %s WHERE id = %s",
        (ts(now), old["id"]),
    )
    conn.execute(
        "UPDATE auth.sessions SET refreshed_at = %s, updated_at = %s WHERE id = %s",
        (ts(now).replace(tzinfo=None), ts(now), old["session_id"]),
    )
    user_id = str(old["user_id"])
    token = insert_refresh_token(conn, user_id, str(old["session_id"]), old["token"], now)
    return token, mark_signed_in(conn, user_id, now)


def revoke_token_family(conn: Conn, session_id: str, now: float) -> int:
    """models.RevokeTokenFamily: every unrevoked token of the session is revoked."""
    return conn.execute(
        "UPDATE auth.refresh_tokens SET revoked = true, updated_at = %s "
        "WHERE session_id = %s AND revoked = false",
        (ts(now), session_id),
    ).rowcount


def session_exists(conn: Conn, session_id: str) -> bool:
    row = conn.execute("SELECT 1 FROM auth.sessions WHERE id = %s", (session_id,)).fetchone()
    return row is not None


def session_amr(conn: Conn, session_id: str) -> list[Row]:
    return (
        cursor(conn)
        .execute(
            "SELECT authentication_method, created_at FROM auth.mfa_amr_claims "
            "WHERE session_id = %s ORDER BY created_at",
            (session_id,),
        )
        .fetchall()
    )


def logout(conn: Conn, user_id: str, session_id: str | None, scope: str) -> int:
    """models.Logout / LogoutSession / LogoutAllExceptMe: sessions go, tokens cascade."""
    if scope == "local" and session_id:
        query, params = "DELETE FROM auth.sessions WHERE id = %s", (session_id,)
    elif scope == "others" and session_id:
        query = "DELETE FROM auth.sessions WHERE user_id = %s AND id <> %s"
        params = (user_id, session_id)  # type: ignore[assignment]
    else:
        query, params = "DELETE FROM auth.sessions WHERE user_id = %s", (user_id,)
    deleted = conn.execute(query, params).rowcount
    conn.execute(
        "DELETE FROM auth.refresh_tokens WHERE user_id = %s AND session_id IS NULL", (user_id,)
    )
    return deleted


# -- audit log ---------------------------------------------------------------------------------
_LOG_TYPES = {
    "login": "account",
    "logout": "account",
    "user_signedup": "team",
    "token_revoked": "token",
    "token_refreshed": "token",
    "user_modified": "user",
    "user_recovery_requested": "user",
    "user_confirmation_requested": "user",
    "user_repeated_signup": "user",
    "user_updated_password": "user",
}


def audit(
    conn: Conn,
    user: Row,
    action: str,
    now: float,
    *,
    ip: str = "",
    traits: Mapping[str, Any] | None = None,
) -> None:
    """models.NewAuditLogEntry: who did what, never a secret."""
    username = user.get("phone") or user.get("email") or ""
    payload: dict[str, Any] = {
        "actor_id": str(user["id"]),
        "actor_via_sso": bool(user.get("is_sso_user")),
        "actor_username": username,
        "action": action,
        "log_type": _LOG_TYPES.get(action, "account"),
    }
    meta = user.get("raw_user_meta_data") or {}
    if "full_name" in meta:
        payload["actor_name"] = meta["full_name"]
    if traits:
        payload["traits"] = dict(traits)
    conn.execute(
        "INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) "
        "VALUES (%s, %s, %s, %s, %s)",
        (NIL_UUID, str(uuid.uuid4()), json.dumps(payload), ts(now), ip[:64]),
    )
