"""Game-day scenarios as data: ``fixtures/gameday/*.yaml`` -> validated :class:`Scenario`.

A scenario is Chaos Toolkit's experiment in rlsguard's words: the steady state (probes that
must hold before the fault and again after the remediation), the fault with its parameters,
the detectors expected to fire (and those expected to stay silent: a known detection gap),
the remediation and the budgets, counted in ticks of the runner's clock. The JSON Schema is
committed as ``docs/gameday.schema.json`` (``python -m rlsguard.gameday.scenario``).

Errors name the file, the line and the dotted key, like the access matrix's (the same
YAML-with-line-numbers reader).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rlsguard.errors import ScenarioError
from rlsguard.gameday.runbook import QUICK_REFERENCE, SECTION_1
from rlsguard.matrix.load import MatrixError, Problem, _from_pydantic, _read_yaml, dotted

SCHEMA_ID = "https://rlsguard.dev/schemas/gameday.schema.json"
PROBES = ("canaries", "drift", "auth", "app", "authsvc")
Probe = Literal["canaries", "drift", "auth", "app", "authsvc"]
Severity = Literal["P1", "P2", "P3"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunbookRef(_Model):
    """Where the incident is in the runbook."""

    incident: str = Field(
        description="The Quick Reference row, e.g. 'RLS policy broken (no access)'."
    )
    section: str = Field(default=SECTION_1, description="The runbook section the drill follows.")
    severity: Severity = Field(description="As the Quick Reference states it.")
    notes: list[str] = Field(
        default_factory=list,
        description="Keys of runbook conflicts this scenario meets (see gameday.runbook).",
    )


class FaultSpec(_Model):
    """What is broken, and how."""

    kind: str = Field(description="A registered fault: drop_policy, replace_policy, ...")
    params: dict[str, Any] = Field(default_factory=dict, description="The fault's parameters.")


class DetectionSpec(_Model):
    """What must notice, and what is known not to."""

    expect: list[str] = Field(min_length=1, description="Detectors that must fire.")
    silent: list[str] = Field(
        default_factory=list,
        description="Detectors expected to stay silent: the runbook's detection gap.",
    )
    settings: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-detector settings (e.g. pg_log window)."
    )


class RemediationSpec(_Model):
    kind: str = Field(description="A registered remediation: rollback_migration, ...")
    params: dict[str, Any] = Field(default_factory=dict)


class Budgets(_Model):
    """Limits, in ticks of the runner's clock (tests advance it) and in wall seconds."""

    tick_s: float = Field(default=0.2, gt=0, description="Seconds between detector rounds.")
    detect_ticks: int = Field(default=5, ge=1, description="Ticks allowed to detect.")
    recover_ticks: int = Field(default=5, ge=1, description="Ticks allowed to recover.")
    ttd_s: float = Field(default=2.0, gt=0, description="Wall-time target to detect.")
    ttr_s: float = Field(default=5.0, gt=0, description="Wall-time target to recover.")


class AppSpec(_Model):
    """The reference app a database drill runs, and the synthetic users who call it."""

    pool_max: int = Field(default=4, ge=1, description="The app's pool max size.")
    acquire_timeout_s: float = Field(default=0.5, gt=0, description="Pool wait before a 503.")
    statement_timeout_ms: int = Field(default=800, ge=0, description="Before a 504 (57014).")
    lock_timeout_ms: int = Field(default=400, ge=0, description="Before a 504 (55P03).")
    pooler: Literal["direct", "pgbouncer"] = Field(
        default="direct", description="pgbouncer: through PgBouncer when it is installed."
    )
    personas: list[str] = Field(
        default=["student", "teacher", "admin"], min_length=1, description="One user each."
    )
    tables: list[str] = Field(
        default=["classes", "assignments?class_id=eq.{class_id}"],
        min_length=1,
        description="What the users read: a table, or a table with PostgREST equality filters "
        "(`{class_id}`: a seeded class), as an app's \"this class's assignments\" call.",
    )
    writes: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Tables the users also write to: table -> the row (`{class_id}`: a seeded "
        "class), sent as PostgREST does with `Prefer: tx=rollback` - answered, then rolled "
        "back, so the seeded data stays as it was.",
    )
    rate_hz: float = Field(default=10.0, gt=0, le=200, description="Requests per second each.")
    max_seconds: float = Field(default=300.0, gt=0, description="Users stop after this anyway.")
    client_timeout_s: float = Field(default=3.0, gt=0)
    slow_statement_ms: int | None = Field(
        default=200,
        ge=0,
        description="log_min_duration_statement for the app's role (0: every statement, "
        "for detectors that compare durations with the steady state's; null: not set).",
    )
    log_lock_waits_ms: int = Field(
        default=50,
        ge=0,
        description="deadlock_timeout for the app's role, with log_lock_waits on: lock waits "
        "longer than this are logged (0: off).",
    )


