"""What a database drill runs against: the reference app and its synthetic users, started for
the drill's database in the target's Stack, and the runner's live handles (:class:`Runtime`).

The app goes direct to Postgres, or through a PgBouncer in transaction mode when the scenario
asks for one and the binary is present (otherwise the drill says it ran direct).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import psycopg

from rlsguard.clock import Clock
from rlsguard.gameday.faults import FaultError
from rlsguard.gameday.target import Target
from rlsguard.refapp.server import RefApp, start_refapp
from rlsguard.refapp.users import Call, SyntheticUsers, Window
from rlsguard.stack.pgbouncer import PgBouncerServer, discover_pgbouncer

APP_ROLE = "authenticator"


@dataclass
class AppRig:
    """The app, its users and how the drill reads them."""

    app: RefApp
    users: SyntheticUsers
    clock: Clock
    pooler: str = "direct"
    pooler_note: str = ""
    bouncer: Any = None  # the PgBouncerServer in front of Postgres, when there is one
    started_at: float = 0.0
    _seen: int = 0  # samples already judged
    _look: float = 0.0  # time.monotonic() of the previous look
    sent_since_look: Window | None = None  # requests *sent* after the previous look
    fault_sent: float | None = None  # time.monotonic() once the fault is on

    def window(self, seconds: float) -> Window:
        now = self.clock.now()
        return self.users.window(now - seconds, now)

    def fresh(self) -> Window:
        """What the users saw since the previous call (each tick judges new requests only)."""
        samples, self._seen = self.users.since_index(self._seen)
        now = self.clock.now()
        start = samples[0].t if samples else now
        # A steady state is judged on requests sent after the last look only: one still in
        # flight from before a remediation says nothing about the system now.
        newer = [s for s in samples if s.sent >= self._look]
        self.sent_since_look = self.users.summarise(newer, start, now)
        self._look = time.monotonic()
        window = self.users.summarise(samples, start, now)
        if self.fault_sent is None:
            return window
        # Latency per endpoint judges requests sent with the fault on, not those in flight.
        after = self.users.summarise([s for s in samples if s.sent >= self.fault_sent], start, now)
        return dataclasses.replace(window, by_path=after.by_path)

    def wait_for_answers(self, timeout: float) -> bool:
        """Until the users have had at least one more answer than they have now."""
        return self.users.wait_for_samples(len(self.users.samples) + 1, timeout)

    def health(self) -> dict[str, Any]:
        try:
            status, body = self.app.health(timeout=3.0)
        except httpx.HTTPError as exc:
            return {"status": 0, "ok": False, "error": str(exc)}
        return {"status": status, **body}

    def app_log(self, since: float) -> list[dict[str, Any]]:
        """The app's JSON log lines written since ``since`` (wall clock)."""

        out = []
        with contextlib.suppress(FileNotFoundError):
            for line in self.app.log_file.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if record.get("time", 0) >= since:
                        out.append(record)
        return out

    def stop(self) -> None:
        self.users.stop()


def start_rig(
    engine: Any,
    target: Target,
    spec: Any,
    clock: Clock,
) -> AppRig:
    """Start the app for ``target``'s database and one synthetic user per persona."""
    stack = engine.stack
    if stack is None or target.kind != "local":
        raise FaultError(
            "database drills run the reference app against a cluster rlsguard started: "
            "run them without --dsn (a private local cluster)"
        )
    dsn = engine.conninfo(target.dbname, user=APP_ROLE)
    pooler, note, bouncer = "direct", "", None
    if spec.pooler == "pgbouncer":
        binary = discover_pgbouncer()
        if binary is None or target.server is None:
            note = "pgbouncer is not installed here: the app went direct to Postgres"
        else:
            bouncer = stack.add(
                PgBouncerServer(
                    stack.unique_name("pgbouncer"),
                    stack.context,
                    binary,
                    pg_socket_dir=target.server.socket_dir,
                    pg_port=target.server.port,
                    users=(APP_ROLE,),
                    pool_size=spec.pool_max,
                )
            )
            dsn = bouncer.conninfo(target.dbname, APP_ROLE)
            pooler = "pgbouncer"
    app = start_refapp(
        stack,
        dsn=dsn,
        jwt_secret=engine.signer.secret,
        pool_max=spec.pool_max,
        acquire_timeout_s=spec.acquire_timeout_s,
        statement_timeout_ms=spec.statement_timeout_ms,
        lock_timeout_ms=spec.lock_timeout_ms,
        pooled=bouncer is not None,
    )
    tokens: dict[str, str | None] = {}
    with engine.connect(target.dbname, autocommit=True) as conn:
        for persona in spec.personas:
            tokens[persona] = engine.personas.resolve(conn, persona).token
        class_id = conn.execute(
            "select id::text from public.classes order by id limit 1"
        ).fetchone()
    calls = [table_call(t, class_id[0] if class_id else None) for t in spec.tables]
    calls += [
        write_call(t, row, class_id[0] if class_id else None) for t, row in spec.writes.items()
    ]
    if class_id is not None:
        calls.append(Call("/rest/v1/rpc/class_average", params={"p_class_id": class_id[0]}))
    users = SyntheticUsers(
        app.url,
        tokens,
        calls,
        rate_hz=spec.rate_hz,
        max_seconds=spec.max_seconds,
        timeout_s=spec.client_timeout_s,
        clock=clock,
    )
    rig = AppRig(app, users, clock, pooler, note, started_at=clock.now(), bouncer=bouncer)
    users.start()
    return rig


def table_call(entry: str, class_id: str | None) -> Call:
    """``table`` or ``table?column=eq.{class_id}`` (a PostgREST filter; ``{class_id}`` is the
    seeded class the users look at)."""
    table, _, query = entry.partition("?")
    params = {k: v.replace("{class_id}", class_id or "") for k, v in parse_qsl(query)}
    return Call(f"/rest/v1/{table}", params=params)


def write_call(table: str, row: dict[str, str], class_id: str | None) -> Call:
    """An insert as PostgREST takes it, rolled back (``Prefer: tx=rollback``): a write that
    takes the locks and runs the checks a real one does, and leaves the data as it was."""
    values = {k: v.replace("{class_id}", class_id or "") for k, v in row.items()}
    return Call(
        f"/rest/v1/{table}",
        method="POST",
        params={"row": json.dumps(values, sort_keys=True)},
        headers={"Prefer": "tx=rollback"},
    )


@dataclass
class Runtime:
    """The runner's live handles, for faults and remediations that act on processes."""

    target: Target
    run_id: str
    admin: Callable[[], psycopg.Connection[Any]]  # the runner's superuser session (reconnects)
    rig: AppRig | None = None
    server: Any = None  # the owned PostgresServer of a local target
    state: dict[str, Any] = field(default_factory=dict)
    auth: Any = None  # gameday.authrig.AuthRig of an auth drill
    epoch: int = 0  # bumped when the server restarts: every session opened before is dead

    def server_restarted(self) -> None:
        self.epoch += 1

    def wait_for(self, condition: Callable[[], bool], timeout: float, poll: float = 0.01) -> bool:
        """Wait on an observable condition (never a fixed sleep)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(poll)
        return condition()
