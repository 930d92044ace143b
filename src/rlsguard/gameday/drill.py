"""One drill: steady state -> fault (ledgered first) -> detection -> remediation -> recovery.

Chaos Toolkit's experiment, with its gaps closed: the steady state must hold *before* the
fault (else the drill stops, exit 1, nothing injected); the undo is written to the ledger
before the fault is applied and is run in a ``finally`` (and by the next run or ``--cleanup``
when the process dies); after the revert a residue check and the steady state are verified
again; the journal computes time to detect and to recover.

Time is an input: the drill reads ``clock`` and waits with ``sleep`` between ticks (tests pass
a ManualClock and its ``advance``), so budgets are counted in ticks; wall-clock figures come
from the journal when the clock is the system's.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from rlsguard.clock import SYSTEM_CLOCK, Clock
from rlsguard.errors import DrillAborted, RlsguardError
from rlsguard.gameday import (  # noqa: F401  (registering)
    authdetectors,
    authfaults,
    authremedies,
    dbdetectors,
    dbfaults,
    dbprobes,
    dbremedies,
    probes,
)
from rlsguard.gameday.authrig import AuthRig, start_auth_rig, stop_auth_rig
from rlsguard.gameday.detectors import DETECTORS, Detector, Firing, Observation
from rlsguard.gameday.faults import FAULTS, FaultContext
from rlsguard.gameday.ledger import CHAOS_APP, DbLedger, Entry, FileLedger, Ledger
from rlsguard.gameday.remediation import REMEDIATIONS, RemedyContext, applied_versions
from rlsguard.gameday.revert import Residue, residue, revert_outstanding
from rlsguard.gameday.rig import AppRig, Runtime, start_rig
from rlsguard.gameday.runbook import QUICK_REFERENCE
from rlsguard.gameday.scenario import Scenario
from rlsguard.gameday.target import Target
from rlsguard.journal import Journal, Reporter
from rlsguard.matrix.load import Matrix
from rlsguard.policy.diff import Change
from rlsguard.policy.snapshot import Snapshot
from rlsguard.supabase.migrations import MigrationSession
from rlsguard.workspace.trial import as_migration

# Cheapest observation first.
ORDER = (
    "drift",
    "auth",
    "log",
    "serverlog",
    "activity",
    "statements",
    "app",
    "health",
    "pooler",
    "authsvc",
    "canaries",
)
NO_REQUEST_YET = "the synthetic users sent no request yet"
NO_SIGNIN_YET = "sent no sign-in yet"
CANARY_APP = "rlsguard-canary"  # the synthetic users' sessions (not chaos: they are traffic)


@dataclass
class Platform:
    """What the drill knows about the system under test (from the project)."""

    engine: Any  # rlsguard.harness.engine.Engine: personas, API settings, token signer
    matrix: Matrix
    approved: Snapshot
    exposed: tuple[str, ...]
    project_root: Path
    project_versions: tuple[str, ...]
    tables: tuple[str, ...]  # seeded tables whose rows must survive the drill


@dataclass
class DrillResult:
    scenario: Scenario
    journal: Journal
    target: str
    fired: dict[str, Firing] = field(default_factory=dict)
    fired_tick: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)  # silent detectors that indeed stayed silent
    surprises: list[str] = field(default_factory=list)  # "silent" detectors that fired
    unavailable: list[str] = field(default_factory=list)
    detected: bool = False
    recovered: bool = False
    ticks_to_detect: int | None = None
    ticks_to_recover: int | None = None
    residue: Residue | None = None
    data_ok: bool | None = None
    data_changes: list[str] = field(default_factory=list)
    remedy_steps: list[dict[str, Any]] = field(default_factory=list)
    impact: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    app: dict[str, Any] = field(default_factory=dict)  # section 2: what the app's users saw
    auth: dict[str, Any] = field(default_factory=dict)  # sections 1, 3-5: the auth rig's users

    @property
    def ttd(self) -> float | None:
        return self.journal.summary.get("ttd_s")

    @property
    def ttr(self) -> float | None:
        return self.journal.summary.get("ttr_s")

    @property
    def ok(self) -> bool:
        b = self.scenario.spec.budgets
        in_budget = (
            self.ticks_to_detect is not None
            and self.ticks_to_detect <= b.detect_ticks
            and self.ticks_to_recover is not None
            and self.ticks_to_recover <= b.recover_ticks
        )
        clean = self.residue is not None and self.residue.clean and self.data_ok is True
        return (
            self.error is None
            and self.detected
            and not self.missing
            and self.recovered
            and in_budget
            and clean
        )


def table_fingerprints(conn: psycopg.Connection[Any], tables: tuple[str, ...]) -> dict[str, str]:
    """Row count and checksum of each seeded table (as the superuser: every row)."""
    out = {}
    for table in tables:
        schema, _, name = table.partition(".")
        row = conn.execute(
            psycopg.sql.SQL(
                "select count(*), coalesce(md5(string_agg(t::text, ',' order by t::text)), '') "
                "from {}.{} t"
            ).format(psycopg.sql.Identifier(schema), psycopg.sql.Identifier(name))
        ).fetchone()
        assert row is not None
        out[table] = f"{row[0]} rows, md5 {row[1]}"
    return out


class Drill:
    def __init__(
        self,
        scenario: Scenario,
        target: Target,
        platform: Platform,
        *,
        ledger_file: Path,
        clock: Clock = SYSTEM_CLOCK,
        sleep: Callable[[float], None] = time.sleep,
        reporter: Reporter | None = None,
        artifacts: Path | None = None,
        run_id: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.spec = scenario.spec
        self.target = target
        self.platform = platform
        self.clock = clock
        self.sleep = sleep
        self.artifacts = artifacts
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.file_ledger = FileLedger(ledger_file)
        self.journal = Journal("gameday", scenario.name, clock=clock, reporter=reporter)
        self.result = DrillResult(scenario, self.journal, target.name)
        self.rig: AppRig | None = None
        self.authrig: AuthRig | None = None
        self.outage_statuses: dict[int, int] = {}  # sign-in statuses while the fault was on
        self._fault_on = False
        self.ledger: Ledger | None = None
        self.plan: Any = None
        self._extra_conns: list[psycopg.Connection[Any]] = []
        self._epoch = 0
        self.runtime = Runtime(
            target, self.run_id, lambda: self._admin(), server=getattr(target, "server", None)
        )

    # -- probes --------------------------------------------------------------------------
    def _observe(self, wanted: set[str], tail: probes.LogTail | None) -> Observation:
        obs = Observation(self.clock.now())
        for need in ORDER:
            if need in wanted:
                self._fill(obs, need, tail)
        return obs

    def _fill(self, obs: Observation, need: str, tail: probes.LogTail | None) -> None:
        """Observe one thing (once per tick), cheapest first."""
        if getattr(obs, need) is not None:
            return
        if need == "canaries":
            obs.canaries = probes.canaries(self.db, self.platform.matrix)
        elif need == "drift":
            obs.drift = probes.drift(self.conn, self.platform.exposed, self.platform.approved)
            obs.blame = self._blame(obs.drift)
        elif need == "auth":
            obs.auth = probes.auth_attempts(
                self.db, self.platform.engine.signer, self.db.personas.names
            )
        elif need == "log" and tail is not None:
            self.traffic.send()
            obs.log = tail.read()
        elif need == "serverlog" and tail is not None:
            obs.serverlog = tail.read()
        elif need == "activity":
            # Unreachable server: no observation; the app's detectors say so.
            with contextlib.suppress(psycopg.Error):
                obs.activity = dbprobes.activity(self._admin())
        elif need == "statements":
            obs.statements = self._statements()
        elif need == "app" and self.rig is not None:
            obs.app = self.rig.fresh()
        elif need == "health" and self.rig is not None:
            obs.health = self.rig.health()
        elif need == "pooler" and self.rig is not None and self.rig.bouncer is not None:
            # A dead or hung pooler: no observation; the app's detectors say so.
            with contextlib.suppress(psycopg.Error):
                obs.pooler = self.rig.bouncer.pools()
        elif need == "authsvc" and self.authrig is not None:
            obs.authsvc = self.authrig.observe()
            self._outage_samples(obs.authsvc)

    def _blame(self, changes: list[Change]) -> dict[str, str]:
        """Which migration made each change: one applied that the project does not have, or
        none recorded at all (an out-of-band change)."""
        foreign = [
            v for v in applied_versions(self.conn) if v not in self.platform.project_versions
        ]
        culprit = (
            f"migration {', '.join(sorted(foreign))} (not in the project's migrations)"
            if foreign
            else "no migration recorded it: an out-of-band change"
        )
        return {c.object: culprit for c in changes}

    def _steady(self, probes_wanted: list[str]) -> list[str]:
        """Why the steady state does not hold (empty: it holds)."""
        obs = self._observe(set(probes_wanted), None)
        why = []
        if "app" in probes_wanted:
            why.extend(self._app_steady(self.rig.sent_since_look if self.rig else None))
        if "authsvc" in probes_wanted:
            if self.authrig is None or obs.authsvc is None:
                why.append("no auth rig runs in this drill")
            else:
                why.extend(self.authrig.steady_problems(obs.authsvc))
        if obs.canaries is not None and not obs.canaries.ok:
            why.append(
                f"{len(obs.canaries.failures)} canary request(s) fail: "
                + ", ".join(f.cell for f in obs.canaries.failures[:5])
            )
        if obs.drift:
            why.append(
                f"{len(obs.drift)} difference(s) from the approved snapshot: "
                + obs.drift[0].message
            )
        if obs.auth is not None and not all(a.ok for a in obs.auth):
            why.append(
                "sign-ins fail: "
                + ", ".join(f"{a.persona} ({a.error})" for a in obs.auth if not a.ok)
            )
        return why

    def _settled(self, probes_wanted: list[str]) -> list[str]:
        """The steady state, judged once the app's users have answers to judge."""
        why = self._steady(probes_wanted)
        for _ in range(50):
            if why != [NO_REQUEST_YET] and not any(w.endswith(NO_SIGNIN_YET) for w in why):
                break
            self._tick(self.spec.budgets.tick_s)
            why = self._steady(probes_wanted)
        return why

    def _app_steady(self, window: Any) -> list[str]:
        """Every synthetic user got answers, and none failed, since the last look."""
        if self.rig is None or window is None:
            return ["no app runs in this drill"]
        if window.requests == 0:
            return [NO_REQUEST_YET]
        if window.errors:
            return [f"{window.errors} of {window.requests} app requests failed {window.by_status}"]
        return []

    def _tick(self, seconds: float) -> None:
        """Between two looks: with an app, first wait for its users' next answer (an
        observable condition), so a tick always judges new requests; then the clock's
        sleep (on the manual clock it only advances time)."""
        waited = 0.0
        if self.rig is not None and self.spec.app is not None:
            started = time.monotonic()
            self.rig.wait_for_answers(self.spec.app.client_timeout_s + 1.0)
            waited = time.monotonic() - started
        if self.authrig is not None and self.spec.auth_service is not None:
            started = time.monotonic()
            self.authrig.wait_for_answers(self.spec.auth_service.client_timeout_s + 1.0)
            waited += time.monotonic() - started
        self.sleep(max(0.0, seconds - waited) if self.clock is SYSTEM_CLOCK else seconds)

    def _statements(self) -> dict[str, Any] | None:
        """pg_stat_statements (the runner's own statements left out: a fault's setup is not
        the workload); installed on the fly only in a database this run created."""
        with contextlib.suppress(psycopg.Error):
            return dbprobes.statements(
                self._admin(), create=self.target.kind in ("local", "scratch"), others_only=True
            )
        return None

    def _admin(self) -> psycopg.Connection[Any]:
        """The runner's superuser session, reconnected after the server went away."""
        if self.conn.closed or self.conn.broken or self._epoch != self.runtime.epoch:
            if self._epoch != self.runtime.epoch:
                self.platform.engine.databases.close()  # its session died with the server
            self._epoch = self.runtime.epoch
            self.conn = self.target.connect(f"{CHAOS_APP}:{self.run_id}")
            self._extra_conns.append(self.conn)
            if self.ledger is not None:
                self.ledger.db.conn = self.conn
        return self.conn

    # -- the drill -----------------------------------------------------------------------
    def run(self) -> DrillResult:
        spec, j = self.spec, self.journal
        self.target.require_destructive(f"inject {spec.fault.kind}")
        with (
            self.target.connect(f"{CHAOS_APP}:{self.run_id}") as self.conn,
            self.target.connect(CANARY_APP) as canary_conn,
        ):
            self.db = self.platform.engine.database(canary_conn)
            self.traffic = probes.Traffic(self.db, self.platform.matrix)
            ledger = self.ledger = Ledger(self.file_ledger, DbLedger(self.conn))
            try:
                if spec.app is not None:
                    self._start_app()
                if spec.auth_service is not None:
                    self._start_auth()
                self._run(ledger)
            except RlsguardError as exc:
                self.result.error = str(exc)
            except psycopg.Error as exc:
                self.result.error = f"the database failed: {exc}"
            finally:
                try:
                    self._revert_and_check(ledger, canary_conn)
                finally:
                    self._stop_app()
                    self._stop_auth()
                    for extra in self._extra_conns:
                        extra.close()
        j.end("pass" if self.result.ok else "fail")
        return self.result

    def _start_app(self) -> None:
        spec = self.spec.app
        assert spec is not None
        with self.journal.step("app", "reference app and synthetic users") as step:
            conn = self._admin()
            # What the app's role logs (role-in-database settings go with the drill's
            # database): its slow statements (the runbook's "duration:" lines) and every lock
            # wait longer than deadlock_timeout (log_lock_waits: a wait that ends at
            # lock_timeout between two samples of pg_stat_activity is still on record).
            role_settings: dict[str, str] = {}
            if spec.slow_statement_ms is not None:
                role_settings["log_min_duration_statement"] = f"{spec.slow_statement_ms}ms"
            if spec.log_lock_waits_ms:
                role_settings["log_lock_waits"] = "on"
                role_settings["deadlock_timeout"] = f"{spec.log_lock_waits_ms}ms"
            for name, value in role_settings.items():
                conn.execute(
                    psycopg.sql.SQL("ALTER ROLE authenticator IN DATABASE {} SET {} = {}").format(
                        psycopg.sql.Identifier(self.target.dbname),
                        psycopg.sql.Identifier(name),
                        psycopg.sql.Literal(value),
                    )
                )
            self.rig = start_rig(self.platform.engine, self.target, spec, self.clock)
            self.runtime.rig = self.rig
            self.app_started = self.clock.now()
            step.detail = (
                f"{self.rig.app.url}: pool {spec.pool_max}, {len(spec.personas)} users at "
                f"{spec.rate_hz:g}/s, {self.rig.pooler}"
                + (f" ({self.rig.pooler_note})" if self.rig.pooler_note else "")
            )
            if self.rig.pooler_note:
                self.journal.event("pooler", self.rig.pooler_note, pooler=self.rig.pooler)

    def _start_auth(self) -> None:
        spec = self.spec.auth_service
        assert spec is not None
        with self.journal.step("auth", "auth service, Redis, SMTP and synthetic users") as step:
            stack = self.platform.engine.stack
            if stack is None or self.target.kind != "local":
                from rlsguard.gameday.faults import FaultError

                raise FaultError(
                    "auth drills run the reference auth service, Redis and an SMTP sink in "
                    "rlsguard's own stack: run them without --dsn (a private local cluster)"
                )
            self.authrig = start_auth_rig(self.platform.engine, self.target.dbname, spec)
            self.runtime.auth = self.authrig
            step.detail = (
                f"{self.authrig.endpoint.url}: {spec.workers} worker(s), limiter in Redis "
                f"(fail {spec.on_redis_error}), {spec.users} user(s) at {spec.rate_hz:g}/s"
                + (f", OTPs at {spec.otp_hz:g}/s" if spec.otp_hz else "")
            )

    def _outage_samples(self, view: Any) -> None:
        """Count sign-in statuses seen while the fault is on (for ``expect_during_outage``)."""
        if not self._fault_on:
            return
        for s in view.window.samples:
            if s.kind == "signin":
                self.outage_statuses[s.status] = self.outage_statuses.get(s.status, 0) + 1

    def _outage_behaviour(self) -> list[str]:
        """The configured behaviour held while the fault was on: every status the scenario
        expects (``expect_during_outage``) was seen, looking a few more ticks if need be."""
        wanted = {int(k): v for k, v in self.spec.expect_during_outage.items()}
        if not wanted or self.authrig is None:
            return []

        def unmet() -> list[int]:
            return [s for s, n in wanted.items() if self.outage_statuses.get(s, 0) < n]

        for _ in range(self.spec.budgets.detect_ticks):
            if not unmet():
                break
            self._tick(self.spec.budgets.tick_s)
            self._outage_samples(self.authrig.observe())
        missing = unmet()
        if missing:
            return [
                f"during the fault: sign-ins answered {self.outage_statuses}, expected "
                f"{self.spec.expect_during_outage}"
            ]
        self.journal.event(
            "outage.behaviour",
            f"during the fault sign-ins answered {self.outage_statuses} as configured",
            statuses={str(k): v for k, v in self.outage_statuses.items()},
        )
        return []

    def _stop_auth(self) -> None:
        if self.authrig is None:
            return
        summary = stop_auth_rig(self.authrig)
        summary["during_fault"] = {str(k): v for k, v in sorted(self.outage_statuses.items())}
        self.result.auth = summary
        self.journal.event(
            "auth.summary",
            f"{summary['signins']} synthetic sign-ins, {summary['failed']} failed; "
            f"during the fault: {summary['during_fault']}",
            **summary,
        )
        self.journal.summary["auth"] = summary
        self.authrig = None
        self.runtime.auth = None

    def _stop_app(self) -> None:
        if self.rig is None:
            return
        self.rig.stop()
        end = self.clock.now()
        series = self.rig.users.timeline(self.app_started, end, self.spec.budgets.tick_s)
        for point in series:  # on the journal's time axis (seconds since the drill started)
            point["t"] = round(point["t"] - self.journal.origin, 3)
        total = self.rig.users.window(self.app_started, end)
        self.result.app = {
            "url": self.rig.app.url,
            "pooler": self.rig.pooler,
            "pooler_note": self.rig.pooler_note,
            "requests": total.requests,
            "errors": total.errors,
            "by_status": total.as_dict()["by_status"],
            "p95_ms": total.p95_ms,
            "log_file": str(self.rig.app.log_file),
            "log_errors": _count_errors(self.rig.app_log(0)),
        }
        self.journal.event(
            "app.timeline",
            f"{total.requests} app requests, {total.errors} failed",
            step_s=self.spec.budgets.tick_s,
            series=series,
        )
        self.journal.summary["app"] = self.result.app
        for server in (self.rig.app.server, self.rig.bouncer):
            if server is not None:
                self.platform.engine.stack.discard(server.name)

    def _run(self, ledger: Ledger) -> None:
        spec, j, r = self.spec, self.journal, self.result
        with j.step("steady", "steady state before the fault") as step:
            previous = revert_outstanding(
                self.conn, self.platform.exposed, self.file_ledger, spare_running=True
            )
            if previous:
                j.event(
                    "cleanup",
                    f"reverted {len(previous)} fault(s) left by an earlier run",
                    ids=[p.id for p in previous],
                )
            why = self._settled(spec.steady_state)
            if why:
                step.status = "failed"
                step.detail = why[0]
                raise DrillAborted(
                    "the steady state does not hold before the fault, so the drill would prove "
                    f"nothing: {'; '.join(why)}. Fix the target (or the scenario) first."
                )
            self.baseline = probes.snapshot_of(self.conn, self.platform.exposed, "baseline")
            self.baseline_settings = probes.database_settings(self.conn)
            self.fingerprints = table_fingerprints(self.conn, self.platform.tables)
            step.detail = f"{', '.join(spec.steady_state)} hold"

        detectors: dict[str, Detector] = {}
        for name in [*spec.detection.expect, *spec.detection.silent]:
            settings = dict(spec.detection.settings.get(name, {}))
            if name in ("pg_log", "lock_waits", "slow_statements", "pooler_waiting"):
                settings.setdefault("dbname", self.target.dbname)
            if name == "pg_errors":
                settings.setdefault("window_s", spec.budgets.tick_s * spec.budgets.detect_ticks)
            detectors[name] = DETECTORS.get(name)(settings)
        wanted = {n for d in detectors.values() for n in (d.needs, *d.also_needs)} | set(
            spec.verify
        )
        tail = probes.LogTail.at_end(self.target.log) if self.target.log is not None else None
        if tail is None and "log" in wanted:
            r.unavailable.append("pg_log")

        with j.step("inject", f"inject: {spec.fault.kind}") as step:
            fault = FAULTS.get(spec.fault.kind)()
            params = fault.Params.model_validate(spec.fault.params)
            ctx = FaultContext(
                self.baseline,
                self.target.dbname,
                self.platform.project_root,
                self.platform.project_versions,
                self.baseline_settings,
                runtime=self.runtime,
            )
            plan = self.plan = fault.plan(params, ctx)
            entry = self._entry("fault", plan.summary, plan.revert, baseline=self.baseline.doc)
            ledger.record(entry)  # BEFORE the fault exists
            if plan.prepare is not None:  # the stage (production-sized data), undo recorded
                prepared = plan.prepare()
                j.event("fault.prepared", f"prepared: {prepared}", **prepared)
            self._calibrate(detectors, tail)
            injected: dict[str, Any] = {}
            if plan.inject is not None:
                if plan.disconnects:
                    ledger.mark(entry, "applied")  # the server goes away with the fault
                injected = plan.inject()
                self.file_ledger.note(entry.id, processes=injected.get("processes", []))
            elif plan.migration is not None:
                m = plan.migration
                with MigrationSession(self.target.as_conn_target(), self.target.dbname) as s:
                    s.run(as_migration(m["text"], m["version"], m["name"]), "migration")
            else:
                with self.conn.transaction():
                    for statement in plan.apply:
                        self.conn.execute(statement)
            if self.rig is not None:
                self.rig.fault_sent = time.monotonic()
            if not plan.disconnects:
                ledger.mark(entry, "applied")
            j.event(
                "fault.injected",
                plan.summary,
                fault=spec.fault.kind,
                params=spec.fault.params,
                objects=plan.objects,
                **{k: v for k, v in injected.items() if k != "processes"},
            )
            step.detail = plan.summary
            self._fault_on = True

        with j.step("detect", "detection") as step:
            declared = False
            ordered = sorted(detectors.items(), key=lambda kv: ORDER.index(kv[1].needs))
            for tick in range(1, spec.budgets.detect_ticks + 1):
                obs = Observation(self.clock.now())
                for name, detector in ordered:
                    if name in r.fired:
                        continue
                    for need in (detector.needs, *detector.also_needs):
                        self._fill(obs, need, tail)
                    if not detector.available(obs):
                        continue
                    firing = detector.check(obs)
                    if firing is None:
                        continue
                    r.fired[name] = firing
                    r.fired_tick[name] = tick
                    if name in spec.detection.silent:
                        r.surprises.append(name)
                    if not declared:
                        j.event("symptom", firing.message, detector=name)
                    j.event(
                        "detector.fired", firing.message, detector=name, tick=tick, **firing.data
                    )
                    if not declared and name in spec.detection.expect:
                        declared = True
                        r.ticks_to_detect = tick
                        row = QUICK_REFERENCE[spec.runbook.incident]
                        j.event(
                            "incident.declared",
                            f"🚨 INCIDENT: {spec.runbook.incident} ({row.severity})",
                            severity=row.severity,
                            section=spec.runbook.section,
                            resolution_target_s=row.resolution_s,
                        )
                if all(n in r.fired or n in r.unavailable for n in spec.detection.expect):
                    break
                self._tick(spec.budgets.tick_s)
            r.detected = declared
            r.missing.extend(self._outage_behaviour())
            # Unavailable here (no server log on a DSN target) is reported, not failed.
            r.missing = [
                n for n in spec.detection.expect if n not in r.fired and n not in r.unavailable
            ] + [m for m in r.missing if m.startswith("during the fault")]
            r.gaps = [
                n for n in spec.detection.silent if n not in r.fired and n not in r.unavailable
            ]
            if "canary" in r.fired:
                r.impact = {k: r.fired["canary"].data[k] for k in ("failed", "personas", "tables")}
            if r.missing:
                step.status = "failed"
            step.detail = (
                f"fired: {', '.join(r.fired) or 'nothing'}"
                + (f"; missing: {', '.join(r.missing)}" if r.missing else "")
                + (f"; silent as expected: {', '.join(r.gaps)}" if r.gaps else "")
            )

        self._fault_on = False
        with j.step("remediate", "remediation") as step:
            for spec_step in spec.remediation:
                remedy = REMEDIATIONS.get(spec_step.kind)
                ctx2 = RemedyContext(
                    self.target,
                    self._admin(),
                    self.platform.exposed,
                    self.platform.approved,
                    self.baseline_settings,
                    self.platform.project_versions,
                    ledger,
                    lambda kind, summary, revert: self._entry(kind, summary, revert),
                    self.artifacts,
                    runtime=self.runtime,
                )
                for done in remedy(ctx2, dict(spec_step.params)):
                    j.event(
                        "remediation.step",
                        f"{done.action}: {done.detail}",
                        action=done.action,
                        **done.data,
                    )
                    r.remedy_steps.append(
                        {"action": done.action, "detail": done.detail, **done.data}
                    )
            step.detail = "; ".join(s["action"] for s in r.remedy_steps)

        with j.step("verify", "recovery verified") as step:
            for tick in range(1, spec.budgets.recover_ticks + 1):
                why = self._steady(spec.verify)
                if not why:
                    r.recovered = True
                    r.ticks_to_recover = tick
                    j.event(
                        "steady_state.regained", f"{', '.join(spec.verify)} hold again", tick=tick
                    )
                    break
                self._tick(spec.budgets.tick_s)
            if not r.recovered:
                step.status = "failed"
                step.detail = why[0]
            else:
                step.detail = f"after {r.ticks_to_recover} tick(s)"

    def _calibrate(self, detectors: dict[str, Detector], tail: probes.LogTail | None) -> None:
        """The steady state as the detectors that compare with it need it, measured just
        before the fault (after its stage is set): healthy traffic's 42501s; statement
        counters; and, for detectors judging by ratio, a window of the users' own traffic -
        each call a few times over - for the steady means, medians and p95."""
        r = self.result
        if tail is not None and "pg_log" in detectors:
            # One round of healthy traffic: the 42501s the app produces anyway.
            self.traffic.send()
            detectors["pg_log"].calibrate(tail.read())  # type: ignore[attr-defined]
        relative = [d for d in detectors.values() if d.settings.get("ratio") is not None]
        relative += [d for d in detectors.values() if d.settings.get("blocks_ratio") is not None]
        stats = "pg_stat_statements" in detectors
        start = self._statements() if stats and relative else None
        if relative and self.rig is not None and self.spec.app is not None:
            if tail is not None:
                tail.read()
            first = len(self.rig.users.samples)
            rounds = 2 * len(self.rig.users.calls) * len(self.rig.users.tokens)
            self.rig.users.wait_for_samples(first + rounds, 2.0 * rounds)
            window = self.rig.users.samples[first:]
            if "app_latency" in detectors:
                detectors["app_latency"].calibrate(  # type: ignore[attr-defined]
                    self.rig.users.summarise(window, self.clock.now(), self.clock.now())
                )
            if tail is not None and "slow_statements" in detectors:
                detectors["slow_statements"].calibrate(tail.read())  # type: ignore[attr-defined]
        if stats:
            before = self._statements()
            if before is None:  # not preloaded on this server: reported, not failed
                r.unavailable.append("pg_stat_statements")
            else:
                detectors["pg_stat_statements"].calibrate(  # type: ignore[attr-defined]
                    before, start
                )
        if self.rig is not None:
            self.rig.fresh()  # the first tick judges requests made with the fault on

    def _entry(
        self, kind: str, summary: str, revert: list[str], baseline: dict[str, Any] | None = None
    ) -> Entry:
        return Entry(
            self.spec.name,
            kind,
            summary,
            revert,
            self.target.name,
            self.target.dbname,
            self.run_id,
            baseline=baseline,
        )

    def _revert_and_check(self, ledger: Ledger, canary_conn: psycopg.Connection[Any]) -> None:
        j, r = self.journal, self.result
        if not hasattr(self, "baseline"):
            return
        with j.step("revert", "revert and residue check") as step:
            if self.plan is not None and self.plan.release is not None:
                released = self.plan.release(_quietly(self._admin))
                j.event("fault.released", f"in-process undo: {released}", **released)
            self._admin()
            reverted = revert_outstanding(
                self.conn, self.platform.exposed, self.file_ledger, spare_running=True
            )
            if reverted:
                j.event(
                    "fault.reverted",
                    f"{len(reverted)} ledger entr(y/ies) reverted",
                    ids=[x.id for x in reverted],
                )
            ledger.db.conn = self.conn
            ledger.db.drop_if_clean()
            r.residue = residue(
                self.conn, self.platform.exposed, self.baseline, self.baseline_settings
            )
            after = table_fingerprints(self.conn, self.platform.tables)
            r.data_changes = [
                f"{t}: {self.fingerprints[t]} -> {after[t]}"
                for t in self.platform.tables
                if after[t] != self.fingerprints[t]
            ]
            r.data_ok = not r.data_changes
            why = self._settled(self.spec.steady_state)
            if why:
                r.residue.drift.extend(why)
            if not r.residue.clean or not r.data_ok:
                step.status = "failed"
                step.detail = "; ".join([*r.residue.lines(), *r.data_changes])[:300]
            else:
                step.detail = "clean: no fault, session, object or setting left; data intact"
        self._summarise()

    def _summarise(self) -> None:
        j, r = self.journal, self.result
        injected = j.first("fault.injected")
        declared = j.first("incident.declared")
        regained = j.first("steady_state.regained")
        row = QUICK_REFERENCE[self.spec.runbook.incident]
        j.summary.update(
            {
                "scenario": self.spec.name,
                "target": self.target.name,
                "severity": row.severity,
                "runbook_section": self.spec.runbook.section,
                "ttd_s": round(declared.t - injected.t, 6) if injected and declared else None,
                "ttr_s": round(regained.t - injected.t, 6) if injected and regained else None,
                "ticks_to_detect": r.ticks_to_detect,
                "ticks_to_recover": r.ticks_to_recover,
                "budget": self.spec.budgets.model_dump(),
                "runbook_resolution_s": row.resolution_s,
                "runbook_detection_s": 120.0,
                "detected_by": list(r.fired),
                "missing": r.missing,
                "silent_as_expected": r.gaps,
                "unavailable": r.unavailable,
                "recovered": r.recovered,
                "residue": r.residue.lines() if r.residue else None,
                "data_ok": r.data_ok,
                "impact": r.impact,
                "error": r.error,
                "ok": r.ok,
            }
        )


def _quietly(connect: Callable[[], Any]) -> Any:
    """The admin session, or None while the server cannot be reached."""
    try:
        return connect()
    except psycopg.Error:
        return None


def _count_errors(records: list[dict[str, Any]]) -> dict[str, int]:
    """The app log's failed requests by error class."""
    out: dict[str, int] = {}
    for r in records:
        if r.get("outcome") == "error":
            key = str(r.get("error_class"))
            out[key] = out.get(key, 0) + 1
    return out
