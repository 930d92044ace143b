"""What an auth drill runs against: Redis, an SMTP sink and the reference auth service on the
drill's database, plus synthetic users who sign in (and ask for OTPs) all along.

Each synthetic sign-in is judged end to end: the service answers 200 *and* the token it issued
is accepted by the data layer (verified with the database's JWT secret, then ``auth.uid()``
under its claims is the user), so a service signing with a secret the data layer does not share
is a failed sign-in even though the service said 200. Every user stays far below the limits the
rig deploys: a 429 to one of them is premature by construction.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import psycopg

from rlsguard.authservice.harness import RATE_LIMIT_HEADER, TEST_BCRYPT_COST
from rlsguard.authservice.outbox import TABLE as OUTBOX
from rlsguard.authservice.outbox import ensure_table
from rlsguard.authservice.redislimit import KEY_PREFIX
from rlsguard.authservice.server import AUTH_ADMIN, AuthEndpoint, start_auth_service
from rlsguard.gameday.ledger import PROTECTED_APPS

PASSWORD = "drill-password-1"
# Generous limits: the synthetic users are nowhere near them (see premature_429).
RIG_LIMITS = {"token_refresh": 3000, "sign_in_sign_ups": 3000, "email_sent": 100000}
IN_FLIGHT_S = 1.0
LONGEST_BUCKET_S = 3600.0 + 1.0  # the hourly email bucket's refill time, plus the slack


@dataclass(frozen=True)
class Sample:
    kind: str  # "signin" or "otp"
    sent: float  # time.monotonic() when sent
    latency_s: float
    status: int  # 0: no answer (refused, timed out)
    code: str | None = None
    data_ok: bool | None = None  # the earned token opened the data layer

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.data_ok is not False


@dataclass
class AuthWindow:
    """The synthetic users' requests in one look."""

    samples: list[Sample]
    seconds: float

    @property
    def requests(self) -> int:
        return len(self.samples)

    @property
    def failures(self) -> list[Sample]:
        return [s for s in self.samples if not s.ok]

    def count(self, status: int) -> int:
        return sum(1 for s in self.samples if s.status == status)

    @property
    def p95_s(self) -> float:
        lat = sorted(s.latency_s for s in self.samples)
        if not lat:
            return 0.0
        return lat[min(len(lat) - 1, int(0.95 * len(lat)))]

    def by_status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.samples:
            key = f"{s.status}{'/' + s.code if s.code else ''}"
            out[key] = out.get(key, 0) + 1
        return out


@dataclass
class AuthView:
    """One observation of the auth rig (what auth detectors read)."""

    window: AuthWindow
    health: int  # GET /health status, 0 when it did not answer in time
    health_s: float
    redis_ping: bool
    limiter_errors: int  # the service's limiter_error log events since the last look
    stuck_keys: list[tuple[str, int]]  # ratelimit: keys with no TTL (-1) or an impossible one
    outbox: dict[str, Any]
    delivery: dict[str, Any]


