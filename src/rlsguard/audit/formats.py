"""Findings as people and machines read them: rich text, JSON, SARIF 2.1.0, Markdown.

- ``text``: a table per run, most severe first, with the remediation and the location under
  each message; waived findings are listed with their reason.
- ``json``: ``{"tool", "version", "checks", "summary", "findings": [Finding.as_dict()]}``.
- ``sarif``: one run with every rule of the checks that ran in ``tool.driver.rules`` and one
  result per finding, located at the migration file and line that created the object (or at
  ``default_uri`` when unknown); waived findings carry an external suppression with the reason.
- ``markdown``: a summary line and a table, for pull-request comments; waived findings folded.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rlsguard import __version__
from rlsguard.audit.findings import Check, Finding, counts, sort_findings
from rlsguard.audit.probe import PROBE_RULES
from rlsguard.audit.rules import RULES
from rlsguard.audit.waivers import UNUSED_WAIVER

Format = Literal["text", "json", "sarif", "markdown"]
FORMATS: tuple[Format, ...] = ("text", "json", "sarif", "markdown")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"error": "error", "warn": "warning", "info": "note"}
INFORMATION_URI = "https://github.com/rlsguard/rlsguard"
_STYLE = {"error": "bold red", "warn": "yellow", "info": "blue"}


@dataclass(frozen=True)
class RuleText:
    """What a report says about a rule, whichever check it belongs to."""

    id: str
    check: Check
    level: str
    category: str
    title: str
    description: str
    remediation: str
    origin: str = "rlsguard"


def rule_texts(checks: Iterable[Check] = ("lint", "probe")) -> list[RuleText]:
    """Every rule of ``checks``, plus ``unused_waiver``."""
    wanted = set(checks)
    out: list[RuleText] = []
    if "lint" in wanted:
        out.extend(
            RuleText(r.id, "lint", r.level, r.category, r.title, r.description, r.remediation,
                     r.origin)
            for r in RULES.values()
        )  # fmt: skip
    if "probe" in wanted:
        out.extend(
            RuleText(r.id, "probe", r.level, r.category, r.title, r.description, r.remediation)
            for r in PROBE_RULES.values()
        )
    out.append(
        RuleText(
            UNUSED_WAIVER,
            "lint",
            "warn",
            "security",
            "Waiver that matches nothing",
            "A waiver in the project configuration no longer matches any finding (or names a "
            "rule that does not exist).",
            "Remove the waiver, or correct its rule and object.",
        )
    )
    return out


def render(
    findings: Sequence[Finding],
    format: Format,
    *,
    checks: Sequence[Check] = ("lint",),
    title: str = "rlsguard",
    default_uri: str | None = None,
    width: int = 120,
    notes: Sequence[str] = (),
) -> str:
    """``findings`` in ``format`` (text is rendered without colour, for files and tests)."""
    if format == "json":
        return json.dumps(as_json(findings, checks=checks, notes=notes), indent=2) + "\n"
    if format == "sarif":
        return (
            json.dumps(as_sarif(findings, checks=checks, default_uri=default_uri), indent=2) + "\n"
        )
    if format == "markdown":
        return as_markdown(findings, title=title)
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    print_text(console, findings, title=title, notes=notes)
    return buffer.getvalue()


# -- json ------------------------------------------------------------------------------------


def as_json(
    findings: Sequence[Finding], *, checks: Sequence[Check] = ("lint",), notes: Sequence[str] = ()
) -> dict[str, Any]:
    ordered = sort_findings(findings)
    out: dict[str, Any] = {
        "tool": "rlsguard",
        "version": __version__,
        "checks": list(checks),
        "summary": counts(ordered),
        "findings": [f.as_dict() for f in ordered],
    }
    if notes:
        out["notes"] = list(notes)
    return out


# -- sarif -------------------------------------------------------------------------------------


def as_sarif(
    findings: Sequence[Finding],
    *,
    checks: Sequence[Check] = ("lint",),
    default_uri: str | None = None,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run (what GitHub code scanning uploads)."""
    texts = rule_texts(checks)
    known = {t.id for t in texts}
    for finding in findings:  # a rule from a check that was not requested still gets an entry
        if finding.rule not in known:
            found = [t for t in rule_texts((finding.check,)) if t.id == finding.rule]
            # A rule of another tool (squawk in the gate): described by its finding.
            texts.extend(
                found
                or [
                    RuleText(
                        finding.rule,
                        finding.check,
                        finding.level,
                        finding.category,
                        finding.rule,
                        finding.message,
                        finding.remediation,
                        finding.details.get("origin", "external"),
                    )
                ]
            )
            known.add(finding.rule)
    index = {t.id: i for i, t in enumerate(texts)}
    results = []
    for finding in sort_findings(findings):
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": SARIF_LEVELS[finding.level],
            "message": {"text": f"{finding.message} {finding.remediation}"},
            "locations": [_sarif_location(finding, default_uri)],
            "partialFingerprints": {
                "rlsguardFinding/v1": f"{finding.rule}:{finding.object}:{finding.message}"
            },
            "properties": {"category": finding.category, "check": finding.check},
        }
        if finding.waived is not None:
            result["suppressions"] = [{"kind": "external", "justification": finding.waived}]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "rlsguard",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_sarif_rule(t) for t in texts],
                    }
                },
                "results": results,
            }
        ],
    }


