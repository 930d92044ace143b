"""The one shape every lint and probe result takes, and what decides the exit code.

A finding names a rule, a level (``error`` > ``warn`` > ``info``), a category (``security`` or
``performance``), the object (``schema.name`` of a table, view or function), a message that
says what is wrong with this object, and a remediation that says what to do. When the object
was created by a migration, ``location`` points at the file and line, so a SARIF upload
annotates the pull request where the bug was written. A waived finding keeps its waiver's
reason: reports show it, ``--fail-on`` ignores it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Level = Literal["error", "warn", "info"]
Category = Literal["security", "performance"]
FailOn = Literal["error", "warn", "info", "none"]
Check = Literal["lint", "probe"]

LEVELS: tuple[Level, ...] = ("error", "warn", "info")
# Rules a waiver may name that the gate (not lint or probe) judges: a reviewed lock-down.
LOCKOUT_RULE = "access_lockout"
_RANK = {"error": 3, "warn": 2, "info": 1, "none": 99}


@dataclass(frozen=True)
class Location:
    """Where an object was created: a file relative to the repository root, and a 1-based line."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Finding:
    """One problem with one object."""

    rule: str
    level: Level
    category: Category
    object: str
    message: str
    remediation: str
    location: Location | None = None
    check: Check = "lint"
    waived: str | None = None  # the waiver's reason
    details: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.object)

    def waive(self, reason: str) -> Finding:
        return replace(self, waived=reason)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "level": self.level,
            "category": self.category,
            "object": self.object,
            "message": self.message,
            "remediation": self.remediation,
            "location": (
                {"file": self.location.file, "line": self.location.line} if self.location else None
            ),
            "check": self.check,
            "waived": self.waived,
        }
        if self.details:
            out["details"] = dict(self.details)
        return out


def reaches(level: Level, fail_on: FailOn) -> bool:
    """Whether a finding of ``level`` fails a run with ``--fail-on fail_on``."""
    return _RANK[level] >= _RANK[fail_on]


def failing(findings: Iterable[Finding], fail_on: FailOn) -> list[Finding]:
    """The unwaived findings at or above ``fail_on``."""
    return [f for f in findings if f.waived is None and reaches(f.level, fail_on)]


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by object and rule, so reports read the same on every run."""
    return sorted(findings, key=lambda f: (-_RANK[f.level], f.object, f.rule, f.message))


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    """How many unwaived findings per level, plus ``waived``."""
    out = dict.fromkeys(LEVELS, 0) | {"waived": 0}
    for finding in findings:
        out["waived" if finding.waived is not None else finding.level] += 1
    return out