@dataclass
class AuthRig:
    engine: Any
    dbname: str
    spec: Any
    redis: Any
    smtp: Any
    endpoint: AuthEndpoint
    env: dict[str, str]  # the service's deployed environment (a fault may redeploy another)
    users: list[tuple[str, str, str]]  # (email, user id, client address)
    mail_user: str
    samples: list[Sample] = field(default_factory=list)
    _seen: int = 0
    _log_pos: int = 0
    _look: float = field(default_factory=time.monotonic)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    # -- the synthetic users -------------------------------------------------------------
    def start(self) -> None:
        for i, user in enumerate(self.users):
            t = threading.Thread(target=self._signin_loop, args=(user,), name=f"auth-user-{i}")
            self._threads.append(t)
        if self.spec.otp_hz > 0:
            self._threads.append(threading.Thread(target=self._otp_loop, name="auth-otp"))
        for t in self._threads:
            t.daemon = True
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)

    def _record(self, sample: Sample) -> None:
        with self._cond:
            self.samples.append(sample)
            self._cond.notify_all()

    def _client(self, address: str) -> httpx.Client:
        headers = {"apikey": self.endpoint.anon_key, RATE_LIMIT_HEADER: address}
        return httpx.Client(
            base_url=self.endpoint.auth_url, headers=headers, timeout=self.spec.client_timeout_s
        )

    def _signin_loop(self, user: tuple[str, str, str]) -> None:
        email, user_id, address = user
        period = 1.0 / self.spec.rate_hz
        with (
            self._client(address) as api,
            psycopg.connect(
                self.engine.conninfo(self.dbname),
                autocommit=True,
                application_name=f"{PROTECTED_APPS[0]}:auth",
            ) as data,
        ):
            while not self._stop.is_set():
                sent = time.monotonic()
                status, code, ok = 0, None, None
                try:
                    r = api.post(
                        "/token",
                        params={"grant_type": "password"},
                        json={"email": email, "password": PASSWORD},
                    )
                    status = r.status_code
                    if status == 200:
                        ok = self._data_layer_accepts(data, r.json()["access_token"], user_id)
                    else:
                        code = _error_code(r)
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                latency = time.monotonic() - sent
                self._record(Sample("signin", sent, latency, status, code, ok))
                self._stop.wait(max(0.0, period - latency))

    def _data_layer_accepts(self, conn: psycopg.Connection[Any], token: str, user_id: str) -> bool:
        """PostgREST's view of the token: the database's secret, then RLS's ``auth.uid()``."""
        try:
            claims = self.engine.signer.verify(token, audience="authenticated")
        except jwt.PyJWTError:
            return False
        try:
            with conn.transaction():
                conn.execute("select set_config('request.jwt.claims', %s, true)",
                              (json.dumps(claims),))  # fmt: skip
                conn.execute("set local role authenticated")
                row = conn.execute("select auth.uid()::text").fetchone()
        except psycopg.Error:
            return False
        return row is not None and row[0] == user_id

    def _otp_loop(self) -> None:
        period = 1.0 / self.spec.otp_hz
        with self._client("10.250.0.1") as api:
            while not self._stop.is_set():
                sent = time.monotonic()
                status, code = 0, None
                try:
                    r = api.post("/otp", json={"email": self.mail_user, "create_user": False})
                    status = r.status_code
                    code = None if status == 200 else _error_code(r)
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                latency = time.monotonic() - sent
                self._record(Sample("otp", sent, latency, status, code))
                self._stop.wait(max(0.0, period - latency))

    def wait_for_answers(self, timeout: float) -> bool:
        with self._cond:
            want = len(self.samples) + 1
            return self._cond.wait_for(lambda: len(self.samples) >= want, timeout)

    # -- looking -------------------------------------------------------------------------
    def fresh(self) -> AuthWindow:
        """Requests sent since the previous look (one in flight from before says nothing about
        the system now)."""
        with self._cond:
            new = self.samples[self._seen :]
            self._seen = len(self.samples)
        look, self._look = self._look, time.monotonic()
        return AuthWindow([s for s in new if s.sent >= look], self._look - look)

    def health(self) -> tuple[int, float]:
        started = time.monotonic()
        try:
            r = httpx.get(
                self.endpoint.auth_url + "/health",
                headers={"apikey": self.endpoint.anon_key},
                timeout=self.spec.client_timeout_s,
            )
            return r.status_code, time.monotonic() - started
        except httpx.HTTPError:
            return 0, time.monotonic() - started

    def redis_client(self) -> Any:
        return self.redis.client(socket_timeout=0.5, socket_connect_timeout=0.5)

    def ping(self) -> bool:
        try:
            with contextlib.closing(self.redis_client()) as c:
                return bool(c.ping())
        except Exception:
            return False

    def stuck_keys(self) -> list[tuple[str, int]]:
        """``ratelimit:`` keys with no TTL, or one no bucket needs, found with SCAN (the
        runbook's ``KEYS`` walks the whole keyspace in one command and blocks Redis)."""
        stuck = []
        try:
            with contextlib.closing(self.redis_client()) as c:
                for key in c.scan_iter(match=f"{KEY_PREFIX}*", count=500):
                    pttl = c.pttl(key)
                    if pttl == -1 or pttl > LONGEST_BUCKET_S * 1000:
                        stuck.append((key.decode(), int(pttl)))
        except Exception:
            return []
        return stuck

    def limiter_errors(self) -> int:
        """``limiter_error`` events the service logged since the previous look."""
        server = self.endpoint.server
        try:
            with open(server.log_path, encoding="utf-8", errors="replace") as fh:
                fh.seek(self._log_pos)
                text = fh.read()
                self._log_pos = fh.tell()
        except OSError:
            return 0
        return text.count('"event":"limiter_error"')

    def outbox(self) -> dict[str, Any]:
        with psycopg.connect(self.engine.conninfo(self.dbname), autocommit=True) as conn:
            from rlsguard.authservice.outbox import outbox_status

            return outbox_status(conn, time.time())

    def delivery(self) -> dict[str, Any]:
        """Every queued message against what the sink recorded, by Message-ID."""
        with psycopg.connect(self.engine.conninfo(self.dbname), autocommit=True) as conn:
            rows = conn.execute(
                f"SELECT message_id, status, extract(epoch from now() - created_at)::float8 "
                f"FROM {OUTBOX}"
            ).fetchall()
        queued = {r[0]: r[1] for r in rows}
        # In flight: queued less than IN_FLIGHT_S ago (the request's own attempt is under way).
        overdue = sum(1 for r in rows if r[1] == "pending" and r[2] > IN_FLIGHT_S)
        copies: dict[str, int] = {}
        for m in self.smtp.messages():
            mid = m.header("Message-ID")
            if mid is not None:
                copies[mid] = copies.get(mid, 0) + 1
        return {
            "queued": len(queued),
            "delivered": sum(1 for mid in queued if copies.get(mid)),
            "missing": sorted(
                mid for mid, st in queued.items() if st != "pending" and not copies.get(mid)
            ),
            "duplicates": sum(max(0, n - 1) for n in copies.values()),
            "pending": sum(1 for st in queued.values() if st == "pending"),
            "overdue": overdue,
        }

    def observe(self) -> AuthView:
        status, took = self.health()
        return AuthView(
            window=self.fresh(),
            health=status,
            health_s=took,
            redis_ping=self.ping(),
            limiter_errors=self.limiter_errors(),
            stuck_keys=self.stuck_keys(),
            outbox=self.outbox(),
            delivery=self.delivery(),
        )

    def steady_problems(self, view: AuthView) -> list[str]:
        """Why the auth steady state does not hold (empty: it holds)."""
        why = []
        w = view.window
        signins = [s for s in w.samples if s.kind == "signin"]
        if not signins:
            why.append("the synthetic users sent no sign-in yet")
        elif any(not s.ok for s in signins):
            bad = [s for s in signins if not s.ok]
            why.append(f"{len(bad)} of {len(signins)} sign-ins failed {w.by_status()}")
        if view.health != 200:
            why.append(f"GET /health answered {view.health or 'nothing'}")
        if not view.redis_ping:
            why.append("Redis does not answer PING")
        if view.stuck_keys:
            why.append(f"{len(view.stuck_keys)} ratelimit key(s) without a usable TTL")
        d = view.delivery
        if d["overdue"]:
            why.append(f"{d['overdue']} OTP message(s) queued for over {IN_FLIGHT_S:g}s")
        if d["missing"]:
            why.append(f"{len(d['missing'])} message(s) marked sent but not at the SMTP server")
        if d["duplicates"]:
            why.append(f"{d['duplicates']} duplicate message(s) at the SMTP server")
        return why

    # -- redeploying (faults that change config, and the rollback) -----------------------
    def redeploy(self, env: dict[str, str]) -> None:
        """Restart the service with ``env`` (a deploy): same port, same database."""
        server = self.endpoint.server
        with contextlib.suppress(Exception):
            server.thaw()
        server.stop()
        server.env.clear()
        server.env.update(env)
        server.start(wait=True)
        self._log_pos = 0 if not server.log_path.exists() else server.log_path.stat().st_size


