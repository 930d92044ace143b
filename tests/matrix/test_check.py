"""The checker against real databases: right files pass, wrong ones fail with rows and policies."""

from __future__ import annotations

import pytest

from rlsguard.database import Database
from rlsguard.matrix.check import Checker, check_matrix
from rlsguard.matrix.load import Matrix, load_matrix, parse_matrix
from rlsguard.matrix.report import explain, summary

from .conftest import DATA


def test_the_notes_matrix_passes_in_one_round_trip(
    notes_db: Database, notes_matrix: Matrix
) -> None:
    run = check_matrix(notes_db, notes_matrix)
    assert [r.cell.id for r in run.failed] == []
    assert len(run.results) == 19
    assert run.round_trips == 1  # no UPDATE or DELETE failed as a whole
    assert run["anon-public.notes-select"].denied is not None  # permission denied = no rows
    assert run["alice-public.notes-update"].actual == {("1",), ("2",)}
    assert run["bob-public.notes-insert"].candidates[1].outcome == "accepted"
    assert run["alice-public.notes-insert"].candidates[1].outcome == "rls"
    assert run["service_role-public.notes-insert"].candidates[0].outcome == "grant"


def test_the_shop_matrix_passes(shop_db: Database, shop_matrix: Matrix) -> None:
    run = check_matrix(shop_db, shop_matrix, schemas=["public"])
    assert [r.cell.id for r in run.failed] == []
    # Order 10 has items (ON DELETE RESTRICT): the delete runs in replica mode, so the foreign
    # key does not refuse it and RLS alone decides, in one statement (no retry row by row).
    cancel = run["customer-public.orders-delete"]
    assert cancel.fell_back is None
    assert cancel.actual == {("10",), ("11",)}
    assert run["customer-public.order_items-select"].actual == {("10", "1"), ("10", "2")}
    assert run["staff-public.audit_log-select"].actual == {
        ("aaaaaaaa-0000-0000-0000-000000000002", "restocked")
    }
    # Column grants leave out id and shop_id: the no-op update sets title = title.
    assert run["staff-public.products-update"].actual == {("1",), ("2",), ("3",)}
    assert run["customer-public.orders-update"].denied is not None  # no UPDATE grant


def test_wrong_expectations_fail_with_their_kinds(notes_db: Database) -> None:
    matrix = load_matrix(DATA / "notes_wrong.yaml", notes_db.personas.names)
    run = check_matrix(notes_db, matrix)
    kinds = {r.cell.id: r.kinds for r in run.results.values()}
    assert kinds == {
        "anon-public.notes-select": ["grant"],
        "alice-public.notes-select": ["missing"],
        "bob-public.notes-select": [],
        "service_role-public.notes-select": ["unexpected"],
        "anon-public.notes-insert": ["grant"],
        "alice-public.notes-insert": ["missing"],
        "bob-public.notes-insert": ["unexpected"],
        "alice-public.notes-update": ["missing", "unexpected"],
        "service_role-public.notes-update": ["grant"],
        "alice-public.notes-delete": ["missing"],
    }
    update = run["alice-public.notes-update"]
    assert (update.unexpected, update.missing) == ({("2",)}, {("3",)})


def test_a_failure_shows_rows_predicate_and_policies(notes_db: Database) -> None:
    matrix = load_matrix(DATA / "notes_wrong.yaml", notes_db.personas.names)
    run = check_matrix(notes_db, matrix)
    text = explain(run["alice-public.notes-update"])
    assert "alice: UPDATE on public.notes: 2 row(s), 2 expected; 1 unexpected; 1 missing" in text
    assert f"file: {DATA / 'notes_wrong.yaml'}:11 (tables.public.notes.update.alice)" in text
    assert (
        "unexpected rows (affected under RLS, not allowed by the oracle): 1\n"
        "    id=2  body='alice 2'"
    ) in text
    assert (
        "missing rows (allowed by the oracle, not affected under RLS): 1\n    id=3  body='bob 1'"
        in text
    )
    assert "'owners edit their notes' PERMISSIVE UPDATE TO authenticated" in text
    assert "USING ((( SELECT auth.uid() AS uid) = owner_id))" in text
    assert "WITH CHECK ((( SELECT auth.uid() AS uid) = owner_id))" in text
    assert "'owners read their notes' PERMISSIVE SELECT" in text  # RETURNING reads the rows
    delete = explain(run["alice-public.notes-delete"])
    assert "expected: rows where owner_id = :uid" in delete
    assert "with :uid = '11111111-1111-1111-1111-111111111111'" in delete
    assert "no DELETE policy applies to authenticated: RLS lets no row through" in delete


