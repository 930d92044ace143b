"""A teacher manages their own classes only: no enrolling into, or grading, another's."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rlsguard import Database

from .conftest import (
    BIOLOGY,
    CHEMISTRY,
    STUDENT,
    STUDENT2,
    TEACHER2,
    WORLD_HISTORY,
    rejected_by_rls,
    seed_id,
)

pytestmark = pytest.mark.rls


def test_a_teacher_cannot_enroll_students_into_another_teachers_class(
    rlsguard_db: Database,
) -> None:
    db = rlsguard_db
    with db.as_persona("teacher") as s:  # Chemistry is teacher2's
        rejected_by_rls(
            s,
            "insert into public.enrollments (class_id, student_id) values (%s, %s)",
            (CHEMISTRY, STUDENT2),
        )
    with db.as_persona("teacher") as s:  # moving their own Biology enrollment there
        rejected_by_rls(
            s,
            "update public.enrollments set class_id = %s where id = %s",
            (WORLD_HISTORY, seed_id(4, 4)),
        )
    with db.as_persona("teacher") as s:  # teacher2's enrollments are out of reach
        assert (
            s.execute(
                "update public.enrollments set student_id = %s where class_id = %s",
                (STUDENT, CHEMISTRY),
            )
            == 0
        )
    with db.as_persona("teacher") as s:  # their own class: fine
        assert (
            s.execute(
                "insert into public.enrollments (class_id, student_id) values (%s, %s)",
                (BIOLOGY, STUDENT),
            )
            == 1
        )
    assert (
        db.scalar("select count(*) from public.enrollments where class_id = %s", (CHEMISTRY,)) == 1
    )


def test_a_teacher_cannot_grade_another_class(rlsguard_db: Database) -> None:
    db = rlsguard_db
    chemistry_work, biology_work, teacher2s_grade = seed_id(6, 5), seed_id(6, 3), seed_id(7, 3)
    with db.as_persona("teacher") as s:
        rejected_by_rls(
            s,
            "insert into public.grades (submission_id, grader_id, score) "
            "values (%s, auth.uid(), 95)",
            (chemistry_work,),
        )
    with db.as_persona("teacher") as s:  # nor in a colleague's name in their own class
        rejected_by_rls(
            s,
            "insert into public.grades (submission_id, grader_id, score) values (%s, %s, 95)",
            (biology_work, TEACHER2),
        )
    with db.as_persona("teacher") as s:
        assert (
            s.execute("update public.grades set score = 0 where id = %s", (teacher2s_grade,)) == 0
        )
        assert s.execute("delete from public.grades where id = %s", (teacher2s_grade,)) == 0
    with db.as_persona("teacher") as s:  # their own class: fine
        assert (
            s.execute(
                "insert into public.grades (submission_id, grader_id, score) "
                "values (%s, auth.uid(), 81)",
                (biology_work,),
            )
            == 1
        )
    assert db.scalar("select score from public.grades where id = %s", (teacher2s_grade,)) == (
        Decimal("88.00")
    )
    assert (
        db.scalar("select count(*) from public.grades where submission_id = %s", (chemistry_work,))
        == 0
    )
