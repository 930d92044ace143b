"""Signup as GoTrue does it: the trigger makes the profile; only an invitation gives access."""

from __future__ import annotations

import pytest

from rlsguard import Database

from .conftest import NORTHSIDE, PUBLIC_TABLES

pytestmark = pytest.mark.rls

# What a signed-up user without a school reaches: their profile and the public directory.
STRANGER_SEES = {"users": 1, "schools": 1}


def test_an_invited_signup_gets_profile_school_and_role(rlsguard_db: Database) -> None:
    db = rlsguard_db
    db.execute(
        "insert into private.invitations (email, school_id, role) values (%s, %s, 'teacher')",
        ("rosalind@school.test", NORTHSIDE),
    )
    user = db.create_user("Rosalind@School.test", user_metadata={"full_name": "Rosalind Franklin"})
    profile = db.fetch(
        "select email, full_name, school_id::text as school, role from public.users where id = %s",
        (user.id,),
    )
    assert profile == [
        {"email": "rosalind@school.test", "full_name": "Rosalind Franklin",
         "school": NORTHSIDE, "role": "teacher"},
    ]  # fmt: skip
    assert db.scalar(
        "select accepted_at is not null from private.invitations where email = %s",
        ("rosalind@school.test",),
    )
    with db.as_user("rosalind@school.test") as s:
        assert s.scalar("select private.app_role()") == "teacher"
        assert s.scalar("select count(*) from public.classes") == 4  # the school's timetable
        assert s.scalar("select count(*) from public.staff_notes") == 0


def test_an_uninvited_signup_gets_a_profile_and_no_access(rlsguard_db: Database) -> None:
    db = rlsguard_db
    forged = {"full_name": "Eve", "role": "admin", "school_id": NORTHSIDE}
    user = db.create_user("eve@example.test", user_metadata=forged)
    profile = db.fetch(
        "select full_name, school_id, role from public.users where id = %s", (user.id,)
    )
    assert profile == [{"full_name": "Eve", "school_id": None, "role": None}]
    assert db.scalar("select count(*) from private.memberships where user_id = %s", (user.id,)) == 0
    seen = {}
    with db.as_user("eve@example.test") as s:
        for table in PUBLIC_TABLES:
            seen[table] = s.scalar(f"select count(*) from public.{table}")
        avatars = s.scalar("select count(*) from storage.objects where bucket_id = 'avatars'")
        homework = s.scalar("select count(*) from storage.objects where bucket_id <> 'avatars'")
    assert {t: n for t, n in seen.items() if n} == STRANGER_SEES
    assert (avatars, homework) == (2, 0)
