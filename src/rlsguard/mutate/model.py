"""A mutant and what became of it."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["killed", "survived", "equivalent", "waived", "error"]
STATUSES: tuple[Status, ...] = ("killed", "survived", "equivalent", "waived", "error")


@dataclass(frozen=True)
class Mutant:
    """One small change of the security surface, as SQL that applies it.

    ``id`` is stable across runs (waivers name it): ``<object>/<operator>[#n]``.
    ``tables``: the tables whose matrix cells are tried first (the ones it most likely
    changes); every other cell still runs before a mutant is declared a survivor.
    ``before`` / ``after``: the object's definition, for the diff in the report.
    """

    id: str
    operator: str
    object: str  # schema.table.policy, schema.table, schema.view or a function signature
    kind: Literal["policy", "table", "grant", "function", "view"]
    apply: tuple[str, ...]
    before: str
    after: str
    tables: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()  # matrix operations to try first
    note: str = ""
    equivalent: str = ""  # why it cannot change access, when generation could tell cheaply
    dropped: str = ""  # the operand a drop_conjunct / uid_always_true mutant took away

    def diff(self) -> str:
        """The mutation as a unified SQL diff."""
        lines = difflib.unified_diff(
            self.before.splitlines(),
            self.after.splitlines(),
            "original",
            "mutant",
            lineterm="",
        )
        return "\n".join(lines)


@dataclass
class Outcome:
    """What running one mutant found."""

    mutant: Mutant
    status: Status
    seconds: float = 0.0
    killed_by: tuple[str, ...] = ()  # failing checks (matrix cell ids, lint rules)
    reason: str = ""  # why equivalent / waived, or the error
    suggestion: str = ""  # YAML of matrix cells that would kill a survivor
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        m = self.mutant
        out: dict[str, Any] = {
            "id": m.id,
            "operator": m.operator,
            "object": m.object,
            "kind": m.kind,
            "status": self.status,
            "seconds": round(self.seconds, 4),
            "sql": list(m.apply),
            "diff": m.diff(),
        }
        if self.killed_by:
            out["killed_by"] = list(self.killed_by)
        if self.reason:
            out["reason"] = self.reason
        if self.suggestion:
            out["suggestion"] = self.suggestion
        return out


@dataclass
class MutationRun:
    """Every mutant's outcome; the score counts killed among those neither equivalent,
    waived nor broken."""

    outcomes: list[Outcome]
    seconds: float = 0.0
    jobs: int = 1

    def by_status(self, status: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def counts(self) -> dict[str, int]:
        return {s: len(self.by_status(s)) for s in STATUSES}

    @property
    def score(self) -> float:
        """Killed / (killed + survived), in percent; 100 when nothing could be judged."""
        killed, survived = len(self.by_status("killed")), len(self.by_status("survived"))
        judged = killed + survived
        return 100.0 if judged == 0 else 100.0 * killed / judged

    @property
    def waived_share(self) -> float:
        return 100.0 * len(self.by_status("waived")) / max(1, len(self.outcomes))

    @property
    def per_second(self) -> float:
        ran = len(self.by_status("killed")) + len(self.by_status("survived"))
        return ran / self.seconds if self.seconds > 0 else 0.0
