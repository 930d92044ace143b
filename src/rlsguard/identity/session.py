"""Run SQL exactly as the Data API (PostgREST) would for one request.

PostgREST opens a transaction as ``authenticator`` and, in one statement,
sets transaction-locally: ``search_path``, the impersonated role's own
settings, ``role``, ``request.jwt.claims`` (all claims, ``role`` included),
``request.method``, ``request.path``, ``request.headers`` (lower-cased names)
and ``request.cookies``. A session here sends the same settings in the same
order, in one round trip, and switches the session user to ``authenticator``
(``SET LOCAL SESSION AUTHORIZATION``) so ``session_user`` reads as on Supabase.

Inside a test's transaction a session is a savepoint: its writes are kept
when the block succeeds (PostgREST would commit) and undone when it fails.
Read-only requests (GET, HEAD) are always undone.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
RLS_VIOLATION = "new row violates row-level security policy"
_savepoint_ids = itertools.count(1)


@dataclass(frozen=True)
class Identity:
    """Who a request runs as: the database role, the claims PostgREST sets, the bearer token."""

    role: str
    claims: Mapping[str, Any]
    token: str | None = field(default=None, repr=False)  # the service_role key, for one
    user_id: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.role


@dataclass(frozen=True)
class Request:
    """The HTTP side of a request, as PostgREST exposes it to SQL."""

    method: str = "POST"
    path: str = "/"
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)

    @property
    def read_only(self) -> bool:
        return self.method.upper() in READ_ONLY_METHODS


@dataclass(frozen=True)
class ApiSettings:
    """What PostgREST is configured with (Supabase: ``[api]`` in config.toml)."""

    schema: str = "public"
    extra_search_path: Sequence[str] = ("public", "extensions")
    authenticator: str | None = "authenticator"

    @property
    def search_path(self) -> str:
        return ", ".join(_ident(s) for s in (self.schema, *self.extra_search_path))


def _ident(name: str) -> str:
    return name if name.isidentifier() and name.islower() else '"' + name.replace('"', '""') + '"'


def denial_kind(exc: BaseException) -> str | None:
    """Tell the two 42501s apart: ``"rls"`` (WITH CHECK / policy) or ``"grant"`` (privilege)."""
    if not isinstance(exc, psycopg.Error) or exc.sqlstate != "42501":
        return None
    message = exc.diag.message_primary or str(exc)
    return "rls" if message.startswith(RLS_VIOLATION) else "grant"


def prologue_settings(
    identity: Identity,
    request: Request,
    api: ApiSettings,
    role_settings: Mapping[str, str],
    extra_headers: Mapping[str, str],
) -> list[tuple[str, str]]:
    """The ``set_config`` calls of one request, in PostgREST's order."""
    claims = dict(identity.claims)
    claims["role"] = identity.role  # PostgREST inserts the resolved role
    headers = {k.lower(): v for k, v in {**extra_headers, **request.headers}.items()}
    return [
        ("search_path", api.search_path),
        *role_settings.items(),
        ("role", identity.role),
        ("request.jwt.claims", json.dumps(claims, separators=(",", ":"))),
        ("request.method", request.method.upper()),
        ("request.path", request.path),
        ("request.headers", json.dumps(headers, separators=(",", ":"))),
        ("request.cookies", json.dumps(dict(request.cookies), separators=(",", ":"))),
    ]


def execute_keyed(conn: psycopg.Connection[Any], text: str) -> None:
    """Run SQL text that carries API keys and tokens, keeping the text out of a traceback.

    ``pytest -l`` prints every frame's locals: psycopg's ``execute`` frame holds the query.
    The error is re-raised from here with psycopg's frames cut and the text deleted.
    """
    try:
        conn.execute(text)  # type: ignore[call-overload]
    except psycopg.Error as exc:
        del text
        raise exc.with_traceback(None) from None