def _error_code(r: httpx.Response) -> str | None:
    try:
        body = r.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        return body.get("error_code") or body.get("code") or body.get("message")
    return None


def start_auth_rig(engine: Any, dbname: str, spec: Any) -> AuthRig:
    """Redis, the sink, the service (on ``dbname``) and ``spec.users`` signed-up users."""
    stack = engine.stack
    redis = stack.redis(stack.unique_name("drill-redis"))
    smtp = stack.smtp(stack.unique_name("drill-smtp"))
    with psycopg.connect(engine.conninfo(dbname, user=AUTH_ADMIN), autocommit=True) as conn:
        ensure_table(conn)  # before the users' traffic: its own DDL is not part of the drill
    settings = {
        "rate_limit": RIG_LIMITS,
        "rate_limit_backend": "redis",
        "rate_limit_redis_url": redis.url,
        "rate_limit_on_redis_error": spec.on_redis_error,
        # Long enough for a healthy Redis on a loaded machine, short enough that a frozen one
        # keeps sign-ins well under the 1 s login_latency threshold.
        "rate_limit_redis_timeout_ms": 500,
        "rate_limit_redis_retry_s": 0.5,
        "rate_limit_workers": spec.workers,
        "mail_retry_base_s": 0.1,
        "mail_retry_max_s": 0.5,
        "mail_poll_s": 0.05,
    }
    endpoint = start_auth_service(
        stack,
        conninfo=engine.conninfo(dbname, user=AUTH_ADMIN),
        secret=engine.signer.secret,
        config_toml=None,
        smtp=smtp,
        name=stack.unique_name("drill-auth"),
        rate_limit_header=RATE_LIMIT_HEADER,
        bcrypt_cost=TEST_BCRYPT_COST,
        settings=settings,
        workers=spec.workers,
        smtp_timeout_s=0.5,
    )
    endpoint.dbname = dbname
    tag = uuid.uuid4().hex[:6]
    users = []
    with httpx.Client(base_url=endpoint.auth_url, timeout=10,
                      headers={"apikey": endpoint.anon_key}) as api:  # fmt: skip
        for i in range(spec.users + 1):
            email = f"drill-{tag}-{i}@auth.test"
            r = api.post("/signup", json={"email": email, "password": PASSWORD},
                         headers={RATE_LIMIT_HEADER: f"10.251.0.{i + 1}"})  # fmt: skip
            r.raise_for_status()
            users.append((email, r.json()["user"]["id"], f"10.252.0.{i + 1}"))
    rig = AuthRig(
        engine, dbname, spec, redis, smtp, endpoint, dict(endpoint.server.env),
        users[:-1], users[-1][0],
    )  # fmt: skip
    rig.start()
    return rig


def stop_auth_rig(rig: AuthRig) -> dict[str, Any]:
    rig.stop()
    signins = [s for s in rig.samples if s.kind == "signin"]
    total = AuthWindow(signins, 0.0)
    summary = {
        "url": rig.endpoint.url,
        "signins": len(signins),
        "failed": sum(1 for s in signins if not s.ok),
        "by_status": total.by_status(),
        "p50_ms": round(statistics.median([s.latency_s for s in signins]) * 1000, 2)
        if signins
        else None,
        "otp_requests": sum(1 for s in rig.samples if s.kind == "otp"),
    }
    with contextlib.suppress(Exception):
        summary["delivery"] = rig.delivery()
    stack = rig.engine.stack
    for server in (rig.endpoint.server, rig.smtp, rig.redis):
        with contextlib.suppress(Exception):
            server.thaw()
        stack.discard(server.name)
    return summary
