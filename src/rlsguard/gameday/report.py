"""Reports rendered from drill journals only (a report never queries).

Per drill: the journal (JSON), the runbook's "🚨 INCIDENT" declaration, its "✅ INCIDENT
RESOLVED" message and a post-mortem draft (timeline, root cause, impact, remediation,
prevention = the detection gaps found, action items). Per game day: ``gameday.md`` and
``gameday.json`` with every drill's verdict, TTD and TTR against the runbook's targets, the
runbook conflicts met and the runbook defects the drills confirmed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlsguard.gameday.chart import timeline_png
from rlsguard.gameday.drill import DrillResult
from rlsguard.gameday.runbook import CONFLICTS, DEFECTS, QUICK_REFERENCE

COMPONENT = "Authentication / Row Level Security"
DB_COMPONENT = "Postgres Database (seen through the reference app)"
CHART = "timeline.png"


def _component(result: DrillResult) -> str:
    return DB_COMPONENT if result.app else COMPONENT


def app_timeline(result: DrillResult) -> list[dict[str, Any]]:
    event = result.journal.first("app.timeline")
    return list(event.data.get("series", [])) if event is not None else []


def _marks(result: DrillResult) -> dict[str, float]:
    out = {}
    for kind, label in (
        ("fault.injected", "fault"),
        ("incident.declared", "detected"),
        ("steady_state.regained", "recovered"),
    ):
        event = result.journal.first(kind)
        if event is not None:
            out[label] = event.t
    return out


def auth_section(result: DrillResult) -> list[str]:
    """What the auth rig's synthetic users saw, and the outbox's delivery check."""
    a = result.auth
    if not a:
        return []
    lines = [
        "## What the auth service's users saw",
        "",
        f"- {a['signins']} synthetic sign-ins, {a['failed']} failed; by status: "
        + (", ".join(f"{k}: {v}" for k, v in a["by_status"].items()) or "none"),
        f"- sign-in p50: {a['p50_ms']} ms; during the fault: "
        + (", ".join(f"{k}: {v}" for k, v in a.get("during_fault", {}).items()) or "no sample"),
    ]
    d = a.get("delivery")
    if d and (d["queued"] or a.get("otp_requests")):
        lines.append(
            f"- OTP emails: {d['queued']} queued, {d['delivered']} delivered, "
            f"{d['pending']} still queued, {len(d['missing'])} lost, {d['duplicates']} "
            "duplicate(s) (by Message-ID)"
        )
    return [*lines, ""]


def app_section(result: DrillResult, chart: str | None) -> list[str]:
    """What the app's users saw: totals, the app log's error classes, the chart."""
    a = result.app
    if not a:
        return []
    series = app_timeline(result)
    worst = max(series, key=lambda p: p["error_rate"], default=None)
    lines = [
        "## What the app's users saw",
        "",
        f"- {a['requests']} requests from synthetic users, {a['errors']} failed; by status: "
        + ", ".join(f"{k}: {v}" for k, v in a["by_status"].items()),
        f"- p95 latency over the drill: {a['p95_ms']} ms",
        f"- app log ({a['log_file']}): failed requests by error class: "
        + (", ".join(f"{k}: {v}" for k, v in a["log_errors"].items()) or "none"),
        f"- connection path: {a['pooler']}"
        + (f" ({a['pooler_note']})" if a["pooler_note"] else ""),
    ]
    if worst is not None:
        lines.append(
            f"- worst step: {worst['error_rate']:.0%} errors, p95 {worst['p95_ms']} ms "
            f"(at +{worst['t']:.1f} s)"
        )
    if chart:
        lines += ["", f"![error rate and latency]({chart})"]
    else:
        lines += ["", "(no chart: install matplotlib, `pip install 'rlsguard[charts]'`)"]
    return [*lines, ""]


def _mark(met: bool | None) -> str:
    return {True: "≤", False: "over", None: "?"}[met]


def _secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def _times(result: DrillResult) -> tuple[float | None, float | None]:
    return result.journal.summary.get("ttd_s"), result.journal.summary.get("ttr_s")


def confirmed_defects(result: DrillResult) -> list[str]:
    """Keys of :data:`DEFECTS` this drill showed."""
    spec, keys = result.scenario.spec, []
    if "pg_log" in result.gaps and "canary" in result.fired:
        keys.append("log-detection-blind-to-silent-deny")
    if spec.fault.kind == "disable_rls" and "drift" in result.fired:
        keys.append("pg_policies-blind-to-rls-disabled")
    for step in result.remedy_steps:
        if step.get("filename"):
            keys.append("rollback-name-sorts-first")
            keys.append("rollback-not-from-approved-state")
    quick = spec.fault.kind == "migration" and "quick_rollback" in str(spec.fault.params)
    if quick and "canary" in result.fired:
        keys.append("rollback-policy-is-row-role-confusion")
    if spec.fault.kind == "revoke_grant" and "drift" in result.fired:
        keys.append("grants-not-checked")
    for step in result.remedy_steps:
        if step.get("runbook_missed") and result.recovered:
            keys.append("kill-idle-misses-idle-in-transaction")
    if spec.fault.kind in ("hold_connections", "idle_in_transaction") and result.recovered:
        keys.append("pooler-restart-is-not-a-fix")
    return list(dict.fromkeys(keys))


def detection_gaps(result: DrillResult) -> list[str]:
    """Prevention items: what the runbook's alerting would have missed, and what saw it."""
    out = []
    seen_by = ", ".join(n for n in result.fired if n not in result.gaps) or "nothing"
    for name in result.gaps:
        if name == "pg_log":
            out.append(
                f"{result.scenario.spec.title}: raises no error, so log-based alerting "
                f"('permission denied' in the Postgres logs) never fires; {seen_by} did."
            )
        elif name == "drift":
            out.append(
                f"{result.scenario.spec.title}: changes no policy or grant, so the runbook's "
                f"pg_policies check looks healthy; {seen_by} did see it."
            )
        else:
            out.append(f"{result.scenario.spec.title}: {name} stayed silent; {seen_by} fired.")
    for name in result.missing:
        out.append(f"{result.scenario.spec.title}: the expected detector {name} did not fire.")
    for name in result.unavailable:
        out.append(f"{name} is not available on this target (no server log to read).")
    return out