class AuthServiceSpec(_Model):
    """The auth rig an auth drill runs (sections 1, 3, 4, 5): Redis, SMTP, the service and
    synthetic users signing in (and asking for OTPs)."""

    users: int = Field(default=2, ge=1, le=20, description="Synthetic users signing in.")
    rate_hz: float = Field(default=5.0, gt=0, le=50, description="Sign-ins per second each.")
    otp_hz: float = Field(default=0.0, ge=0, le=50, description="OTP requests per second.")
    workers: int = Field(default=1, ge=1, le=4, description="uvicorn workers of the service.")
    on_redis_error: Literal["closed", "open"] = Field(
        default="closed", description="The limiter's policy while Redis is down."
    )
    client_timeout_s: float = Field(default=2.0, gt=0)


class ScenarioSpec(_Model):
    """One drill."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="rlsguard game-day scenario",
        json_schema_extra={"$id": SCHEMA_ID},
    )

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Short id (file stem).")
    title: str
    runbook: RunbookRef
    steady_state: list[Probe] = Field(
        min_length=1, description="Probes that must pass before the fault and after recovery."
    )
    fault: FaultSpec
    detection: DetectionSpec
    remediation: list[RemediationSpec] = Field(min_length=1)
    verify: list[Probe] = Field(min_length=1, description="Probes that prove recovery.")
    budgets: Budgets = Field(default=Budgets())
    app: AppSpec | None = Field(
        default=None, description="Run the reference app and synthetic users (section 2)."
    )
    auth_service: AuthServiceSpec | None = Field(
        default=None, description="Run the auth rig (sections 1, 3, 4, 5)."
    )
    expect_during_outage: dict[int, int] = Field(
        default_factory=dict,
        description="Statuses the synthetic sign-ins must get while the fault is on, "
        "e.g. {503: 1} for a fail-closed limiter (each listed status seen at least that often)",
    )
    root_cause: str = Field(description="One sentence for the post-mortem.")


class Scenario:
    """A loaded scenario and where each key was written."""

    def __init__(self, spec: ScenarioSpec, source: Path | None, lines: dict[str, int]) -> None:
        self.spec = spec
        self.source = source
        self.lines = lines

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        return f"Scenario({self.name!r})"


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate one scenario file; raises :class:`ScenarioError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else f"cannot be read: {exc}"
        raise ScenarioError([Problem(str(path), "", reason)]) from None
    return parse_scenario(text, source=path)


def parse_scenario(text: str, *, source: Path | None = None) -> Scenario:
    file = str(source) if source else "(scenario)"
    try:
        data, raw_lines = _read_yaml(text, file)
    except MatrixError as exc:
        raise ScenarioError(exc.problems) from None
    if not isinstance(data, dict):
        raise ScenarioError([Problem(file, "", "expected a mapping (name:, fault:, ...)", 1)])
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        problems = [_from_pydantic(err, data, raw_lines, file) for err in exc.errors()]
        raise ScenarioError(problems) from None
    lines = {dotted(k): v for k, v in raw_lines.items()}
    scenario = Scenario(spec, source, lines)
    problems = list(_check_references(scenario, file))
    if problems:
        raise ScenarioError(problems)
    return scenario


def _line(scenario: Scenario, key: str) -> int | None:
    parts = key.split(".")
    for cut in range(len(parts), 0, -1):
        line = scenario.lines.get(".".join(parts[:cut]))
        if line:
            return line
    return None


def _unknown(name: str, known: Iterable[str], what: str) -> str:
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}{hint} (known: {', '.join(known)})"


def _check_references(scenario: Scenario, file: str) -> Iterator[Problem]:
    """Registered names, their parameters, the runbook row and the file name."""
    from rlsguard.gameday import (  # noqa: F401  (register)
        authdetectors,
        authfaults,
        authremedies,
        dbdetectors,
        dbfaults,
        dbremedies,
    )
    from rlsguard.gameday.detectors import DETECTORS
    from rlsguard.gameday.faults import FAULTS
    from rlsguard.gameday.remediation import REMEDIATIONS

    spec = scenario.spec

    def problem(key: str, reason: str) -> Problem:
        return Problem(file, key, reason, _line(scenario, key))

    row = QUICK_REFERENCE.get(spec.runbook.incident)
    if row is None:
        yield problem(
            "runbook.incident", _unknown(spec.runbook.incident, QUICK_REFERENCE, "incident")
        )
    elif row.severity != spec.runbook.severity:
        yield problem(
            "runbook.severity",
            f"the Quick Reference rates {row.incident!r} {row.severity}, not "
            f"{spec.runbook.severity} (the Quick Reference wins; write {row.severity})",
        )
    if spec.fault.kind not in FAULTS:
        yield problem("fault.kind", _unknown(spec.fault.kind, FAULTS.names(), "fault"))
    else:
        params_model = FAULTS.get(spec.fault.kind).Params
        try:
            params_model.model_validate(spec.fault.params)
        except ValidationError as exc:
            for err in exc.errors():
                key = dotted(["fault", "params", *[str(p) for p in err["loc"]]])
                reason = "required key is missing" if err["type"] == "missing" else err["msg"]
                yield problem(key, reason)
    for where in ("expect", "silent"):
        for i, name in enumerate(getattr(spec.detection, where)):
            if name not in DETECTORS:
                yield problem(
                    f"detection.{where}[{i}]", _unknown(name, DETECTORS.names(), "detector")
                )
    for name in spec.detection.settings:
        if name not in DETECTORS:
            yield problem(
                f"detection.settings.{name}", _unknown(name, DETECTORS.names(), "detector")
            )
    overlap = set(spec.detection.expect) & set(spec.detection.silent)
    for name in sorted(overlap):
        yield problem("detection.silent", f"{name!r} cannot be both expected and silent")
    for i, step in enumerate(spec.remediation):
        if step.kind not in REMEDIATIONS:
            yield problem(
                f"remediation[{i}].kind", _unknown(step.kind, REMEDIATIONS.names(), "remediation")
            )
    needs_app = "app" in spec.steady_state or "app" in spec.verify
    if needs_app and spec.app is None:
        yield problem("app", "the 'app' probe needs the reference app: add an `app:` section")
    needs_auth = "authsvc" in spec.steady_state or "authsvc" in spec.verify
    if needs_auth and spec.auth_service is None:
        yield problem("auth_service", "the 'authsvc' probe needs the auth rig: add an "
                      "`auth_service:` section")  # fmt: skip
    if scenario.source is not None and scenario.source.stem != spec.name:
        yield problem("name", f"must equal the file name {scenario.source.stem!r}")


def load_scenarios(paths: Iterable[Path | str]) -> list[Scenario]:
    """Several files (a folder: its ``*.yaml``), every problem of every file in one error."""
    scenarios, problems = [], []
    for raw in paths:
        path = Path(raw)
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
        for file in files:
            try:
                scenarios.append(load_scenario(file))
            except ScenarioError as exc:
                problems.extend(exc.problems)
    if problems:
        raise ScenarioError(problems)
    return scenarios


def json_schema() -> dict[str, Any]:
    schema = ScenarioSpec.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"


if __name__ == "__main__":
    print(json_schema_text(), end="")
