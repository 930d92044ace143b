"""Running one file: a transaction rolled back whatever the file does, lines, errors, helpers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from rlsguard.harness.engine import Engine
from rlsguard.pgtap.database import TestDatabase
from rlsguard.supabase.extensions import StandIns


def write(tmp_path: Path, text: str, name: str = "t.sql") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def count_teams(db: TestDatabase) -> int:
    row = db.conn.execute("select count(*) from public.teams").fetchone()
    assert row is not None
    return int(row[0])


def test_assertions_point_at_their_statement_line(pgtap_db: TestDatabase, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "begin;\nselect plan(2);\n\nselect ok(\n  true,\n  'spread over lines'\n);\n"
        "select is(1, 2, 'second');\nselect * from finish();\nrollback;\n",
    )
    result = pgtap_db.run(path)
    assert [(a.number, a.line) for a in result.tap.assertions] == [(1, 4), (2, 8)]
    assert result.tap.plan_line == 2
    assert result.tap.failed[0].got_expected() == ("1", "2")


@pytest.mark.parametrize("ending", ["rollback;", "commit;", ""])
def test_nothing_a_file_writes_outlives_it(
    pgtap_db: TestDatabase, tmp_path: Path, ending: str
) -> None:
    before = count_teams(pgtap_db)
    path = write(
        tmp_path,
        "begin;\nselect plan(1);\ninsert into public.teams (name) values ('left behind?');\n"
        "create table public.scratch (x int);\n"
        "select is((select count(*) from public.teams where name = 'left behind?'), 1::bigint);\n"
        f"select * from finish();\n{ending}\n",
    )
    assert pgtap_db.run(path).passed
    assert count_teams(pgtap_db) == before
    row = pgtap_db.conn.execute("select to_regclass('public.scratch')").fetchone()
    assert row == (None,)


def test_a_failing_statement_stops_the_file_with_its_line(
    pgtap_db: TestDatabase, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "begin;\nselect plan(3);\nselect pass('one');\nselect * from public.nope;\n"
        "select pass('two');\nrollback;\n",
    )
    result = pgtap_db.run(path)
    assert result.error is not None
    assert (result.error.line, result.error.sqlstate) == (4, "42P01")
    assert [a.description for a in result.tap.assertions] == ["one"]
    assert result.problems()[0].startswith(f"{path}:4: ERROR 42P01: relation")
    assert "Bad plan.  You planned 3 tests but ran 1." in result.problems()
    # The connection is clean for the next file: role and settings included.
    after = write(
        tmp_path, "select plan(1);\nselect is(current_user::text, 'postgres');\n", "b.sql"
    )
    assert pgtap_db.run(after).passed


def test_role_and_search_path_changes_do_not_leak(pgtap_db: TestDatabase, tmp_path: Path) -> None:
    leaky = write(tmp_path, "set role authenticated;\nset search_path = pg_catalog;\n")
    pgtap_db.run(leaky)
    row = pgtap_db.conn.execute("select current_user, current_setting('search_path')").fetchone()
    assert row is not None
    assert row[0] == "postgres"
    assert "extensions" in row[1]


def test_an_unsupported_function_is_named(
    pgtap_databases: Callable[[str], TestDatabase], tmp_path: Path
) -> None:
    path = write(tmp_path, "select plan(1);\nselect has_schema('public');\n")
    result = pgtap_databases("rlsguard").run(path)
    assert result.error is not None
    assert result.error.advice is not None
    assert "the pgTAP function has_schema() is not in rlsguard's implementation" in (
        result.error.advice
    )
    assert "apt-get install" in result.error.advice


def test_authenticate_as_sets_the_claims_and_role_of_rlsguard_sessions(
    pgtap_db: TestDatabase, pgtap_engine: Engine, tmp_path: Path
) -> None:
    """tests.authenticate_as() and a PostgREST-exact session as the same user agree."""
    path = write(
        tmp_path,
        'create extension "basejump-supabase_test_helpers";\n'
        "select plan(1);\n"
        "select tests.create_supabase_user('dana', 'dana@team.test', '555-0101', "
        '\'{"plan": "pro"}\');\n'
        "select tests.authenticate_as('dana');\n"
        "select pass('as dana');\n"
        "select 'CLAIMS ' || current_setting('request.jwt.claims') || ' ROLE ' || current_user;\n",
    )
    result = pgtap_db.run(path)
    assert result.passed, result.problems()
    printed = next(text for _, text in result.tap.lines if text.startswith("CLAIMS "))
    claims_text, role = printed[len("CLAIMS ") :].rsplit(" ROLE ", 1)
    helper_claims = json.loads(claims_text)
    # The same user through rlsguard's own session, in one transaction with the user's row.
    with psycopg.connect(pgtap_engine.conninfo(pgtap_db.conn.info.dbname)) as conn:
        conn.execute("begin")
        db = pgtap_engine.database(conn)
        db.create_user(
            "dana@team.test",
            phone="555-0101",
            user_metadata={"plan": "pro", "test_identifier": "dana"},
        )
        with db.as_user("dana@team.test") as session:
            session_claims = json.loads(
                session.scalar("select current_setting('request.jwt.claims')")
            )
            session_role = session.scalar("select current_user")
        conn.execute("rollback")
    varying = {"exp", "iat", "sub", "session_id", "amr"}
    assert list(helper_claims) == list(session_claims)  # GoTrue's claim order
    assert {k: v for k, v in helper_claims.items() if k not in varying} == {
        k: v for k, v in session_claims.items() if k not in varying
    }
    assert (
        helper_claims["exp"] - helper_claims["iat"] == session_claims["exp"] - session_claims["iat"]
    )
    assert [m["method"] for m in helper_claims["amr"]] == [
        m["method"] for m in session_claims["amr"]
    ]
    assert role == session_role == "authenticated"


def test_clear_authentication_and_service_role(pgtap_db: TestDatabase, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "create extension supabase_test_helpers;\nselect plan(4);\n"
        "select tests.authenticate_as_service_role();\n"
        "select is(current_user::text, 'service_role');\n"
        "select is(auth.uid(), null);\n"
        "select tests.clear_authentication();\n"
        "select is(current_user::text, 'anon');\n"
        "select throws_ok($$select tests.get_supabase_uid('nobody')$$, 'P0001', "
        "'User with identifier nobody not found');\n",
    )
    result = pgtap_db.run(path)
    assert result.passed, result.tap.text()


def test_an_extension_the_server_lacks_uses_the_projects_stand_in(
    pgtap_databases: Callable[[str], TestDatabase], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "begin;\nselect plan(1);\ncreate extension if not exists pg_net;\n"
        "select has_function('net'::name, 'http_post'::name);\nrollback;\n",
    )
    database = pgtap_databases("rlsguard")
    if "pg_net" in database.provider.available:
        pytest.skip("this server ships pg_net: no stand-in is needed")
    refused = database.run(path)
    assert refused.error is not None
    assert refused.error.line == 3
    assert 'stand_ins = ["pg_net"]' in (refused.error.advice or "")
    database.stand_ins = StandIns.coerce(["pg_net"])
    try:
        result = database.run(path)
    finally:
        database.stand_ins = StandIns.none()
    assert result.passed, result.problems()
    assert any("stand-in for pg_net" in notice for notice in result.notices)
    # Rolled back with the file: the next file has no net schema.
    row = database.conn.execute("select to_regnamespace('net')").fetchone()
    assert row == (None,)
