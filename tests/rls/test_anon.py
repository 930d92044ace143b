"""The anon key: no user (``auth.uid()`` is NULL), and nothing but the public directory."""

from __future__ import annotations

import pytest

from rlsguard import Database

from .conftest import PUBLIC_TABLES, column, denied_by_grant

pytestmark = pytest.mark.rls


def test_auth_uid_is_null_with_the_anon_key(rlsguard_db: Database) -> None:
    with rlsguard_db.as_anon() as s:
        row = s.fetchone(
            "select auth.uid() as uid, auth.role() as role, current_user as db_role, "
            "auth.jwt() ->> 'sub' as sub, "
            "current_setting('request.headers')::jsonb ->> 'apikey' is not null as has_key"
        )
    assert row == {"uid": None, "role": "anon", "db_role": "anon", "sub": None, "has_key": True}


def test_anon_reads_the_public_directory_and_avatars_only(rlsguard_db: Database) -> None:
    db = rlsguard_db
    with db.as_anon() as s:
        assert column(s, "select name from public.schools") == {"Northside High"}
        assert column(s, "select distinct bucket_id from storage.objects") == {"avatars"}
    for table in PUBLIC_TABLES:
        if table == "schools":
            continue
        with db.as_anon() as s:
            denied_by_grant(s, f"select count(*) from public.{table}")
