"""Make a plain PostgreSQL database behave like a Supabase one.

``bootstrap`` is idempotent and skips what exists, so it also runs against a supabase/postgres
container or a ``supabase start`` database: one round trip finds out what is there, a second
sends everything missing as a single script (one implicit transaction, so a failure leaves
nothing behind). Each part runs in the privilege context Supabase creates it in, switched with
``SET ROLE`` inside the script: auth objects belong to ``supabase_auth_admin``, storage objects to
``supabase_storage_admin``, the publication and the migration ledgers to ``postgres``.

Grant modes (see ``sql/auto_expose.sql`` and ``sql/no_auto_expose.sql``): ``auto_expose=True``
is the legacy auto-grant to the API roles, ``False`` the 2026 default where new objects in
``public`` are not exposed, and ``None`` leaves an existing database's default privileges alone
(a fresh one gets the image's legacy grants).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from psycopg import sql

from rlsguard.catalog.state import CatalogState, probe
from rlsguard.errors import BootstrapError, FidelityWarning, warn
from rlsguard.supabase import sqlfiles
from rlsguard.supabase.extensions import (
    DEFAULT_EXTENSIONS,
    STAND_INS,
    StandIn,
    StandIns,
    announce,
    switch_hint,
    where_available,
)
from rlsguard.supabase.roles import ROLES, SUPABASE_ADMIN, attribute_differences, memberships_for

log = logging.getLogger("rlsguard.supabase")

DEFAULT_DATABASE = "postgres"


class ConnTarget(Protocol):
    """Anything that hands out libpq connection strings (PostgresServer, ExternalPostgres)."""

    def conninfo(self, dbname: str = ..., user: str | None = ..., **extra: str) -> str: ...


class DatabaseHost(ConnTarget, Protocol):
    """A server that can also create databases from a template."""

    def create_database(self, name: str, *, template: str | None = None) -> None: ...


@dataclass
class BootstrapReport:
    """What the bootstrap found and did, for logs and for tests."""

    database: str
    server_version: str
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    created_roles: list[str] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)  # name -> installed/stand-in/missing
    auto_expose: bool | None = None
    warnings: list[str] = field(default_factory=list)  # also emitted as FidelityWarning
    stand_ins: list[str] = field(default_factory=list)  # also emitted as StandInWarning
    seconds: float = 0.0

    @property
    def missing_extensions(self) -> list[str]:
        return [name for name, state in self.extensions.items() if state == "missing"]


@contextmanager
def superuser_connection(
    target: ConnTarget | psycopg.Connection[Any], dbname: str
) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit superuser connection: the given one, or a new one we close afterwards."""
    if isinstance(target, psycopg.Connection):
        yield target
        return
    with psycopg.connect(target.conninfo(dbname), autocommit=True) as conn:
        yield conn


def bootstrap(
    target: ConnTarget | psycopg.Connection[Any],
    *,
    dbname: str = DEFAULT_DATABASE,
    auto_expose: bool | None = True,
    stand_ins: StandIns | bool | str | None = None,
) -> BootstrapReport:
    """Install Supabase's roles, schemas, auth, storage and grants where they are missing.

    ``target`` is a server (we connect to ``dbname`` as its superuser) or an open superuser
    connection (the script then runs in a savepoint if a transaction is open). ``stand_ins``
    opts into replacements for
    ``pgcrypto``/``uuid-ossp`` when the server lacks them (see :mod:`.extensions`).
    """
    started = time.perf_counter()
    chosen = StandIns.coerce(stand_ins)
    with superuser_connection(target, dbname) as conn:
        state = probe(conn)
        if not state.superuser:
            raise BootstrapError(
                f"the Supabase bootstrap needs a superuser connection; {state.user!r} is not one"
            )
        report = BootstrapReport(state.database, state.version, auto_expose=auto_expose)
        script = _plan(state, auto_expose, chosen, report)
        if script:
            try:
                with conn.transaction():
                    conn.execute(sql.SQL(";\n").join(script))
            except psycopg.Error as exc:
                diag = exc.diag
                raise BootstrapError(
                    f"the Supabase bootstrap failed on {state.database!r} "
                    f"(PostgreSQL {state.version}); nothing was applied: "
                    f"ERROR {diag.sqlstate}: {diag.message_primary}"
                    + (f"\n  detail: {diag.message_detail}" if diag.message_detail else "")
                    + (f"\n  context: {diag.context}" if diag.context else "")
                ) from exc
    report.seconds = time.perf_counter() - started
    for warning in report.warnings:
        warn(warning, FidelityWarning)
    log.info(
        "bootstrap of %s: applied %s, skipped %s in %.3f s",
        report.database,
        ", ".join(report.applied) or "nothing",
        ", ".join(report.skipped) or "nothing",
        report.seconds,
    )
    return report


def _file(name: str) -> sql.Composable:
    return sql.SQL(sqlfiles.load(name))  # type: ignore[arg-type]


