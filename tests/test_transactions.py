"""An undo after a failure never replaces the failure (a Ctrl-C above all).

Each case closes the connection inside the block - what an interrupt during a query can
leave - and raises KeyboardInterrupt: the KeyboardInterrupt must come out, not the psycopg
error of the ROLLBACK that follows. Before, every one of these ended with
``OperationalError: the connection is closed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from rlsguard.database import Database
from rlsguard.harness.engine import Engine


@pytest.fixture
def fresh(notes_engine: Engine) -> Iterator[tuple[Engine, Database]]:
    with notes_engine.cloned_database() as db:
        yield notes_engine, db


def _broken(conn: psycopg.Connection[Any]) -> None:
    conn.close()
    raise KeyboardInterrupt


def test_undone_keeps_the_interrupt_when_the_connection_is_gone(
    fresh: tuple[Engine, Database],
) -> None:
    from rlsguard.transactions import undone

    engine, db = fresh
    with engine.connect(db.conn.info.dbname, autocommit=True) as conn:
        conn.execute("BEGIN")
        with pytest.raises(KeyboardInterrupt), undone(conn, "ROLLBACK"):
            _broken(conn)


def test_undone_rolls_back_strictly_after_success(fresh: tuple[Engine, Database]) -> None:
    from rlsguard.transactions import undone

    engine, db = fresh
    with engine.connect(db.conn.info.dbname, autocommit=True) as conn:
        conn.execute("BEGIN")
        with undone(conn, "ROLLBACK"):
            conn.execute("create table public.gone (id int)")
        assert conn.execute("select to_regclass('public.gone')").fetchone() == (None,)
        conn.execute("BEGIN")
        failing_undo = undone(conn, "ROLLBACK TO SAVEPOINT nowhere")
        with pytest.raises(psycopg.errors.InvalidSavepointSpecification), failing_undo:
            pass  # a failing undo after success is an error worth seeing


def test_gate_access_transaction(fresh: tuple[Engine, Database]) -> None:
    from rlsguard.gate.access import _transaction

    _, db = fresh
    with pytest.raises(KeyboardInterrupt), _transaction(db):
        _broken(db.conn)


def test_policy_trial(fresh: tuple[Engine, Database]) -> None:
    from rlsguard.workspace.trial import trial

    engine, db = fresh
    with pytest.raises(KeyboardInterrupt), trial(engine, db.conn.info.dbname, ["public"]) as t:
        _broken(t.session.conn)


def test_probe(fresh: tuple[Engine, Database], monkeypatch: pytest.MonkeyPatch) -> None:
    from rlsguard.audit import probe

    _, db = fresh
    monkeypatch.setattr(probe._Probe, "cross_tenant_read", lambda self, *a: _broken(db.conn))
    with pytest.raises(KeyboardInterrupt):
        probe.run_probe(db, exposed_schemas=["public"])


def test_matrix_executor(fresh: tuple[Engine, Database], monkeypatch: pytest.MonkeyPatch) -> None:
    from rlsguard.matrix.executor import Block, PlainExecutor, Statement

    _, db = fresh
    executor = PlainExecutor(db.conn, lambda i, r: db.session(i, request=r), db.api)
    monkeypatch.setattr(executor, "_one", lambda block, statement: _broken(db.conn))
    with pytest.raises(KeyboardInterrupt):
        executor.run([Block(None, "GET", [Statement("select 1")])])


def _masked() -> None:
    try:
        raise KeyboardInterrupt
    finally:
        raise psycopg.OperationalError("the connection is closed")


def test_an_error_raised_while_a_ctrl_c_unwinds_still_counts_as_the_ctrl_c() -> None:
    from rlsguard.__main__ import interrupted_by_ctrl_c

    with pytest.raises(psycopg.OperationalError) as caught:
        _masked()
    assert interrupted_by_ctrl_c(caught.value)
    assert not interrupted_by_ctrl_c(psycopg.OperationalError("a plain failure"))
