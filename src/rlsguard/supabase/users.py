"""Create users the way GoTrue does, so triggers on auth.users behave as in production.

GoTrue connects as ``supabase_auth_admin`` (search_path ``auth``) and, in one transaction,
inserts the ``auth.users`` row with ``role = ''``, updates ``role`` to ``authenticated``, inserts
the identity, then confirms the email when autoconfirm is on (the CLI default). A trigger that
is not SECURITY DEFINER, or names ``profiles`` without its schema, therefore fails here as it
fails in production, where the signup answers "Database error saving new user".
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import bcrypt
import psycopg
from psycopg import sql

from rlsguard.errors import InvalidArgument, SqlProblem, UserCreationError
from rlsguard.supabase.bootstrap import DEFAULT_DATABASE, ConnTarget

AUTH_ADMIN = "supabase_auth_admin"
NIL_UUID = "00000000-0000-0000-0000-000000000000"

_INSERT_USER = """
INSERT INTO auth.users (
  instance_id, id, aud, role, email, encrypted_password, phone,
  raw_app_meta_data, raw_user_meta_data, is_anonymous, created_at, updated_at,
  confirmation_token, recovery_token, email_change_token_new, email_change
) VALUES (%s, %s, 'authenticated', '', %s, %s, %s, %s, %s, %s, now(), now(), '', '', '', '')
"""
_SET_ROLE = "UPDATE auth.users SET role = 'authenticated', updated_at = now() WHERE id = %s"
_INSERT_IDENTITY = """
INSERT INTO auth.identities (provider_id, user_id, identity_data, provider,
                             last_sign_in_at, created_at, updated_at)
VALUES (%s, %s, %s, %s, now(), now(), now())
"""
_CONFIRM_EMAIL = (
    "UPDATE auth.users SET email_confirmed_at = now(), updated_at = now() WHERE id = %s"
)
_CONFIRM_PHONE = (
    "UPDATE auth.users SET phone_confirmed_at = now(), updated_at = now() WHERE id = %s"
)


def hash_password(password: str, rounds: int = 4) -> str:
    """A bcrypt hash GoTrue accepts (``$2a$``); 4 rounds keeps test signups fast."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds, prefix=b"2a")).decode()


def create_user(
    target: psycopg.Connection[Any] | ConnTarget,
    *,
    email: str | None = None,
    password: str | None = None,
    phone: str | None = None,
    user_metadata: Mapping[str, Any] | None = None,
    app_metadata: Mapping[str, Any] | None = None,
    confirmed: bool = True,
    anonymous: bool = False,
    user_id: uuid.UUID | str | None = None,
    dbname: str = DEFAULT_DATABASE,
    bcrypt_rounds: int = 4,
) -> uuid.UUID:
    """Sign a user up as GoTrue would; returns the new user's id.

    ``target`` is a server (we connect as supabase_auth_admin, exactly like GoTrue) or an open
    connection whose user is supabase_auth_admin or may ``SET ROLE`` to it (a superuser); on a
    connection the work runs in a transaction (a savepoint when one is open) and the role and
    search_path are restored afterwards. Raises :class:`UserCreationError` with the cause.
    """
    if not (email or phone or anonymous):
        raise InvalidArgument("a user needs an email, a phone, or anonymous=True")
    new_id = uuid.UUID(str(user_id)) if user_id else uuid.uuid4()
    email = email.lower() if email else None
    provider = "email" if email else "phone" if phone else None
    raw_app = dict(app_metadata or {})
    if provider:
        raw_app = {"provider": provider, "providers": [provider], **raw_app}
    raw_user = dict(user_metadata or {})
    encrypted = hash_password(password, bcrypt_rounds) if password else ""
    steps: list[tuple[str, tuple[Any, ...]]] = [
        (
            _INSERT_USER,
            (
                NIL_UUID,
                new_id,
                email,
                encrypted,
                phone,
                json.dumps(raw_app),
                json.dumps(raw_user),
                anonymous,
            ),
        ),
        (_SET_ROLE, (new_id,)),
    ]
    if provider:
        identity = {
            "sub": str(new_id),
            "email_verified": False,
            "phone_verified": False,
            **({"email": email} if email else {"phone": phone}),
        }
        for key, value in raw_user.items():  # signup data joins the identity, never overriding
            identity.setdefault(key, value)
        steps.append((_INSERT_IDENTITY, (str(new_id), new_id, json.dumps(identity), provider)))
    if confirmed and email:
        steps.append((_CONFIRM_EMAIL, (new_id,)))
    if confirmed and phone and not email:
        steps.append((_CONFIRM_PHONE, (new_id,)))
    with _as_auth_admin(target, dbname) as conn:
        try:
            with conn.transaction():
                conn.execute("SET LOCAL search_path TO auth")
                for query, params in steps:
                    conn.execute(query, params)
        except psycopg.Error as exc:
            diag = exc.diag
            raise UserCreationError(
                email or phone,
                SqlProblem(
                    message=diag.message_primary or str(exc),
                    sqlstate=diag.sqlstate,
                    detail=diag.message_detail,
                    hint=diag.message_hint,
                    context=diag.context,
                ),
            ) from exc
    return new_id


@contextmanager
def _as_auth_admin(
    target: psycopg.Connection[Any] | ConnTarget, dbname: str
) -> Iterator[psycopg.Connection[Any]]:
    if not isinstance(target, psycopg.Connection):
        with psycopg.connect(target.conninfo(dbname, user=AUTH_ADMIN), autocommit=True) as conn:
            yield conn
        return
    conn = target
    row = conn.execute(
        "select current_user, current_setting('role'), current_setting('search_path')"
    ).fetchone()
    assert row is not None
    user, role, search_path = row
    if user == AUTH_ADMIN:
        yield conn
        return
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(AUTH_ADMIN)))
        yield conn
        # Back to who the caller was: SET LOCAL would otherwise outlive a released savepoint.
        conn.execute(
            sql.SQL("SET LOCAL ROLE {}").format(
                sql.SQL("NONE") if role == "none" else sql.Identifier(role)
            )
        )
        conn.execute("select set_config('search_path', %s, true)", (search_path,))
