"""The ``dsn`` backend: a Postgres server somebody else runs (staging, a ``supabase start`` stack).

rlsguard did not start this server, so it behaves as a guest. It offers the
same verbs as a local cluster, but ``start`` and ``stop`` only open and close
what rlsguard itself opened, databases it did not create are never dropped,
and every fault is refused unless the operator opted in by naming this exact
target (``allow_destructive = "host:port/dbname"``). The opt-in covers that one
database: terminating backends hits its sessions only (by default only those
rlsguard opened, known by their ``application_name``), never another database
of the server. Even then only what SQL can do is possible: ``kill -9``,
SIGSTOP and a restart need the server's host and are refused with that reason.
Databases rlsguard creates carry a marker comment naming its run, and only a
database with that marker is ever dropped.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import psycopg
from psycopg import conninfo, pq

from rlsguard.errors import BackendUnavailable, DestructiveActionRefused, ServerError
from rlsguard.stack.databases import Databases, marker_for
from rlsguard.stack.process import RemoteServer, State

DEFAULT_READY_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.02
MAX_CONNECT_TIMEOUT_S = 5
# Connection failures that waiting will not fix: bad credentials, missing role or
# database. libpq gives no SQLSTATE for a failed connection, only the server's text.
_HOPELESS = (
    "password authentication failed",
    "no pg_hba.conf entry",
    "does not exist",
    "authentication failed",
    "password is required",
)
ALLOW_OPTION = "--rlsguard-allow-destructive"
ALLOW_KEY = "allow_destructive"


def _libpq_defaults() -> dict[str, str]:
    """libpq's own defaults, PG* environment variables included."""
    return {
        opt.keyword.decode(): opt.val.decode()
        for opt in pq.Conninfo.get_defaults()
        if opt.val is not None
    }


def target_name(params: Mapping[str, Any], defaults: Mapping[str, str] | None = None) -> str:
    """``host:port/dbname`` of a connection string, libpq defaults filled in.

    This is the exact name an operator writes in ``allow_destructive``; a
    missing host (libpq's default unix socket) is named ``localhost``.
    """
    defaults = _libpq_defaults() if defaults is None else defaults
    host = params.get("host") or params.get("hostaddr") or defaults.get("host") or "localhost"
    port = params.get("port") or defaults.get("port") or "5432"
    user = params.get("user") or defaults.get("user") or ""
    dbname = params.get("dbname") or defaults.get("dbname") or user
    return f"{host}:{port}/{dbname}"


