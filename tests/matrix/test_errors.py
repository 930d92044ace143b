"""Six malformed matrix files: each error names the file, the line, the dotted key and the reason.

Three are found while loading (no database needed), three when the file meets the database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsguard.database import Database
from rlsguard.matrix.check import Checker
from rlsguard.matrix.load import MatrixError, Problem, load_matrix

from .conftest import MALFORMED

CASES = [
    # file, line, dotted key, reason (a part of it)
    ("unknown_persona.yaml", 2, "personas[1]", "unknown persona 'carol'; known personas: alice,"),
    ("unknown_table.yaml", 7, "tables.public.note", "no table public.note: the project's"),
    ("bad_operation.yaml", 7, "tables.public.notes.upsert", "unknown operation 'upsert'"),
    (
        "predicate_syntax.yaml",
        7,
        "tables.public.notes.select.bob",
        'invalid SQL predicate: syntax error at or near "=" (at character 12 of the predicate)',
    ),
    (
        "missing_column.yaml",
        8,
        "tables.public.notes.update.bob.where",
        'column "owner" does not exist (42703)',
    ),
    (
        "yaml_syntax.yaml",
        6,
        "tables.public.notes.select.alice",
        "invalid YAML: expected ',' or '}', but got '<scalar>' at line 7, column 5",
    ),
]


def problems_of(path: Path, db: Database) -> list[Problem]:
    """Load the file, and when it loads, check it: every problem either step finds."""
    try:
        matrix = load_matrix(path, db.personas.names)
    except MatrixError as exc:
        return exc.problems
    return Checker(db, matrix).run().problems


@pytest.mark.parametrize(("name", "line", "key", "reason"), CASES, ids=[c[0] for c in CASES])
def test_malformed_file_names_file_line_key_and_reason(
    notes_db: Database, name: str, line: int, key: str, reason: str
) -> None:
    path = MALFORMED / name
    problems = problems_of(path, notes_db)
    assert len(problems) == 1, problems
    (problem,) = problems
    assert (problem.file, problem.line, problem.key) == (str(path), line, key)
    assert reason in problem.reason
    assert str(problem).startswith(f"{path}:{line}: {key}: ")


def test_the_six_cases_are_all_the_files() -> None:
    assert sorted(p.name for p in MALFORMED.glob("*.yaml")) == sorted(c[0] for c in CASES)


def test_a_similar_table_is_suggested(notes_db: Database) -> None:
    (problem,) = problems_of(MALFORMED / "unknown_table.yaml", notes_db)
    assert "did you mean 'public.notes'?" in problem.reason


def test_a_load_error_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "personas: [alice, bob]\n"
        "tables:\n"
        "  public.notes:\n"
        "    select:\n"
        "      alice: owner_id = :school_id\n"
        "      bob: auth.uid() = owner_id\n"
        "      carol: all\n"
    )
    with pytest.raises(MatrixError) as caught:
        load_matrix(path, ["alice", "bob"])
    assert [(p.line, p.key) for p in caught.value.problems] == [
        (5, "tables.public.notes.select.alice"),
        (6, "tables.public.notes.select.bob"),
        (7, "tables.public.notes.select.carol"),
    ]
    text = str(caught.value)
    assert "did you mean ':app.school_id'?" in text
    assert "auth.uid() reads the request" in text
    assert "persona 'carol' is not listed under personas:" in text


def test_a_misspelt_persona_in_a_cell_gets_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "personas: [alice, bob]\ntables:\n  public.notes:\n    select:\n      alcie: all\n"
    )
    with pytest.raises(MatrixError) as info:
        load_matrix(path, ["alice", "bob"])
    (problem,) = info.value.problems
    assert problem.key == "tables.public.notes.select.alcie"
    assert "did you mean 'alice'?" in problem.reason
