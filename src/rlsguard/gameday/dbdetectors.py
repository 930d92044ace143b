"""Detectors of the runbook's section 2: what the server shows (saturation, idle
transactions, lock waits, error rates and slow statements in its log) and what the app's
users see (5xx rate, p95 latency, the health endpoint). Pure, like section 1's: windows are
measured on the observation's time (the injected clock)."""

from __future__ import annotations

import re
import statistics
from collections import deque
from typing import Any, ClassVar

from rlsguard.gameday.detectors import DETECTORS, Detector, Firing, Observation
from rlsguard.refapp.users import Window
from rlsguard.stack.pglog import LogRecord

DURATION = re.compile(r"^duration: ([0-9.]+) ms")
# "execute _pg3_2: select ..." / "execute <unnamed>: ..." / "statement: ...": the statement
# without the per-connection name of its prepared form
STEP = re.compile(r"^(execute|statement)( [^:]*)?: ")
# log_lock_waits: "process 123 still waiting for AccessShareLock on relation 1 of database 5
# after 50.1 ms" (and "acquired ... after" once granted); DETAIL "Process holding the lock:
# 456. Wait queue: 123."
LOCK_WAIT = re.compile(r"^process \d+ (still waiting for|acquired) \S+ on .* after [0-9.]+ ms")
HOLDERS = re.compile(r"\b(\d+)\b")
NAMES = {
    "53300": "too_many_connections",
    "57014": "query_canceled",
    "55P03": "lock_not_available",
    "57P01": "admin_shutdown",
    "57P02": "crash_shutdown",
    "57P03": "cannot_connect_now",
    "25P03": "idle_in_transaction_session_timeout",
}


@DETECTORS.register("connections")
class Connections(Detector):
    """Client connections against ``max_connections`` (the runbook's "check if hits database
    limit"), with the runbook's per-database count and a per-state breakdown."""

    name = "connections"
    needs = "activity"
    defaults: ClassVar[dict[str, Any]] = {"ratio": 0.8}

    def check(self, obs: Observation) -> Firing | None:
        a = obs.activity
        if a.saturation < float(self.settings["ratio"]):
            return None
        return Firing(
            self.name,
            f"{a.clients} of {a.max_connections} connections in use ({a.saturation:.0%}; "
            f"{a.superuser_reserved} reserved for superusers)",
            a.as_dict(),
        )


