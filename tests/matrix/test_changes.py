"""``changes:``: updates that change rows, accepted or rejected per persona (WITH CHECK).

A no-op update (``set id = id``) cannot see what a row may be changed *into*; a policy that
lost its WITH CHECK keeps every no-op cell green. Changes apply real new values to the rows
the persona may update and classify the result like insert candidates.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsguard.database import Database
from rlsguard.errors import MatrixError
from rlsguard.matrix.check import check_matrix
from rlsguard.matrix.load import Cell, parse_matrix
from rlsguard.matrix.report import explain, summary

ALICE, BOB = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
PERSONAS = ["anon", "alice", "bob", "service_role"]

CHANGES = f"""\
personas: [anon, alice, bob, service_role]
tables:
  public.notes:
    label: [body]
    update:
      alice: owner_id = :uid
      bob: owner_id = :uid
    changes:
      candidates:
        - name: edit
          sql: {{body: "body || ' (edited)'"}}
        - name: give_to_bob
          set: {{owner_id: {BOB}}}
        - name: first_only
          set: {{body: first}}
          where: id = 1
      accept:
        anon: none                 # no UPDATE grant at all
        alice: [edit, first_only]  # give_to_bob breaks her WITH CHECK
        bob: [edit, give_to_bob]   # his own already; first_only: not his row, no change
        service_role: none         # no UPDATE grant
