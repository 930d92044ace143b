"""The isolation property on the reference platform: on generated data states (new schools,
classes, enrollments, notes, grades... pointing at seeded rows), every persona reaches
exactly the rows the access matrix's predicates allow. And on every known-bad migration the
search finds a break and shrinks it."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
import yaml

from rlsguard.pytest.isolation import IsolationBreak, run_property
from tests.rls.conftest import KNOWN_BAD
from tests.rls.test_known_bad import apply_migration

# Rows for these tables, pointing at seeded rows. Tables whose rows join two tenants'
# rows (an enrollment of another school's student, a class taught by another school's
# teacher) are left out or pinned: the application never writes such rows, and the
# generator only knows single-column foreign keys.
TABLES = ["public.schools", "public.classes", "public.assignments"]
OVERRIDES = {"public.classes": {"teacher_id": [None]}}
BAD = sorted(yaml.safe_load((KNOWN_BAD / "expected.yaml").read_text(encoding="utf-8")))


def test_rows_reached_equal_the_oracles_on_generated_states(rlsguard_isolation: Any) -> None:
    rlsguard_isolation.tables = TABLES
    ran = run_property(rlsguard_isolation, overrides=OVERRIDES)
    assert ran >= 5  # the examples really ran (no plugin needed for @given)
    assert rlsguard_isolation.rows_inserted > 0  # ... on states with rows


@pytest.mark.parametrize(
    "migration",
    [pytest.param(m, marks=() if i == 0 else pytest.mark.slow) for i, m in enumerate(BAD)],
)
def test_a_known_bad_migration_is_found_and_shrunk(
    rlsguard_engine: Any, rlsguard_isolation: Any, migration: str
) -> None:
    with rlsguard_engine.cloned_database() as db:
        apply_migration(rlsguard_engine, db.name, KNOWN_BAD / migration)  # as db push would
        isolation = replace(rlsguard_isolation, db=db, tables=TABLES)
        with pytest.raises(IsolationBreak) as caught:
            run_property(isolation, overrides=OVERRIDES, examples=5)
    report = str(caught.value)
    assert "persona " in report
    assert re.search(r"(unexpected|missing) row|candidate .* must be|denied: 42501", report)
    # Shrunk: the seeded data alone already shows the break, so no insert is left.
    assert "-- no row: the seeded data alone" in report
