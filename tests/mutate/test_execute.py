"""Mutants of the reference platform, run for real: killed by the matrix, alive under a
weakened one (the meta-test), broken SQL reported, everything rolled back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rlsguard.catalog.surface import Catalog, read_catalog
from rlsguard.cli.mutate import MatrixJudge, lint_keys
from rlsguard.matrix.load import Matrix, load_matrix
from rlsguard.mutate.execute import run_mutants, run_one, triage
from rlsguard.mutate.generate import generate
from rlsguard.mutate.model import Mutant

REPO = Path(__file__).resolve().parents[2]
MATRIX = REPO / "fixtures" / "rls_matrix.yaml"
SCHEMAS = ["public", "graphql_public"]
# users_select_self: 'id = (select auth.uid())'; the matrix's public.users select cells
# are what kill its mutants.
TARGET = "public.users.users_select_self/"


@pytest.fixture(scope="module")
def db(rlsguard_engine: Any) -> Iterator[Any]:
    if Path(rlsguard_engine.supabase_dir).resolve() != REPO / "supabase":
        pytest.skip("mutants of the reference platform (supabase/)")
    with rlsguard_engine.cloned_database() as database:
        yield database


@pytest.fixture(scope="module")
def catalog(db: Any) -> Catalog:
    return read_catalog(db.conn, SCHEMAS)


@pytest.fixture(scope="module")
def matrix(rlsguard_engine: Any) -> Matrix:
    return load_matrix(MATRIX, rlsguard_engine.personas.names)


def judge(db: Any, matrix: Matrix) -> MatrixJudge:
    return MatrixJudge(db, matrix, SCHEMAS, lint_keys(db.conn, SCHEMAS))


def policies(db: Any) -> int:
    return int(db.conn.execute("select count(*) from pg_policy").fetchone()[0])


def test_the_reference_matrix_kills_every_mutant_of_a_policy(
    db: Any, catalog: Catalog, matrix: Matrix
) -> None:
    mutants = [m for m in generate(catalog) if m.id.startswith(TARGET)]
    assert {m.operator for m in mutants} >= {"drop_policy", "using:true", "using:flip_equality"}
    before = policies(db)
    decided, to_run = triage(mutants, catalog)
    run = run_mutants(to_run, [judge(db, matrix)], decided=decided)
    assert run.by_status("survived") == []
    assert run.counts["killed"] == len(to_run) > 0
    killers = {k for o in run.by_status("killed") for k in o.killed_by}
    assert any("public.users-select" in k for k in killers)
    assert policies(db) == before  # every mutant was rolled back


def test_a_weakened_matrix_leaves_those_mutants_alive_with_a_cell_that_kills_them(
    db: Any, catalog: Catalog, tmp_path: Path, rlsguard_engine: Any
) -> None:
    spec = yaml.safe_load(MATRIX.read_text(encoding="utf-8"))
    select = spec["tables"]["public.users"]["select"]
    spec["tables"]["public.users"]["select"] = {p: "all" if p == "service_role" else "none"
                                               for p in select}  # fmt: skip
    weak_file = tmp_path / "weak.yaml"
    weak_file.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    # A matrix that expects nothing of users' SELECT ... except the weakened file must still
    # pass on the original, so keep only the cells unrelated to users' rows.
    weak = load_matrix(weak_file, rlsguard_engine.personas.names)
    cells = [c for c in weak.cells() if not (c.table == "public.users" and c.operation == "select")]
    del spec["tables"]["public.users"]["select"]
    weak_file.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    weak = load_matrix(weak_file, rlsguard_engine.personas.names)
    assert len(weak.cells()) == len(cells)
    # (using:true would still die: lint's rls_policy_always_true is a check of the suite too)
    wanted = {f"{TARGET}using:flip_equality#0", f"{TARGET}using:uid_always_true#0"}
    mutants = [m for m in generate(catalog) if m.id in wanted]
    # Lint reads `(select auth.uid()) is not null` as admitting every row for signed-in users,
    # so it kills uid_always_true even under the weak matrix ...
    [signed_in] = [m for m in mutants if m.id.endswith("uid_always_true#0")]
    linted = run_mutants([signed_in], [judge(db, weak)])
    [outcome] = linted.by_status("killed")
    waived = {tuple(k.split(":", 2)[1:]) for k in outcome.killed_by}
    assert all(k.startswith("lint:") for k in outcome.killed_by)
    assert ("rls_policy_always_true", "public.users") in waived
    # ... so the weakened suite here also waives those findings: only the matrix is judged.
    weak_judge = MatrixJudge(db, weak, SCHEMAS, lint_keys(db.conn, SCHEMAS) | waived)
    run = run_mutants(mutants, [weak_judge])
    survivors = {o.mutant.id: o for o in run.by_status("survived")}
    # Every user still reads their own row and more: only the SELECT cells could tell.
    assert set(survivors) == {f"{TARGET}using:uid_always_true#0"}
    # Not reading one's own row any more still shows: updating it fails.
    (flipped,) = run.by_status("killed")
    assert all("public.users-update" in k or "public.users-changes" in k
               for k in flipped.killed_by)  # fmt: skip
    suggestion = yaml.safe_load(survivors[f"{TARGET}using:uid_always_true#0"].suggestion)
    # The original lets a student read exactly the users the real matrix lists; the mutant
    # lets them read every user: the suggested cell is the original's rows.
    cells = suggestion["tables"]["public.users"]["select"]
    assert "student" in cells
    assert cells["student"] != "all"


def test_a_mutant_the_server_refuses_is_an_error_not_a_kill(db: Any, matrix: Matrix) -> None:
    broken = Mutant(
        "public.users/broken", "broken", "public.users", "table",
        ("ALTER TABLE public.users ALTER COLUMN nope TYPE int",), "", "",
    )  # fmt: skip
    outcome = run_one(judge(db, matrix), broken)
    assert outcome.status == "error"
    assert "42703" in outcome.reason
    assert db.conn.execute("select 1").fetchone() == (1,)  # the connection is usable again
