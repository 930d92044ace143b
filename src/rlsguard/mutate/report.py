"""The mutation run as text, JSON, markdown or SARIF. A report never queries: it renders."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from rlsguard import __version__
from rlsguard.mutate.equivalence import WaiverRule
from rlsguard.mutate.model import MutationRun, Outcome

Format = Literal["text", "json", "markdown", "sarif"]
FORMATS: tuple[Format, ...] = ("text", "json", "markdown", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/rlsguard/rlsguard"


def summary_line(run: MutationRun) -> str:
    c = run.counts
    return (
        f"mutation score {run.score:.1f}%: {c['killed']} killed, {c['survived']} survived, "
        f"{c['equivalent']} equivalent, {c['waived']} waived, {c['error']} error(s) "
        f"({len(run.outcomes)} mutants, {run.seconds:.1f}s, {run.per_second:.1f} mutants/s, "
        f"{run.jobs} job(s))"
    )


def as_json(run: MutationRun, *, unused: Sequence[WaiverRule] = ()) -> dict[str, Any]:
    return {
        "tool": "rlsguard",
        "version": __version__,
        "score": round(run.score, 2),
        "counts": run.counts,
        "waived_percent": round(run.waived_share, 2),
        "seconds": round(run.seconds, 3),
        "mutants_per_second": round(run.per_second, 2),
        "jobs": run.jobs,
        "operators": dict(Counter(o.mutant.operator for o in run.outcomes)),
        "mutants": [o.as_dict() for o in run.outcomes],
        "unused_waivers": [{"mutant": w.mutant, "reason": w.reason} for w in unused],
    }


def _survivor_text(o: Outcome) -> list[str]:
    m = o.mutant
    lines = [f"SURVIVED {m.id}", f"  {m.note}", "  mutation:"]
    lines += [f"    {line}" for line in m.diff().splitlines()]
    if o.suggestion:
        lines.append("  a matrix cell that kills it:")
        lines += [f"    {line}" for line in o.suggestion.splitlines()]
    return lines


def as_text(run: MutationRun, *, unused: Sequence[WaiverRule] = (), verbose: bool = False) -> str:
    lines: list[str] = []
    for o in run.outcomes:
        if o.status == "survived":
            lines += _survivor_text(o)
            lines.append("")
        elif o.status == "error":
            lines.append(f"ERROR    {o.mutant.id}: {o.reason}")
        elif verbose:
            detail = ", ".join(o.killed_by[:3]) if o.killed_by else o.reason
            lines.append(f"{o.status:<9}{o.mutant.id}  ({detail})")
    waived = run.by_status("waived")
    if waived:
        lines.append("waived:")
        lines += [f"  {o.mutant.id}: {o.reason}" for o in waived]
    equivalent = run.by_status("equivalent")
    if equivalent:
        lines.append(f"equivalent: {len(equivalent)} (--verbose lists them with the reason)")
    for w in unused:
        lines.append(f"warning: waiver {w.mutant!r} matches no mutant; remove it")
    lines.append(summary_line(run))
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def as_markdown(run: MutationRun, *, unused: Sequence[WaiverRule] = ()) -> str:
    lines = ["# rlsguard mutation score", "", f"**{summary_line(run)}**", ""]
    survivors = run.by_status("survived")
    if survivors:
        lines += ["## Survivors", ""]
        for o in survivors:
            lines += [f"### `{o.mutant.id}`", "", o.mutant.note, "", "```diff", o.mutant.diff(),
                      "```", ""]  # fmt: skip
            if o.suggestion:
                lines += ["A matrix cell that kills it:", "", "```yaml", o.suggestion.rstrip(),
                          "```", ""]  # fmt: skip
    waived = run.by_status("waived")
    if waived:
        lines += ["## Waived", "", "| mutant | reason |", "|---|---|"]
        lines += [f"| `{_md(o.mutant.id)}` | {_md(o.reason)} |" for o in waived]
        lines.append("")
    lines += ["## Every mutant", "", "| mutant | status | seconds | detail |", "|---|---|---|---|"]
    for o in run.outcomes:
        detail = ", ".join(o.killed_by[:2]) if o.killed_by else o.reason
        lines.append(f"| `{_md(o.mutant.id)}` | {o.status} | {o.seconds:.3f} | {_md(detail)} |")
    for w in unused:
        lines.append(f"\nwarning: waiver `{_md(w.mutant)}` matches no mutant")
    return "\n".join(lines) + "\n"


def as_sarif(run: MutationRun) -> dict[str, Any]:
    """Survivors as results (waived ones suppressed with their reason); one rule per operator."""
    operators = sorted({o.mutant.operator for o in run.outcomes})
    index = {op: i for i, op in enumerate(operators)}
    results = []
    for o in run.outcomes:
        if o.status not in ("survived", "waived"):
            continue
        m = o.mutant
        text = f"No check kills mutant {m.id}: {m.note}."
        if o.suggestion:
            text += f" Add to the matrix:\n{o.suggestion}"
        result: dict[str, Any] = {
            "ruleId": f"mutant/{m.operator}",
            "ruleIndex": index[m.operator],
            "level": "warning",
            "message": {"text": text},
            "locations": [
                {"logicalLocations": [{"fullyQualifiedName": m.object, "kind": "object"}]}
            ],
            "partialFingerprints": {"rlsguardMutant/v1": m.id},
            "properties": {"diff": m.diff(), "kind": m.kind},
        }
        if o.status == "waived":
            result["suppressions"] = [{"kind": "external", "justification": o.reason}]
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
                        "rules": [
                            {
                                "id": f"mutant/{op}",
                                "shortDescription": {"text": f"surviving {op} mutant"},
                                "help": {
                                    "text": "Add the suggested matrix cell, or waive the mutant "
                                    "in [mutate] waivers with a reason."
                                },
                            }
                            for op in operators
                        ],
                    }
                },
                "results": results,
                "properties": {"score": round(run.score, 2), "counts": run.counts},
            }
        ],
    }


def render(
    run: MutationRun, fmt: Format = "text", *, unused: Sequence[WaiverRule] = (),
    verbose: bool = False,
) -> str:  # fmt: skip
    if fmt == "json":
        return json.dumps(as_json(run, unused=unused), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(as_sarif(run), indent=2) + "\n"
    if fmt == "markdown":
        return as_markdown(run, unused=unused)
    return as_text(run, unused=unused, verbose=verbose)
