"""The batched helper answers exactly as plain statements do, one round trip for everything."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from rlsguard.database import Database
from rlsguard.identity.session import Identity
from rlsguard.matrix.executor import Block, HelperExecutor, Outcome, PlainExecutor, Statement

ALICE_ID = "11111111-1111-1111-1111-111111111111"
BOB_ID = "22222222-2222-2222-2222-222222222222"
KEYS = "select coalesce(jsonb_agg(jsonb_build_array(id::text)), '[]'::jsonb) from public.notes"
STATEMENTS = [
    Statement(KEYS),
    Statement("select jsonb_build_array(jsonb_build_array(current_user::text, auth.uid()::text))"),
    Statement(
        "with w(k) as (update public.notes set body = body returning id::text) "
        "select coalesce(jsonb_agg(jsonb_build_array(k)), '[]'::jsonb) from w"
    ),
    Statement(  # 428C9: an identity column cannot be assigned
        "with w(k) as (update public.notes set id = id returning id::text) "
        "select coalesce(jsonb_agg(jsonb_build_array(k)), '[]'::jsonb) from w"
    ),
    Statement(
        "with w(k) as (delete from public.notes returning id::text) "
        "select coalesce(jsonb_agg(jsonb_build_array(k)), '[]'::jsonb) from w"
    ),
    Statement(f"insert into public.notes (owner_id, body) values ('{ALICE_ID}', 'a')", True),
    Statement(f"insert into public.notes (owner_id, body) values ('{BOB_ID}', 'b')", True),
    Statement("insert into public.notes (owner_id, body) values (auth.uid(), null)", True),
    Statement("select 1/0", False),
    Statement(KEYS),  # nothing of the statements before is visible
]


def blocks(db: Database) -> list[Block]:
    found = [Block(None, "GET", list(STATEMENTS))]
    for name, method in (("alice", "POST"), ("bob", "PATCH"), ("anon", "POST"),
                         ("service_role", "DELETE"), ("alice", "GET")):  # fmt: skip
        found.append(Block(db.personas.resolve(db.conn, name), method, list(STATEMENTS)))
    return found


def executor(db: Database, kind: type[HelperExecutor] | type[PlainExecutor]) -> object:
    return kind(db.conn, lambda i, r: db.session(i, request=r), db.api)


def run(db: Database, kind: type, per_message: int | None = None) -> list[list[Outcome]]:
    return executor(db, kind).run(blocks(db), per_message)  # type: ignore[attr-defined]


def test_helper_and_plain_statements_give_identical_outcomes(notes_db: Database) -> None:
    plain = run(notes_db, PlainExecutor)
    assert run(notes_db, HelperExecutor) == plain
    assert run(notes_db, HelperExecutor, per_message=1) == plain
    superuser, alice, bob, anon, service_role, alice_get = plain
    assert superuser[0].rows == (("1",), ("2",), ("3",))
    assert alice[1].rows == (("authenticated", ALICE_ID),)
    assert alice[2].rows == (("1",), ("2",))  # her notes
    assert alice[3].sqlstate == "428C9"
    assert alice[4].rows == ()  # no delete policy: silently nothing
    assert (alice[5].count, alice[6].denial, alice[7].sqlstate) == (1, "rls", "23502")
    assert (bob[5].denial, bob[6].count) == ("rls", 1)
    assert {o.denial for o in anon[:8] if o.sqlstate == "42501"} == {"grant"}
    assert anon[1].rows == (("anon", None),)
    assert service_role[0].rows == superuser[0].rows  # BYPASSRLS
    assert service_role[2].denial == "grant"  # SELECT is its only grant
    assert alice_get[5].sqlstate == "25006"  # GET requests are read-only
    assert superuser[8].sqlstate == "22012"
    for outcomes in plain:
        assert outcomes[-1] == outcomes[0] or outcomes[0].sqlstate is not None


def test_one_message_for_all_blocks_and_nothing_stays(notes_db: Database) -> None:
    helper = executor(notes_db, HelperExecutor)
    helper.run(blocks(notes_db))  # type: ignore[attr-defined]
    assert helper.round_trips == 1  # type: ignore[attr-defined]
    conn = notes_db.conn
    assert conn.info.transaction_status == TransactionStatus.IDLE
    assert notes_db.scalar("select count(*) from public.notes") == 3
    assert notes_db.scalar("select current_user") == "supabase_admin"
    assert notes_db.scalar("select to_regprocedure('pg_temp.rlsguard_try(text[])')") is None


def test_inside_a_callers_transaction_it_sees_its_rows_and_keeps_it_open(
    notes_db: Database,
) -> None:
    conn = notes_db.conn
    conn.execute("BEGIN")
    try:
        notes_db.execute(f"insert into public.notes (owner_id, body) values ('{ALICE_ID}', 'new')")
        alice = notes_db.personas.resolve(conn, "alice")
        (outcomes,) = executor(notes_db, HelperExecutor).run(  # type: ignore[attr-defined]
            [Block(alice, "GET", [Statement(KEYS)])]
        )
        assert len(outcomes[0].rows or ()) == 3
        assert conn.info.transaction_status == TransactionStatus.INTRANS
        assert notes_db.scalar("select count(*) from public.notes") == 4
    finally:
        conn.execute("ROLLBACK")


@pytest.mark.parametrize("in_transaction", [False, True])
def test_a_failing_message_is_cleaned_up(notes_db: Database, in_transaction: bool) -> None:
    conn = notes_db.conn
    nobody = Identity("no_such_role", {"role": "no_such_role"}, None, None, "nobody")
    if in_transaction:
        conn.execute("BEGIN")
    try:
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            executor(notes_db, HelperExecutor).run(  # type: ignore[attr-defined]
                [Block(None, "GET", [Statement(KEYS)]), Block(nobody, "GET", [Statement(KEYS)])]
            )
        expected = TransactionStatus.INTRANS if in_transaction else TransactionStatus.IDLE
        assert conn.info.transaction_status == expected
        assert notes_db.scalar("select count(*) from public.notes") == 3
    finally:
        if in_transaction:
            conn.execute("ROLLBACK")