def _plan(
    state: CatalogState, auto_expose: bool | None, stand_ins: StandIns, report: BootstrapReport
) -> list[sql.Composable]:
    """The statements still missing, section by section (each section skips if present)."""
    script: list[sql.Composable] = []

    def section(name: str, parts: list[sql.Composable], *, present: bool = False) -> None:
        if present or not parts:
            report.skipped.append(name)
        else:
            report.applied.append(name)
            script.extend(parts)

    section("roles", _roles(state, report))
    if state.database_owner != "postgres":
        owner = sql.SQL("ALTER DATABASE {} OWNER TO postgres").format(
            sql.Identifier(state.database)
        )
        section("database owner", [owner])
    fresh = "extensions" not in state.schemas
    section("base schemas and grants", [_file("base.sql")], present=not fresh)
    section("extensions", _extensions(state, stand_ins, report))
    section("auth", [_file("auth.sql")], present="auth.users" in state.relations)
    section("auth functions", [_file("auth_functions.sql")], present="auth.jwt" in state.functions)
    section("storage", [_file("storage.sql")], present="storage.objects" in state.relations)
    section(
        "service schemas (pgbouncer, realtime, graphql_public)",
        [_file("service_schemas.sql")],
        present="pgbouncer.get_auth" in state.functions,
    )
    section(
        "realtime publication",
        [_file("realtime.sql")],
        present="supabase_realtime" in state.publications,
    )
    section(
        "migration history",
        [_file("migration_history.sql")],
        present="supabase_migrations.seed_files" in state.relations,
    )
    mode = True if (auto_expose is None and fresh) else auto_expose
    if mode is None:
        report.skipped.append("grant mode")
    else:
        # No auto-expose is the legacy grants followed by the CLI's revoke, so what the revoke
        # leaves (TRUNCATE, REFERENCES, TRIGGER, MAINTAIN) is there as on Supabase.
        parts = [_file("auto_expose.sql")] if (mode or fresh) else []
        if not mode:
            parts.append(_file("no_auto_expose.sql"))
        section("grant mode: " + ("auto-expose" if mode else "no auto-expose"), parts)
    report.auto_expose = mode
    return script


def _roles(state: CatalogState, report: BootstrapReport) -> list[sql.Composable]:
    major = state.major
    out: list[sql.Composable] = []
    for spec in ROLES:
        found = state.roles.get(spec.name)
        if found is None:
            out.append(spec.create())
            out.extend(spec.configure())
            report.created_roles.append(spec.name)
            continue
        if spec.name == SUPABASE_ADMIN and not found.get("config"):
            out.extend(spec.configure())  # our own initdb superuser: give it Supabase's settings
        for difference in attribute_differences(spec, found):
            report.warnings.append(
                f"role {spec.name} exists and differs from Supabase's: {difference}; "
                "left as it is (the bootstrap never alters existing roles)"
            )
    for membership in memberships_for(major):
        if (membership.role, membership.member) in state.memberships:
            continue
        if not (state.has_role(membership.role) or membership.role in report.created_roles):
            continue
        out.append(membership.grant(major))
    return out


# Extensions Supabase installs outside "extensions" (name -> schema), only where available.
OPTIONAL_EXTENSIONS = {"supabase_vault": "vault"}


def bootstrap_stand_ins(chosen: StandIns) -> StandIns:
    """The part of ``chosen`` the bootstrap itself uses (the rest only matters to migrations)."""
    used = {*DEFAULT_EXTENSIONS, *OPTIONAL_EXTENSIONS}
    return StandIns(frozenset(n for n in chosen.extensions if n in used))


def _extensions(
    state: CatalogState, stand_ins: StandIns, report: BootstrapReport
) -> list[sql.Composable]:
    out: list[sql.Composable] = []
    used: list[StandIn] = []
    for name in DEFAULT_EXTENSIONS:
        marker = STAND_INS[name].marker if name in STAND_INS else None
        if name in state.extensions:
            report.extensions[name] = "installed"
        elif marker and f"extensions.{marker}" in state.functions:
            report.extensions[name] = "stand-in"
        elif name in state.available:
            out.append(
                sql.SQL("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA extensions").format(
                    sql.Identifier(name)
                )
            )
            report.extensions[name] = "installed-now"
        elif (stand_in := stand_ins.for_extension(name)) is not None:
            out.append(sql.SQL(stand_in.sql("extensions")))  # type: ignore[arg-type]
            report.extensions[name] = "stand-in"
            used.append(stand_in)
        else:
            report.extensions[name] = "missing"
            report.warnings.append(
                f'extension "{name}" is not available on PostgreSQL {state.version}: '
                f"unqualified calls to its functions will fail. {where_available(name)}"
                + (
                    f" Or use rlsguard's {STAND_INS[name].kind} stand-in: "
                    f"{switch_hint(name, stand_ins.extensions)}"
                    if name in STAND_INS
                    else ""
                )
            )
    # Supabase also creates supabase_vault (schema vault) in every project; a server without it
    # gets the stand-in only when the project opted into it (no warning otherwise: the
    # no-service-schemas deviation says so).
    for name, schema in OPTIONAL_EXTENSIONS.items():
        if name in state.extensions or STAND_INS[name].marker in state.functions:
            report.extensions[name] = "installed"
        elif name in state.available:
            out.append(
                sql.SQL("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}").format(
                    sql.Identifier(name), sql.Identifier(schema)
                )
            )
            report.extensions[name] = "installed-now"
        elif (stand_in := stand_ins.for_extension(name)) is not None:
            out.append(sql.SQL(stand_in.sql(schema)))  # type: ignore[arg-type]
            report.extensions[name] = "stand-in"
            used.append(stand_in)
        else:
            report.extensions[name] = "absent"
    message = announce(used, f"bootstrap of {state.database}")
    if message:
        report.stand_ins.append(message)
    return out


def clone_database(server: DatabaseHost, name: str, template: str) -> None:
    """``CREATE DATABASE name TEMPLATE template``, then owned by postgres as on Supabase.

    A clone is owned by whoever created it; ownership decides CREATE on ``public`` (PG15+) and
    whether ``revoke ... on database`` works for postgres, so it is handed back to postgres.
    """
    server.create_database(name, template=template)
    with psycopg.connect(server.conninfo(name), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO postgres").format(sql.Identifier(name)))
