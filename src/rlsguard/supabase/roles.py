"""Supabase's roles: attributes, per-role settings and memberships, as data.

The table mirrors what the supabase/postgres image leaves after all its init scripts and
migrations (its regression expectations ``roles.out`` and ``z_17_roles.out``). The bootstrap
creates the missing roles from it, and compares existing roles against it so that a cluster
where, say, ``postgres`` is a superuser is reported instead of silently trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from psycopg import sql


@dataclass(frozen=True)
class RoleSpec:
    """One role as Supabase defines it."""

    name: str
    login: bool = False
    superuser: bool = False
    inherit: bool = True
    createrole: bool = False
    createdb: bool = False
    replication: bool = False
    bypassrls: bool = False
    settings: Mapping[str, str] = field(default_factory=dict)

    def attributes(self) -> dict[str, bool]:
        return {
            "login": self.login,
            "superuser": self.superuser,
            "inherit": self.inherit,
            "createrole": self.createrole,
            "createdb": self.createdb,
            "replication": self.replication,
            "bypassrls": self.bypassrls,
        }

    def create(self) -> sql.Composed:
        words = [
            ("LOGIN" if self.login else "NOLOGIN"),
            ("SUPERUSER" if self.superuser else "NOSUPERUSER"),
            ("INHERIT" if self.inherit else "NOINHERIT"),
            ("CREATEROLE" if self.createrole else "NOCREATEROLE"),
            ("CREATEDB" if self.createdb else "NOCREATEDB"),
            ("REPLICATION" if self.replication else "NOREPLICATION"),
            ("BYPASSRLS" if self.bypassrls else "NOBYPASSRLS"),
        ]
        return sql.SQL("CREATE ROLE {} {}").format(
            sql.Identifier(self.name), sql.SQL(" ".join(words))
        )

    def configure(self) -> list[sql.Composed]:
        """``ALTER ROLE ... SET`` for each per-role setting (values are SQL as written)."""
        return [
            sql.SQL("ALTER ROLE {} SET {} = {}").format(
                sql.Identifier(self.name), sql.Identifier(name), sql.SQL(value)
            )
            for name, value in self.settings.items()
        ]


@dataclass(frozen=True)
class Membership:
    """``member`` is granted ``role``, WITH ADMIN OPTION from major ``admin_from`` on."""

    role: str
    member: str
    admin_from: int | None = None
    min_major: int = 0

    def grant(self, major: int) -> sql.Composed:
        stmt = sql.SQL("GRANT {} TO {}").format(
            sql.Identifier(self.role), sql.Identifier(self.member)
        )
        if self.admin_from is not None and major >= self.admin_from:
            stmt += sql.SQL(" WITH ADMIN OPTION")
        return stmt


SUPABASE_ADMIN = "supabase_admin"

ROLES: tuple[RoleSpec, ...] = (
    RoleSpec(
        SUPABASE_ADMIN,
        login=True,
        superuser=True,
        createrole=True,
        createdb=True,
        replication=True,
        bypassrls=True,
        settings={"search_path": '"$user", public, auth, extensions', "log_statement": "none"},
    ),
    RoleSpec("anon", settings={"statement_timeout": "'3s'"}),
    RoleSpec("authenticated", settings={"statement_timeout": "'8s'"}),
    RoleSpec("service_role", bypassrls=True),
    RoleSpec(
        "authenticator",
        login=True,
        inherit=False,
        settings={"statement_timeout": "'8s'", "lock_timeout": "'8s'"},
    ),
    # Not a superuser (supabase/postgres demotes it), but BYPASSRLS: views and SECURITY DEFINER
    # functions it owns bypass RLS on Supabase for exactly this reason.
    RoleSpec(
        "postgres",
        login=True,
        createrole=True,
        createdb=True,
        replication=True,
        bypassrls=True,
        settings={"search_path": '"$user", public, extensions'},
    ),
    RoleSpec(
        "supabase_auth_admin",
        login=True,
        inherit=False,
        settings={
            "search_path": "auth",
            "idle_in_transaction_session_timeout": "60000",
            "log_statement": "none",
        },
    ),
    RoleSpec(
        "supabase_storage_admin",
        login=True,
        inherit=False,
        createrole=True,
        settings={"search_path": "storage", "log_statement": "none"},
    ),
    RoleSpec(
        "supabase_realtime_admin",
        login=True,
        inherit=False,
        createrole=True,
        replication=True,
        settings={"search_path": "public, extensions, realtime"},
    ),
    RoleSpec("supabase_replication_admin", login=True, replication=True),
    RoleSpec("supabase_read_only_user", login=True, bypassrls=True),
    RoleSpec("dashboard_user", createrole=True, createdb=True, replication=True),
    RoleSpec("pgbouncer", login=True),
    RoleSpec("supabase_superuser"),
)

ROLE_BY_NAME: Mapping[str, RoleSpec] = {role.name: role for role in ROLES}

MEMBERSHIPS: tuple[Membership, ...] = (
    # authenticator is NOINHERIT: it holds no privilege itself and can only SET ROLE.
    Membership("anon", "authenticator"),
    Membership("authenticated", "authenticator"),
    Membership("service_role", "authenticator"),
    # postgres: ADMIN OPTION on PG16+ (supabase/postgres 20250605172253).
    Membership("anon", "postgres", admin_from=16),
    Membership("authenticated", "postgres", admin_from=16),
    Membership("service_role", "postgres", admin_from=16),
    Membership("authenticator", "postgres", admin_from=16),
    Membership("pg_monitor", "postgres"),
    Membership("pg_read_all_data", "postgres"),
    Membership("pg_signal_backend", "postgres"),
    Membership("pg_create_subscription", "postgres", min_major=16),
    Membership("supabase_superuser", "postgres"),
    Membership("authenticator", "supabase_storage_admin"),
    Membership("anon", "supabase_realtime_admin"),
    Membership("authenticated", "supabase_realtime_admin"),
    Membership("service_role", "supabase_realtime_admin"),
    Membership("pg_read_all_data", "supabase_read_only_user"),
)


def memberships_for(major: int) -> tuple[Membership, ...]:
    return tuple(m for m in MEMBERSHIPS if major >= m.min_major)


def attribute_differences(spec: RoleSpec, found: Mapping[str, bool]) -> list[str]:
    """How an existing role differs from Supabase's, in words (empty when it matches)."""
    out = []
    for name, wanted in spec.attributes().items():
        have = found.get(name)
        if have is not None and have != wanted:
            out.append(
                f"{'NO' if not have else ''}{name.upper()} here, {'NO' if not wanted else ''}"
                f"{name.upper()} on Supabase"
            )
    return out
