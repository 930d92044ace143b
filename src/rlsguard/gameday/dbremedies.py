"""Remediations of the runbook's section 2, done so that they actually free the database.

- ``kill_idle_connections``: the runbook's query matches ``state = 'idle'`` in database
  ``postgres`` only, so it never ends the ``idle in transaction`` sessions that hold the
  locks, nor sessions of any other database. This one targets both, with a configurable age
  (drills compress time), and reports what the runbook's query would have missed.

Superusers' sessions (the responders') and the drill's own observers are never ended.
- ``cancel_long_queries``: ``pg_cancel_backend`` first (the error aborts the transaction
  and releases its locks, the session survives); ``pg_terminate_backend`` only for sessions
  that still run after a grace period, or still block others (an idle-in-transaction lock
  holder cannot be cancelled: it runs nothing).
- ``restart_pooler``: PgBouncer ``RECONNECT`` when the app goes through one, else the app's
  own pool reset.
- ``restart_server``: start the crashed server, wait for crash recovery, then for the app's
  first successful request.
- ``restore_function``: the slow function's definition as it was (what "find the slow query,
  optimise it" ends with).
- ``create_index``: the dropped index re-created from its own definition, ``CONCURRENTLY``
  (writers keep writing while it builds) unless the session is inside a transaction.
"""

from __future__ import annotations

import time
from typing import Any

from rlsguard.gameday.ledger import PROTECTED_APPS
from rlsguard.gameday.remediation import REMEDIATIONS, RemedyContext, RemedyStep

IDLE_STATES = ("idle", "idle in transaction", "idle in transaction (aborted)")
RUNBOOK_AGE_S = 600.0  # "query_start < now() - interval '10 minutes'"


def _candidates(
    ctx: RemedyContext, where: str, params: tuple[Any, ...], since: str = "state_change"
) -> list[dict[str, Any]]:
    assert since in ("state_change", "query_start")
    conn = ctx.runtime.admin() if ctx.runtime else ctx.conn
    cur = conn.execute(
        "select pid, coalesce(datname, ''), coalesce(state, ''), application_name, "
        "extract(epoch from clock_timestamp() - state_change)::float8, "
        "extract(epoch from clock_timestamp() - query_start)::float8, "
        f"extract(epoch from {since})::float8, "
        "cardinality(array(select 1 from pg_stat_activity w where pid = any("
        "select unnest(pg_blocking_pids(w.pid)))) ) "
        "from pg_stat_activity a where backend_type = 'client backend' "
        "and pid <> pg_backend_pid() and not (application_name like any(%s)) "
        "and not coalesce((select rolsuper from pg_roles r where r.oid = a.usesysid), false) "
        "and " + where,
        ([f"{p}%" for p in PROTECTED_APPS], *params),
    )
    keys = (
        "pid", "datname", "state", "application_name", "state_age_s", "query_age_s", "since",
        "blocks",
    )  # fmt: skip
    return [dict(zip(keys, row, strict=True)) for row in cur.fetchall()]


def _ripen(
    ctx: RemedyContext, where: str, params: tuple[Any, ...], since: str, min_age: float
) -> None:
    """Sessions that match ``where`` but are younger than ``min_age``: wait (at most
    ``min_age``) until each reaches the age or ends. Ages are the server's; a drill on a
    compressed clock can detect a session before it is that old in real time, and the
    responder's rule ("older than N s") must still find it. A bounded wait on an observable
    condition, never a fixed sleep. ``since``: ``state_change`` or ``query_start``."""
    young = f"{where} and clock_timestamp() - {since} < make_interval(secs => %s)"

    def still_young() -> set[tuple[int, float]]:
        return {(r["pid"], r["since"]) for r in _candidates(ctx, young, (*params, min_age), since)}

    pending = still_young()
    deadline = time.monotonic() + min_age
    while pending and time.monotonic() < deadline:
        time.sleep(0.01)
        pending &= still_young()


