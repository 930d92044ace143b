"""A student cannot change their own role, school or teacher link, by any path."""

from __future__ import annotations

import pytest

from rlsguard import Database

from .conftest import (
    BIOLOGY,
    NORTHSIDE,
    RIVERSIDE,
    STUDENT,
    TEACHER,
    TEACHER2,
    denied_by_grant,
    rejected_by_rls,
)

pytestmark = pytest.mark.rls


def trusted(db: Database, user_id: str) -> tuple[str, str]:
    row = db.conn.execute(
        "select school_id::text, role from private.memberships where user_id = %s", (user_id,)
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def test_a_student_cannot_change_their_own_role(rlsguard_db: Database) -> None:
    db = rlsguard_db
    with db.as_persona("student") as s:  # the profile's display copy: WITH CHECK refuses it
        rejected_by_rls(s, "update public.users set role = 'admin' where id = auth.uid()")
    with db.as_persona("student") as s:  # the trusted table is out of reach altogether
        denied_by_grant(
            s, "update private.memberships set role = 'admin' where user_id = auth.uid()"
        )
    assert trusted(db, STUDENT) == (NORTHSIDE, "student")
    assert db.scalar("select role from public.users where id = %s", (STUDENT,)) == "student"
    with db.as_persona("student") as s:
        assert s.scalar("select private.is_admin()") is False


def test_a_role_in_user_metadata_counts_for_nothing(rlsguard_db: Database) -> None:
    db = rlsguard_db
    # student2 signed up with {"role": "admin"} in raw_user_meta_data (user-editable).
    with db.as_persona("student2") as s:
        assert s.scalar("select auth.jwt() -> 'user_metadata' ->> 'role'") == "admin"
        assert s.scalar("select private.app_role()") == "student"
        assert s.scalar("select count(*) from public.students") == 1  # their own record
    with db.as_persona("student2") as s:  # what only an admin may do
        rejected_by_rls(
            s,
            "insert into public.staff_notes (school_id, student_id, author_id, body) "
            "values (%s, %s, auth.uid(), 'forged')",
            (NORTHSIDE, STUDENT),
        )


def test_a_student_cannot_move_to_another_school(rlsguard_db: Database) -> None:
    db = rlsguard_db
    with db.as_persona("student") as s:
        rejected_by_rls(
            s, "update public.users set school_id = %s where id = auth.uid()", (RIVERSIDE,)
        )
    with db.as_persona("student") as s:  # no UPDATE policy on students for a student
        assert (
            s.execute(
                "update public.students set school_id = %s where id = auth.uid()", (RIVERSIDE,)
            )
            == 0
        )
    assert trusted(db, STUDENT) == (NORTHSIDE, "student")
    assert db.scalar("select school_id::text from public.students where id = %s", (STUDENT,)) == (
        NORTHSIDE
    )


def test_a_student_cannot_change_their_teacher_link(rlsguard_db: Database) -> None:
    db = rlsguard_db
    with db.as_persona("student") as s:  # the homeroom teacher is the admins' to set
        assert (
            s.execute(
                "update public.students set homeroom_teacher_id = %s where id = auth.uid()",
                (TEACHER2,),
            )
            == 0
        )
    with db.as_persona("student") as s:  # nor can they write a record of their own
        rejected_by_rls(
            s,
            "insert into public.students (id, school_id, homeroom_teacher_id) "
            "values (auth.uid(), %s, %s)",
            (NORTHSIDE, TEACHER2),
        )
    with db.as_persona("student") as s:  # nor pick another teacher's class
        assert (
            s.execute(
                "update public.enrollments set class_id = %s where student_id = auth.uid()",
                (BIOLOGY,),
            )
            == 0
        )
    with db.as_persona("student") as s:
        rejected_by_rls(
            s,
            "insert into public.enrollments (class_id, student_id) values (%s, auth.uid())",
            (BIOLOGY,),
        )
    assert (
        db.scalar("select homeroom_teacher_id::text from public.students where id = %s", (STUDENT,))
        == TEACHER
    )
    assert (
        db.scalar("select count(*) from public.enrollments where student_id = %s", (STUDENT,)) == 2
    )
