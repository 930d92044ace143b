"""An access diff as text, Markdown or JSON: the ``rlsguard diff --access`` section."""

from __future__ import annotations

import json
from typing import Any

from rlsguard.errors import InvalidArgument
from rlsguard.gate.access import AccessDiff

_TITLE = {"widens": "WIDENS", "narrows": "NARROWS", "neutral": "NEUTRAL"}
_MARK = {"widens": "+", "narrows": "-", "neutral": "="}


def summary_line(diff: AccessDiff) -> str:
    counts = diff.counts()
    who = f"{len(diff.personas)} {diff.persona_source or 'project'} persona(s)"
    if not diff.changes:
        return f"no access changes in {diff.cells} cell(s) as {who}"
    return (
        f"{len(diff.changes)} access change(s): {counts['widens']} widen, {counts['narrows']} "
        f"narrow, {counts['neutral']} neutral, in {diff.cells} cell(s) as {who}"
    )


def render_text(diff: AccessDiff) -> str:
    lines = [f"access: {diff.base} -> {diff.head}: {summary_line(diff)}"]
    for grade in ("widens", "narrows", "neutral"):
        changes = diff.by_grade(grade)  # type: ignore[arg-type]
        if changes:
            lines += ["", f"{_TITLE[grade]} ({len(changes)})"]
            lines += [f"  {_MARK[grade]} {c.line(5)}" for c in changes]
    if diff.tables_added:
        lines.append(f"new tables (not compared): {', '.join(diff.tables_added)}")
    if diff.tables_dropped:
        lines.append(f"dropped tables: {', '.join(diff.tables_dropped)}")
    lines += [f"note: {n}" for n in diff.notes]
    return "\n".join(lines) + "\n"


def render_markdown(diff: AccessDiff) -> str:
    from rlsguard.gate.summary import persona_lines

    lines = ["### Access diff", "", f"`{diff.base}` → `{diff.head}`: **{summary_line(diff)}**"]
    if diff.changes:
        lines += ["", *persona_lines(diff, limit=len(diff.personas))]
        lines += [
            "",
            f"<details><summary>{len(diff.changes)} change(s), one per line</summary>",
            "",
            "```",
            *(f"[{c.grade}] {c.line(10)}" for c in diff.changes),
            "```",
            "",
            "</details>",
        ]
    if diff.tables_added:
        lines += ["", f"New tables (not compared): {', '.join(diff.tables_added)}"]
    if diff.tables_dropped:
        lines += ["", f"Dropped tables: {', '.join(diff.tables_dropped)}"]
    return "\n".join(lines) + "\n"


def render_access(diff: AccessDiff, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(diff.as_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return render_markdown(diff)
    if fmt == "text":
        return render_text(diff)
    raise InvalidArgument(f"unknown format {fmt!r}; choose text, json or markdown")


def with_policy_diff(policy_text: str, diff: AccessDiff, fmt: str) -> str:
    """The policy diff's output with the access section added (JSON: an ``access`` key)."""
    if fmt == "json":
        doc: dict[str, Any] = json.loads(policy_text)
        doc["access"] = diff.as_dict()
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return policy_text + "\n" + render_access(diff, fmt)