def _terminate(ctx: RemedyContext, pids: list[int], wait_s: float = 5.0) -> int:
    """Signal every session at once, then wait for them all to be gone (one by one with
    ``pg_terminate_backend(pid, timeout)`` costs a backend exit each, in series)."""
    conn = ctx.runtime.admin() if ctx.runtime else ctx.conn
    if not pids:
        return 0
    rows = conn.execute(
        "select pid from unnest(%s::int[]) pid where pg_terminate_backend(pid)", (pids,)
    ).fetchall()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        left = conn.execute(
            "select count(*) from pg_stat_activity where pid = any(%s)", (pids,)
        ).fetchone()
        if not left or not left[0]:
            break
        time.sleep(0.01)
    return len(rows)


@REMEDIATIONS.register("kill_idle_connections")
def kill_idle_connections(ctx: RemedyContext, params: dict[str, Any]) -> list[RemedyStep]:
    min_age = float(params.get("min_age_s", 0.5))
    states = list(params.get("states", IDLE_STATES))
    _ripen(ctx, "state = any(%s)", (states,), "state_change", min_age)
    found = _candidates(
        ctx,
        "state = any(%s) and clock_timestamp() - state_change >= make_interval(secs => %s)",
        (states, min_age),
    )
    runbook = [
        s
        for s in found
        if s["state"] == "idle"
        and s["datname"] == "postgres"
        and (s["query_age_s"] or 0) >= RUNBOOK_AGE_S
    ]
    missed: dict[str, int] = {}
    for s in found:
        if s not in runbook:
            key = f"{s['datname']}/{s['state']}"
            missed[key] = missed.get(key, 0) + 1
    ended = _terminate(ctx, [s["pid"] for s in found])
    what = ", ".join(f"{n} {k}" for k, n in sorted(missed.items())) or "nothing"
    return [
        RemedyStep(
            "idle connections killed",
            f"ended {ended} session(s) idle (or idle in transaction) for >= {min_age:g} s in "
            f"every database; the runbook's query would have ended {len(runbook)}, missing {what}",
            {
                "ended": ended,
                "min_age_s": min_age,
                "states": states,
                "runbook_would_end": len(runbook),
                "runbook_missed": missed,
                "sessions": found[:50],
            },
        )
    ]


@REMEDIATIONS.register("cancel_long_queries")
def cancel_long_queries(ctx: RemedyContext, params: dict[str, Any]) -> list[RemedyStep]:
    min_age = float(params.get("min_age_s", 1.0))
    grace = float(params.get("grace_s", 1.0))
    conn = ctx.runtime.admin() if ctx.runtime else ctx.conn
    _ripen(ctx, "state = 'active'", (), "query_start", min_age)
    found = _candidates(
        ctx,
        "state = 'active' and clock_timestamp() - query_start >= make_interval(secs => %s)",
        (min_age,),
    )
    pids = [s["pid"] for s in found]
    cancelled = (
        len(
            conn.execute(
                "select pid from unnest(%s::int[]) pid where pg_cancel_backend(pid)", (pids,)
            ).fetchall()
        )
        if pids
        else 0
    )

    def still_bad() -> list[int]:
        if not pids:
            return []
        rows = conn.execute(
            "select a.pid from pg_stat_activity a where a.pid = any(%s) and (a.state = 'active' "
            "or exists (select 1 from pg_stat_activity w "
            "where a.pid = any(pg_blocking_pids(w.pid))))",
            (pids,),
        ).fetchall()
        return [r[0] for r in rows]

    deadline = time.monotonic() + grace
    left = still_bad()
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = still_bad()
    terminated = _terminate(ctx, left)
    steps = [
        RemedyStep(
            "long queries cancelled",
            f"pg_cancel_backend on {cancelled} quer(y/ies) running >= {min_age:g} s",
            {"cancelled": cancelled, "sessions": found[:50]},
        )
    ]
    if left:
        steps.append(
            RemedyStep(
                "sessions terminated",
                f"pg_terminate_backend on {terminated} session(s) still running or still "
                f"blocking others {grace:g} s after the cancel",
                {"terminated": terminated, "pids": left},
            )
        )
    return steps


