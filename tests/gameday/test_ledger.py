from __future__ import annotations

from pathlib import Path

from rlsguard.gameday.ledger import Entry, FileLedger


def entry(summary: str) -> Entry:
    return Entry("s", "fault", summary, ["GRANT x"], "host:1/db", "db", "run")


def test_outstanding_entries_until_marked_reverted(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path / "sub" / "ledger.jsonl")
    a, b = entry("a"), entry("b")
    ledger.record(a)
    ledger.record(b)
    ledger.mark(a.id, "applied")
    assert {e["summary"] for e in ledger.outstanding()} == {"a", "b"}
    ledger.mark(a.id, "reverted")
    assert [e["summary"] for e in ledger.outstanding()] == ["b"]
    assert ledger.outstanding("other:1/db") == []
    assert "baseline" not in ledger.entries()[b.id]  # the database copy holds it


def test_a_line_torn_by_a_crash_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = FileLedger(path)
    ledger.record(entry("a"))
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"id": "torn", "sta')
    assert [e["summary"] for e in ledger.outstanding()] == ["a"]
