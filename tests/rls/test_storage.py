"""Storage: files are reachable only in the user's own folder (``<uid>/...``).

Policies compare ``(storage.foldername(name))[1]`` with the requester. Reads of the public
``avatars`` bucket are open to everyone; everything else - reading homework, uploading,
renaming, deleting - stays inside the caller's folder.
"""

from __future__ import annotations

import pytest

from rlsguard import Database

from .conftest import STUDENT, STUDENT2, column, rejected_by_rls, seed_id

pytestmark = pytest.mark.rls

INSERT = "insert into storage.objects (bucket_id, name) values (%s, %s)"
# As the Storage API deletes: it sets this, or a trigger refuses SQL deletes for everyone.
AS_STORAGE_API = "select set_config('storage.allow_delete_query', 'true', true)"


def test_homework_is_read_in_the_own_folder_only(rlsguard_db: Database) -> None:
    db = rlsguard_db
    query = "select (storage.foldername(name))[1] from storage.objects where bucket_id = %s"
    for persona, folders in (("student", {STUDENT}), ("student2", {STUDENT2}), ("teacher", set())):
        with db.as_persona(persona) as s:
            assert column(s, query, ("submissions",)) == folders, persona
    with db.as_anon() as s:
        assert len(s.fetch("select id from storage.objects where bucket_id = 'avatars'")) == 2
    assert db.scalar("select count(*) from storage.objects where bucket_id = 'submissions'") == 5


def test_uploads_land_in_the_own_folder_only(rlsguard_db: Database) -> None:
    db = rlsguard_db
    with db.as_persona("student") as s:
        assert s.execute(INSERT, ("submissions", f"{STUDENT}/x/essay.pdf")) == 1
        assert s.execute(INSERT, ("avatars", f"{STUDENT}/avatar-2.png")) == 1
    for bucket, name in (
        ("submissions", f"{STUDENT2}/x/essay.pdf"),  # someone else's folder
        ("avatars", f"{STUDENT2}/avatar.png"),
        ("submissions", "essay.pdf"),  # no folder at all
        ("submissions", f"x/{STUDENT}/essay.pdf"),  # their id, but not as the first folder
    ):
        with db.as_persona("student") as s:
            rejected_by_rls(s, INSERT, (bucket, name))


def test_renames_stay_in_the_own_folder(rlsguard_db: Database) -> None:
    db = rlsguard_db
    avatar, their_avatar = seed_id(9, 6), seed_id(9, 7)
    with db.as_persona("student") as s:
        rejected_by_rls(
            s,
            "update storage.objects set name = replace(name, %s, %s) where id = %s",
            (STUDENT, STUDENT2, avatar),
        )
    with db.as_persona("student") as s:
        rename = "update storage.objects set name = name || '.bak' where id = %s"
        assert s.execute(rename, (their_avatar,)) == 0
        assert s.execute(rename, (avatar,)) == 1
    assert db.scalar("select name from storage.objects where id = %s", (their_avatar,)).endswith(
        "/avatar.png"
    )


def test_handed_in_homework_cannot_be_edited_or_made_public(rlsguard_db: Database) -> None:
    """An UPDATE policy on homework would let it move into the public bucket (OR-ed WITH CHECKs)."""
    db = rlsguard_db
    homework = seed_id(9, 1)
    with db.as_persona("student") as s:
        assert (
            s.execute("update storage.objects set bucket_id = 'avatars' where id = %s", (homework,))
            == 0
        )
        assert (
            s.execute("update storage.objects set name = name || '.bak' where id = %s", (homework,))
            == 0
        )
    with db.as_anon() as s:
        assert s.fetch("select id from storage.objects where id = %s", (homework,)) == []


def test_deletes_reach_the_own_folder_only(rlsguard_db: Database) -> None:
    db = rlsguard_db
    with db.as_persona("student") as s:
        s.execute(AS_STORAGE_API)
        assert s.execute("delete from storage.objects where id = %s", (seed_id(9, 3),)) == 0
        # teacher's avatar: public, visible to the student, and still not theirs to delete
        assert s.execute("delete from storage.objects where id = %s", (seed_id(9, 7),)) == 0
        # own folder, but the backend's private reports bucket: no policy admits it
        assert s.execute("delete from storage.objects where id = %s", (seed_id(9, 8),)) == 0
        assert s.execute("delete from storage.objects where id = %s", (seed_id(9, 1),)) == 1
    assert db.scalar("select count(*) from storage.objects") == 7  # 8 seeded, one deleted
