"""The app server: PostgREST-shaped reads and writes run as the signed-in user, over a pool.

Every request verifies the caller's JWT (as PostgREST does), checks a connection out of a
``psycopg_pool`` pool (connected as the authenticator role) and runs one transaction through
:class:`rlsguard.identity.session.Session`. What users see when the database misbehaves is
what they would see from a real app server:

- pool acquire timeout -> 503 (``pool_timeout``); a refused connection (53300, 57P03, ...)
  -> 503;
- statement timeout (57014) or lock timeout (55P03) -> 504;
- a denial (42501) -> 403.

Each request is one JSON line in the app log (event, outcome, error class, SQLSTATE,
latency): the runbook's ``logs/app.log``. ``GET /health`` reports the database's
reachability (a fresh connection, outside the pool) and the pool's saturation separately.
The auth service is mounted on the same app (its routes carry ``/auth/v1``).

Two admin routes exist for drills, behind a per-run token: ``/_chaos/leak`` checks
connections out and never returns them (the classic leaked-checkout bug), and
``/_admin/pool/reset`` is "restart the connection pooler" when there is no PgBouncer.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import jwt
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from rlsguard.identity.session import ApiSettings, Identity, Session
from rlsguard.identity.session import Request as ApiRequest
from rlsguard.identity.tokens import TokenSigner
from rlsguard.refapp.settings import RefAppSettings

log = logging.getLogger("rlsguard.refapp")
APP_NAME = "rlsguard-refapp"  # application_name of the app's pooled connections
HEALTH_APP = "rlsguard-refapp-health"
ADMIN_HEADER = "x-rlsguard-admin"

# SQLSTATE -> (status, error class), as users of an app server see them.
TIMEOUTS = {"57014": "statement_timeout", "55P03": "lock_timeout"}


class AppLog:
    """One JSON object per line, appended (``logs/app.log``); never a body or a token."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, **fields: Any) -> None:
        fields = {"time": round(time.time(), 6), **fields}
        line = json.dumps(fields, separators=(",", ":"), default=str)
        if self.path is None:
            log.info(line)
            return
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")


