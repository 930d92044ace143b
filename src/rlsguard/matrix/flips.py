"""What changed between two matrix runs: the cells that flipped, and whose rows moved.

``rlsguard watch`` prints only these after each save, so an edit to a migration answers
"who gained or lost access" in a few lines instead of the whole matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlsguard.matrix.results import CellResult, MatrixRun, sort_key

Key = tuple[str | None, ...]


@dataclass(frozen=True)
class Flip:
    """One cell whose verdict or rows changed since the previous run."""

    persona: str
    table: str
    operation: str
    before: str  # pass, fail, error, or "new"
    after: str  # pass, fail, error, or "gone"
    gained: tuple[Key, ...] = ()  # rows the persona now reaches and did not before
    lost: tuple[Key, ...] = ()
    summary: str = ""

    def line(self) -> str:
        what = f"{self.persona} {self.operation} {self.table}: {self.before} -> {self.after}"
        rows = []
        if self.gained:
            rows.append("gained " + ", ".join(_key(k) for k in self.gained))
        if self.lost:
            rows.append("lost " + ", ".join(_key(k) for k in self.lost))
        detail = "; ".join(rows) or self.summary
        return f"{what} ({detail})" if detail else what


def _key(key: Key) -> str:
    return "/".join("NULL" if v is None else str(v) for v in key)


def _rows(result: CellResult) -> frozenset[Key]:
    return result.actual or frozenset()


def flips(before: MatrixRun | None, after: MatrixRun) -> list[Flip]:
    """Cells whose status or actual rows differ (all cells that fail, when there is no before)."""
    found: list[Flip] = []
    old = {r.cell.id: r for r in before.results.values()} if before is not None else {}
    for result in after.results.values():
        cell = result.cell
        prior = old.pop(cell.id, None)
        if prior is None:
            if before is None and result.passed:
                continue
            found.append(Flip(cell.persona, cell.table, cell.operation, "new", result.status,
                              summary=result.summary()))  # fmt: skip
            continue
        gained = _rows(result) - _rows(prior)
        lost = _rows(prior) - _rows(result)
        same = prior.status == result.status and not gained and not lost
        if same and (result.passed or prior.summary() == result.summary()):
            continue
        found.append(
            Flip(
                cell.persona,
                cell.table,
                cell.operation,
                prior.status,
                result.status,
                tuple(sorted(gained, key=sort_key)),
                tuple(sorted(lost, key=sort_key)),
                result.summary(),
            )
        )
    for prior in old.values():
        cell = prior.cell
        found.append(Flip(cell.persona, cell.table, cell.operation, prior.status, "gone"))
    return found
