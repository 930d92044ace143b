"""Detectors of the runbook's section 2: what the server shows (saturation, idle
transactions, lock waits, error rates and slow statements in its log) and what the app's
users see (5xx rate, p95 latency, the health endpoint). Pure, like section 1's: windows are
measured on the observation's time (the injected clock)."""

from __future__ import annotations

import re
from collections import deque
from typing import Any, ClassVar

from rlsguard.gameday.detectors import DETECTORS, Detector, Firing, Observation
from rlsguard.stack.pglog import LogRecord

DURATION = re.compile(r"^duration: ([0-9.]+) ms")
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


@DETECTORS.register("idle_in_transaction")
class IdleTransactions(Detector):
    """Sessions idle in a transaction for longer than ``min_age_s`` (they hold locks and
    snapshots; the runbook's idle-connection query never sees them)."""

    name = "idle_in_transaction"
    needs = "activity"
    defaults: ClassVar[dict[str, Any]] = {"min_age_s": 0.5}

    def check(self, obs: Observation) -> Firing | None:
        old = [
            s for s in obs.activity.idle_in_transaction if s["age_s"] >= self.settings["min_age_s"]
        ]
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
    """Sessions blocked on a lock held by another (``pg_blocking_pids``)."""

    name = "lock_waits"
    needs = "activity"
    defaults: ClassVar[dict[str, Any]] = {"min_waiting": 1}

    def check(self, obs: Observation) -> Firing | None:
        waiting = obs.activity.waiting
        if len(waiting) < int(self.settings["min_waiting"]):
            return None
        blockers = sorted({p for w in waiting for p in w["blocked_by"]})
        return Firing(
            self.name,
            f"{len(waiting)} session(s) waiting on locks held by pid(s) "
            f"{', '.join(map(str, blockers))}",
            {"waiting": waiting, "blockers": blockers},
        )


@DETECTORS.register("long_queries")
class LongQueries(Detector):
    """Queries running longer than ``min_age_s`` (the runbook's "> 5000ms", compressed)."""

    name = "long_queries"
    needs = "activity"
    defaults: ClassVar[dict[str, Any]] = {"min_age_s": 1.0}

    def check(self, obs: Observation) -> Firing | None:
        long = [q for q in obs.activity.active if q["age_s"] >= self.settings["min_age_s"]]
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
    """``duration:`` lines (``log_min_duration_statement``) at or over ``min_ms`` - the
    runbook's "Filter for: duration: [0-9]+ ms"."""

    name = "slow_statements"
    defaults: ClassVar[dict[str, Any]] = {"min_ms": 500.0, "window_s": 10.0, "threshold": 1}

    def matching(self, records: list[LogRecord]) -> list[LogRecord]:
        out = []
        for r in records:
            m = DURATION.match(r.message)
            if m and float(m.group(1)) >= float(self.settings["min_ms"]):
                out.append(r)
        return out

    def check(self, obs: Observation) -> Firing | None:
        seen = self.window(obs)
        if len(seen) < int(self.settings["threshold"]):
            return None
        worst = max(seen, key=lambda r: float(DURATION.match(r.message).group(1)))  # type: ignore[union-attr]
        return Firing(
            self.name,
            f"{len(seen)} statement(s) over {self.settings['min_ms']:g} ms; slowest: "
            f"{worst.message[:160]}",
            {"statements": [r.message[:300] for r in seen[:10]]},
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
    """The synthetic users' p95 latency over ``p95_ms``."""

    name = "app_latency"
    needs = "app"
    defaults: ClassVar[dict[str, Any]] = {"p95_ms": 500.0}

    def check(self, obs: Observation) -> Firing | None:
        w = obs.app
        if w.p95_ms is None or w.p95_ms < float(self.settings["p95_ms"]):
            return None
        return Firing(self.name, f"users wait: p95 {w.p95_ms:.0f} ms", w.as_dict())


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
    """The statement whose executions since the last tick took ``min_ms`` on average (calls
    and total time are deltas of ``pg_stat_statements`` between ticks, so a statement that
    was slow once, long ago, does not fire). Names the statement, not just "something is
    slow": the log's ``duration:`` lines carry no query text here (they would carry tokens).
    """

    name = "pg_stat_statements"
    needs = "statements"
    defaults: ClassVar[dict[str, Any]] = {"min_ms": 500.0, "min_calls": 1}

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self._last: dict[str, Any] | None = None

    def calibrate(self, rows: dict[str, Any] | None) -> None:
        """The counters before the fault: the first tick's deltas start from them."""
        self._last = rows

    def check(self, obs: Observation) -> Firing | None:
        rows = obs.statements or {}
        last, self._last = self._last, rows
        if last is None:
            return None
        slow = []
        for qid, r in rows.items():
            before = last.get(qid, {"calls": 0, "total_ms": 0.0})
            calls = int(r["calls"]) - int(before["calls"])
            if calls < int(self.settings["min_calls"]):
                continue  # not run since the last tick (or the counters were reset)
            mean = (float(r["total_ms"]) - float(before["total_ms"])) / calls
            if mean >= float(self.settings["min_ms"]):
                slow.append(
                    {
                        "queryid": qid,
                        "query": r["query"],
                        "calls": calls,
                        "mean_ms": round(mean, 1),
                        "max_ms": round(float(r["max_ms"]), 1),
                    }
                )
        if not slow:
            return None
        slow.sort(key=lambda s: s["mean_ms"] * s["calls"], reverse=True)
        worst = slow[0]
        return Firing(
            self.name,
            f"{len(slow)} statement(s) averaging over {self.settings['min_ms']:g} ms since the "
            f"last look; the worst: {worst['calls']} call(s), mean {worst['mean_ms']:.0f} ms, "
            f"max {worst['max_ms']:.0f} ms: {' '.join(worst['query'].split())[:160]}",
            {"statements": slow[:10]},
        )
