"""A policy diff as text for a terminal, JSON for machines, Markdown for a pull request."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Literal

from rlsguard.errors import InvalidArgument
from rlsguard.policy.diff import GRADES, Change, PolicyDiff

Format = Literal["text", "json", "markdown"]
_MARK = {"widens": "+", "narrows": "-", "neutral": "="}
_TITLE = {"widens": "WIDENS", "narrows": "NARROWS", "neutral": "NEUTRAL"}


def summary_line(diff: PolicyDiff) -> str:
    counts = diff.counts()
    total = len(diff.changes)
    if not total:
        return "no changes to the security surface"
    return (
        f"{total} change{'s' if total != 1 else ''}: {counts['widens']} widen, "
        f"{counts['narrows']} narrow, {counts['neutral']} neutral"
    )


def render_text(diff: PolicyDiff) -> str:
    lines = [f"{diff.base} -> {diff.head}: {summary_line(diff)}"]
    for grade in GRADES:
        changes = diff.by_grade(grade)
        if not changes:
            continue
        lines.append("")
        lines.append(f"{_TITLE[grade]} ({len(changes)})")
        for change in changes:
            lines.append(f"  {_MARK[grade]} {change.object}: {change.message}")
    return "\n".join(lines) + "\n"


def render_json(diff: PolicyDiff) -> str:
    return json.dumps(diff.as_dict(), indent=2, ensure_ascii=False) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(change: Change) -> str:
    return f"| {change.grade} | `{_cell(change.object)}` | {_cell(change.message)} |"


def render_markdown(diff: PolicyDiff) -> str:
    lines = [
        "### Security surface diff",
        "",
        f"`{_cell(diff.base)}` → `{_cell(diff.head)}`: **{summary_line(diff)}**",
    ]
    significant = [c for c in diff.changes if c.grade != "neutral"]
    if significant:
        lines += ["", "| Grade | Object | Change |", "|---|---|---|", *map(_row, significant)]
    if diff.changes:
        neutral = diff.neutral
        if neutral:
            lines += [
                "",
                f"<details><summary>{len(neutral)} neutral change(s)</summary>",
                "",
                "| Grade | Object | Change |",
                "|---|---|---|",
                *(_row(c) for c in neutral),
                "",
                "</details>",
            ]
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[PolicyDiff], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
}


def render(diff: PolicyDiff, fmt: Format | str = "text") -> str:
    try:
        return RENDERERS[fmt](diff)
    except KeyError:
        raise InvalidArgument(
            f"unknown format {fmt!r}; choose one of {', '.join(RENDERERS)}"
        ) from None


render_diff = render  # the package-level name (``rlsguard.policy.render`` is this module)
