"""Personas: names bound to a bare API role or to a seeded user, turned into identities.

A persona is what tests and expectation files talk about ("student",
"teacher2", "anon"); an :class:`~rlsguard.identity.session.Identity` is what a
request needs (role, claims, token). Users are looked up in ``auth.users`` at
resolution time, so a persona bound to a user who was never seeded fails with
a message naming the persona, the email and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.rows import dict_row

from rlsguard.config import Persona
from rlsguard.errors import PersonaError
from rlsguard.identity.tokens import AuthUser, TokenSigner

from .session import Identity

BUILTIN_PERSONAS: dict[str, Persona] = {
    "anon": Persona(role="anon"),
    "service_role": Persona(role="service_role"),
}

_USER_COLUMNS = (
    "id::text, email, phone, role, aud, raw_app_meta_data, raw_user_meta_data, is_anonymous"
)
_USER_BY_EMAIL = f"""
select {_USER_COLUMNS} from auth.users
where lower(email) = lower(%s) and deleted_at is null
order by created_at
limit 1
"""
_USER_BY_ID = f"select {_USER_COLUMNS} from auth.users where id = %s::uuid"


def user_from_row(row: Mapping[str, Any]) -> AuthUser:
    return AuthUser(
        id=row["id"],
        email=row.get("email"),
        phone=row.get("phone"),
        role=row.get("role") or "authenticated",
        aud=row.get("aud") or "authenticated",
        app_metadata=row.get("raw_app_meta_data") or {},
        user_metadata=row.get("raw_user_meta_data") or {},
        is_anonymous=bool(row.get("is_anonymous")),
    )


def _one_user(conn: psycopg.Connection[Any], query: str, value: str) -> AuthUser | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, (value,))
        row = cur.fetchone()
    return user_from_row(row) if row else None


def find_user(conn: psycopg.Connection[Any], email: str) -> AuthUser | None:
    """Look a user up by email (needs a role that can read auth.users)."""
    return _one_user(conn, _USER_BY_EMAIL, email)


def find_user_by_id(conn: psycopg.Connection[Any], user_id: str) -> AuthUser | None:
    return _one_user(conn, _USER_BY_ID, user_id)


class Personas:
    """The personas of a project, with the signer that mints their tokens."""

    def __init__(
        self, signer: TokenSigner | None = None, personas: Mapping[str, Persona] | None = None
    ) -> None:
        self.signer = signer or TokenSigner()
        self._personas: dict[str, Persona] = {**BUILTIN_PERSONAS, **(personas or {})}

    def __contains__(self, name: object) -> bool:
        return name in self._personas

    @property
    def names(self) -> list[str]:
        return list(self._personas)

    def add(
        self,
        name: str,
        *,
        role: str | None = None,
        user: str | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> Persona:
        """Declare a persona in code (same rules as in the config file)."""
        persona = Persona(role=role, user=user, claims=dict(claims or {}))  # type: ignore[arg-type]
        self._personas[name] = persona
        return persona

    def get(self, name: str) -> Persona:
        try:
            return self._personas[name]
        except KeyError:
            known = ", ".join(sorted(self._personas))
            raise PersonaError(
                f"unknown persona {name!r}; known personas: {known}. Declare it under "
                "[tool.rlsguard.personas] (or in rlsguard.toml), or with personas.add()."
            ) from None

    # -- resolution ------------------------------------------------------------
    def for_role(self, role: str, *, name: str | None = None, **claims: Any) -> Identity:
        """A request without a signed-in user: the anon or service_role API key, as clients send."""
        if role in ("anon", "service_role"):
            payload = {**self.signer.api_key_claims(role), **claims}
            return Identity(role, payload, self.signer.sign(payload), None, name or role)
        payload = {"role": role, "aud": "authenticated", **claims}
        return Identity(role, payload, self.signer.sign(payload), claims.get("sub"), name or role)

    def for_user(
        self, conn: psycopg.Connection[Any], email: str, *, name: str | None = None, **claims: Any
    ) -> Identity:
        """A signed-in user, with the claims GoTrue would issue for them."""
        user = find_user(conn, email)
        if user is None:
            who = f"persona {name!r} is bound to" if name else "no"
            raise PersonaError(
                f"{who} user {email!r}, which does not exist in auth.users of database "
                f"{conn.info.dbname!r}. Seed it (supabase/seed.sql or a migration) or create it "
                "with db.create_user(email=...) before using the persona."
            )
        payload = self.signer.user_claims(user, overrides=claims)
        return Identity(
            str(payload.get("role") or "authenticated"),
            payload,
            self.signer.sign(payload),
            user.id,
            name or email,
        )

    def resolve(self, conn: psycopg.Connection[Any], name: str, **claims: Any) -> Identity:
        persona = self.get(name)
        merged = {**persona.claims, **claims}
        if persona.user is not None:
            return self.for_user(conn, persona.user, name=name, **merged)
        assert persona.role is not None
        return self.for_role(persona.role, name=name, **merged)
