"""The one-screen Markdown summary of a gate run: for the job summary and the PR comment.

Order is what a reviewer needs first: the verdict and why; who gained or lost which rows, in
plain words, per persona; widened policies; new findings (old ones, already on base, are
folded away); matrix failures with their rows; the rollback command a responder would run.
Each visible section is capped so a typical migration fits one screen; everything else is
in collapsed ``<details>`` sections.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from rlsguard.gate.access import VERBS, AccessChange, AccessDiff
from rlsguard.gate.outputs import candidate_problems
from rlsguard.gate.run import GateFinding, GateReport
from rlsguard.matrix.results import CellResult, sort_key

SHOWN = 8  # items per visible section
TITLE = "rlsguard gate"
COMMENT_LIMIT = 65_536  # GitHub refuses longer issue and pull request comments
DETAIL_LINES = 150  # lines per collapsed section
_MARGIN = 2_000  # room for the closing note
_HEADLINE = {
    "pass": "✅ {title}: pass",
    "blocked": "❌ {title}: blocked",
    "error": "⚠️ {title}: could not run",
}
_STATUS = {"passed": "✅", "failed": "❌", "skipped": "⏭️", "error": "⚠️", "interrupted": "⏹️"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _more(items: Sequence[object], shown: int, where: str) -> list[str]:
    extra = len(items) - shown
    return [f"- … and {extra} more ({where})"] if extra > 0 else []


def _details(summary: str, body: Iterable[str], limit: int = DETAIL_LINES) -> list[str]:
    lines = list(body)
    if len(lines) > limit:
        fence = ["```"] if sum(1 for x in lines[:limit] if x.startswith("```")) % 2 else []
        lines = [*lines[:limit], *fence, f"- … and {len(lines) - limit} more line(s)"]
    return ["", f"<details><summary>{summary}</summary>", "", *lines, "", "</details>"]


def render_summary(
    report: GateReport, *, limit: int = COMMENT_LIMIT, full_report: str | None = None
) -> str:
    """The whole summary as Markdown, never longer than ``limit`` characters.

    Visible sections are capped by count; collapsed ones by lines (access changes collapse
    to one line per table when there are many); if the whole still does not fit a GitHub
    comment, collapsed sections are dropped from the last and the text points at the full
    report (``full_report``: the JSON file written beside it, and the CI run's artifacts).
    """
    lines = [f"## {_HEADLINE[report.verdict].format(title=TITLE)}", ""]
    lines += _comparison(report)
    if report.error is not None:
        lines += ["", "The gate could not run (exit 2):", "", "```", report.error.rstrip(), "```"]
    elif report.reasons:
        lines += ["", "**Blocked because:**", *(f"- {_short(r, 1000)}" for r in report.reasons)]
    else:
        lines += [
            "",
            "Nothing blocks this change: no new finding at or above "
            f"`{report.options.fail_on}`, no matrix failure, no access widening without "
            "an expectation, no persona locked out, and the rollback restores the base.",
        ]
    closed = next(
        (
            g.finding
            for g in report.findings
            if g.finding.rule == "tables_unreachable_by_api" and g.finding.details.get("every")
        ),
        None,
    )
    if closed is not None:  # whatever else happened, the checks judged an unreachable API
        lines += ["", f"⚠️ **{_short(closed.message, 600)}**"]
    if report.squawk_note:
        lines += ["", f"*{report.squawk_note}*"]
    lines += _access_section(report.access)
    lines += _policy_section(report)
    lines += _findings_section(report)
    lines += _matrix_section(report)
    lines += _rollback_section(report)
    head = "\n".join(lines).rstrip() + "\n"
    sections = [s for s in _details_sections(report) if s]
    return _fit(head, sections, limit, _full_report_pointer(full_report))


def _fit(head: str, sections: list[list[str]], limit: int, pointer: str) -> str:
    """``head`` and as many collapsed sections as fit ``limit``, then where the rest is."""
    budget = limit - _MARGIN
    if len(head) > budget:  # only a gigantic error text gets here
        head = head[: budget - 1].rstrip() + "…\n"
    out = head
    dropped = 0
    for section in sections:
        text = "\n".join(section).rstrip() + "\n"
        if dropped or len(out) + len(text) > budget:
            dropped += 1
            continue
        out += text
    if dropped:
        out += f"\n*… and {dropped} more collapsed section(s) left out to fit one comment.*\n"
    if dropped or pointer:
        out += f"\n{pointer or 'The full report is in the JSON output (`--json`).'}\n"
    return out[:limit]


def _full_report_pointer(full_report: str | None) -> str:
    """Where a reader finds everything: the JSON file and, on GitHub Actions, the run."""
    parts = []
    if full_report:
        parts.append(f"Full report: `{full_report}`")
    server, repo, run = (
        os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if server and repo and run:
        parts.append(f"[the run's artifacts]({server}/{repo}/actions/runs/{run}#artifacts)")
    return " · ".join(parts) + ("." if parts else "")


def _comparison(report: GateReport) -> list[str]:
    if report.base is None or report.head is None:
        return [f"`--base {report.options.base}`"]
    base = report.base.label + (f" ({report.base.commit[:12]})" if report.base.commit else "")
    head = report.head.label + (f" ({report.head.commit[:12]})" if report.head.commit else "")
    facts = []
    if report.policy is not None:
        counts = report.policy.counts()
        facts.append(f"{len(report.policy.changes)} policy change(s) ({counts['widens']} widen)")
    if report.access is not None:
        facts.append(f"{len(report.access.changes)} access change(s)")
    if report.step("audit") is not None:
        facts.append(f"{len(report.new_findings)} new finding(s)")
    if report.matrix is not None:
        facts.append(f"{len(report.matrix.failed)} matrix failure(s)")
    tail = f": {', '.join(facts)}" if facts else ""
    return [f"{_code(base)} → {_code(head)}{tail} · {report.seconds:.1f} s"]


# -- access -----------------------------------------------------------------------------------


def _mark(changes: Sequence[AccessChange]) -> str:
    widens = [c for c in changes if c.grade == "widens"]
    if not widens:
        return ""
    if any(not c.covered for c in widens):
        return " ⛔ **No expectation covers the new access.**"
    return " *(The matrix expects the new access.)*"


def _refusals(changes: Sequence[AccessChange]) -> list[str]:
    """Requests a missing grant now refuses, one clause per table."""
    by_table: dict[str, list[AccessChange]] = {}
    for change in changes:
        by_table.setdefault(change.table, []).append(change)
    out = []
    for table, refused in by_table.items():
        verbs = ", ".join(VERBS.get(c.operation, c.operation) for c in refused)
        out.append(
            f"can no longer {verbs} `{table}` at all (42501 permission denied: a missing grant)"
        )
    return out


def persona_lines(diff: AccessDiff, limit: int = SHOWN, per_persona: int = 3) -> list[str]:
    """One bullet per persona: what it can now do and can no longer do, in plain words."""
    said: dict[str, list[str]] = {}  # the same words for several personas: one bullet
    for persona, changes in diff.by_persona().items():
        relevant = [c for c in changes if c.grade != "neutral"] or changes
        clauses = _refusals([c for c in relevant if c.refused])
        clauses += [c.sentence() for c in relevant if not c.refused]
        words = "; ".join(clauses[:per_persona])
        if len(clauses) > per_persona:
            words += f"; and {len(clauses) - per_persona} more change(s)"
        said.setdefault(f"{words}.{_mark(relevant)}", []).append(persona)
    out = [f"- {', '.join(f'**{p}**' for p in who)} {words}" for words, who in said.items()]
    return out[:limit] + _more(out, limit, "all access changes below")


def _access_section(diff: AccessDiff | None) -> list[str]:
    if diff is None:
        return []
    lines = ["", "### Access changes"]
    if diff.changes:
        lines += ["", *persona_lines(diff)]
    else:
        lines += [
            "",
            f"No persona gained or lost a row ({diff.cells} cells as "
            f"{len(diff.personas)} personas on {len(diff.tables)} tables).",
        ]
    if diff.tables_added:
        lines.append(f"- new table(s), not compared: {', '.join(map(_code, diff.tables_added))}")
    if diff.tables_dropped:
        lines.append(f"- dropped table(s): {', '.join(map(_code, diff.tables_dropped))}")
    return lines


# -- policies, findings, matrix, rollback -----------------------------------------------------


def _policy_section(report: GateReport) -> list[str]:
    diff = report.policy
    if diff is None or not diff.widens:
        return []
    lines = ["", "### Widened policies", ""]
    lines += [f"- {_code(c.object)}: {_short(c.message, 240)}" for c in diff.widens[:SHOWN]]
    return lines + _more(diff.widens, SHOWN, "policy diff below")


def _finding_row(gate: GateFinding) -> str:
    f = gate.finding
    where = _code(str(f.location)) if f.location else ""
    block = " ⛔" if gate.blocking else ""
    return (
        f"| {f.level.upper()}{block} | `{f.rule}` | `{f.object}` | {_cell(_short(f.message))} "
        f"| {where} |"
    )


def _findings_section(report: GateReport) -> list[str]:
    new = [g for g in report.new_findings if g.finding.waived is None]
    if not new:
        return []
    lines = [
        "",
        "### New findings",
        "",
        "| level | rule | object | finding | where |",
        "|---|---|---|---|---|",
    ]
    lines += [_finding_row(g) for g in new[:SHOWN]]
    return lines + _more(new, SHOWN, "all findings below")


def _rows(result: CellResult, keys: Iterable[tuple[str | None, ...]], limit: int = 2) -> str:
    """Keys of a failing cell, by their first label column when the checker read one."""
    labels = result.context.labels if result.context is not None else {}
    ordered = sorted(keys, key=sort_key)
    shown = []
    for key in ordered[:limit]:
        label = next((v for v in labels.get(key, {}).values() if v), None)
        text = str(key[0]) if len(key) == 1 else "(" + ", ".join(map(str, key)) + ")"
        shown.append(repr(label) if label else text)
    more = f", … {len(ordered) - limit} more" if len(ordered) > limit else ""
    return ", ".join(shown) + more


def matrix_line(result: CellResult) -> str:
    """One failing cell with the rows (or candidates) that differ."""
    parts = [f"`{result.cell.id}`: {result.summary()}"]
    if result.unexpected:
        parts.append(f"unexpected {_rows(result, result.unexpected)}")
    if result.missing:
        parts.append(f"missing {_rows(result, result.missing)}")
    problems = candidate_problems(result)
    if problems:
        parts.append("; ".join(problems[:3]) + (" …" if len(problems) > 3 else ""))
    return "- " + " — ".join(parts)


def _matrix_section(report: GateReport) -> list[str]:
    run = report.matrix
    if run is None or run.ok:
        return []
    failed = run.failed
    shown = SHOWN // 2
    lines = ["", f"### Matrix failures ({report.matrix_file})", ""]
    lines += [matrix_line(r) for r in failed[:shown]]
    return lines + _more(failed, shown, "matrix failures in full below")


def _rollback_section(report: GateReport) -> list[str]:
    rollback = report.rollback
    if report.rollback_error is not None:
        return [
            "",
            "### Rollback",
            "",
            "The generated rollback does not apply to head:",
            "",
            "```",
            report.rollback_error.rstrip(),
            "```",
        ]
    if rollback is None or not rollback.needed:
        return []
    lines = ["", "### Rollback", ""]
    command = _code(report.rollback_command)
    problems = report.rollback_problems
    if problems:
        lines.append(f"⛔ {command} would **not** restore the base's security surface:")
        lines += [f"- {_short(p, 200)}" for p in problems[:SHOWN]]
    else:
        lines.append(
            f"If this merges and has to be undone, a responder runs {command}: verified on "
            f"head, its {len(rollback.units)} step(s) restore the base's security surface."
        )
    left = report.left_alone
    if left:
        lines.append("")
        lines.append("Created by this change, so a rollback leaves them for a person to review:")
        lines += [f"- {_short(item, 200)}" for item in left[:SHOWN]]
    return lines


# -- collapsed details ------------------------------------------------------------------------


def _details_sections(report: GateReport) -> list[list[str]]:
    """Each collapsed section, capped at :data:`DETAIL_LINES` lines."""
    out: list[list[str]] = []
    if report.steps:
        rows = ["| step | status | time | detail |", "|---|---|---|---|"]
        rows += [
            f"| {s.title} | {_STATUS[s.status]} {s.status} | {s.seconds:.2f} s | "
            f"{_cell(s.detail)} |"
            for s in report.steps
        ]
        out.append(_details("Steps", rows))
    diff = report.access
    if diff is not None and (diff.changes or diff.notes):
        body = _access_details(diff)
        body += [f"- note: {n}" for n in diff.notes]
        who = f"as {', '.join(diff.personas)} ({diff.persona_source} personas)"
        out.append(_details(f"All access changes ({len(diff.changes)}), {who}", body))
    if report.policy is not None and report.policy.changes:
        from rlsguard.policy.render import render_markdown

        body = render_markdown(report.policy).splitlines()[2:]  # without its own heading
        out.append(_details(f"Policy diff ({len(report.policy.changes)} change(s))", body))
    new = report.new_findings
    if new:
        rows = ["| level | rule | object | finding | fix | where |", "|---|---|---|---|---|---|"]
        for g in new:
            f = g.finding
            waived = f" (waived: {_cell(f.waived)})" if f.waived else ""
            rows.append(
                f"| {f.level.upper()} | `{f.rule}` | `{f.object}` | {_cell(f.message)}"
                f"{waived} | {_cell(f.remediation)} | "
                f"{_code(str(f.location)) if f.location else ''} |"
            )
        out.append(_details(f"New findings in full ({len(new)})", rows))
    old = report.old_findings
    if old:
        rows = ["| level | rule | object | where |", "|---|---|---|---|"]
        rows += [
            f"| {g.finding.level.upper()} | `{g.finding.rule}` | `{g.finding.object}` | "
            f"{_code(str(g.finding.location)) if g.finding.location else ''} |"
            for g in old
        ]
        out.append(_details(f"Old findings ({len(old)}), already on base", rows))
    if report.matrix is not None and report.matrix.failed:
        from rlsguard.matrix.report import explain

        body = ["```", *(explain(r).rstrip() for r in report.matrix.failed), "```"]
        out.append(_details(f"Matrix failures in full ({len(report.matrix.failed)})", body))
    if report.matrix is not None and report.matrix.untested:
        body = [f"- {line}" for line in report.matrix.untested.lines()]
        out.append(_details("Untested by the matrix", body))
    if report.probe_notes:
        out.append(_details("Probe notes", [f"- {_cell(n)}" for n in report.probe_notes]))
    rollback = report.rollback
    if rollback is not None and rollback.units:
        out.append(
            _details(
                f"Rollback migration ({rollback.filename})",
                ["```sql", rollback.sql.rstrip(), "```"],
            )
        )
    return out


def _access_details(diff: AccessDiff) -> list[str]:
    """Every change, one line each; by table (counts and personas) when there are many."""
    if len(diff.changes) <= DETAIL_LINES:
        return [
            "```",
            *(
                f"[{c.grade}{'' if c.covered or c.grade != 'widens' else ', uncovered'}]"
                f" {c.line(10)}"
                for c in diff.changes
            ),
            "```",
        ]
    by_table: dict[str, list[AccessChange]] = {}
    for change in diff.changes:
        by_table.setdefault(change.table, []).append(change)
    out = [f"{len(diff.changes)} changes on {len(by_table)} table(s), by table:", ""]
    for table, changes in by_table.items():
        grades = {g: sum(c.grade == g for c in changes) for g in ("widens", "narrows", "neutral")}
        counted = ", ".join(f"{n} {g}" for g, n in grades.items() if n)
        personas = list(dict.fromkeys(c.persona for c in changes))
        who = ", ".join(personas[:5]) + (
            f" and {len(personas) - 5} more" if len(personas) > 5 else ""
        )
        out.append(f"- {_code(table)}: {len(changes)} change(s) ({counted}) for {who}")
    return out


def write_summary(
    report: GateReport, path: Path | None = None, *, full_report: str | None = None
) -> list[Path]:
    """Write the summary to ``path`` and append it to ``$GITHUB_STEP_SUMMARY`` when set."""
    text = render_summary(report, full_report=full_report)
    written = []
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        target = Path(step_summary)
        with target.open("a", encoding="utf-8") as handle:
            handle.write(text)
        written.append(target)
    return written
