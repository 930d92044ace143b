"""The access diff: observed row sets per persona, and how two observations compare."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rlsguard.database import Database
from rlsguard.gate.access import (
    STRANGER,
    Access,
    AccessMap,
    TableFacts,
    access_of_databases,
    diff_access,
    observe_access,
)
from rlsguard.gate.access_render import render_access
from rlsguard.gate.run import GateReport
from rlsguard.harness.engine import Engine
from rlsguard.identity.personas import Personas
from rlsguard.matrix.coverage import Untested
from rlsguard.matrix.load import Cell, Matrix, load_matrix
from rlsguard.matrix.model import MatrixSpec
from rlsguard.matrix.results import CellResult, MatrixRun
from rlsguard.workspace.build import Workspace
from tests.gate.conftest import MATRIX, REFERENCE

SCHEMAS = ["public", "graphql_public"]
ALICE = "11111111-1111-1111-1111-111111111111"
BOB = "22222222-2222-2222-2222-222222222222"


def uid(n: int) -> tuple[str]:
    return (f"20000000-0000-4000-8000-{n:012d}",)


@pytest.fixture(scope="module")
def reference(gate_workspace: Workspace) -> Engine:
    return gate_workspace.engine(REFERENCE)


@pytest.fixture
def reference_db(reference: Engine) -> Iterator[Database]:
    with reference.cloned_database() as db:
        yield db


# -- observing ------------------------------------------------------------------------------


def test_observe_the_reference_as_its_personas(reference_db: Database) -> None:
    seen = observe_access(reference_db, schemas=SCHEMAS)
    assert seen.personas[0] == "anon"
    assert seen.personas[-1] == "service_role"
    assert {"student", "teacher", "other_student"} <= set(seen.personas)
    users = seen.tables["public.users"]
    assert users.key == ("id",)
    assert users.rows is not None
    assert len(users.rows) == 11
    # docs/reference-platform.md: a student sees itself, its teachers and its school's admin
    student = seen.cells[("student", "public.users", "select")]
    assert student == Access("rows", frozenset({uid(1), uid(4), uid(5), uid(6), uid(10)}))
    assert seen.cells[("student", "public.users", "update")].keys == {uid(1)}
    assert seen.cells[("service_role", "public.users", "select")].keys == users.rows
    anon = seen.cells[("anon", "public.users", "select")]
    assert anon.state == "denied"
    assert anon.reason is not None
    assert "permission denied" in anon.reason
    assert not any(op == "insert" for (_, _, op) in seen.cells)  # no matrix, no candidates
    assert seen.labels["public.users"][uid(1)][0] == "student@school.test"
    # Nothing stayed behind: the observation ran in a transaction that was rolled back.
    assert reference_db.scalar("select count(*) from public.users") == 11


def test_the_project_matrix_adds_its_insert_candidates(
    reference: Engine, reference_db: Database
) -> None:
    matrix = load_matrix(MATRIX, reference.personas.names)
    seen = observe_access(reference_db, schemas=SCHEMAS, matrix=matrix)
    inserts = {k: v for k, v in seen.cells.items() if k[2] == "insert"}
    assert inserts, "the reference matrix has insert candidates"
    tables_with_candidates = {t for t, spec in matrix.spec.tables.items() if spec.insert}
    assert {table for (_, table, _) in inserts} == tables_with_candidates
    assert any(access.keys for access in inserts.values()), "some candidate is accepted"


def test_without_user_personas_the_seed_users_and_a_stranger_act(notes_engine: Engine) -> None:
    with notes_engine.cloned_database() as db:
        bare = Database(db.conn, Personas(notes_engine.signer), api=db.api)
        seen = observe_access(bare, schemas=["public"])
    assert seen.personas == ["anon", STRANGER, "alice@notes.test", "bob@notes.test", "service_role"]
    notes = seen.tables["public.notes"].rows
    assert notes is not None
    assert len(notes) == 3
    assert seen.cells[(STRANGER, "public.notes", "select")] == Access("rows")
    assert len(seen.cells[("alice@notes.test", "public.notes", "select")].keys) == 2
    assert len(seen.cells[("bob@notes.test", "public.notes", "update")].keys) == 1


def test_a_persona_whose_user_is_missing_is_left_out_with_a_note(notes_engine: Engine) -> None:
    with notes_engine.cloned_database() as db:
        seen = observe_access(db, schemas=["public"])
    assert "ghost" not in seen.personas
    assert "alice_mfa" in seen.personas
    assert any(n.startswith("ghost: left out") and "ghost@notes.test" in n for n in seen.notes)


def test_the_seed_personas_see_a_policy_that_opens_the_table(notes_engine: Engine) -> None:
    """Two clones of one template, the head with a `using (true)` policy: the fallback
    personas (no [personas] in the config) report who gained which notes."""
    with notes_engine.cloned_database() as base, notes_engine.cloned_database() as head:
        head.execute(
            "create policy everyone_reads on public.notes for select to authenticated using (true)"
        )
        bare = [Database(d.conn, Personas(notes_engine.signer), api=d.api) for d in (base, head)]
        diff = access_of_databases(*bare, schemas=["public"], base_label="base", head_label="head")
    assert diff.persona_source == "seed"
    assert diff.tables_added == diff.tables_dropped == []
    widened = {(c.persona, c.operation): len(c.gained) for c in diff.widens}
    assert widened == {
        (STRANGER, "select"): 3,
        ("alice@notes.test", "select"): 1,
        ("bob@notes.test", "select"): 2,
    }
    assert not diff.narrows
    line = next(c for c in diff.changes if c.persona == "bob@notes.test").line()
    assert line.startswith("bob@notes.test · public.notes · select: 1 row → 3 rows (+2: ids ")
    assert "'alice 1'" in line  # rows are named by their label column (body)


def test_an_access_diff_as_text_and_markdown(
    known_bad_report: Callable[[str], GateReport],
) -> None:
    diff = known_bad_report("20260301090200_staff_notes_using_true.sql").access
    assert diff is not None
    text = render_access(diff, "text")
    assert text.startswith("access: HEAD:supabase -> ")
    assert "6 access change(s): 6 widen, 0 narrow, 0 neutral" in text
    assert (
        "\nWIDENS (6)\n  + student · public.staff_notes · select: 0 rows → 3 rows (+3: ids " in text
    )
    markdown = render_access(diff, "markdown")
    assert markdown.startswith("### Access diff\n")
    assert "- **student**, **student2**" in markdown
    assert json.loads(render_access(diff, "json"))["counts"]["widens"] == 6


# -- comparing (no database) ----------------------------------------------------------------


def side(
    label: str,
    rows: set[tuple[str, ...]],
    cells: dict[tuple[str, str, str], Access],
    table: str = "public.t",
) -> AccessMap:
    seen = AccessMap(label, ["anon", "student", "service_role"])
    seen.tables[table] = TableFacts(table, ("id",), ("name",), frozenset(rows))
    seen.cells.update(cells)
    return seen


def keys(*ids: int) -> frozenset[tuple[str]]:
    return frozenset((str(i),) for i in ids)


def test_rows_gained_on_shared_data_widen_and_new_data_does_not() -> None:
    base = side(
        "base",
        {("1",), ("2",), ("3",)},
        {("student", "public.t", "select"): Access("rows", keys(1))},
    )
    head = side(
        "head",
        {("1",), ("2",), ("3",), ("4",)},
        {("student", "public.t", "select"): Access("rows", keys(1, 2, 4))},
    )
    diff = diff_access(base, head)
    [change] = diff.changes
    assert change.grade == "widens"
    assert change.gained == (("2",),)  # row 4 exists only on head: data, not access
    assert change.line() == "student · public.t · select: 1 row → 3 rows (+1: id 2)"
    assert change.sentence() == "can now read 1 row of `public.t` that was out of reach before (2)"
    assert diff.uncovered == [change]


def test_losing_rows_or_a_grant_narrows() -> None:
    base = side(
        "base",
        {("1",), ("2",)},
        {
            ("student", "public.t", "select"): Access("rows", keys(1, 2)),
            ("student", "public.t", "update"): Access("rows", keys(1)),
            ("anon", "public.t", "select"): Access("rows", keys(1)),
        },
    )
    head = side(
        "head",
        {("1",), ("2",)},
        {
            ("student", "public.t", "select"): Access("rows"),
            ("student", "public.t", "update"): Access("denied", reason="42501 permission denied"),
            ("anon", "public.t", "select"): Access("rows", keys(1)),
        },
    )
    diff = diff_access(base, head)
    assert [c.grade for c in diff.changes] == ["narrows", "narrows"]
    select, update = diff.changes
    assert select.sentence() == "can no longer read 2 rows of `public.t` (1, 2, none left)"
    assert update.line() == (
        "student · public.t · update: 1 row → denied (42501 permission denied) (-1: id 1)"
    )
    assert update.sentence() == (
        "can no longer update `public.t` at all (42501 permission denied: a missing grant; it "
        "reached 1 row)"
    )
    assert not diff.widens
    assert diff.counts() == {
        "widens": 0, "narrows": 2, "neutral": 0, "uncovered": 0, "lockouts": 2,
    }  # fmt: skip
    assert [c.locks_out for c in diff.changes] == [True, True]


def test_seeds_without_shared_keys_are_compared_by_count() -> None:
    base = side(
        "base",
        {("a",), ("b",)},
        {("student", "public.t", "select"): Access("rows", frozenset({("a",)}))},
    )
    head = side(
        "head",
        {("c",), ("d",)},
        {("student", "public.t", "select"): Access("rows", frozenset({("c",), ("d",)}))},
    )
    diff = diff_access(base, head)
    [change] = diff.changes
    assert change.by_count
    assert change.grade == "widens"
    assert "compared by count" in change.line()
    assert any("share no row keys" in n for n in diff.notes)


def test_an_accepted_insert_candidate_widens_and_tables_come_and_go() -> None:
    base = side("base", set(), {("student", "public.t", "insert"): Access("rows")})
    base.tables["public.old"] = TableFacts("public.old", ("id",), (), frozenset())
    head = side(
        "head", set(), {("student", "public.t", "insert"): Access("rows", frozenset({("other",)}))}
    )
    head.tables["public.new"] = TableFacts("public.new", ("id",), (), frozenset())
    diff = diff_access(base, head)
    [change] = diff.widens
    assert change.unit == "candidate"
    assert change.sentence() == "can now insert 'other' into `public.t`"
    assert diff.tables_added == ["public.new"]
    assert diff.tables_dropped == ["public.old"]


def test_a_passing_matrix_cell_covers_a_widening() -> None:
    base = side(
        "base", {("1",), ("2",)}, {("student", "public.t", "select"): Access("rows", keys(1))}
    )
    head = side(
        "head", {("1",), ("2",)}, {("student", "public.t", "select"): Access("rows", keys(1, 2))}
    )
    diff = diff_access(base, head)
    cell = Cell("student", "public.t", "select")
    passed = CellResult(cell, "m.yaml", None, expected=keys(1, 2), actual=keys(1, 2))
    failed = CellResult(cell, "m.yaml", None, expected=keys(1), actual=keys(1, 2))
    matrix = Matrix(MatrixSpec(personas=["student"]), Path("m.yaml"))
    diff.cover(MatrixRun(matrix, {cell: failed}, Untested()))
    assert diff.uncovered == diff.widens
    diff.cover(MatrixRun(matrix, {cell: passed}, Untested()))
    assert [c.covered for c in diff.widens] == [True]
    assert not diff.uncovered
