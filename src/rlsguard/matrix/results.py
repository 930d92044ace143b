"""What a matrix run found: one :class:`CellResult` per persona x table x operation.

Results carry everything a report prints (rows with their labels, the
policies in force, the privileges) so reports never query the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlsguard.matrix.catalog import Policy, Privileges
from rlsguard.matrix.coverage import Untested
from rlsguard.matrix.executor import Outcome
from rlsguard.matrix.load import Cell, Expectation, Matrix, Problem

Key = tuple[str | None, ...]

MAX_ROWS_SHOWN = 20  # per list of unexpected or missing rows in a report
ACCEPTED = "accepted"
SKIPPED = "skipped"  # the insert ran but no row went in (a trigger returned NULL)
UNCHANGED = "unchanged"  # the change ran (or had no row to run on) and changed no row


def sort_key(key: Key) -> tuple[tuple[int, int, str], ...]:
    """Numeric keys in numeric order, others as text."""
    return tuple(
        (0, int(v), "") if v is not None and v.lstrip("-").isdigit() else (1, 0, v or "")
        for v in key
    )


@dataclass(frozen=True)
class RowError:
    """A row whose single-row request failed with something other than an access decision."""

    key: Key
    sqlstate: str
    message: str


@dataclass(frozen=True)
class CandidateResult:
    """One insert candidate (or change) as one persona: what was expected and what happened.

    For a change, ``target`` is the number of rows it was applied to (the persona's
    update rows narrowed by its ``where``) and ``changed`` the keys the update returned.
    """

    index: int
    name: str | None
    values: dict[str, str]  # column -> SQL text sent
    expected: bool  # must be accepted
    outcome: str  # accepted, skipped, unchanged, rls, grant, error
    sqlstate: str | None = None
    message: str | None = None
    target: int | None = None
    changed: tuple[Key, ...] = ()

    @property
    def label(self) -> str:
        return f"#{self.index}" + (f" {self.name!r}" if self.name else "")

    @property
    def ok(self) -> bool:
        if self.outcome == "error":
            return False
        return self.expected == (self.outcome == ACCEPTED)

    @property
    def kind(self) -> str | None:
        """The failure kind: unexpected (accepted), missing (rejected), grant, error; or None."""
        if self.ok:
            return None
        if self.outcome == "error":
            return "error"
        if self.outcome == ACCEPTED:
            return "unexpected"
        return "grant" if self.outcome == "grant" else "missing"


@dataclass
class FailureContext:
    """Facts gathered for a failing cell: row labels, policies, privileges."""

    role: str
    key_columns: list[str]
    label_columns: list[str]
    labels: dict[Key, dict[str, str | None]] = field(default_factory=dict)
    policies: list[Policy] = field(default_factory=list)
    privileges: Privileges | None = None
    rls: bool = True
    force_rls: bool = False


@dataclass
class CellResult:
    """One cell: the expected and actual rows (or candidates), and why they differ."""

    cell: Cell
    file: str
    line: int | None
    expectation: Expectation | None = None
    problem: Problem | None = None
    expected: frozenset[Key] | None = None
    actual: frozenset[Key] | None = None
    denied: Outcome | None = None  # the statement as a whole was refused or failed
    fell_back: Outcome | None = None  # the statement failed, so rows were tried one by one
    row_errors: tuple[RowError, ...] = ()
    candidates: tuple[CandidateResult, ...] = ()
    parameters: dict[str, str | None] = field(default_factory=dict)
    context: FailureContext | None = None

    @property
    def unexpected(self) -> frozenset[Key]:
        if self.actual is None or self.expected is None:
            return frozenset()
        return self.actual - self.expected

    @property
    def missing(self) -> frozenset[Key]:
        if self.actual is None or self.expected is None:
            return frozenset()
        return self.expected - self.actual

    @property
    def kinds(self) -> list[str]:
        """Why the cell fails: problem, error, grant, unexpected, missing (empty: it passes)."""
        if self.problem is not None:
            return ["problem"]
        if self.cell.operation in ("insert", "changes"):
            found = {c.kind for c in self.candidates if c.kind}
            return [k for k in ("error", "grant", "unexpected", "missing") if k in found]
        kinds = []
        if self.denied is not None and self.denied.denial != "grant":
            kinds.append("error")
        if self.row_errors:
            kinds.append("error")
        if self.denied is not None and self.denied.denial == "grant" and self.expected:
            kinds.append("grant")
        elif self.missing:
            kinds.append("missing")
        if self.unexpected:
            kinds.append("unexpected")
        return list(dict.fromkeys(kinds))

    @property
    def passed(self) -> bool:
        return not self.kinds

    @property
    def status(self) -> str:
        if self.problem is not None:
            return "error"
        return "pass" if self.passed else "fail"

    def summary(self) -> str:
        """One line: what the cell saw against what it expected."""
        if self.problem is not None:
            return str(self.problem)
        if self.cell.operation in ("insert", "changes"):
            accepted = sum(c.outcome == ACCEPTED for c in self.candidates)
            wanted = sum(c.expected for c in self.candidates)
            what = "candidates" if self.cell.operation == "insert" else "changes"
            return f"{accepted} of {len(self.candidates)} {what} accepted, {wanted} expected"
        actual = f"{len(self.actual or ())} row(s)"
        if self.denied is not None:
            grant = self.denied.denial == "grant"
            actual = "denied by grant" if grant else f"failed ({self.denied.sqlstate})"
        expected = "?" if self.expected is None else f"{len(self.expected)}"
        parts = [f"{actual}, {expected} expected"]
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected")
        if self.missing:
            parts.append(f"{len(self.missing)} missing")
        return "; ".join(parts)


@dataclass
class MatrixRun:
    """A whole run: results in cell order, what the file leaves untested, and costs."""

    matrix: Matrix
    results: dict[Cell, CellResult]
    untested: Untested
    seconds: float = 0.0
    round_trips: int = 0
    statements: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[CellResult]:
        return [r for r in self.results.values() if not r.passed]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def problems(self) -> list[Problem]:
        """Problems of the file found against the database (unknown tables, bad predicates)."""
        found = [r.problem for r in self.results.values() if r.problem is not None]
        return list(dict.fromkeys(found))

    @property
    def warnings(self) -> list[str]:
        """Cells whose predicate reads ``:uid`` as a persona without a user (anon,
        service_role): it is NULL there, so ``owner_id = :uid`` expects no row at all."""
        out = []
        for result in self.results.values():
            if "uid" in result.parameters and result.parameters["uid"] is None:
                cell = result.cell
                out.append(
                    f"{cell.id}: :uid is NULL for persona {cell.persona!r} (no signed-in "
                    "user), so comparisons with it match no row; write the expectation "
                    "without :uid for this persona"
                )
        return out

    def __getitem__(self, cell: Cell | str) -> CellResult:
        if isinstance(cell, str):
            for found in self.results.values():
                if found.cell.id == cell:
                    return found
            raise KeyError(cell)
        return self.results[cell]
