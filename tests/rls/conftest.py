"""The reference school platform (``supabase/``): seeded ids and helpers of its RLS tests.

The targeted tests here say what the access matrix cannot: that a rejected write was
rejected *by RLS* (not by a constraint), that a view or a SECURITY DEFINER function does not
widen what a persona reaches, that signup grants nothing without an invitation. Each takes
only ``rlsguard_db`` (or ``rlsguard_clone``) and leaves nothing behind, so the known-bad
meta-tests (``test_known_bad.py``) can run the very same functions on a broken database.

They are about the reference platform only: with ``--supabase-dir`` pointing elsewhere they
are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from rlsguard import Engine, Session, denial_kind

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "supabase"
KNOWN_BAD = REPO / "fixtures" / "known-bad"


def seed_id(table: int, row: int) -> str:
    """Seeded ids read ``N0000000-0000-4000-8000-0000000000xx``: table digit N, row xx."""
    return f"{table}0000000-0000-4000-8000-{row:012d}"


NORTHSIDE, RIVERSIDE, LAKEVIEW = (seed_id(1, n) for n in (1, 2, 3))
STUDENT, STUDENT2, STUDENT3, TEACHER, TEACHER2, ADMIN = (seed_id(2, n) for n in range(1, 7))
OTHER_STUDENT, OTHER_TEACHER, OTHER_ADMIN = (seed_id(2, n) for n in (7, 8, 9))
ALGEBRA, BIOLOGY, WORLD_HISTORY, CHEMISTRY, GEOMETRY = (seed_id(3, n) for n in range(1, 6))

# Every table the Data API exposes, and the storage table with policies.
PUBLIC_TABLES = (
    "schools", "users", "teachers", "students", "classes", "enrollments", "assignments",
    "submissions", "grades", "staff_notes",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _reference_platform_only(rlsguard_engine: Engine) -> None:
    if Path(rlsguard_engine.supabase_dir).resolve() != REFERENCE:
        pytest.skip("tests of the reference platform (supabase/), not of --supabase-dir")


def rejected_by_rls(session: Session, query: str, params: Any = None) -> None:
    """The statement fails with 42501 "new row violates row-level security policy"."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
        session.execute(query, params)
    assert denial_kind(caught.value) == "rls", caught.value


def denied_by_grant(session: Session, query: str, params: Any = None) -> None:
    """The statement fails with 42501 "permission denied" (a privilege, not a policy)."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
        session.execute(query, params)
    assert denial_kind(caught.value) == "grant", caught.value


def column(session: Session, query: str, params: Any = None) -> set[Any]:
    """The first column of every row, as a set."""
    return {next(iter(row.values())) for row in session.fetch(query, params)}