def _sarif_rule(text: RuleText) -> dict[str, Any]:
    return {
        "id": text.id,
        "name": "".join(part.capitalize() for part in text.id.split("_")),
        "shortDescription": {"text": text.title},
        "fullDescription": {"text": text.description},
        "help": {"text": text.remediation},
        "defaultConfiguration": {"level": SARIF_LEVELS[text.level]},
        "properties": {
            "category": text.category,
            "check": text.check,
            "origin": text.origin,
            "tags": ["security" if text.category == "security" else "performance", "rls"],
        },
    }


def _sarif_location(finding: Finding, default_uri: str | None) -> dict[str, Any]:
    location: dict[str, Any] = {
        "logicalLocations": [{"fullyQualifiedName": finding.object, "kind": "object"}]
    }
    uri = finding.location.file if finding.location else default_uri
    if uri:
        physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
        line = finding.location.line if finding.location else None
        if line:
            physical["region"] = {"startLine": line}
        location["physicalLocation"] = physical
    return location


# -- markdown ---------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def as_markdown(findings: Sequence[Finding], *, title: str = "rlsguard") -> str:
    ordered = sort_findings(findings)
    active = [f for f in ordered if f.waived is None]
    waived = [f for f in ordered if f.waived is not None]
    summary = counts(ordered)
    lines = [f"### {title}", ""]
    if not ordered:
        lines.append("No findings.")
        return "\n".join(lines) + "\n"
    lines.append(
        f"**{summary['error']} error(s)**, {summary['warn']} warning(s), {summary['info']} "
        f"info, {summary['waived']} waived."
    )
    if active:
        lines += ["", "| level | rule | object | finding | where |", "|---|---|---|---|---|"]
        for f in active:
            where = f"`{f.location}`" if f.location else ""
            lines.append(
                f"| {f.level.upper()} | `{f.rule}` | `{f.object}` | {_cell(f.message)} "
                f"<br>*Fix:* {_cell(f.remediation)} | {where} |"
            )
    if waived:
        lines += ["", f"<details><summary>{len(waived)} waived finding(s)</summary>", ""]
        lines += ["| rule | object | reason |", "|---|---|---|"]
        lines += [f"| `{f.rule}` | `{f.object}` | {_cell(f.waived or '')} |" for f in waived]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


# -- text --------------------------------------------------------------------------------------


def print_text(
    console: Console,
    findings: Sequence[Finding],
    *,
    title: str = "rlsguard",
    notes: Sequence[str] = (),
) -> None:
    """A rich table of the findings and a one-line summary."""
    ordered = sort_findings(findings)
    active = [f for f in ordered if f.waived is None]
    waived = [f for f in ordered if f.waived is not None]
    if active:
        table = Table(title=escape(title), show_header=True, header_style="bold", show_lines=True)
        table.add_column("level", no_wrap=True)
        table.add_column("rule · object · finding", overflow="fold", ratio=1)
        for f in active:
            body = f"[bold]{f.rule}[/] · {escape(f.object)}\n{escape(f.message)}"
            if f.location:
                body += f"\n[dim]at {escape(str(f.location))}[/]"
            table.add_row(f"[{_STYLE[f.level]}]{f.level}[/]", body)
        console.print(table)
        fixes = Table.grid(padding=(0, 2))
        fixes.add_column(no_wrap=True)
        fixes.add_column(overflow="fold")
        for rule, remediation in dict.fromkeys((f.rule, f.remediation) for f in active):
            fixes.add_row(f"[bold]{rule}[/]", escape(remediation))
        console.print("[bold]How to fix[/]")
        console.print(fixes)
    if waived:
        table = Table(title="waived", show_header=True, header_style="bold dim")
        table.add_column("rule")
        table.add_column("object")
        table.add_column("reason", overflow="fold")
        for f in waived:
            table.add_row(escape(f.rule), escape(f.object), escape(f.waived or ""))
        console.print(table)
    for note in notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    summary = counts(ordered)
    console.print(
        f"{escape(title)}: {summary['error']} error(s), {summary['warn']} warning(s), "
        f"{summary['info']} info, {summary['waived']} waived"
    )
