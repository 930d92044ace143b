"""The file format: the model, the committed JSON Schema, and what the loader accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsguard.errors import MatrixError
from rlsguard.matrix.load import Cell, load_matrix, parse_matrix
from rlsguard.matrix.model import json_schema_text

from .conftest import DATA

ROOT = Path(__file__).resolve().parents[2]
NOTES_PERSONAS = ["anon", "service_role", "alice", "bob", "alice_mfa", "ghost"]


def test_the_committed_schema_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "rls_matrix.schema.json").read_text()
    assert committed == json_schema_text(), (
        "run: rlsguard matrix schema > docs/rls_matrix.schema.json"
    )


def test_cells_follow_tables_operations_then_the_persona_list() -> None:
    matrix = load_matrix(DATA / "notes.yaml", NOTES_PERSONAS)
    cells = matrix.cells()
    assert len(cells) == 19
    assert cells[0] == Cell("anon", "public.notes", "select")
    assert [c.operation for c in cells[:5]] == ["select"] * 5
    assert cells[5] == Cell("anon", "public.notes", "insert")
    assert Cell("alice_mfa", "public.notes", "delete") not in cells  # left out: untested
    assert cells[0].id == "anon-public.notes-select"
    assert cells[5].key == "tables.public.notes.insert.accept.anon"


def test_every_form_of_expectation() -> None:
    matrix = load_matrix(DATA / "notes.yaml", NOTES_PERSONAS)

    def expect(persona: str, operation: str) -> tuple[str, object]:
        found = matrix.expectation(Cell(persona, "public.notes", operation))
        return found.kind, found.where or found.keys or found.accept

    assert expect("anon", "select") == ("none", frozenset())
    assert expect("service_role", "select") == ("all", frozenset())
    assert expect("alice", "select") == ("where", "owner_id = :uid")
    assert expect("alice_mfa", "select") == ("where", "owner_id = :uid and :claim.aal = 'aal2'")
    assert expect("bob", "select") == ("keys", ((3,),))
    assert expect("alice", "insert") == ("accept", frozenset({0, 2}))
    assert expect("bob", "insert") == ("accept", frozenset({0, 1, 2}))
    assert matrix.line("tables.public.notes.select.bob") == 12
    assert matrix.line("tables.public.notes.select.nobody") == 9  # the nearest parent


def test_key_and_label_take_one_column_or_a_list() -> None:
    matrix = parse_matrix(
        "personas: [alice]\ntables:\n  public.t:\n    key: id\n    label: [a, b]\n"
        "    select: {alice: {keys: [1, 2]}}\n"
        "  public.u:\n    key: [a, b]\n    select: {alice: {keys: [[1, x], [2, y]]}}\n"
    )
    assert matrix.table("public.t").key == ["id"]
    assert matrix.table("public.t").label == ["a", "b"]
    assert matrix.expectation(Cell("alice", "public.u", "select")).keys == ((1, "x"), (2, "y"))


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("", "", "the file is empty"),
        ("- a\n", "", "expected a mapping with personas: and tables:"),
        ("tables: {}\n", "personas", "required key is missing"),
        ("personas: [a, a]\n", "personas[1]", "persona 'a' is listed twice"),
        ("personas: [a]\ntables: {notes: {}}\n", "tables.notes", "is not schema.table"),
        (
            "personas: [a]\ntables: {public.t: {select: {a: 5}}}\n",
            "tables.public.t.select.a",
            "expected 'all', 'none', an SQL predicate, {keys: [...]} or {where: ...}",
        ),
        (
            "personas: [a]\ntables: {public.t: {select: {a: {keys: [1], why: x}}}}\n",
            "tables.public.t.select.a.why",
            "unknown key 'why'",
        ),
        (
            "personas: [a]\ntables: {public.t: {lable: [x]}}\n",
            "tables.public.t.lable",
            "unknown key 'lable'; did you mean 'label'?",
        ),
        (
            "personas: [a]\ntables: {public.t: {key: [a, b], select: {a: {keys: [1]}}}}\n",
            "tables.public.t.select.a.keys[0]",
            "has 1 value(s) but key: names 2 column(s)",
        ),
        (
            "personas: [a]\ntables:\n  public.t: {}\n  public.t: {}\n",
            "",
            "key 'public.t' appears twice (first on line 3)",
        ),
        (
            "personas: [a]\ntables: {public.t: {insert: {candidates: [{name: x}, {name: x}]}}}\n",
            "tables.public.t.insert.candidates[1]",
            "candidate name 'x' is used twice",
        ),
        (
            "personas: [a]\ntables: {public.t: {insert: {candidates: [{values: {c: 1}, "
            "sql: {c: '2'}}]}}}\n",
            "tables.public.t.insert.candidates[0].sql.c",
            "column c is set both under values and under sql",
        ),
        (
            "personas: [a]\ntables: {public.t: {insert: {candidates: [{values: {c: ':nope'}}]}}}\n",
            "tables.public.t.insert.candidates[0].values.c",
            "unknown parameter ':nope'",
        ),
        (
            "personas: [a, b]\ntables: {public.t: {insert: {candidates: [{name: x, personas: [b]}],"
            " accept: {a: [x, 3, y]}}}}\n",
            "tables.public.t.insert.accept.a[0]",
            "candidate 'x' is only tried by b",
        ),
        (
            "personas: [a]\ntables: {public.t: {select: {a: 'true) from t where (false'}}}\n",
            "tables.public.t.select.a",
            "invalid SQL predicate",
        ),
        (
            "personas: [a]\ntables: {public.t: {select: {a: 'x in (select 1) union select 2'}}}\n",
            "tables.public.t.select.a",
            "invalid SQL predicate",
        ),
    ],
)
def test_malformed_text(text: str, key: str, reason: str) -> None:
    with pytest.raises(MatrixError) as caught:
        parse_matrix(text, source=Path("m.yaml"), personas=["a", "b"])
    problem = caught.value.problems[0]
    assert problem.key == key
    assert reason in problem.reason
    assert str(caught.value).startswith("m.yaml")


def test_accept_references_are_checked_in_range_and_by_name() -> None:
    with pytest.raises(MatrixError) as caught:
        parse_matrix(
            "personas: [a]\ntables: {public.t: {insert: {candidates: [{name: x}],"
            " accept: {a: [x, 3, y]}}}}\n",
            personas=["a"],
        )
    reasons = [p.reason for p in caught.value.problems]
    assert reasons == [
        "candidate index 3 is out of range (0..0)",
        "no candidate named 'y' (named: x)",
    ]
