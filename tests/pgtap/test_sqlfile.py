"""Reading test files: statements with their lines, the file's own transaction control."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsguard.pgtap.sqlfile import TestFileError, classify, read_test_file, strip_psql


def test_statements_are_classified() -> None:
    text = """\
begin;
create extension if not exists pgtap with schema extensions;
create extension "basejump-supabase_test_helpers";
select plan(1);
savepoint a;
rollback to savepoint a;
select ok(true);
drop extension pgtap;
rollback;
"""
    kinds = [(s.line, s.kind, s.extension) for s in classify(text)]
    assert kinds == [
        (1, "transaction", None),
        (2, "create_pgtap", "pgtap"),
        (3, "create_helpers", "basejump-supabase_test_helpers"),
        (4, "sql", None),
        (5, "sql", None),
        (6, "sql", None),  # ROLLBACK TO SAVEPOINT is the file's own business
        (7, "sql", None),
        (8, "drop_extension", "pgtap"),
        (9, "transaction", None),
    ]


def test_psql_display_commands_are_blanked_and_lines_kept(tmp_path: Path) -> None:
    path = tmp_path / "t.sql"
    path.write_text("\\set ECHO none\n\\pset format unaligned\nselect plan(1);\n")
    statements = read_test_file(path)
    assert [(s.line, s.text) for s in statements] == [(3, "select plan(1)")]


def test_other_psql_commands_are_refused_with_their_line() -> None:
    with pytest.raises(TestFileError, match=r"t\.sql:2: the psql command \\i cannot run"):
        strip_psql("begin;\n\\i setup.sql\n", "t.sql")


def test_backslash_q_ends_the_file() -> None:
    text = strip_psql("select plan(1);\nselect pass();\n\\q\nselect fail();\n")
    assert [s.text for s in classify(text)] == ["select plan(1)", "select pass()"]
    assert text.count("\n") == 4  # line numbers are kept