"""


def outcomes(run: object, persona: str) -> dict[str, tuple[str, int | None]]:
    result = run[f"{persona}-public.notes-changes"]  # type: ignore[index]
    return {c.name: (c.outcome, c.target) for c in result.candidates}


def test_changes_are_cells_right_after_update() -> None:
    matrix = parse_matrix(CHANGES, personas=PERSONAS)
    cells = matrix.cells()
    assert [c.operation for c in cells] == ["update"] * 2 + ["changes"] * 4
    cell = Cell("alice", "public.notes", "changes")
    assert cell.id == "alice-public.notes-changes"
    assert cell.key == "tables.public.notes.changes.accept.alice"
    assert matrix.expectation(cell).accept == frozenset({0, 2})
    assert matrix.line(cell.key) == 19


def test_each_change_is_applied_to_the_personas_rows_and_classified(notes_db: Database) -> None:
    run = check_matrix(notes_db, parse_matrix(CHANGES, personas=PERSONAS))
    assert [r.cell.id for r in run.failed] == []
    assert run.round_trips == 2  # the rows first, then the updates that change them
    assert outcomes(run, "alice") == {
        "edit": ("accepted", 2),
        "give_to_bob": ("rls", 2),  # new row violates row-level security policy
        "first_only": ("accepted", 1),
    }
    assert outcomes(run, "bob") == {
        "edit": ("accepted", 1),
        "give_to_bob": ("accepted", 1),  # his own already: WITH CHECK holds
        "first_only": ("unchanged", 0),  # note 1 is not among his rows
    }
    assert outcomes(run, "anon") == {  # no update: entry, so every row; the grant refuses
        "edit": ("grant", 3), "give_to_bob": ("grant", 3), "first_only": ("grant", 1),
    }  # fmt: skip
    assert run["alice-public.notes-changes"].candidates[0].changed == (("1",), ("2",))
    assert notes_db.scalar("select count(*) from public.notes where body like '%edited%'") == 0


def test_a_loose_with_check_fails_the_changes_cell_only(scratch_notes_db: Database) -> None:
    db = scratch_notes_db
    # Notes everyone may read, and an edit policy whose WITH CHECK no longer holds the owner:
    # alice may now give her notes away. Every no-op cell stays as it was.
    db.execute(
        'create policy "everyone reads" on public.notes for select to authenticated '
        "using (true); "
        'drop policy "owners edit their notes" on public.notes; '
        'create policy "owners edit their notes" on public.notes for update to authenticated '
        "using ((select auth.uid()) = owner_id) with check (true)"
    )
    run = check_matrix(db, parse_matrix(CHANGES, personas=PERSONAS))
    assert [(r.cell.id, r.kinds) for r in run.failed] == [
        ("alice-public.notes-changes", ["unexpected"])
    ]
    text = explain(run["alice-public.notes-changes"])
    assert "alice: UPDATE (changes) on public.notes: 3 of 3 changes accepted, 2 expected" in text
    assert (
        f"FAIL change #1 'give_to_bob' set {{owner_id: '{BOB}'}} on 2 row(s): expected "
        "rejected, got ACCEPTED (2 row(s) changed)"
    ) in text
    assert "ok   change #0 'edit' set {body: (body || ' (edited)')} on 2 row(s)" in text
    assert "with :uid = '11111111-1111-1111-1111-111111111111'" in text
    assert "WITH CHECK (true)" in text
    assert "FAIL alice-public.notes-changes: unexpected" in summary(run)


def test_an_expected_change_that_is_refused_is_missing(notes_db: Database) -> None:
    text = CHANGES.replace("alice: [edit, first_only]", "alice: all")
    run = check_matrix(notes_db, parse_matrix(text, personas=PERSONAS))
    result = run["alice-public.notes-changes"]
    assert result.kinds == ["missing"]
    assert "FAIL change #1 'give_to_bob'" in explain(result)
    assert "got rejected by RLS: new row violates row-level security policy" in explain(result)


def test_changes_follow_a_key_list_and_none(notes_db: Database) -> None:
    text = CHANGES.replace("alice: owner_id = :uid", "alice: {keys: [2]}").replace(
        "bob: owner_id = :uid", "bob: none"
    )
    run = check_matrix(notes_db, parse_matrix(text, personas=PERSONAS))
    assert outcomes(run, "alice")["edit"] == ("accepted", 1)
    assert outcomes(run, "alice")["first_only"] == ("unchanged", 0)
    assert outcomes(run, "bob") == {
        "edit": ("unchanged", 0), "give_to_bob": ("unchanged", 0), "first_only": ("unchanged", 0),
    }  # fmt: skip
    assert [r.cell.id for r in run.failed if r.cell.operation == "changes"] == [
        "alice-public.notes-changes",  # first_only expected, but 1 is not in her key list
        "bob-public.notes-changes",  # edit expected, but he may update nothing
    ]


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ("set: {body: first}", "set: {nope: first}",
         "tables.public.notes.changes.candidates[2].set.nope", "no column 'nope' in public.notes"),
        ("where: id = 1", "where: idd = 1",
         "tables.public.notes.changes.candidates[2].where", 'column "idd" does not exist (42703)'),
    ],
)  # fmt: skip
def test_problems_found_against_the_database(
    notes_db: Database, old: str, new: str, key: str, reason: str
) -> None:
    run = check_matrix(notes_db, parse_matrix(CHANGES.replace(old, new), personas=PERSONAS))
    (problem,) = run.problems
    assert (problem.key, problem.line) == (key, 15 if "set" in old else 16)
    assert reason in problem.reason
    assert run["alice-public.notes-update"].passed  # other cells still run


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ("          set: {body: first}\n", "",
         "tables.public.notes.changes.candidates[2]", "a change needs set: or sql:"),
        ("set: {body: first}", "set: {body: a}\n          sql: {body: b}",
         "tables.public.notes.changes.candidates[2].sql.body",
         "column body is set both under set and under sql"),
        ("set: {body: first}", "set: {body: ':nope'}",
         "tables.public.notes.changes.candidates[2].set.body", "unknown parameter ':nope'"),
        ("where: id = 1", "where: id = = 1",
         "tables.public.notes.changes.candidates[2].where", "invalid SQL predicate"),
        ("where: id = 1", "where: owner_id = auth.uid()",
         "tables.public.notes.changes.candidates[2].where", "auth.uid() reads the request"),
        ("where: id = 1", "wher: id = 1",
         "tables.public.notes.changes.candidates[2].wher", "did you mean 'where'?"),
        ("bob: [edit, give_to_bob]", "bob: [edit, nope]",
         "tables.public.notes.changes.accept.bob[1]", "no candidate named 'nope'"),
        ("bob: [edit, give_to_bob]", "carol: [edit]",
         "tables.public.notes.changes.accept.carol", "persona 'carol' is not listed"),
    ],
)  # fmt: skip
def test_malformed_changes(old: str, new: str, key: str, reason: str) -> None:
    with pytest.raises(MatrixError) as caught:
        parse_matrix(CHANGES.replace(old, new), source=Path("m.yaml"), personas=PERSONAS)
    problem = caught.value.problems[0]
    assert problem.key == key
    assert reason in problem.reason
    assert problem.line is not None


def test_personas_a_changes_section_leaves_out_are_untested(notes_db: Database) -> None:
    text = CHANGES.replace("        service_role: none         # no UPDATE grant\n", "")
    run = check_matrix(notes_db, parse_matrix(text, personas=PERSONAS))
    assert ("public.notes", "changes", ["service_role"]) in run.untested.cells
    assert "untested: public.notes changes: not for service_role" in summary(run)
