"""Databases inside a running server: create, clone and drop them, for every backend.

This is the one place rlsguard creates or drops a database: the template
cache's clusters, the worker and check databases of the engine, a scratch
server reached by DSN, a container. Servers (``PostgresServer``,
``ExternalPostgres``, ``DockerPostgres``) offer ``create_database`` and
``drop_database`` through it.

``CREATE DATABASE ... TEMPLATE`` copies the files but not what Postgres keeps
per database elsewhere: ``ALTER DATABASE ... SET`` and ``ALTER ROLE ... IN
DATABASE ... SET`` settings and the database's own privileges (``REVOKE
CONNECT ON DATABASE postgres``). A clone that lost those would run policies
under other settings than the template, so :meth:`Databases.clone` copies them.

On a server rlsguard did not start, a database is proven to be rlsguard's by a
*marker*: a comment naming the run that created it (``COMMENT ON DATABASE``).
:meth:`Databases.drop` with ``require_marker`` refuses a database whose comment
is not this run's, whatever its name.

Dropping right after a client disconnects can hit Postgres's hidden 100 ms
sleep (the backend has not exited yet); the lifecycle waits for the backends
to leave, polling every millisecond, instead.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg import sql

from rlsguard.errors import DestructiveActionRefused, RlsguardError

MAINTENANCE_DB = "template1"
MARKER_PREFIX = "rlsguard run "
_PLACEHOLDER_NAME = "rlsguard clone placeholder"
_PLACEHOLDER = '"rlsguard clone placeholder"'

_SETTINGS_QUERY = """
select r.rolname, s.setconfig
from pg_db_role_setting s
join pg_database d on d.oid = s.setdatabase
left join pg_roles r on r.oid = s.setrole
where d.datname = %s
"""
_ACL_QUERY = """
select a.privilege_type, g.rolname as grantee, a.is_grantable
from pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
left join pg_roles g on g.oid = a.grantee
where d.datname = %s
"""
_OWNER_QUERY = "select pg_get_userbyid(datdba) from pg_database where datname = %s"
_COMMENT_QUERY = "select shobj_description(oid, 'pg_database') from pg_database where datname = %s"


def marker_for(run_id: str, owner: str = "") -> str:
    """The comment that proves a database was created by the run ``run_id`` (and, within
    it, by ``owner``: several engines of one run each drop only their own)."""
    return f"{MARKER_PREFIX}{run_id}" + (f" {owner}" if owner else "")


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Databases:
    """Creates, clones and drops the databases of one server, through a maintenance database.

    ``connect(dbname, **kwargs)`` opens a superuser connection (e.g. ``server.connect``);
    ``maintenance_db`` is where the admin connection lives (``None``: the connect
    function's default, e.g. a DSN's own database, so nobody else's ``CREATE DATABASE``
    finds ``template1`` busy). ``marker``: written as the comment of every database
    created here, and required by :meth:`drop` when ``require_marker`` is set.
    """

    def __init__(
        self,
        connect: Callable[..., psycopg.Connection[Any]],
        *,
        maintenance_db: str | None = MAINTENANCE_DB,
        marker: str | None = None,
    ) -> None:
        self._connect = connect
        self._maintenance_db = maintenance_db
        self.marker = marker
        self._conn: psycopg.Connection[Any] | None = None
        self._state_sql: dict[str, str] = {}
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def _admin(self) -> Iterator[psycopg.Connection[Any]]:
        """One maintenance connection, kept open: a connect costs ~2 ms, a clone ~7."""
        with self._lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = self._connect(self._maintenance_db, autocommit=True)
            yield self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- create ----------------------------------------------------------------
    def create(self, name: str, *, template: str | None = None, file_copy: bool = True) -> None:
        """``CREATE DATABASE`` (from ``template``, FILE_COPY where it exists), marked if asked."""
        with self._admin() as conn:
            stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                self._wait_for_no_backends(conn, template)
                stmt += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
                if file_copy and conn.info.server_version >= 150000:
                    stmt += sql.SQL(" STRATEGY FILE_COPY")  # 6-7 ms on tmpfs vs 9-10
            try:
                conn.execute(stmt)
            except psycopg.errors.ObjectInUse as exc:
                raise RlsguardError(
                    f"cannot clone {template!r}: another session is connected to it ({exc}). "
                    "Tests must not keep connections to the template database."
                ) from exc
            if self.marker is not None:
                conn.execute(
                    sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                        sql.Identifier(name), sql.Literal(self.marker)
                    )
                )

    def clone(self, source: str, target: str, *, file_copy: bool = True) -> None:
        """Create ``target`` from ``source`` with its settings, owner and privileges."""
        self.create(target, template=source, file_copy=file_copy)
        with self._admin() as conn:
            if source not in self._state_sql:
                self._state_sql[source] = self._database_state(conn, source).as_string(conn)
            conn.execute(self._state_sql[source].replace(_PLACEHOLDER, _quote_ident(target)))

    def forget(self, source: str) -> None:
        """Re-read the source's settings and privileges on the next clone (after changing them)."""
        self._state_sql.pop(source, None)

    def _database_state(self, conn: psycopg.Connection[Any], source: str) -> sql.Composed:
        """Statements giving a clone the source's owner, settings and privileges.

        Built once per source with a placeholder for the clone's name: the
        template does not change while tests run.
        """
        statements: list[sql.Composable] = []
        tgt = sql.Identifier(_PLACEHOLDER_NAME)
        row = conn.execute(_OWNER_QUERY, (source,)).fetchone()
        if row:
            statements.append(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(tgt, sql.Identifier(row[0]))
            )
        for rolname, setconfig in conn.execute(_SETTINGS_QUERY, (source,)).fetchall():
            for item in setconfig or []:
                name, _, value = item.partition("=")
                target_sql = (
                    sql.SQL("ALTER ROLE {} IN DATABASE {}").format(sql.Identifier(rolname), tgt)
                    if rolname
                    else sql.SQL("ALTER DATABASE {}").format(tgt)
                )
                statements.append(
                    target_sql
                    + sql.SQL(" SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
                )
        # Privileges: start from nothing, then grant exactly what the source has.
        statements.append(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(tgt))
        for privilege, grantee, grantable in conn.execute(_ACL_QUERY, (source,)).fetchall():
            statements.append(
                sql.SQL("GRANT {} ON DATABASE {} TO {}{}").format(
                    sql.SQL(privilege),
                    tgt,
                    sql.Identifier(grantee) if grantee else sql.SQL("PUBLIC"),
                    sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL(""),
                )
            )
        return sql.SQL("; ").join(statements)

    # -- drop ------------------------------------------------------------------
    def marked(self, name: str) -> bool:
        """Whether ``name`` carries this lifecycle's marker (proof that it is ours)."""
        if self.marker is None:
            return False
        with self._admin() as conn:
            row = conn.execute(_COMMENT_QUERY, (name,)).fetchone()
        return bool(row) and row[0] == self.marker

    def drop(self, name: str, *, timeout: float = 10.0, require_marker: bool = False) -> None:
        """Terminate what is connected to ``name`` (only there) and drop it.

        ``require_marker``: refuse unless the database carries this run's marker,
        so a name collision can never drop somebody else's database.
        """
        with self._admin() as conn:
            if require_marker and not self.marked(name):
                if not self.exists(name):
                    return
                raise DestructiveActionRefused(
                    f"refusing to drop database {name!r}: it does not carry rlsguard's marker "
                    f"({self.marker!r}), so this run did not create it"
                )
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where datname = %s and pid <> pg_backend_pid()",
                (name,),
            )
            self._wait_for_no_backends(conn, name, timeout)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

    def exists(self, name: str) -> bool:
        with self._admin() as conn:
            return bool(
                conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
            )

    @staticmethod
    def _wait_for_no_backends(
        conn: psycopg.Connection[Any], dbname: str, timeout: float = 10.0
    ) -> None:
        deadline = time.monotonic() + timeout
        query = (
            "select count(*) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()"
        )
        while True:
            row = conn.execute(query, (dbname,)).fetchone()
            if not row or row[0] == 0:
                return
            if time.monotonic() > deadline:
                raise RlsguardError(
                    f"database {dbname!r} still has {row[0]} connection(s) after {timeout:.0f}s"
                )
            time.sleep(0.001)