def incident_message(result: DrillResult) -> str:
    spec = result.scenario.spec
    row = QUICK_REFERENCE[spec.runbook.incident]
    personas = result.impact.get("personas", [])
    impact = (
        f"{len(personas)} persona(s) affected ({', '.join(personas)}); "
        f"{len(result.impact.get('failed', []))} canary request(s) failing"
        if personas
        else (result.fired[next(iter(result.fired))].message if result.fired else "unknown")
    )
    return (
        f"🚨 INCIDENT: {spec.runbook.incident} ({row.severity})\n"
        f"Component: {_component(result)}\n"
        "Status: Investigating\n"
        f"Impact: {impact}\n"
        f"ETA: {row.resolution_s / 60:g} minutes\n"
        "Owner: @on-call-devops (game day drill)\n"
    )


def resolved_message(result: DrillResult) -> str:
    spec = result.scenario.spec
    _, ttr = _times(result)
    resolution = "; ".join(s["detail"] for s in result.remedy_steps) or "none"
    personas = result.impact.get("personas", [])
    return (
        f"✅ INCIDENT RESOLVED: {spec.runbook.incident}\n"
        f"Component: {_component(result)}\n"
        f"Resolution: {resolution}\n"
        f"Impact: {_secs(ttr)} of degradation, {len(personas)} persona(s) affected\n"
        f"Root Cause: {spec.root_cause}\n"
        f"Preventive Measures: {'; '.join(detection_gaps(result)) or 'none found'}\n"
        "\nNext: Post-mortem draft attached.\n"
    )


def postmortem(result: DrillResult, chart: str | None = None) -> str:
    spec = result.scenario.spec
    doc = result.journal.document()
    ttd, ttr = _times(result)
    row = QUICK_REFERENCE[spec.runbook.incident]
    lines = [
        f"# Post-Mortem: {spec.title} (game day drill, {doc.started_at[:10]})",
        "",
        f"Severity {row.severity} ({spec.runbook.incident}), runbook section "
        f"{spec.runbook.section}. Target: {result.target}.",
        "",
        "## Timeline",
        "",
    ]
    for e in doc.events:
        lines.append(f"- +{e.t:.3f} s `{e.kind}` {e.message}")
    lines += [
        "",
        f"Time to detect: {_secs(ttd)} (runbook: detection within 120 s); time to recover: "
        f"{_secs(ttr)} (runbook Quick Reference: < {row.resolution_s / 60:g} min).",
        "",
        "## Root Cause",
        "",
        f"{spec.root_cause} (injected: {doc.events[0].message if doc.events else 'n/a'}).",
        "",
        "## Impact",
        "",
    ]
    failed = result.impact.get("failed", [])
    if failed:
        lines.append(
            f"- Affected personas: {', '.join(result.impact.get('personas', []))}; tables: "
            f"{', '.join(result.impact.get('tables', []))}"
        )
        lines.append(f"- Failed canary requests ({len(failed)}): {', '.join(failed[:20])}")
    else:
        for name, firing in result.fired.items():
            lines.append(f"- {name}: {firing.message}")
    lines += ["", *app_section(result, chart), *auth_section(result)]
    lines += ["## Remediation Steps Taken", ""]
    lines += [f"- {s['action']}: {s['detail']}" for s in result.remedy_steps] or ["- none"]
    lines += ["", "## Prevention for Next Time", ""]
    gaps = detection_gaps(result)
    lines += [f"- {g}" for g in gaps] or ["- no detection gap found"]
    defects = confirmed_defects(result)
    if defects:
        lines += ["", "## Runbook defects this drill confirmed", ""]
        lines += [f"- {DEFECTS[k].text}" for k in defects]
    lines += ["", "## Action Items", ""]
    if result.app:
        lines += [
            "- [ ] Alert on the app's 5xx rate and p95, and on pg_stat_activity saturation",
            "- [ ] Kill idle connections by state *and* age in every database (the runbook's "
            "query misses `idle in transaction` and other databases)",
            "- [ ] Set idle_in_transaction_session_timeout and a statement_timeout per role",
            "",
        ]
    else:
        lines += [
            "- [ ] Alert on synthetic-user (canary) failures, not only on error rates",
            "- [ ] Alert on policy drift against the approved snapshot",
            "- [ ] Replace the runbook's hand-written Quick Rollback with the generated one",
            "",
        ]
    return "\n".join(lines)


