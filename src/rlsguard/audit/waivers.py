"""Waivers: findings a project accepts on purpose, each with the reason reports show.

A waiver names a rule and an object (``schema.name``; ``*`` and ``?`` match any characters,
so ``public.*`` waives a rule for a schema). A waived finding stays in every report, marked
with the reason, and no longer fails a run. A waiver that matches nothing is itself reported
(``unused_waiver``): the bug it excused was fixed, or the waiver has a typo, and either way it
should not outlive its reason silently.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rlsguard.audit.findings import Check, Finding, Location

UNUSED_WAIVER = "unused_waiver"


@dataclass(frozen=True)
class WaiverSpec:
    """What a waiver needs; the config's ``[[lint.waivers]]`` entries have the same fields."""

    rule: str
    object: str
    reason: str

    def matches(self, finding: Finding) -> bool:
        return finding.rule == self.rule and fnmatch.fnmatchcase(finding.object, self.object)


def apply_waivers(
    findings: Iterable[Finding],
    waivers: Sequence[WaiverSpec],
    *,
    rules_run: Iterable[str],
    known_rules: Iterable[str] = (),
    source: str | None = None,
    check: Check = "lint",
) -> list[Finding]:
    """Mark waived findings and add one ``unused_waiver`` finding per waiver that matched none.

    Only waivers for ``rules_run`` can be unused (``lint`` does not judge probe waivers); a
    waiver naming a rule in neither ``rules_run`` nor ``known_rules`` is reported as unknown.
    """
    out: list[Finding] = []
    used: set[int] = set()
    for finding in findings:
        for index, waiver in enumerate(waivers):
            if waiver.matches(finding):
                used.add(index)
                finding = finding.waive(waiver.reason)
                break
        out.append(finding)
    ran = set(rules_run)
    known = ran | set(known_rules)
    location = Location(source) if source else None
    for index, waiver in enumerate(waivers):
        if index in used:
            continue
        if waiver.rule not in known:
            message = (
                f"the waiver for rule {waiver.rule!r} on {waiver.object} names no rule rlsguard "
                f"has (reason given: {waiver.reason!r})."
            )
        elif waiver.rule in ran:
            message = (
                f"the waiver for rule {waiver.rule!r} on {waiver.object} matches no finding any "
                f"more (reason given: {waiver.reason!r})."
            )
        else:
            continue
        out.append(
            Finding(
                rule=UNUSED_WAIVER,
                level="warn",
                category="security",
                object=waiver.object,
                message=message,
                remediation="Remove the waiver from the project configuration "
                "([[lint.waivers]]), or correct its rule and object.",
                location=location,
                check=check,
                details={"waived_rule": waiver.rule},
            )
        )
    return out
