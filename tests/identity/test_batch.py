"""Batched requests answer exactly as one request at a time would."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from rlsguard.database import Database
from rlsguard.harness.engine import Engine


@pytest.fixture
def db(notes_engine: Engine) -> Iterator[Database]:
    with notes_engine.cloned_database() as database:
        yield database


def test_batch_matches_single_requests(db: Database) -> None:
    people = ["alice", "bob", "alice_mfa", "service_role"]
    identities = [db.personas.resolve(db.conn, p) for p in people]
    query = "select count(*), max(auth.jwt() ->> 'aal') from notes"
    batch = db.batch()
    for identity in identities:
        batch.add(identity, query)
    batched = batch.run()
    one_by_one = []
    for identity in identities:
        with db.session(identity) as s:
            one_by_one.append([tuple(r.values()) for r in s.fetch(query)])
    assert batched == one_by_one
    assert [rows[0][0] for rows in batched] == [2, 1, 2, 3]
    assert batched[2][0][1] == "aal2"


def test_batched_requests_do_not_see_each_other(db: Database) -> None:
    alice = db.personas.resolve(db.conn, "alice")
    batch = db.batch()
    batch.add(alice, "insert into notes (body) values ('x') returning id")
    batch.add(alice, "select count(*) from notes")
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        batch.run()  # batched requests are reads: GET, read-only
    db.execute("select 1")  # the connection is usable again
    assert db.scalar("select count(*) from notes") == 3


def test_batch_leaves_no_role_or_claims_behind(db: Database) -> None:
    batch = db.batch()
    batch.add(db.personas.resolve(db.conn, "bob"), "select auth.uid()")
    (rows,) = batch.run()
    assert [str(r[0]) for r in rows] == ["22222222-2222-2222-2222-222222222222"]
    assert db.scalar("select current_user") == "supabase_admin"
    assert db.scalar("select current_setting('request.jwt.claims', true)") in ("", None)


def test_multi_statement_requests_are_rejected(db: Database) -> None:
    batch = db.batch()
    batch.add(db.personas.resolve(db.conn, "bob"), "select 1; select 2")
    with pytest.raises(ValueError, match="exactly one row-returning statement"):
        batch.run()