def test_a_missing_grant_is_its_own_kind_of_failure(notes_db: Database) -> None:
    matrix = load_matrix(DATA / "notes_wrong.yaml", notes_db.personas.names)
    run = check_matrix(notes_db, matrix)
    insert = explain(run["anon-public.notes-insert"])
    assert (
        "FAIL candidate #0 'own' {owner_id: NULL, body: 'mine'}: expected accepted, got "
        "rejected by a missing grant: permission denied for table notes (42501)"
    ) in insert
    assert "privileges of anon on public.notes: none" in insert
    select = explain(run["anon-public.notes-select"])
    assert "denied by a missing grant: permission denied for table notes (42501)" in select
    assert "missing rows (allowed by the oracle, not visible under RLS): 3" in select
    bypass = explain(run["service_role-public.notes-select"])
    assert "service_role bypasses RLS (BYPASSRLS)" in bypass


def test_untested_personas_tables_operations_and_cells(
    scratch_notes_db: Database, notes_matrix: Matrix
) -> None:
    scratch_notes_db.execute("create table public.tags (id int primary key)")
    scratch_notes_db.execute("create table private_stuff (id int)")  # in public too
    scratch_notes_db.execute("create schema hidden; create table hidden.t (id int)")
    run = check_matrix(scratch_notes_db, notes_matrix)
    assert run.untested.personas == ["ghost"]
    assert run.untested.tables == ["public.private_stuff", "public.tags"]
    assert run.untested.operations == []
    assert run.untested.cells == [("public.notes", "delete", ["alice_mfa"])]
    text = summary(run)
    assert "untested: personas not in personas: ghost" in text
    assert "untested: tables not in tables: public.private_stuff, public.tags" in text
    assert "untested: public.notes delete: not for alice_mfa" in text


def test_row_errors_and_disabled_rls_are_reported(scratch_notes_db: Database) -> None:
    db = scratch_notes_db
    db.execute(
        "create function public.frozen() returns trigger language plpgsql as $$ begin "
        "if old.body = 'alice 2' then raise exception 'note % is frozen', old.id; end if; "
        "return new; end $$; "
        "create trigger frozen before update on public.notes for each row "
        "execute function public.frozen()"
    )
    matrix = parse_matrix(
        "personas: [alice, bob]\ntables:\n  public.notes:\n    update:\n"
        "      alice: owner_id = :uid\n    select:\n      bob: owner_id = :uid\n",
        personas=db.personas.names,
    )
    update = Checker(db, matrix).run()["alice-public.notes-update"]
    assert update.kinds == ["error", "missing"]
    assert update.actual == {("1",)}
    text = explain(update)
    assert "so each row was tried alone" in text
    assert "id=2: note 2 is frozen (P0001)" in text

    db.execute("alter table public.notes disable row level security")
    select = Checker(db, matrix).run()["bob-public.notes-select"]
    assert select.unexpected == {("1",), ("2",)}
    assert "RLS is DISABLED on the table" in explain(select)


