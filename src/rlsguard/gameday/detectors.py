"""Detectors: the runbook's Detection and Diagnosis as code, judging what probes observed.

A detector is pure: it receives one :class:`Observation` per tick (with the tick's time from
the runner's injected clock) and says when it fires. Windows are measured on that clock, so
tests drive them with a ManualClock and assert "fires within K ticks". Register new ones with
``@DETECTORS.register``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rlsguard.gameday.probes import AuthAttempt, CanaryRun
from rlsguard.gameday.registry import Registry
from rlsguard.policy.diff import Change
from rlsguard.stack.pglog import LogRecord
from rlsguard.vocab import INSUFFICIENT_PRIVILEGE as PERMISSION_DENIED  # grant and RLS


@dataclass
class Observation:
    """What the probes saw in one tick (None: not observed on this target)."""

    now: float
    canaries: CanaryRun | None = None
    drift: list[Change] | None = None
    blame: dict[str, str] = field(default_factory=dict)  # object -> the change that made it
    log: list[LogRecord] | None = None
    auth: list[AuthAttempt] | None = None
    # Section 2 (gameday.dbprobes / the app rig): what the server and the app's users show.
    activity: Any = None  # dbprobes.Activity
    serverlog: list[LogRecord] | None = None  # the server log, read without sending traffic
    app: Any = None  # refapp.users.Window: the synthetic users' requests since the last tick
    health: dict[str, Any] | None = None  # the app's GET /health
    statements: dict[str, Any] | None = None  # dbprobes.statements: pg_stat_statements rows
    authsvc: Any = None  # gameday.authrig.AuthView: the auth rig (sections 1, 3, 4, 5)
    pooler: list[dict[str, Any]] | None = None  # PgBouncer's SHOW POOLS, when one runs


@dataclass(frozen=True)
class Firing:
    detector: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


class Detector:
    name: ClassVar[str] = ""
    needs: ClassVar[str] = ""  # the Observation field it reads
    also_needs: ClassVar[tuple[str, ...]] = ()  # more fields it reads when observed
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = {**self.defaults, **(settings or {})}

    def available(self, obs: Observation) -> bool:
        return getattr(obs, self.needs) is not None

    def check(self, obs: Observation) -> Firing | None:  # pragma: no cover - abstract
        return None


DETECTORS: Registry[type[Detector]] = Registry("detector")


@DETECTORS.register("pg_log")
class PgLogRate(Detector):
    """42501 errors per window in the server log, above the steady state's own rate.

    The runbook alerts on "> 10 per minute"; a healthy app already produces some 42501s (the
    requests that *must* be refused), so each tick counts only the excess over the rate
    measured in the steady state (:meth:`calibrate`), and the rule fires when the excess in
    the sliding window passes the threshold.
    """

    name = "pg_log"
    needs = "log"
    defaults: ClassVar[dict[str, Any]] = {"window_s": 5.0, "threshold": 10, "dbname": None}

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self._events: deque[tuple[float, int, list[str]]] = deque()
        self.baseline = 0

    def _matching(self, records: list[LogRecord]) -> list[LogRecord]:
        dbname = self.settings["dbname"]
        return [
            r
            for r in records
            if r.state_code == PERMISSION_DENIED
            and r.severity in ("ERROR", "FATAL")
            and (not dbname or r.dbname == dbname)
        ]

    def calibrate(self, records: list[LogRecord]) -> None:
        """The 42501s one round of healthy traffic produces."""
        self.baseline = len(self._matching(records))

    def check(self, obs: Observation) -> Firing | None:
        assert obs.log is not None
        matching = self._matching(obs.log)
        excess = max(0, len(matching) - self.baseline)
        if excess:
            self._events.append((obs.now, excess, [r.message for r in matching]))
        window = float(self.settings["window_s"])
        while self._events and self._events[0][0] <= obs.now - window:
            self._events.popleft()
        count = sum(n for _, n, _ in self._events)
        if count <= int(self.settings["threshold"]):
            return None
        messages = sorted({m for _, _, ms in self._events for m in ms})
        return Firing(
            self.name,
            f"{count} more '42501' errors than the steady state in the last {window:g} s "
            f"(threshold {self.settings['threshold']}): {'; '.join(messages[:3])}",
            {
                "count": count,
                "window_s": window,
                "baseline": self.baseline,
                "messages": messages[:20],
            },
        )


@DETECTORS.register("canary")
class Canary(Detector):
    """Synthetic users: a persona's request no longer gets what the matrix promises."""

    name = "canary"
    needs = "canaries"

    def check(self, obs: Observation) -> Firing | None:
        assert obs.canaries is not None
        if obs.canaries.ok:
            return None
        failures = obs.canaries.failures
        personas = sorted({f.persona for f in failures})
        tables = sorted({f.table for f in failures})
        kinds = sorted({k for f in failures for k in f.kinds})
        return Firing(
            self.name,
            f"{len(failures)} of {obs.canaries.cells} canary requests fail "
            f"({', '.join(kinds)}) for {', '.join(personas)} on {', '.join(tables)}",
            {
                "failed": [f.cell for f in failures],
                "personas": personas,
                "tables": tables,
                "kinds": kinds,
                "summaries": {f.cell: f.summary for f in failures},
            },
        )


@DETECTORS.register("drift")
class Drift(Detector):
    """The live security surface differs from the approved snapshot (the runbook's pg_policies)."""

    name = "drift"
    needs = "drift"

    def check(self, obs: Observation) -> Firing | None:
        assert obs.drift is not None
        if not obs.drift:
            return None
        first = obs.drift[0]
        blamed = obs.blame.get(first.object, "")
        how = f" ({blamed})" if blamed else ""
        return Firing(
            self.name,
            f"{len(obs.drift)} change(s) from the approved snapshot: {first.message}{how}",
            {
                "changes": [c.as_dict() for c in obs.drift],
                "objects": sorted({c.object for c in obs.drift}),
                "blame": dict(obs.blame),
            },
        )


@DETECTORS.register("auth")
class AuthErrors(Detector):
    """Sign-in errors of the synthetic users (JWT rejected, ``auth.uid()`` NULL)."""

    name = "auth"
    needs = "auth"
    defaults: ClassVar[dict[str, Any]] = {"max_error_ratio": 0.0}

    def check(self, obs: Observation) -> Firing | None:
        assert obs.auth is not None
        if not obs.auth:
            return None
        failed = [a for a in obs.auth if not a.ok]
        if len(failed) / len(obs.auth) <= float(self.settings["max_error_ratio"]):
            return None
        reasons = sorted({(a.error or "").split(":")[0] for a in failed})
        return Firing(
            self.name,
            f"{len(failed)} of {len(obs.auth)} sign-ins fail: {', '.join(reasons)}",
            {
                "personas": [a.persona for a in failed],
                "errors": {a.persona: a.error for a in failed},
            },
        )