class _Aged(Detector):
    """Ages on two clocks: the server's, and the drill's from the tick that first saw the
    session in that state (one backend's state or query is named by its pid and the server
    time it began). On the system clock the two agree; on a test's manual clock the age
    grows by the ticks, so "older than N s" cannot depend on how fast the machine runs the
    ticks."""

    needs = "activity"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self._first: dict[tuple[Any, Any], float] = {}

    def aged(self, now: float, sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: dict[tuple[Any, Any], float] = {}
        out = []
        for s in sessions:
            key = (s.get("pid"), s.get("since"))
            first = seen[key] = self._first.get(key, now)
            out.append({**s, "age_s": max(float(s.get("age_s") or 0.0), now - first)})
        self._first = seen
        return out


@DETECTORS.register("idle_in_transaction")
class IdleTransactions(_Aged):
    """Sessions idle in a transaction for longer than ``min_age_s`` (they hold locks and
    snapshots; the runbook's idle-connection query never sees them)."""

    name = "idle_in_transaction"
    defaults: ClassVar[dict[str, Any]] = {"min_age_s": 0.5}

    def check(self, obs: Observation) -> Firing | None:
        sessions = self.aged(obs.now, obs.activity.idle_in_transaction)
        old = [s for s in sessions if s["age_s"] >= self.settings["min_age_s"]]
        if not old:
            return None
        oldest = max(old, key=lambda s: s["age_s"])
        return Firing(
            self.name,
            f"{len(old)} session(s) idle in transaction, the oldest for {oldest['age_s']:.1f} s "
            f"(pid {oldest['pid']}, database {oldest['datname']})",
            {"sessions": old},
        )


@DETECTORS.register("lock_waits")
class LockWaits(Detector):
    """Sessions blocked on a lock held by another: seen now (``pg_blocking_pids``), or
    reported by the server since the fault (``log_lock_waits``: a wait longer than
    ``deadlock_timeout`` is logged as "still waiting", with the holder). A sample of
    ``pg_stat_activity`` sees only the waits in progress at that instant - requests that
    give up at ``lock_timeout`` can all fall between two samples; the log has every one."""

    name = "lock_waits"
    needs = "activity"
    also_needs = ("serverlog",)
    defaults: ClassVar[dict[str, Any]] = {"min_waiting": 1, "dbname": None}

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.logged: list[LogRecord] = []

    def _logged(self, records: list[LogRecord] | None) -> None:
        dbname = self.settings["dbname"]
        self.logged.extend(
            r
            for r in records or []
            if LOCK_WAIT.search(r.message) and (not dbname or r.dbname == dbname)
        )

    def check(self, obs: Observation) -> Firing | None:
        self._logged(obs.serverlog)
        waiting = obs.activity.waiting
        least = int(self.settings["min_waiting"])
        if len(waiting) >= least:
            blockers = sorted({p for w in waiting for p in w["blocked_by"]})
            return Firing(
                self.name,
                f"{len(waiting)} session(s) waiting on locks held by pid(s) "
                f"{', '.join(map(str, blockers))}",
                {"waiting": waiting, "blockers": blockers, "source": "pg_blocking_pids"},
            )
        if len(self.logged) < least:
            return None
        holders = sorted(
            {h for r in self.logged for h in HOLDERS.findall((r.detail or "").split(".")[0])}
        )
        return Firing(
            self.name,
            f"{len(self.logged)} lock wait(s) logged (log_lock_waits)"
            + (f", held by pid(s) {', '.join(holders)}" if holders else "")
            + f": {self.logged[0].message[:160]}",
            {
                "logged": [f"{r.message} {r.detail or ''}".strip()[:300] for r in self.logged[:10]],
                "blockers": [int(h) for h in holders],
                "source": "log_lock_waits",
            },
        )


@DETECTORS.register("long_queries")
class LongQueries(_Aged):
    """Queries running longer than ``min_age_s`` (the runbook's "> 5000ms", compressed)."""

    name = "long_queries"
    defaults: ClassVar[dict[str, Any]] = {"min_age_s": 1.0}

    def check(self, obs: Observation) -> Firing | None:
        queries = self.aged(obs.now, obs.activity.active)
        long = [q for q in queries if q["age_s"] >= self.settings["min_age_s"]]
        if not long:
            return None
        return Firing(
            self.name,
            f"{len(long)} quer(y/ies) running over {self.settings['min_age_s']:g} s: "
            f"{long[0]['query'][:80]}",
            {"queries": long},
        )


class _LogWindow(Detector):
    """Records of the server log counted in a sliding window of the observation clock."""

    needs = "serverlog"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self._events: deque[tuple[float, list[LogRecord]]] = deque()

    def matching(self, records: list[LogRecord]) -> list[LogRecord]:  # pragma: no cover
        return []

    def window(self, obs: Observation) -> list[LogRecord]:
        assert obs.serverlog is not None
        found = self.matching(obs.serverlog)
        if found:
            self._events.append((obs.now, found))
        limit = obs.now - float(self.settings["window_s"])
        while self._events and self._events[0][0] <= limit:
            self._events.popleft()
        return [r for _, rs in self._events for r in rs]


@DETECTORS.register("pg_errors")
class PgErrors(_LogWindow):
    """SQLSTATE rates from the server log (53300, 57014, 55P03, ...), per window."""

    name = "pg_errors"
    defaults: ClassVar[dict[str, Any]] = {
        "codes": ["53300", "57014", "55P03"],
        "window_s": 5.0,
        "threshold": 1,
    }

    def matching(self, records: list[LogRecord]) -> list[LogRecord]:
        codes = set(self.settings["codes"])
        return [r for r in records if r.state_code in codes and r.severity in ("ERROR", "FATAL")]

    def check(self, obs: Observation) -> Firing | None:
        seen = self.window(obs)
        if len(seen) < int(self.settings["threshold"]):
            return None
        counts: dict[str, int] = {}
        for r in seen:
            counts[r.state_code or ""] = counts.get(r.state_code or "", 0) + 1
        messages = sorted({f"{r.severity} {r.state_code}: {r.message}" for r in seen})
        summary = ", ".join(
            f"{n} x {c} {NAMES.get(c, '')}".strip() for c, n in sorted(counts.items())
        )
        return Firing(
            self.name,
            f"server log, last {self.settings['window_s']:g} s: {summary}",
            {"counts": counts, "messages": messages[:10]},
        )


@DETECTORS.register("slow_statements")
class SlowStatements(_LogWindow):
    """``duration:`` lines (``log_min_duration_statement``) - the runbook's "Filter for:
    duration: [0-9]+ ms" - at or over ``min_ms``, or (``ratio``) at least that many times
    the same statement's median in the steady state (:meth:`calibrate`; the app's role then
    logs every statement, ``slow_statement_ms: 0``) and at least ``floor_ms``. The ratio
    holds on a fast idle machine and a slow loaded one alike; a fixed number of ms does not.
    """

    name = "slow_statements"
    defaults: ClassVar[dict[str, Any]] = {
        "min_ms": 500.0,
        "window_s": 10.0,
        "threshold": 1,
        "ratio": None,
        "floor_ms": 1.0,
        "dbname": None,
    }

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.steady: dict[str, float] = {}  # statement -> median ms in the steady state

    def calibrate(self, records: list[LogRecord]) -> None:
        """The steady state's duration lines: each statement's median."""
        seen: dict[str, list[float]] = {}
        for r in self._durations(records):
            seen.setdefault(r[1], []).append(r[0])
        self.steady = {k: statistics.median(v) for k, v in seen.items()}

    def _durations(self, records: list[LogRecord]) -> list[tuple[float, str, LogRecord]]:
        dbname = self.settings["dbname"]
        out = []
        for r in records:
            m = DURATION.match(r.message)
            if m and (not dbname or r.dbname == dbname):
                what = STEP.sub("", r.message[m.end() :].strip())
                if not what.startswith(("parse ", "bind ")):  # the execution, not its set-up
                    out.append((float(m.group(1)), " ".join(what.split()), r))
        return out

    def matching(self, records: list[LogRecord]) -> list[LogRecord]:
        s = self.settings
        out = []
        for ms, what, r in self._durations(records):
            absolute = s["min_ms"] is not None and ms >= float(s["min_ms"])
            relative = (
                s["ratio"] is not None
                and what in self.steady
                and ms >= max(float(s["ratio"]) * self.steady[what], float(s["floor_ms"]))
            )
            if absolute or relative:
                out.append(r)
        return out

    def check(self, obs: Observation) -> Firing | None:
        seen = self.window(obs)
        if len(seen) < int(self.settings["threshold"]):
            return None
        worst = max(seen, key=lambda r: float(DURATION.match(r.message).group(1)))  # type: ignore[union-attr]
        over = (
            f"over {self.settings['min_ms']:g} ms"
            if self.settings["ratio"] is None
            else f"over {self.settings['ratio']:g}x their steady-state median"
        )
        return Firing(
            self.name,
            f"{len(seen)} statement(s) {over}; slowest: {worst.message[:160]}",
            {
                "statements": [r.message[:300] for r in seen[:10]],
                "steady_median_ms": {
                    k[:120]: round(v, 3) for k, v in list(self.steady.items())[:10]
                },
            },
        )


@DETECTORS.register("app_errors")
class AppErrors(Detector):
    """The synthetic users' 5xx (and unanswered) share since the last tick."""

    name = "app_errors"
    needs = "app"
    defaults: ClassVar[dict[str, Any]] = {"ratio": 0.2, "min_requests": 1}

    def check(self, obs: Observation) -> Firing | None:
        w = obs.app
        if w.requests < int(self.settings["min_requests"]) or w.error_rate < self.settings["ratio"]:
            return None
        statuses = ", ".join(f"{n} x {s or 'no answer'}" for s, n in sorted(w.by_status.items()))
        return Firing(
            self.name,
            f"users see errors: {w.errors} of {w.requests} requests failed ({statuses})",
            w.as_dict(),
        )


@DETECTORS.register("app_latency")
class AppLatency(Detector):
    """What the synthetic users wait: the p95 of the tick's requests over ``p95_ms``; or,
    with ``ratio``, an endpoint whose median latency since the fault is at least that many
    times its own median in the steady state (:meth:`calibrate`) and at least ``p95_ms``.
    Medians per endpoint, over every answer since the fault: one slow endpoint among fast
    ones, on a fast idle machine or a slow loaded one, and not one scheduling hiccup."""

    name = "app_latency"
    needs = "app"
    defaults: ClassVar[dict[str, Any]] = {"p95_ms": 500.0, "ratio": None, "min_samples": 3}

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.steady: dict[str, float] = {}  # path -> median ms in the steady state
        self.since: dict[str, list[float]] = {}  # path -> latencies since the fault

    def calibrate(self, window: Window) -> None:
        """The users' latency per endpoint in the steady state, just before the fault."""
        self.steady = {p: statistics.median(v) for p, v in window.by_path.items() if v}

    def check(self, obs: Observation) -> Firing | None:
        w = obs.app
        floor = float(self.settings["p95_ms"])
        if self.settings["ratio"] is None:
            if w.p95_ms is None or w.p95_ms < floor:
                return None
            return Firing(self.name, f"users wait: p95 {w.p95_ms:.0f} ms", w.as_dict())
        for path, values in w.by_path.items():
            self.since.setdefault(path, []).extend(values)
        slow = []
        for path, values in self.since.items():
            base = self.steady.get(path)
            if base is None or len(values) < int(self.settings["min_samples"]):
                continue
            now = statistics.median(values)
            if now >= max(float(self.settings["ratio"]) * base, floor):
                slow.append(
                    {
                        "path": path,
                        "median_ms": round(now, 3),
                        "steady_median_ms": round(base, 3),
                        "answers": len(values),
                    }
                )
        if not slow:
            return None
        worst = max(slow, key=lambda s: s["median_ms"] / max(s["steady_median_ms"], 1e-6))
        times = worst["median_ms"] / max(worst["steady_median_ms"], 1e-6)
        return Firing(
            self.name,
            f"users wait: {worst['path']} answers in {worst['median_ms']:.0f} ms (median of "
            f"{worst['answers']} since the fault), {times:.1f}x the steady state's "
            f"{worst['steady_median_ms']:.0f} ms",
            {**w.as_dict(), "endpoints": slow},
        )


@DETECTORS.register("pooler_waiting")
class PoolerWaiting(Detector):
    """Clients queued in PgBouncer for a server connection (``SHOW POOLS``: ``cl_waiting``,
    ``maxwait``): the pooler's pool is exhausted while the database itself may look idle.
    ``dbname``: that database's pools only."""

    name = "pooler_waiting"
    needs = "pooler"
    defaults: ClassVar[dict[str, Any]] = {"min_waiting": 1, "dbname": None}

    def check(self, obs: Observation) -> Firing | None:
        dbname = self.settings["dbname"]
        pools = [
            p for p in obs.pooler or [] if p.get("database") != "pgbouncer"
            and (not dbname or p.get("database") == dbname)
        ]  # fmt: skip
        waiting = sum(int(p.get("cl_waiting") or 0) for p in pools)
        if waiting < int(self.settings["min_waiting"]):
            return None
        busy = [p for p in pools if int(p.get("cl_waiting") or 0)]
        worst = max(
            busy, key=lambda p: float(p.get("maxwait") or 0) * 1e6 + float(p.get("maxwait_us") or 0)
        )
        wait_s = float(worst.get("maxwait") or 0) + float(worst.get("maxwait_us") or 0) / 1e6
        keys = ("database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "pool_mode")
        return Firing(
            self.name,
            f"{waiting} client(s) waiting in PgBouncer for a server connection "
            f"({worst.get('database')}/{worst.get('user')}: {worst.get('sv_active')} server "
            f"connection(s) busy, {worst.get('sv_idle')} idle; longest wait {wait_s:.1f} s)",
            {"waiting": waiting, "pools": [{k: p.get(k) for k in keys} for p in busy]},
        )


@DETECTORS.register("health")
class Health(Detector):
    """The app's ``GET /health``: database unreachable, or the pool saturated."""

    name = "health"
    needs = "health"

    def check(self, obs: Observation) -> Firing | None:
        h = obs.health or {}
        if h.get("status") == 200:
            return None
        db = h.get("database") or {}
        pool = h.get("pool") or {}
        why = []
        if db and not db.get("ok"):
            why.append(f"database unreachable ({db.get('sqlstate')}: {db.get('error', '')[:120]})")
        if pool.get("saturation", 0) >= 1:
            why.append(f"pool saturated ({pool.get('in_use')}/{pool.get('max')} in use)")
        if not why:
            why.append(f"health answered {h.get('status')}: {h.get('error', '')[:120]}")
        return Firing(self.name, "health check fails: " + "; ".join(why), dict(h))


@DETECTORS.register("pg_stat_statements")
class StatementStats(Detector):
    """The statements whose executions since the steady state (:meth:`calibrate`) are slow
    or heavy. Counters are cumulative, so the evidence only grows: no call is diluted by a
    quiet tick or lost between two looks, and a statement that was slow once, long before
    the drill, does not fire. Judged per statement against:

    - ``min_ms``: a mean time per call since the steady state (absolute; null: not used);
    - ``ratio``: a mean at least this many times the statement's own steady-state mean
      (and at least ``floor_ms``);
    - ``blocks_ratio``: shared buffers touched per call at least this many times the
      steady state's (and at least ``min_blocks``) - the work a plan does, which no
      machine's speed changes: the mark of a lost index.

    Names the statement, not just "something is slow": the log's ``duration:`` lines carry
    no query text here (they would carry tokens).
    """

    name = "pg_stat_statements"
    needs = "statements"
    defaults: ClassVar[dict[str, Any]] = {
        "min_ms": 500.0,
        "min_calls": 1,
        "ratio": None,
        "floor_ms": 1.0,
        "blocks_ratio": None,
        "min_blocks": 100,
    }

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self._base: dict[str, Any] | None = None
        self._steady: dict[str, Any] = {}

    def calibrate(self, rows: dict[str, Any] | None, start: dict[str, Any] | None = None) -> None:
        """The counters at the end of the steady state (the fault's calls count from them);
        with ``start``, the counters at its beginning: each statement's steady mean and
        buffers a call are those of that window only (the calls before it ran on another
        stage: a smaller table, a cold cache)."""
        self._base = rows
        self._steady = {}
        for qid, r in (rows or {}).items():
            s = (start or {}).get(qid, {}) if start is not None else {}
            self._steady[qid] = {
                k: (r.get(k) or 0) - (s.get(k) or 0) for k in ("calls", "total_ms", "blocks")
            }

    def _verdict(self, r: dict[str, Any], before: dict[str, Any]) -> dict[str, Any] | None:
        s = self.settings
        calls = int(r["calls"]) - int(before.get("calls", 0))
        if calls < int(s["min_calls"]):
            return None  # not run since the steady state (or the counters were reset)
        mean = (float(r["total_ms"]) - float(before.get("total_ms", 0.0))) / calls
        blocks = (int(r.get("blocks") or 0) - int(before.get("blocks") or 0)) / calls
        steady = self._steady.get(str(r["queryid"]), before)
        base_calls = int(steady.get("calls", 0))
        base_mean = float(steady["total_ms"]) / base_calls if base_calls else None
        base_blocks = int(steady.get("blocks") or 0) / base_calls if base_calls else None
        why = []
        if s["min_ms"] is not None and mean >= float(s["min_ms"]):
            why.append(f"mean {mean:.0f} ms")
        if (
            s["ratio"] is not None
            and base_mean is not None
            and mean >= max(float(s["ratio"]) * base_mean, float(s["floor_ms"]))
        ):
            why.append(f"mean {mean:.1f} ms, {mean / max(base_mean, 1e-6):.0f}x the steady state's")
        if (
            s["blocks_ratio"] is not None
            and base_blocks is not None
            and blocks >= max(float(s["blocks_ratio"]) * base_blocks, float(s["min_blocks"]))
        ):
            why.append(
                f"{blocks:.0f} buffers a call, {blocks / max(base_blocks, 1e-6):.0f}x the "
                "steady state's"
            )
        if not why:
            return None
        return {
            "queryid": r["queryid"],
            "query": r["query"],
            "calls": calls,
            "mean_ms": round(mean, 1),
            "max_ms": round(float(r["max_ms"]), 1),
            "blocks_per_call": round(blocks, 1),
            "steady_mean_ms": None if base_mean is None else round(base_mean, 3),
            "steady_blocks_per_call": None if base_blocks is None else round(base_blocks, 1),
            "why": why,
        }

    def check(self, obs: Observation) -> Firing | None:
        rows = obs.statements or {}
        if self._base is None:
            self._base = rows  # no steady state given: the first look is the baseline
            return None
        slow = [v for qid, r in rows.items() if (v := self._verdict(r, self._base.get(qid, {})))]
        if not slow:
            return None
        slow.sort(key=lambda v: v["mean_ms"] * v["calls"], reverse=True)
        worst = slow[0]
        return Firing(
            self.name,
            f"{len(slow)} statement(s) slow or heavy since the steady state; the worst: "
            f"{worst['calls']} call(s), {'; '.join(worst['why'])}, max {worst['max_ms']:.0f} "
            f"ms: {' '.join(worst['query'].split())[:160]}",
            {"statements": slow[:10]},
        )
