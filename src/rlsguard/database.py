"""The object tests hold: one database, with sessions as any persona.

``Database`` wraps a superuser connection (for setup and assertions that must
see everything) and opens impersonated sessions on the same connection, so a
row a test inserts is visible to the persona inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from rlsguard.identity.batch import Batch
from rlsguard.identity.personas import Personas, find_user_by_id
from rlsguard.identity.session import ApiSettings, Identity, Request, Session
from rlsguard.identity.tokens import AuthUser

API_ROLES = ("anon", "authenticated", "service_role")

# PostgREST applies the impersonated role's own settings whose context is
# 'user' (anything a role may set for itself); custom placeholders count too.
_ROLE_SETTINGS_QUERY = """
select r.rolname, split_part(c.item, '=', 1) as name, substr(c.item, strpos(c.item, '=') + 1)
from pg_db_role_setting s
join pg_roles r on r.oid = s.setrole
cross join lateral unnest(s.setconfig) as c(item)
left join pg_settings p on p.name = split_part(c.item, '=', 1)
where s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
  and r.rolname = any(%s)
  and (p.name is null or p.context = 'user')
order by r.rolname, s.setdatabase
"""


def role_settings(conn: psycopg.Connection[Any]) -> dict[str, dict[str, str]]:
    """The per-role settings PostgREST would apply, for each API role."""
    found: dict[str, dict[str, str]] = {role: {} for role in API_ROLES}
    for role, name, value in conn.execute(_ROLE_SETTINGS_QUERY, (list(API_ROLES),)).fetchall():
        found.setdefault(role, {})[name] = value
    return found


def has_role(conn: psycopg.Connection[Any], role: str) -> bool:
    return bool(conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone())


def resolve_api(conn: psycopg.Connection[Any], api: ApiSettings) -> ApiSettings:
    """Drop the authenticator switch on a plain server that has no such role."""
    if api.authenticator and not has_role(conn, api.authenticator):
        return ApiSettings(api.schema, api.extra_search_path, None)
    return api


class Database:
    """A database under test, and the way to run requests in it as anyone."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        personas: Personas,
        *,
        api: ApiSettings | None = None,
        settings_by_role: Mapping[str, Mapping[str, str]] | None = None,
        verify_api: bool = True,
    ) -> None:
        self.conn = conn
        self.personas = personas
        self.api = resolve_api(conn, api or ApiSettings()) if verify_api else (api or ApiSettings())
        self._factory: Any = None  # faker costs ~0.5 s to import and set up: only when needed
        self._settings_by_role = (
            {k: dict(v) for k, v in settings_by_role.items()}
            if settings_by_role is not None
            else role_settings(conn)
        )

    @property
    def name(self) -> str:
        return self.conn.info.dbname

    # -- sessions --------------------------------------------------------------
    def session(self, identity: Identity, *, request: Request | None = None) -> Session:
        return Session(
            self.conn,
            identity,
            request=request,
            api=self.api,
            role_settings=self._settings_by_role.get(identity.role, {}),
            api_key=self.personas.signer.anon_key,
        )

    def batch(self) -> Batch:
        """Several read-only requests sent in one round trip (see :mod:`.identity.batch`)."""
        return Batch(self.conn, self.session)

    def as_persona(self, name: str, *, request: Request | None = None, **claims: Any) -> Session:
        """A request as a named persona (from the project config or ``personas.add``)."""
        return self.session(self.personas.resolve(self.conn, name, **claims), request=request)

    def as_user(self, email: str, *, request: Request | None = None, **claims: Any) -> Session:
        """A request as the signed-in user with this email."""
        return self.session(self.personas.for_user(self.conn, email, **claims), request=request)

    def as_anon(self, *, request: Request | None = None, **claims: Any) -> Session:
        """A request with the anon key and no user: ``auth.uid()`` is NULL."""
        return self.session(self.personas.for_role("anon", **claims), request=request)

    def as_service_role(self, *, request: Request | None = None, **claims: Any) -> Session:
        """A request with the service_role key: RLS bypassed, grants still apply."""
        return self.session(self.personas.for_role("service_role", **claims), request=request)

    # -- users -----------------------------------------------------------------
    def create_user(
        self,
        email: str | None = None,
        *,
        password: str | None = None,
        phone: str | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        app_metadata: Mapping[str, Any] | None = None,
        confirmed: bool = True,
        anonymous: bool = False,
    ) -> AuthUser:
        """Sign a user up the way GoTrue does (auth.users triggers fire as on Supabase).

        Without an email (and not anonymous or by phone) a realistic one is made up,
        reproducibly, with a ``full_name`` in the user metadata.
        """
        from rlsguard.supabase.users import create_user

        metadata = dict(user_metadata or {})
        if email is None and phone is None and not anonymous:
            if self._factory is None:
                from rlsguard.identity.factory import UserFactory

                self._factory = UserFactory()
            spec = self._factory.next(**metadata)
            email, metadata = spec.email, spec.user_metadata
        user_id = create_user(
            self.conn,
            email=email,
            password=password,
            phone=phone,
            user_metadata=metadata,
            app_metadata=app_metadata,
            confirmed=confirmed,
            anonymous=anonymous,
        )
        user = find_user_by_id(self.conn, str(user_id))
        assert user is not None
        return user

    # -- as the superuser ------------------------------------------------------
    def fetch(self, query: str | sql.Composable, params: Any = None) -> list[dict[str, Any]]:
        """Rows as dicts, seen by the superuser (RLS does not apply)."""
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def scalar(self, query: str | sql.Composable, params: Any = None) -> Any:
        row = self.conn.execute(query, params).fetchone()  # type: ignore[arg-type]
        return row[0] if row else None

    def execute(self, query: str | sql.Composable, params: Any = None) -> int:
        return self.conn.execute(query, params).rowcount  # type: ignore[arg-type]