class PoolHolder:
    """The pool, replaceable as a whole ("restart the pooler") while requests run."""

    def __init__(self, settings: RefAppSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self.pool = self._new()
        self.leaked: list[psycopg.Connection[Any]] = []
        self.resets = 0

    def _new(self) -> ConnectionPool[Any]:
        s = self.settings
        return ConnectionPool(
            s.dsn,
            min_size=s.pool_min,
            max_size=s.pool_max,
            timeout=s.acquire_timeout_s,
            kwargs={
                "autocommit": True,
                "application_name": APP_NAME,
                # Transaction pooling hands each transaction any server connection: a
                # statement prepared on one is unknown on the next.
                **({"prepare_threshold": None} if s.pooled else {}),
            },
            check=ConnectionPool.check_connection,  # a crash leaves broken connections
            reconnect_timeout=3600,
            max_idle=60,
            open=False,
        )

    def open(self) -> None:
        self.pool.open(wait=False)

    def close(self) -> None:
        self._drop_leaked()
        self.pool.close(timeout=1.0)

    def _drop_leaked(self) -> int:
        n = 0
        while self.leaked:
            conn = self.leaked.pop()
            conn.close()
            n += 1
        return n

    def leak(self, n: int) -> int:
        """Check ``n`` connections out and keep them (never returned)."""
        got = 0
        for _ in range(n):
            try:
                self.leaked.append(self.pool.getconn(timeout=self.settings.acquire_timeout_s))
                got += 1
            except PoolTimeout:
                break
        return got

    def reset(self) -> dict[str, int]:
        """Close every connection (leaked ones too) and start a fresh pool."""
        with self._lock:
            old = self.pool
            self.pool = self._new()
            self.pool.open(wait=False)
            dropped = self._drop_leaked()
            self.resets += 1
        old.close(timeout=1.0)
        return {"leaked_closed": dropped, "resets": self.resets}

    def stats(self) -> dict[str, Any]:
        raw = self.pool.get_stats()
        size = int(raw.get("pool_size", 0))
        available = int(raw.get("pool_available", 0))
        in_use = size - available
        return {
            "max": self.settings.pool_max,
            "size": size,
            "in_use": in_use,
            "available": available,
            "waiting": int(raw.get("requests_waiting", 0)),
            "leaked": len(self.leaked),
            "saturation": round(in_use / self.settings.pool_max, 3),
            "timeouts": int(raw.get("requests_errors", 0)),
        }


def classify(exc: BaseException) -> tuple[int, str, str | None]:
    """(HTTP status, error class, SQLSTATE) of a failed request."""
    if isinstance(exc, PoolTimeout):
        return 503, "pool_timeout", None
    if isinstance(exc, psycopg.Error):
        code = exc.sqlstate
        if code in TIMEOUTS:
            return 504, TIMEOUTS[code], code
        if code == "42501":
            return 403, "denied", code
        if isinstance(exc, psycopg.OperationalError) or (code or "").startswith(("53", "57", "08")):
            return 503, "database_unavailable", code
        return 500, "database_error", code
    return 500, "internal", None


def create_app(settings: RefAppSettings, *, mounts: list[BaseRoute] | None = None) -> Starlette:
    signer = TokenSigner(secret=settings.jwt_secret)
    holder = PoolHolder(settings)
    applog = AppLog(settings.log_file)
    api = ApiSettings(schema=settings.schema_name, extra_search_path=("public", "extensions"))
    role_settings = {
        "statement_timeout": f"{settings.statement_timeout_ms}ms",
        "lock_timeout": f"{settings.lock_timeout_ms}ms",
    }

    def identity_of(request: Request) -> Identity:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        claims = signer.verify(token) if token else {"role": "anon"}
        return Identity(str(claims.get("role") or "anon"), claims, token or None)

    def run(request: Request, event: str, work: Any, *, method: str = "GET") -> Response:
        started = time.perf_counter()
        status, error_class, code, body = 200, None, None, None
        who = "?"
        try:
            identity = identity_of(request)
            who = identity.role
            with holder.pool.connection() as conn:
                api_request = ApiRequest(method=method, path=request.url.path)
                with Session(
                    conn,
                    identity,
                    request=api_request,
                    api=api,
                    role_settings=role_settings,
                    use_authenticator=False,  # the pool logs in as the authenticator itself
                ) as session:
                    body = work(session)
        except jwt.PyJWTError:
            status, error_class = 401, "jwt"
        except Exception as exc:
            status, error_class, code = classify(exc)
            if status == 500:
                log.error("request failed", exc_info=exc)
        latency = time.perf_counter() - started
        applog.write(
            event=event,
            path=request.url.path,
            method=method,
            role=who,
            status=status,
            outcome="ok" if status < 400 else "error",
            error_class=error_class,
            sqlstate=code,
            latency_ms=round(latency * 1000, 3),
        )
        if status >= 400:
            return JSONResponse({"code": code, "error": error_class}, status)
        return JSONResponse(body, status)

    def table_of(request: Request) -> sql.Composable | None:
        name = request.path_params["table"]
        if name not in settings.tables:
            return None
        return sql.Identifier(settings.schema_name, name)

    def read(request: Request) -> Response:
        """``GET /rest/v1/<table>?<column>=eq.<value>...``: PostgREST's equality filters
        (what an app's "this class's assignments" call sends), at most 100 rows."""
        table = table_of(request)
        if table is None:
            return JSONResponse({"error": "unknown table"}, 404)
        where, args = [], []
        for column, value in request.query_params.multi_items():
            op, _, operand = value.partition(".")
            if op != "eq" or not _:
                return JSONResponse(
                    {"error": f"unsupported filter {column}={value[:40]}: use column=eq.value"},
                    400,
                )
            where.append(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder()))
            args.append(operand)
        query = sql.SQL("select * from {}{} limit 100").format(
            table, sql.SQL(" where ") + sql.SQL(" and ").join(where) if where else sql.SQL("")
        )
        return run(request, "read", lambda s: jsonable(s.fetch(query, args or None)))

    def write(request: Request) -> Response:
        """An insert that, with ``Prefer: tx=rollback`` (PostgREST's), is rolled back."""
        table = table_of(request)
        if table is None:
            return JSONResponse({"error": "unknown table"}, 404)
        rollback = "tx=rollback" in request.headers.get("prefer", "")
        row = json.loads(request.query_params.get("row", "{}"))
        cols = sql.SQL(", ").join(sql.Identifier(k) for k in row)
        vals = sql.SQL(", ").join(sql.Placeholder() for _ in row)
        query = sql.SQL("insert into {} ({}) values ({}) returning *").format(table, cols, vals)

        def work(session: Session) -> Any:
            out = jsonable(session.fetch(query, list(row.values())))
            if rollback:
                session.close(success=False)  # PostgREST's tx=rollback: answered, not kept
            return out

        return run(request, "write", work, method="POST")

    def rpc(request: Request) -> Response:
        name = request.path_params["fn"]
        if name not in settings.functions:
            return JSONResponse({"error": "unknown function"}, 404)
        args = dict(request.query_params)
        fn = sql.Identifier(settings.schema_name, name)
        named = sql.SQL(", ").join(
            sql.SQL("{} => {}").format(sql.Identifier(k), sql.Placeholder()) for k in args
        )
        query = sql.SQL("select {}({}) as result").format(fn, named)
        return run(request, "rpc", lambda s: jsonable(s.fetch(query, list(args.values()))))

    async def reach() -> None:
        conn = await psycopg.AsyncConnection.connect(
            settings.dsn, connect_timeout=2, application_name=HEALTH_APP
        )
        async with conn:
            await conn.execute("select 1")

    async def health(request: Request) -> Response:
        """A fresh connection and ``select 1`` within ``health_timeout_s``: a hung pooler or
        server answers nothing, and libpq's own connect timeout is 2 s at least."""
        started = time.perf_counter()
        database: dict[str, Any] = {"ok": True}
        try:
            await asyncio.wait_for(reach(), settings.health_timeout_s)
        except psycopg.Error as exc:
            database = {"ok": False, "sqlstate": exc.sqlstate, "error": str(exc).strip()[:300]}
        except TimeoutError:
            database = {
                "ok": False,
                "sqlstate": None,
                "error": f"no answer within {settings.health_timeout_s:g} s",
            }
        database["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
        pool = holder.stats()
        ok = database["ok"] and pool["saturation"] < 1.0
        return JSONResponse({"ok": ok, "database": database, "pool": pool}, 200 if ok else 503)

    def admin(request: Request) -> Response | None:
        given = request.headers.get(ADMIN_HEADER, "")
        if not settings.admin_token or not hmac.compare_digest(given, settings.admin_token):
            return JSONResponse({"error": "admin token required"}, 403)
        return None

    def leak(request: Request) -> Response:
        if (denied := admin(request)) is not None:
            return denied
        n = int(request.query_params.get("n", settings.pool_max))
        got = holder.leak(n)
        applog.write(event="chaos.leak", requested=n, leaked=got)
        return JSONResponse({"leaked": got, "pool": holder.stats()})

    def reset(request: Request) -> Response:
        if (denied := admin(request)) is not None:
            return denied
        done = holder.reset()
        applog.write(event="pool.reset", **done)
        return JSONResponse({**done, "pool": holder.stats()})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        holder.open()
        async with AsyncExitStack() as stack:
            for mount in mounts or []:
                inner = getattr(mount, "app", None)
                router = getattr(inner, "router", None)
                if router is not None:  # a mounted app's own lifespan (Mount does not run it)
                    await stack.enter_async_context(router.lifespan_context(inner))
            try:
                yield
            finally:
                holder.close()

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/rest/v1/rpc/{fn}", rpc, methods=["GET", "POST"]),
        Route("/rest/v1/{table}", read, methods=["GET"]),
        Route("/rest/v1/{table}", write, methods=["POST"]),
        Route("/_chaos/leak", leak, methods=["POST"]),
        Route("/_admin/pool/reset", reset, methods=["POST"]),
        *(mounts or []),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.pool = holder
    return app


def jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return json.loads(json.dumps(rows, default=str))


def auth_mount() -> Mount | None:
    """The auth service's app, when the harness configured it (its routes carry /auth/v1)."""
    from rlsguard.authservice import app as auth

    if not os.environ.get(auth.ENV_DSN):
        return None
    return Mount("", app=auth.app_from_env())


def app_from_env() -> Starlette:
    """uvicorn ``--factory`` entry point for the supervised child."""
    settings = RefAppSettings.from_env()
    mount = auth_mount()
    return create_app(settings, mounts=[mount] if mount is not None else [])
