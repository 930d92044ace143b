"""The gate's files for CI: ``--json`` (everything), ``--junit`` (each check a test case) and
``--sarif`` (findings for code scanning).

- JSON follows :class:`~rlsguard.gate.model.GateDocument` (schema: ``docs/gate.schema.json``).
- JUnit XML: one ``<testsuite>`` per kind of check - the pipeline's steps, the findings on
  head, the matrix cells, the access cells that changed, the rollback dry-run. A check that
  makes the gate block is a ``<failure>``, one the gate could not run an ``<error>``, one that
  does not apply (an old or waived finding, a skipped step) ``<skipped>``.
- SARIF 2.1.0: the audit's own writer (:func:`rlsguard.audit.formats.as_sarif`) over every
  finding on head, each result's ``baselineState`` telling ``new`` from ``unchanged`` (on
  base already), so code scanning annotates what the pull request introduced.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from rlsguard import __version__
from rlsguard.gate.model import (
    SCHEMA_VERSION,
    AccessChangeDoc,
    AccessDoc,
    AccessSideDoc,
    FindingDoc,
    GateDocument,
    LocationDoc,
    MatrixCellDoc,
    MatrixDoc,
    PolicyChangeDoc,
    PolicyDoc,
    RollbackDoc,
    RollbackSkippedDoc,
    RollbackUnitDoc,
    SourceDoc,
    StepDoc,
)
from rlsguard.gate.run import GateFinding, GateReport
from rlsguard.matrix.results import CellResult, sort_key

SUITE = "rlsguard.gate"


# -- json -----------------------------------------------------------------------------------


def document(report: GateReport) -> GateDocument:
    """The report as the ``--json`` document."""
    return GateDocument(
        schema_version=SCHEMA_VERSION,
        tool="rlsguard",
        version=__version__,
        verdict=report.verdict,
        exit_code=report.exit_code,  # type: ignore[arg-type]
        reasons=report.reasons if report.error is None else [],
        error=report.error,
        fail_on=report.options.fail_on,
        supabase_dir=str(report.supabase_dir) if report.supabase_dir else None,
        base=SourceDoc(**report.base.as_dict()) if report.base else None,  # type: ignore[arg-type]
        head=SourceDoc(**report.head.as_dict()) if report.head else None,  # type: ignore[arg-type]
        seconds=round(report.seconds, 3),
        steps=[
            StepDoc(
                name=s.name,
                title=s.title,
                status=s.status,
                seconds=round(s.seconds, 3),
                detail=s.detail,
            )  # type: ignore[arg-type]
            for s in report.steps
        ],
        policy=_policy(report),
        findings=[_finding(g) for g in report.findings],
        matrix=_matrix(report),
        access=_access(report),
        rollback=_rollback(report),
    )


def render_json(report: GateReport) -> str:
    return json.dumps(document(report).model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def _policy(report: GateReport) -> PolicyDoc | None:
    diff = report.policy
    if diff is None:
        return None
    return PolicyDoc(
        base=diff.base,
        head=diff.head,
        counts=diff.counts(),
        changes=[PolicyChangeDoc(**c.as_dict()) for c in diff.changes],
    )


def _finding(gate: GateFinding) -> FindingDoc:
    f = gate.finding
    return FindingDoc(
        rule=f.rule,
        level=f.level,
        category=f.category,
        object=f.object,
        message=f.message,
        remediation=f.remediation,
        location=LocationDoc(file=f.location.file, line=f.location.line) if f.location else None,
        check=f.check,
        waived=f.waived,
        new=gate.new,
        blocking=gate.blocking,
    )


def candidate_problems(result: CellResult) -> list[str]:
    """Insert candidates and changes of a failing cell that went wrong, one line each."""
    out = []
    for c in result.candidates:
        if c.ok:
            continue
        wanted = "accepted" if c.expected else "rejected"
        out.append(f"{c.label}: {c.outcome}, expected {wanted}")
    return out


def _keys(keys: Iterable[tuple[str | None, ...]]) -> list[list[str | None]]:
    return [list(k) for k in sorted(keys, key=sort_key)]


def _matrix(report: GateReport) -> MatrixDoc | None:
    run = report.matrix
    if run is None:
        return None
    return MatrixDoc(
        file=report.matrix_file or run.matrix.file,
        ok=run.ok,
        cells=len(run.results),
        failed=[
            MatrixCellDoc(
                id=r.cell.id,
                persona=r.cell.persona,
                table=r.cell.table,
                operation=r.cell.operation,  # type: ignore[arg-type]
                status=r.status,  # type: ignore[arg-type]
                kinds=r.kinds,
                summary=r.summary(),
                unexpected=_keys(r.unexpected),
                missing=_keys(r.missing),
                candidates=candidate_problems(r),
            )
            for r in run.failed
        ],
        untested=run.untested.lines(),
    )


def _access(report: GateReport) -> AccessDoc | None:
    diff = report.access
    if diff is None:
        return None
    changes = []
    for change in diff.changes:
        data = change.as_dict()
        data["before"] = AccessSideDoc(**data["before"])
        data["after"] = AccessSideDoc(**data["after"])
        changes.append(AccessChangeDoc(**data))
    return AccessDoc(
        base=diff.base,
        head=diff.head,
        personas=diff.personas,
        persona_source=diff.persona_source or "project",  # type: ignore[arg-type]
        tables=diff.tables,
        cells=diff.cells,
        counts=diff.counts(),
        changes=changes,
        tables_added=diff.tables_added,
        tables_dropped=diff.tables_dropped,
        notes=diff.notes,
    )


def _rollback(report: GateReport) -> RollbackDoc | None:
    rollback = report.rollback
    if rollback is None and report.rollback_error is None:
        return None
    if rollback is None:
        return RollbackDoc(
            needed=True,
            restored=False,
            idempotent=False,
            filename="",
            units=[],
            skipped=[],
            residual=[],
            problems=report.rollback_problems,
            left_alone=[],
            error=report.rollback_error,
            command=report.rollback_command,
            sql=None,
        )
    return RollbackDoc(
        needed=rollback.needed,
        restored=rollback.restored,
        idempotent=rollback.idempotent,
        filename=rollback.filename,
        units=[
            RollbackUnitDoc(object=u.object, action=u.action, sql=list(u.statements))
            for u in rollback.units
        ],
        skipped=[
            RollbackSkippedDoc(object=s.object, kind=s.kind, reason=s.reason)
            for s in rollback.skipped
        ],
        residual=[c.message for c in rollback.residual.changes],
        problems=report.rollback_problems,
        left_alone=report.left_alone,
        error=None,
        command=report.rollback_command,
        sql=rollback.sql if rollback.units else None,
    )


# -- junit ----------------------------------------------------------------------------------


class _Suite:
    def __init__(self, name: str) -> None:
        self.element = ET.Element("testsuite", name=f"{SUITE}.{name}")
        self.name = name
        self.counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        self.seconds = 0.0

    def case(
        self,
        name: str,
        *,
        seconds: float = 0.0,
        failure: str | None = None,
        error: str | None = None,
        skipped: str | None = None,
        output: str | None = None,
    ) -> None:
        case = ET.SubElement(
            self.element,
            "testcase",
            classname=f"{SUITE}.{self.name}",
            name=name,
            time=f"{seconds:.3f}",
        )
        self.counts["tests"] += 1
        self.seconds += seconds
        if failure is not None:
            first = failure.splitlines()[0] if failure else "failed"
            ET.SubElement(case, "failure", message=first[:500], type="blocked").text = failure
            self.counts["failures"] += 1
        elif error is not None:
            first = error.splitlines()[0] if error else "error"
            ET.SubElement(case, "error", message=first[:500], type="error").text = error
            self.counts["errors"] += 1
        elif skipped is not None:
            ET.SubElement(case, "skipped", message=skipped[:500])
            self.counts["skipped"] += 1
        if output:
            ET.SubElement(case, "system-out").text = output

    def close(self) -> ET.Element:
        for key, value in self.counts.items():
            self.element.set(key, str(value))
        self.element.set("time", f"{self.seconds:.3f}")
        return self.element


def render_junit(report: GateReport) -> str:
    """JUnit XML: one test case per check (see the module docs)."""
    suites = [
        _steps(report),
        _findings(report),
        _matrix_suite(report),
        _access_suite(report),
        _rollback_suite(report),
    ]
    root = ET.Element("testsuites", name="rlsguard gate")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        if suite is None:
            continue
        root.append(suite.close())
        for key in totals:
            totals[key] += suite.counts[key]
    for key in ("tests", "failures", "errors"):
        root.set(key, str(totals[key]))
    root.set("time", f"{report.seconds:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _steps(report: GateReport) -> _Suite:
    suite = _Suite("steps")
    for step in report.steps:
        text = f"{step.title}: {step.detail}" if step.detail else step.title
        if step.status == "error" and report.error:
            text = f"{text}\n\n{report.error}"
        suite.case(
            step.title,
            seconds=step.seconds,
            failure=text if step.status == "failed" else None,
            error=text if step.status == "error" else None,
            skipped=step.detail if step.status == "skipped" else None,
            output=step.detail or None,
        )
    if report.error is not None and not any(s.status == "error" for s in report.steps):
        suite.case("gate", error=report.error)
    return suite


def _findings(report: GateReport) -> _Suite | None:
    if report.step("audit") is None:
        return None
    suite = _Suite("findings")
    for gate in report.findings:
        f = gate.finding
        where = f" at {f.location}" if f.location else ""
        text = f"{f.level}: {f.message}{where}\nFix: {f.remediation}"
        skipped = None
        if f.waived is not None:
            skipped = f"waived: {f.waived}"
        elif not gate.new:
            skipped = "already on base"
        suite.case(
            f"{f.check} {f.rule} · {f.object}",
            failure=text if gate.blocking else None,
            skipped=skipped,
            output=text,
        )
    if not report.findings:
        suite.case("no findings on head")
    return suite


def _matrix_suite(report: GateReport) -> _Suite | None:
    run = report.matrix
    if run is None:
        return None
    from rlsguard.matrix.report import explain

    suite = _Suite("matrix")
    for result in run.results.values():
        suite.case(result.cell.id, failure=None if result.passed else explain(result))
    return suite


def _access_suite(report: GateReport) -> _Suite | None:
    diff = report.access
    if diff is None:
        return None
    suite = _Suite("access")
    for change in diff.changes:
        failing = change.grade == "widens" and not change.covered
        note = " (covered by a passing matrix cell)" if change.covered else ""
        suite.case(
            change.id,
            failure=f"{change.line(20)}: a widening that no expectation covers"
            if failing
            else None,
            output=f"[{change.grade}] {change.line(20)}{note}",
        )
    unchanged = diff.cells - len(diff.changes)
    suite.case(
        f"{unchanged} other cell(s) unchanged ({len(diff.personas)} personas x "
        f"{len(diff.tables)} tables)"
    )
    return suite


def _rollback_suite(report: GateReport) -> _Suite | None:
    rollback = report.rollback
    if rollback is None and report.rollback_error is None:
        return None
    suite = _Suite("rollback")
    if rollback is None:
        suite.case("head + rollback restores base", failure=report.rollback_error)
        return suite
    problems = report.rollback_problems
    left = [f"left alone: {item}" for item in report.left_alone]
    suite.case(
        "head + rollback restores base",
        seconds=rollback.seconds,
        failure="\n".join(problems) if problems else None,
        output="\n".join(
            [f"{len(rollback.units)} restore step(s); {report.rollback_command}", *left]
        ),
    )
    return suite


# -- sarif ----------------------------------------------------------------------------------


def render_sarif(report: GateReport) -> str:
    """SARIF 2.1.0 of every finding on head, new ones marked ``baselineState: new``."""
    from rlsguard.audit.formats import as_sarif

    findings = [g.finding for g in report.findings]
    log = as_sarif(findings, checks=("lint", "probe"), default_uri=_default_uri(report))
    state = {(g.finding.rule, g.finding.object): g.new for g in report.findings}
    for run in log["runs"]:
        run["automationDetails"] = {"id": "rlsguard-gate/"}
        for result in run["results"]:
            name = result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
            new = state.get((result["ruleId"], name), True)
            result["baselineState"] = "new" if new else "unchanged"
    return json.dumps(log, indent=2) + "\n"


def _default_uri(report: GateReport) -> str | None:
    folder = report.supabase_dir
    if folder is None or not (folder / "config.toml").is_file():
        return None
    return f"{folder.name}/config.toml"


# -- writing --------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
