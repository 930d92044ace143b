"""Views and SECURITY DEFINER functions must not widen what a persona reaches.

A view runs with its owner's rights unless it is ``security_invoker``; a definer function
always does. The owner here is postgres, which bypasses RLS, so each must be shown to hand
a persona no row its own policies would not.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from rlsguard import Database, SupabaseProject

from .conftest import (
    ALGEBRA,
    GEOMETRY,
    NORTHSIDE,
    REFERENCE,
    STUDENT,
    WORLD_HISTORY,
    column,
    denied_by_grant,
    seed_id,
)

pytestmark = pytest.mark.rls

ROSTER = "select student_id::text as student, class_name from public.class_roster"
# Helpers without arguments, and what each answers for student (Ada: Northside, Algebra I and
# World History, submissions 6.1 and 6.4); the rest are about other people's rights.
STUDENT_HELPERS = {
    "private.school_id()": {NORTHSIDE},
    "private.app_role()": {"student"},
    "private.is_admin()": {False},
    "private.is_staff()": {False},
    "private.staff_class_ids()": set(),
    "private.taught_student_ids()": set(),
    "private.staff_assignment_ids()": set(),
    "private.staff_submission_ids()": set(),
    "private.enrolled_class_ids()": {ALGEBRA, WORLD_HISTORY},
    "private.own_submission_ids()": {seed_id(6, 1), seed_id(6, 4)},
    "private.open_assignment_ids()": {seed_id(5, 1), seed_id(5, 4), seed_id(5, 8)},
}


def _text(value: object) -> object:
    return value if isinstance(value, bool | None) else str(value)


def test_the_roster_view_runs_with_the_callers_rights(rlsguard_db: Database) -> None:
    db = rlsguard_db
    options = db.scalar(
        "select reloptions from pg_class where oid = 'public.class_roster'::regclass"
    )
    assert "security_invoker=true" in options
    assert db.scalar("select count(*) from public.class_roster") == 7  # the superuser: all
    with db.as_persona("student") as s:
        rows = s.fetch(ROSTER)
    assert {r["student"] for r in rows} == {STUDENT}  # their own lines, not classmates'
    assert {r["class_name"] for r in rows} == {"Algebra I", "World History"}
    with db.as_persona("teacher") as s:
        assert sorted(r["class_name"] for r in s.fetch(ROSTER)) == [
            "Algebra I", "Algebra I", "Biology",
        ]  # fmt: skip
    with db.as_persona("other_student") as s:
        assert [r["class_name"] for r in s.fetch(ROSTER)] == ["Geometry"]
    with db.as_anon() as s:
        denied_by_grant(s, "select count(*) from public.class_roster")


AVERAGES = [  # persona, class, what class_average() answers
    ("teacher", ALGEBRA, Decimal("85.00")),  # (92 + 78) / 2, their class
    ("teacher", WORLD_HISTORY, None),  # teacher2's class
    ("teacher2", WORLD_HISTORY, Decimal("88.00")),
    ("admin", ALGEBRA, Decimal("85.00")),  # any class of their school
    ("admin", GEOMETRY, None),  # Riverside's
    ("student", ALGEBRA, None),  # enrolled, but not staff
    ("other_student", GEOMETRY, None),
]


def test_class_average_answers_staff_of_the_class_only(rlsguard_db: Database) -> None:
    found = []
    for persona, class_id, _ in AVERAGES:
        with rlsguard_db.as_persona(persona) as s:
            found.append(
                (persona, class_id, s.scalar("select public.class_average(%s)", (class_id,)))
            )
    assert found == AVERAGES


def test_class_average_is_not_callable_with_the_anon_key(rlsguard_db: Database) -> None:
    with rlsguard_db.as_anon() as s:
        denied_by_grant(s, "select public.class_average(%s)", (ALGEBRA,))


def test_private_helpers_answer_only_about_the_caller(rlsguard_db: Database) -> None:
    db = rlsguard_db
    with db.as_persona("student") as s:
        for call, expected in STUDENT_HELPERS.items():
            found = {_text(v) for v in column(s, f"select * from {call}")} - {None}
            assert found == {_text(v) for v in expected}, call
    # Another school's student learns nothing about Northside through them.
    with db.as_persona("other_student") as s:
        members = column(
            s,
            "select m::text from private.school_member_ids(array['student', 'teacher', "
            "'admin']) as m",
        )
    assert members == {seed_id(2, n) for n in (7, 8, 9)}
    for call in STUDENT_HELPERS:
        with db.as_anon() as s:
            denied_by_grant(s, f"select * from {call}")


def test_definer_functions_pin_search_path_and_stay_off_the_api(rlsguard_db: Database) -> None:
    found = rlsguard_db.fetch(
        "select p.oid::regprocedure::text as fn, n.nspname as schema, "
        "coalesce(array_to_string(p.proconfig, ','), '') as config "
        "from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
        "where p.prosecdef and n.nspname in ('public', 'private')"
    )
    assert len(found) > 10
    unpinned = [f["fn"] for f in found if "search_path=" not in f["config"]]
    assert unpinned == []
    exposed = SupabaseProject.load(REFERENCE).config.api_schemas
    assert "private" not in exposed  # PostgREST cannot call the helpers at all
    assert [f["fn"] for f in found if f["schema"] in exposed] == ["class_average(uuid)"]