def _met(value: float | None, target: float) -> bool | None:
    return None if value is None else value <= target


def summary_doc(results: Sequence[DrillResult]) -> dict[str, Any]:
    conflicts = sorted({n for r in results for n in r.scenario.spec.runbook.notes})
    defects = list(dict.fromkeys(k for r in results for k in confirmed_defects(r)))
    return {
        "ok": all(r.ok for r in results),
        "drills": [
            {
                "scenario": r.scenario.name,
                "ok": r.ok,
                "target": r.target,
                "ttd_s": _times(r)[0],
                "ttr_s": _times(r)[1],
                "ttd_budget_s": r.scenario.spec.budgets.ttd_s,
                "ttr_budget_s": r.scenario.spec.budgets.ttr_s,
                "ttd_met": _met(_times(r)[0], r.scenario.spec.budgets.ttd_s),
                "ttr_met": _met(_times(r)[1], r.scenario.spec.budgets.ttr_s),
                "runbook_resolution_s": QUICK_REFERENCE[
                    r.scenario.spec.runbook.incident
                ].resolution_s,
                "ticks_to_detect": r.ticks_to_detect,
                "ticks_to_recover": r.ticks_to_recover,
                "detected_by": list(r.fired),
                "silent_as_expected": r.gaps,
                "missing": r.missing,
                "error": r.error,
                "residue": r.residue.lines() if r.residue else None,
            }
            for r in results
        ],
        "conflicts": {k: CONFLICTS[k] for k in conflicts if k in CONFLICTS},
        "defects": {k: DEFECTS[k].text for k in defects},
        "detection_gaps": [g for r in results for g in detection_gaps(r)],
    }


def summary_markdown(results: Sequence[DrillResult]) -> str:
    doc = summary_doc(results)
    lines = [
        "# Game day: "
        + ", ".join(
            sorted({f"runbook section {r.scenario.spec.runbook.section}" for r in results})
        ),
        "",
        "| scenario | verdict | TTD (target) | TTR (target) | detected by | silent (gap) |",
        "|---|---|---|---|---|---|",
    ]
    for d in doc["drills"]:
        ttd = f"{_secs(d['ttd_s'])} ({_mark(d['ttd_met'])} {d['ttd_budget_s']:g} s)"
        ttr = f"{_secs(d['ttr_s'])} ({_mark(d['ttr_met'])} {d['ttr_budget_s']:g} s)"
        lines.append(
            f"| {d['scenario']} | {'pass' if d['ok'] else 'FAIL'} | {ttd} | {ttr} | "
            f"{', '.join(d['detected_by'])} | {', '.join(d['silent_as_expected']) or '-'} |"
        )
    lines += [
        "",
        "Runbook targets: detect within 2 min, resolve per the Quick Reference (RLS/Auth "
        "< 15 min, Database query failure < 30 min). Drill targets (wall clock, local "
        "stack): TTD <= 2 s, TTR <= 5 s.",
    ]
    if doc["detection_gaps"]:
        lines += ["", "## Detection gaps", ""] + [f"- {g}" for g in doc["detection_gaps"]]
    if doc["defects"]:
        lines += ["", "## Runbook defects confirmed", ""]
        lines += [f"- **{k}**: {v}" for k, v in doc["defects"].items()]
    if doc["conflicts"]:
        lines += ["", "## Runbook conflicts (Quick Reference wins)", ""]
        lines += [f"- **{k}**: {v}" for k, v in doc["conflicts"].items()]
    return "\n".join(lines) + "\n"


def write_reports(results: Sequence[DrillResult], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for r in results:
        folder = directory / r.scenario.name
        folder.mkdir(parents=True, exist_ok=True)
        chart = None
        if r.app and timeline_png(
            app_timeline(r), folder / CHART, r.scenario.spec.title, _marks(r)
        ):
            chart = CHART
            written.append(folder / CHART)
        files = {
            "journal.json": r.journal.dumps(),
            "incident.md": incident_message(r),
            "resolved.md": resolved_message(r),
            "postmortem.md": postmortem(r, chart),
        }
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
            written.append(folder / name)
    (directory / "gameday.json").write_text(
        json.dumps(summary_doc(results), indent=2) + "\n", encoding="utf-8"
    )
    (directory / "gameday.md").write_text(summary_markdown(results), encoding="utf-8")
    written += [directory / "gameday.json", directory / "gameday.md"]
    return written