class ExternalPostgres(RemoteServer):
    """A server reached by URL; rlsguard owns only the databases and connections it makes."""

    kind: ClassVar[str] = "postgres"
    owned: ClassVar[bool] = False

    def __init__(
        self,
        dsn: str,
        *,
        name: str = "external",
        allow_destructive: str | None = None,
        run_id: str | None = None,
    ) -> None:
        try:
            self._params: dict[str, Any] = conninfo.conninfo_to_dict(dsn)
        except psycopg.ProgrammingError as exc:
            raise BackendUnavailable(
                f"the DSN for {name!r} is not a libpq connection string or URL: "
                f"{_redact(str(exc), _secret(dsn))}"
            ) from None
        self.dsn = dsn
        self.name = name
        self.target = target_name(self._params)
        self.allow_destructive = allow_destructive
        self.run_id = run_id or secrets.token_hex(6)
        # Sessions rlsguard opens say so: terminate_backends() in an opted-in database
        # hits only these unless told otherwise.
        self.application_name = f"rlsguard {self.run_id}"
        self.marker = marker_for(self.run_id, name)
        self.workdir = None  # nothing on disk: Stack.discard() has nothing to remove
        password = self._params.get("password") or _libpq_defaults().get("password")
        self._password: str | None = str(password) if password else None
        self._state = State.STOPPED
        self._major: int | None = None
        self._created: list[str] = []
        self._connections: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.target} {self._state.value}>"

    # -- state -----------------------------------------------------------------
    @property
    def dbname(self) -> str:
        """The database the DSN names (the one an opt-in covers)."""
        return self.target.rsplit("/", 1)[1]

    @property
    def opted_in(self) -> bool:
        """Whether the operator named exactly this target (``host:port/dbname``)."""
        return self.allow_destructive is not None and self.allow_destructive == self.target

    @property
    def created_databases(self) -> tuple[str, ...]:
        """Databases rlsguard created here and may drop again."""
        with self._lock:
            return tuple(self._created)

    @property
    def major(self) -> int:
        """The server's major version (asked once)."""
        if self._major is None:
            with self._open() as conn:
                self._major = conn.info.server_version // 10_000
        return self._major

    def is_live_supabase(self) -> bool:
        """A live Supabase database: the ``auth`` schema and the ``authenticator`` role exist.

        Such a database is never bootstrapped or migrated; anything else is a scratch
        server where rlsguard works in databases of its own.
        """
        with self._open() as conn:
            row = conn.execute(
                "select exists (select 1 from pg_namespace where nspname = 'auth'),"
                " exists (select 1 from pg_roles where rolname = 'authenticator')"
            ).fetchone()
        return bool(row and row[0] and row[1])

    # -- addresses -------------------------------------------------------------
    def conninfo(self, dbname: str | None = None, user: str | None = None, **extra: str) -> str:
        """The DSN with another database or user; ``None`` keeps the DSN's own."""
        overrides: dict[str, str] = {k: v for k, v in extra.items() if v is not None}
        if dbname is not None:
            overrides["dbname"] = dbname
        if user is not None:
            overrides["user"] = user
        if "application_name" not in self._params:
            overrides.setdefault("application_name", self.application_name)
        return conninfo.make_conninfo(self.dsn, **overrides)

    def connect(self, dbname: str | None = None, **kwargs: Any) -> psycopg.Connection[Any]:
        """A connection that :meth:`stop` closes if the caller has not."""
        conn = psycopg.connect(self.conninfo(dbname), **kwargs)
        self._connections.add(conn)
        return conn

    def _open(
        self, dbname: str | None = None, *, timeout: float = MAX_CONNECT_TIMEOUT_S
    ) -> psycopg.Connection[Any]:
        # libpq counts connect_timeout in whole seconds, 2 at the least.
        seconds = max(2, min(MAX_CONNECT_TIMEOUT_S, math.ceil(timeout)))
        return psycopg.connect(self.conninfo(dbname), autocommit=True, connect_timeout=seconds)

    # -- lifecycle -------------------------------------------------------------
    def start(self, *, wait: bool = True, timeout: float = DEFAULT_READY_TIMEOUT_S) -> Self:
        """Nothing to launch: with ``wait``, check that the server answers."""
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = DEFAULT_READY_TIMEOUT_S) -> Self:
        """Poll ``SELECT 1`` until it answers or ``timeout`` passes.

        Bad credentials and a missing database fail at once: waiting will not fix them.
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                with self._open(timeout=remaining) as conn:
                    conn.execute("SELECT 1")
                    self._major = conn.info.server_version // 10_000
            except psycopg.OperationalError as exc:
                reason = _redact(str(exc).strip(), self._password)
                if any(text in reason for text in _HOPELESS):
                    raise ServerError(f"{self.target} refused the connection: {reason}") from None
                if time.monotonic() >= deadline:
                    raise ServerError(
                        f"{self.target} did not answer within {timeout:.1f}s: {reason}"
                    ) from None
                time.sleep(POLL_INTERVAL_S)
                continue
            with self._lock:
                self._state = State.RUNNING
            return self

    def stop(self, *, drop_created: bool = True) -> None:
        """Close the connections rlsguard opened and drop the databases it created.

        The server itself keeps running: it is not ours to stop.
        """
        with self._lock:
            for conn in list(self._connections):
                conn.close()
            failed: list[str] = []
            if drop_created:
                for name in reversed(self._created):
                    try:
                        self._drop(name)
                    except psycopg.Error as exc:
                        failed.append(f"{name} ({_redact(str(exc).strip(), self._password)})")
            self._state = State.STOPPED
        if failed:
            raise ServerError(
                f"could not drop databases rlsguard created on {self.target}: " + ", ".join(failed)
            )

    def remove(self) -> None:
        """Same as :meth:`stop`: nothing of ours is left on the server afterwards."""
        self.stop()

    # -- databases -------------------------------------------------------------
    def databases(self) -> Databases:
        """The lifecycle on this server: admin connection in the DSN's database, marked."""
        return Databases(
            lambda dbname, **kw: self._open(dbname), maintenance_db=None, marker=self.marker
        )

    def create_database(self, name: str, *, template: str | None = None) -> None:
        """Create a database marked as this run's, so it (and only it) may be dropped later."""
        with self._lock, contextlib.closing(self.databases()) as dbs:
            dbs.create(name, template=template)
            self._created.append(name)

    def drop_database(self, name: str) -> None:
        """Drop a database rlsguard created; any other is refused, opted in or not."""
        with self._lock:
            if name not in self._created:
                mine = ", ".join(self._created) or "none"
                raise DestructiveActionRefused(
                    f"refusing to drop database {name!r} on {self.target}: rlsguard did not "
                    f"create it (databases it created here: {mine}). On a server rlsguard did "
                    f"not start, only databases it created are ever dropped; {ALLOW_KEY} does "
                    "not change that."
                )
            self._drop(name)

    def _drop(self, name: str) -> None:
        with contextlib.closing(self.databases()) as dbs:
            dbs.drop(name, require_marker=True)
        self._created.remove(name)

    # -- faults ----------------------------------------------------------------
    def terminate_backends(
        self,
        *,
        dbname: str | None = None,
        state: str | None = None,
        exclude_own: bool = True,
        only_rlsguard: bool = True,
    ) -> int:
        """``pg_terminate_backend`` client sessions of ONE database (e.g. ``state="idle in
        transaction"``); returns how many were terminated.

        ``dbname`` (default: the DSN's database) is a database rlsguard created, where
        every session is rlsguard's and no opt-in is needed, or the opted-in target
        itself. There, ``only_rlsguard`` keeps to sessions rlsguard opened (their
        ``application_name`` names this run); other databases of the server are never hit.
        """
        dbname = dbname or self.dbname
        created = dbname in self.created_databases
        if not created:
            if dbname != self.dbname:
                raise DestructiveActionRefused(
                    f"refusing to terminate sessions in database {dbname!r} on {self.target}: "
                    f"rlsguard did not create it, and {ALLOW_KEY} can only name the DSN's own "
                    f"database ({self.dbname!r})."
                )
            self._require_opt_in(f"terminate sessions in database {dbname!r} of")
        own = [c.info.backend_pid for c in list(self._connections) if not c.closed]
        query = (
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            " AND datname = %(db)s"
            " AND (%(state)s::text IS NULL OR state = %(state)s)"
            " AND (%(app)s::text IS NULL OR application_name = %(app)s)"
            " AND NOT (pid = ANY(%(own)s::int[]))"
        )
        params = {
            "db": dbname,
            "state": state,
            "app": self.application_name if (only_rlsguard and not created) else None,
            "own": own if exclude_own else [],
        }
        with self._open() as conn:
            row = conn.execute(query, params).fetchone()
        return int(row[0]) if row else 0

    def kill(self) -> None:
        self._refuse(
            "kill -9",
            "SIGKILL needs a shell on the server's host, and SQL cannot crash a server",
        )

    def freeze(self) -> None:
        self._refuse("freeze", "SIGSTOP needs a shell on the server's host")

    def thaw(self) -> None:
        self._refuse("thaw", "it was never frozen: SIGCONT needs a shell on the server's host")

    def restart(self, *, wait: bool = True, timeout: float = DEFAULT_READY_TIMEOUT_S) -> Self:
        self._refuse(
            "restart",
            "a restart needs the server's host (pg_reload_conf() only rereads its settings)",
        )
        return self  # pragma: no cover  (_refuse always raises)

    def _opt_in_hint(self) -> str:
        return (
            f'{ALLOW_KEY} = "{self.target}" in [tool.rlsguard] or rlsguard.toml, '
            f"or pass {ALLOW_OPTION} {self.target}"
        )

    def _require_opt_in(self, what: str) -> None:
        if self.opted_in:
            return
        named = (
            f" ({ALLOW_KEY} names {self.allow_destructive!r}, not this server)"
            if self.allow_destructive
            else ""
        )
        raise DestructiveActionRefused(
            f"refusing to {what} {self.target}: rlsguard did not start this server{named}. "
            f"To allow destructive faults on it, set {self._opt_in_hint()}."
        )

    def _refuse(self, verb: str, impossible: str) -> None:
        possible = "terminate_backends() (pg_terminate_backend over SQL)"
        if self.opted_in:
            raise DestructiveActionRefused(
                f"cannot {verb} {self.target}: {impossible}. {ALLOW_KEY} names this server, "
                f"so what SQL can do is allowed: {possible}."
            )
        raise DestructiveActionRefused(
            f"refusing to {verb} {self.target}: rlsguard did not start this server, and "
            f"{impossible}. Opting in ({self._opt_in_hint()}) allows only what SQL can do: "
            f"{possible}."
        )


def _secret(dsn: str) -> str | None:
    """The password in a DSN, found without a full parse (the parse is what failed)."""
    for part in dsn.replace("?", " ").replace("&", " ").split():
        key, _, value = part.partition("=")
        if key == "password" and value:
            return value
    if "://" in dsn and "@" in dsn:
        userinfo = dsn.split("://", 1)[1].split("@", 1)[0]
        if ":" in userinfo:
            return userinfo.split(":", 1)[1]
    return None


def _redact(text: str, secret: str | None) -> str:
    """Secrets are never printed: error texts may quote the DSN."""
    return text.replace(secret, "***") if secret else text
