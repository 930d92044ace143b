"""The recorder: a starter file from today's behaviour, which then checks clean."""

from __future__ import annotations

from rlsguard.database import Database
from rlsguard.matrix.check import check_matrix
from rlsguard.matrix.load import Cell, parse_matrix
from rlsguard.matrix.record import record, render


def test_notes_recording_reads_as_expected(notes_db: Database) -> None:
    recording = record(notes_db)
    text = render(recording, source="notes")
    assert recording.personas == ["anon", "alice", "bob", "alice_mfa", "service_role"]
    assert "# ghost: not recorded: persona 'ghost' is bound to user 'ghost@notes.test'" in text
    assert "      alice: {keys: [1, 2]}  # recorded: 2 of 3 rows\n" in text
    assert "      service_role: all  # recorded\n" in text
    assert "      anon: none  # recorded\n" in text
    assert "# REVIEW EVERY ENTRY" in text
    assert "    # insert: not recorded; add candidates: and accept: by hand\n" in text


def test_record_then_check_passes_on_the_same_database(notes_db: Database) -> None:
    text = render(record(notes_db))
    matrix = parse_matrix(text, personas=notes_db.personas.names)
    run = check_matrix(notes_db, matrix)
    assert run.ok
    assert len(run.results) == 15  # 5 personas x select, update, delete
    assert run.untested.operations == [("public.notes", "insert")]


def test_record_then_check_passes_on_the_shop(shop_db: Database) -> None:
    text = render(record(shop_db))
    # audit_log has no primary key: left out, with the reason.
    assert "# public.audit_log: not recorded: no primary key" in text
    matrix = parse_matrix(text, personas=shop_db.personas.names)
    run = check_matrix(shop_db, matrix)
    assert [r.cell.id for r in run.failed] == []
    assert matrix.expectation(Cell("customer", "public.order_items", "select")).keys == (
        (10, 1),
        (10, 2),
    )
    assert run["customer-public.orders-delete"].actual == {("10",), ("11",)}
