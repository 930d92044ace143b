"""Splitting SQL files into statements that know their line and column."""

from __future__ import annotations

from rlsguard.supabase.statements import LineIndex, split


def test_statements_know_where_they_start() -> None:
    text = "-- héllo, a comment\ncreate table é (a int);\n\n/* block */ select 'ü;';\n"
    statements, error = split(text)
    assert error is None
    assert [(s.line, s.column, s.text) for s in statements] == [
        (2, 1, "create table é (a int)"),
        (4, 13, "select 'ü;'"),
    ]
    assert [s.kind for s in statements] == ["CreateStmt", "SelectStmt"]
    assert text[statements[1].offset :].startswith("select")


def test_begin_atomic_and_dollar_quotes_stay_whole() -> None:
    text = (
        "create function f() returns int language sql\n"
        "begin atomic\n  select case when true then 1 end;\nend;\n"
        "create function g() returns int language plpgsql as $$ begin return 1; end $$;\n"
    )
    statements, _ = split(text)
    assert len(statements) == 2
    assert statements[0].text.endswith("end")
    assert statements[1].line == 5


def test_a_file_that_does_not_parse_is_still_split() -> None:
    text = (
        "create table a (id int);\n"
        "-- typo below\n"
        "  crate tabel b ();\n"
        "create function f() returns int language sql begin atomic select 1; end;\n"
        "select 'é' -- trailing\n"
    )
    statements, error = split(text)
    assert error is not None
    assert "crate" in error
    assert [(s.line, s.column) for s in statements] == [(1, 1), (3, 3), (4, 1), (5, 1)]
    assert statements[1].text == "crate tabel b ()"
    assert statements[2].text.endswith("select 1; end")
    assert statements[3].text == "select 'é'"
    assert all(s.node is None for s in statements)


def test_an_unterminated_string_leaves_one_statement() -> None:
    statements, error = split("select 'abc;\nselect 2;")
    assert error is not None
    assert len(statements) == 1


def test_positions_map_to_lines_and_columns() -> None:
    index = LineIndex("ab\ncdé\n\nf")
    assert index.position(0) == (1, 1)
    assert index.position(3) == (2, 1)
    assert index.position(5) == (2, 3)
    assert index.position(8) == (4, 1)


def test_a_position_inside_a_statement_is_a_file_offset() -> None:
    text = "select 1;\n  select nosuch from t;"
    statement = split(text)[0][1]
    offset = statement.location(8)  # Postgres' cursor: 1-based, in the statement
    assert text[offset:].startswith("nosuch")
    assert LineIndex(text).position(offset) == (2, 10)
