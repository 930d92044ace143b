"""The isolation property: on any data state, every persona reaches exactly the rows the
access matrix's oracle allows.

The matrix's predicates are the oracle: they are evaluated on the generated rows too, so a
state the migrations' authors never seeded (a second listed school, a note about another
school's student) is judged by the same rules. Every cell takes part (reads, updates,
deletes, inserts and changes: what is visible and what is writable) except explicit key
lists, which cannot speak for new rows. The seeded data alone is tried first, as an
explicit example: a break it already shows needs no search and no shrinking.

``rlsguard_isolation`` is the fixture; ``docs/isolation.md`` shows how a project runs it
with its own matrix. Hypothesis settings profiles: ``rlsguard-ci`` (bounded, seed printed)
and ``rlsguard-nightly`` (deeper); ``RLSGUARD_HYPOTHESIS_PROFILE`` picks one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from rlsguard.matrix.check import Checker
from rlsguard.matrix.load import Matrix
from rlsguard.matrix.results import sort_key
from rlsguard.mutate.states import State, insert_state, plan_tables, rows_strategy

settings.register_profile(
    "rlsguard-ci",
    max_examples=8,
    deadline=None,
    print_blob=True,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "rlsguard-nightly",
    max_examples=300,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def profile() -> settings:
    """The settings profile to run with (``RLSGUARD_HYPOTHESIS_PROFILE``, default CI)."""
    return settings.get_profile(os.environ.get("RLSGUARD_HYPOTHESIS_PROFILE", "rlsguard-ci"))


class IsolationBreak(AssertionError):
    """A data state on which a persona reaches rows the oracle does not allow (or loses some)."""


@dataclass
class Isolation:
    """The property, bound to one database and one matrix."""

    db: Any
    matrix: Matrix
    schemas: Sequence[str] = ("public",)
    tables: Sequence[str] | None = None  # the tables rows are generated for (default: the matrix's)
    checked: Sequence[str] | None = None  # the tables whose cells judge (default: every one)
    rows_inserted: int = 0  # over every example: a property that inserts nothing proves nothing

    def strategy(
        self, *, max_rows: int = 3, overrides: Mapping[str, Mapping[str, Any]] | None = None
    ) -> st.SearchStrategy[State]:
        names = list(self.tables or self.matrix.spec.tables)
        with self.db.conn.transaction(force_rollback=True):
            plans = plan_tables(self.db.conn, names)
        return rows_strategy(plans, max_rows=max_rows, overrides=overrides)

    def cells(self) -> list[Any]:
        """The predicate cells of the checked tables (``checked``; default: every table)."""
        out = []
        checked = set(self.checked or self.matrix.spec.tables)
        for cell in self.matrix.cells():
            if cell.table not in checked:
                continue
            if self.matrix.expectation(cell).kind == "keys":
                continue
            out.append(cell)
        return out

    def check(self, state: State) -> None:
        """Insert ``state`` (rolled back after), run the predicate cells; raise on a break."""
        conn = self.db.conn
        with conn.transaction(force_rollback=True):
            inserted = insert_state(conn, state)
            self.rows_inserted += len(inserted)
            run = Checker(self.db, self.matrix, schemas=self.schemas, context=False).run(
                self.cells()
            )
        if run.ok:
            return
        lines = ["isolation break on this data state (reproduce: run these as the superuser)"]
        lines += [f"  {s};" for s in inserted] or ["  -- no row: the seeded data alone"]
        for result in run.failed:
            cell = result.cell
            lines.append(f"persona {cell.persona}, {cell.table} {cell.operation}:")
            for word, keys in (("unexpected", result.unexpected), ("missing", result.missing)):
                for key in sorted(keys, key=sort_key)[:5]:
                    lines.append(f"  {word} row {list(key)}")
            for candidate in result.candidates:
                if not candidate.ok:
                    wanted = "accepted" if candidate.expected else "refused"
                    lines.append(
                        f"  candidate {candidate.label}: {candidate.outcome}, must be {wanted}"
                    )
            if result.denied is not None and result.denied.sqlstate:
                lines.append(f"  denied: {result.denied.sqlstate} {result.denied.message}")
            if result.problem is not None:
                lines.append(f"  problem: {result.problem}")
        raise IsolationBreak("\n".join(lines))


def run_property(
    isolation: Isolation,
    *,
    max_rows: int = 3,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    examples: int | None = None,
) -> int:
    """Run the property under the selected profile; returns how many examples ran.

    The seed is printed (``RLSGUARD_HYPOTHESIS_SEED`` replays it); on a break hypothesis
    shrinks the state and the :class:`IsolationBreak` shows the inserts that reproduce it.
    """
    import random

    from hypothesis import example, given
    from hypothesis import seed as use_seed

    chosen = int(os.environ.get("RLSGUARD_HYPOTHESIS_SEED") or random.randrange(2**32))
    print(f"rlsguard isolation: hypothesis seed {chosen} (RLSGUARD_HYPOTHESIS_SEED replays it)")
    strategy = isolation.strategy(max_rows=max_rows, overrides=overrides)
    ran = 0
    base = profile()
    chosen_settings = settings(base, max_examples=examples) if examples else base

    @use_seed(chosen)
    @chosen_settings
    @given(strategy)
    @example(State())
    def holds(state: State) -> None:
        nonlocal ran
        ran += 1
        isolation.check(state)

    holds()
    return ran