@REMEDIATIONS.register("restart_pooler")
def restart_pooler(ctx: RemedyContext, params: dict[str, Any]) -> list[RemedyStep]:
    rig = ctx.runtime.rig if ctx.runtime else None
    if rig is None:
        return [RemedyStep("pooler restart skipped", "no app and no PgBouncer in this drill")]
    if rig.bouncer is not None:
        bouncer = rig.bouncer
        started = time.perf_counter()
        if bouncer.is_running:  # RUNNING: the console answers; RECONNECT closes server conns
            bouncer.admin("RECONNECT")
            how = "RECONNECT on its admin console"
        else:  # killed or frozen: a restart (stop thaws a frozen one first)
            bouncer.stop()
            bouncer.start()
            how = "restarted"
        ms = round((time.perf_counter() - started) * 1000, 3)
        return [
            RemedyStep(
                "connection pooler restarted",
                f"PgBouncer {how} in {ms:.0f} ms",
                {"pooler": "pgbouncer", "how": how, "ms": ms},
            )
        ]
    done = rig.app.admin("/_admin/pool/reset")
    how = rig.pooler_note or "the app talks to Postgres directly"
    return [
        RemedyStep(
            "connection pool restarted",
            f"no PgBouncer in front ({how}): the app's pool was reset, "
            f"{done.get('leaked_closed', 0)} leaked connection(s) closed",
            {"pooler": rig.pooler, **done},
        )
    ]


@REMEDIATIONS.register("restart_server")
def restart_server(ctx: RemedyContext, params: dict[str, Any]) -> list[RemedyStep]:
    rt = ctx.runtime
    server = rt.server if rt else None
    if server is None:
        return [RemedyStep("server restart skipped", "the server is not rlsguard's to restart")]
    if server.is_running:
        return [RemedyStep("server running", "the server was already running")]
    started = time.perf_counter()
    server.start(wait=True)
    ready = time.perf_counter()
    rt.server_restarted()
    data: dict[str, Any] = {"restart_ms": round((ready - started) * 1000, 3)}
    crashed_at = rt.state.get("crashed_at")
    if crashed_at is not None:
        data["kill_to_serving_ms"] = round((ready - crashed_at) * 1000, 3)
    rt.admin()  # the runner's own session, reconnected
    steps = [
        RemedyStep(
            "server restarted",
            f"crash recovery done, accepting connections after {data['restart_ms']:.0f} ms",
            data,
        )
    ]
    if rt.rig is not None:
        now = rt.rig.clock.now()
        t0 = time.perf_counter()
        if rt.wait_for(lambda: rt.rig.users.first_success_after(now) is not None, 15.0):
            ms = round((time.perf_counter() - t0) * 1000 + data["restart_ms"], 3)
            steps.append(
                RemedyStep(
                    "app serving",
                    f"the app's first successful request {ms:.0f} ms after the restart began",
                    {"app_first_success_ms": ms},
                )
            )
    return steps


@REMEDIATIONS.register("restore_function")
def restore_function(ctx: RemedyContext, params: dict[str, Any]) -> list[RemedyStep]:
    function = str(params.get("function", "public.class_average(uuid)"))
    original = ctx.runtime.state.get(f"definition:{function}") if ctx.runtime else None
    if original is None:
        return [RemedyStep("function not restored", f"no saved definition of {function}")]
    conn = ctx.runtime.admin()
    conn.execute(original)
    return [
        RemedyStep(
            "slow query fixed",
            f"{function} restored to its definition before the incident",
            {"function": function},
        )
    ]


@REMEDIATIONS.register("create_index")
def create_index(ctx: RemedyContext, params: dict[str, Any]) -> list[RemedyStep]:
    from rlsguard.gameday.dbfaults import if_not_exists

    index = str(params.get("index", "public.assignments_class_idx"))
    indexdef = ctx.runtime.state.get(f"indexdef:{index}") if ctx.runtime else None
    if indexdef is None:
        return [RemedyStep("index not created", f"no saved definition of {index}")]
    conn = ctx.runtime.admin()
    concurrently = conn.autocommit and conn.info.transaction_status.name == "IDLE"
    started = time.perf_counter()
    conn.execute(if_not_exists(indexdef, concurrently=concurrently))
    table = indexdef.split(" ON ", 1)[1].split(" USING ", 1)[0]
    conn.execute(f"ANALYZE {table}")
    return [
        RemedyStep(
            "slow query fixed",
            f"{index} re-created{' concurrently' if concurrently else ''} in "
            f"{time.perf_counter() - started:.2f} s",
            {"index": index, "concurrently": concurrently, "definition": indexdef},
        )
    ]
