"""Statements about database ``postgres`` are aimed at the database being migrated."""

from __future__ import annotations

import pytest
from pglast import parse_sql

from rlsguard.supabase.retarget import retarget


def aimed(statement: str, dbname: str = "rlsguard_x") -> str | None:
    return retarget(parse_sql(statement)[0].stmt, dbname)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("alter database postgres set lock_timeout to '4s'",
         "ALTER DATABASE rlsguard_x SET lock_timeout TO '4s'"),
        ("alter role anon in database postgres set work_mem = '3MB'",
         "ALTER ROLE anon IN DATABASE rlsguard_x SET work_mem TO '3MB'"),
        ("revoke connect on database postgres from public",
         "REVOKE CONNECT ON DATABASE rlsguard_x FROM PUBLIC"),
        ("grant temporary on database other, postgres to service_role",
         "GRANT TEMPORARY ON DATABASE other, rlsguard_x TO service_role"),
        ("comment on database postgres is 'hardened'",
         "COMMENT ON DATABASE rlsguard_x IS 'hardened'"),
        ("alter database postgres owner to postgres",
         "ALTER DATABASE rlsguard_x OWNER TO postgres"),
    ],
)  # fmt: skip
def test_names_of_the_project_database_are_replaced(statement: str, expected: str) -> None:
    assert aimed(statement) == expected


@pytest.mark.parametrize(
    "statement",
    [
        "alter database other set lock_timeout to '4s'",
        "alter role anon set work_mem = '3MB'",
        "grant select on table postgres to anon",
        "comment on table postgres is 'a table named postgres'",
        "create table public.notes (id int)",
    ],
)
def test_everything_else_runs_unchanged(statement: str) -> None:
    assert aimed(statement) is None


def test_nothing_changes_in_the_database_called_postgres() -> None:
    assert aimed("alter database postgres set lock_timeout to '4s'", "postgres") is None