@pytest.mark.parametrize(
    ("yaml_table", "key", "reason"),
    [
        ("public.notes: {key: [nope], select: {alice: all}}", "tables.public.notes.key",
         "no column 'nope' in public.notes (columns: id, owner_id, body, created_at)"),
        ("public.notes: {label: nope, select: {alice: all}}", "tables.public.notes.label",
         "no column 'nope'"),
        ("public.nokey: {select: {alice: all}}", "tables.public.nokey",
         "public.nokey has no primary key; add key:"),
        ("public.notes: {select: {alice: {keys: [[1, 2]]}}}",
         "tables.public.notes.select.alice.keys[0]", "has 2 value(s) but the key has 1"),
        ("public.notes: {select: {alice: {keys: [x]}}}", "tables.public.notes.select.alice.keys",
         'invalid input syntax for type bigint: "x" (22P02)'),
        ("public.notes: {select: {alice: owner_id = 5}}",
         "tables.public.notes.select.alice", "operator does not exist: uuid = integer (42883)"),
        ("public.notes: {insert: {candidates: [{values: {nope: 1}}], accept: {alice: all}}}",
         "tables.public.notes.insert.candidates[0].values.nope", "no column 'nope'"),
    ],
)  # fmt: skip
def test_problems_found_against_the_database(
    scratch_notes_db: Database, yaml_table: str, key: str, reason: str
) -> None:
    scratch_notes_db.execute("create table public.nokey (x int)")
    matrix = parse_matrix(
        f"personas: [alice]\ntables:\n  {yaml_table}\n", personas=scratch_notes_db.personas.names
    )
    run = Checker(scratch_notes_db, matrix).run()
    (problem,) = run.problems
    assert problem.key == key
    assert reason in problem.reason
    assert all(r.status == "error" for r in run.results.values())


def test_a_persona_without_its_user_is_a_problem_of_its_cells(notes_db: Database) -> None:
    matrix = parse_matrix(
        "personas: [alice, ghost]\ntables: {public.notes: {select: {alice: owner_id = :uid, "
        "ghost: none}}}\n",
        personas=notes_db.personas.names,
    )
    run = check_matrix(notes_db, matrix)
    assert run["alice-public.notes-select"].passed
    problem = run["ghost-public.notes-select"].problem
    assert problem is not None
    assert problem.key == "personas[1]"
    assert "ghost@notes.test" in problem.reason


def test_inside_a_test_transaction_nothing_changes(
    notes_db: Database, notes_matrix: Matrix
) -> None:
    conn = notes_db.conn
    conn.execute("BEGIN")
    try:
        new = notes_db.scalar(
            "insert into public.notes (owner_id, body) values "
            "('11111111-1111-1111-1111-111111111111', 'in the test') returning id::text"
        )
        run = check_matrix(notes_db, notes_matrix)
        # alice now sees 3 notes, and so does the oracle: the run sees the test's data.
        assert run["alice-public.notes-select"].actual == {("1",), ("2",), (new,)}
        # Predicates follow the data; a key list does not.
        assert [r.cell.id for r in run.failed] == ["alice_mfa-public.notes-update"]
        assert notes_db.scalar("select count(*) from public.notes") == 4
    finally:
        conn.execute("ROLLBACK")
    assert notes_db.scalar("select count(*) from public.notes") == 3


def test_helper_and_plain_runs_agree(shop_db: Database, shop_matrix: Matrix) -> None:
    batched = check_matrix(shop_db, shop_matrix)
    plain = check_matrix(shop_db, shop_matrix, executor="plain")
    assert {c: (r.actual, r.expected, r.kinds) for c, r in batched.results.items()} == {
        c: (r.actual, r.expected, r.kinds) for c, r in plain.results.items()
    }
    assert batched.round_trips < plain.round_trips


def test_uid_for_a_persona_without_a_user_is_warned(notes_db: Database) -> None:
    text = (
        "version: 1\npersonas: [anon, alice]\ntables:\n  public.notes:\n    select:\n"
        "      anon: owner_id = :uid\n      alice: owner_id = :uid\n"
    )
    matrix = parse_matrix(text, personas=notes_db.personas.names)
    run = check_matrix(notes_db, matrix)
    [warning] = run.warnings
    assert warning.startswith("anon-public.notes-select: :uid is NULL for persona 'anon'")