class Session:
    """One impersonated request; use as a context manager.

    >>> with db.as_persona("student") as s:
    ...     rows = s.fetch("select id from public.classes")
    """

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        identity: Identity,
        *,
        request: Request | None = None,
        api: ApiSettings | None = None,
        role_settings: Mapping[str, str] | None = None,
        api_key: str | None = None,
        use_authenticator: bool = True,
    ) -> None:
        self.conn = conn
        self.identity = identity
        self.request = request or Request()
        self.api = api or ApiSettings()
        self.role_settings = dict(role_settings or {})
        self.api_key = api_key
        self.use_authenticator = use_authenticator and self.api.authenticator is not None
        self._savepoint: str | None = None
        self._active = False

    # -- entering and leaving --------------------------------------------------
    def _default_headers(self) -> dict[str, str]:
        headers = {"accept": "application/json", "user-agent": "rlsguard"}
        if self.api_key:
            headers["apikey"] = self.api_key
        if self.identity.token:
            headers["authorization"] = f"Bearer {self.identity.token}"
        return headers

    def impersonation(self) -> list[sql.Composable]:
        """The statements that make the current transaction this request (no BEGIN)."""
        parts: list[sql.Composable] = []
        if self.use_authenticator:
            parts.append(
                sql.SQL("SET LOCAL SESSION AUTHORIZATION {}").format(
                    sql.Identifier(self.api.authenticator or "authenticator")
                )
            )
        settings = prologue_settings(
            self.identity, self.request, self.api, self.role_settings, self._default_headers()
        )
        calls = sql.SQL(", ").join(
            sql.SQL("set_config({}, {}, true)").format(sql.Literal(k), sql.Literal(v))
            for k, v in settings
        )
        parts.append(sql.SQL("SELECT ") + calls)
        return parts

    def prologue(self) -> sql.Composed:
        """The statements that open the request: one simple query, one round trip."""
        parts: list[sql.Composable] = []
        status = self.conn.info.transaction_status
        if status == TransactionStatus.IDLE:
            mode = " READ ONLY" if self.request.read_only else ""
            parts.append(sql.SQL("BEGIN ISOLATION LEVEL READ COMMITTED" + mode))
        else:
            self._savepoint = f"rlsguard_request_{next(_savepoint_ids)}"
            parts.append(sql.SQL("SAVEPOINT {}").format(sql.Identifier(self._savepoint)))
            if self.request.read_only:
                parts.append(sql.SQL("SET LOCAL transaction_read_only = on"))
        parts.extend(self.impersonation())
        return sql.SQL("; ").join(parts)

    def __enter__(self) -> Self:
        if self._active:
            raise RuntimeError("this session is already open")
        if self.conn.autocommit is False and self.conn.info.transaction_status == (
            TransactionStatus.IDLE
        ):
            # A non-autocommit connection would send its own BEGIN first.
            raise RuntimeError("open sessions on an autocommit connection or inside a transaction")
        execute_keyed(self.conn, self.prologue().as_string(self.conn))
        self._active = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(success=exc_type is None)

    def close(self, *, success: bool = True) -> None:
        if not self._active:
            return
        self._active = False
        failed = self.conn.info.transaction_status == TransactionStatus.INERROR
        keep = success and not failed and not self.request.read_only
        if self._savepoint is None:
            self.conn.execute("COMMIT" if keep else "ROLLBACK")
            return
        name = sql.Identifier(self._savepoint)
        if keep:
            # Keep the writes; undo the request's settings in the same round trip.
            epilogue = sql.SQL("; ").join(
                [
                    sql.SQL("RELEASE SAVEPOINT {}").format(name),
                    *([sql.SQL("RESET SESSION AUTHORIZATION")] if self.use_authenticator else []),
                    sql.SQL("RESET ROLE"),
                    sql.SQL("RESET search_path"),
                    *(sql.SQL("RESET {}").format(sql.Identifier(k)) for k in self.role_settings),
                    sql.SQL(
                        "SELECT set_config('request.jwt.claims', '', true), "
                        "set_config('request.method', '', true), "
                        "set_config('request.path', '', true), "
                        "set_config('request.headers', '', true), "
                        "set_config('request.cookies', '', true)"
                    ),
                ]
            )
        else:
            epilogue = sql.SQL("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}").format(name)
        self.conn.execute(epilogue.as_string(self.conn))

    # -- queries ---------------------------------------------------------------
    def _check(self) -> None:
        if not self._active:
            raise RuntimeError("use the session inside its 'with' block")

    def fetch(self, query: str | sql.Composable, params: Any = None) -> list[dict[str, Any]]:
        """All rows, as dicts."""
        self._check()
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def fetchone(self, query: str | sql.Composable, params: Any = None) -> dict[str, Any] | None:
        rows = self.fetch(query, params)
        return rows[0] if rows else None

    def scalar(self, query: str | sql.Composable, params: Any = None) -> Any:
        """The first column of the first row (None when there is no row)."""
        self._check()
        row = self.conn.execute(query, params).fetchone()  # type: ignore[arg-type]
        return row[0] if row else None

    def execute(self, query: str | sql.Composable, params: Any = None) -> int:
        """Run a statement; returns the number of rows it affected."""
        self._check()
        cur = self.conn.execute(query, params)  # type: ignore[arg-type]
        return cur.rowcount
