"""Known-bad migrations: each one makes the RLS suite fail on exactly the expected cells.

For every file in ``fixtures/known-bad/``: a clone of the reference database, the file
applied on top as the next migration (as ``postgres``, exactly as the Supabase CLI runs one),
then the whole access matrix (``check_matrix``) and every targeted test of this folder run
against it. What fails must be exactly what ``fixtures/known-bad/expected.yaml`` lists:
matrix cells with their failure kinds, and targeted tests by ``file::name``. A new known-bad
file needs only its entry there.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from rlsguard.database import Database
from rlsguard.matrix.check import check_matrix
from rlsguard.matrix.load import Matrix, load_matrix
from rlsguard.matrix.report import explain
from rlsguard.supabase.migrations import MigrationSession
from rlsguard.supabase.project import Migration
from rlsguard.workspace.build import connection_target

from .conftest import KNOWN_BAD, REPO

HERE = Path(__file__).parent
EXPECTED = KNOWN_BAD / "expected.yaml"
BAD_FILES = sorted(p.name for p in KNOWN_BAD.glob("*.sql"))
TargetedTest = Callable[[Database], None]


# Not targeted tests: this meta-test itself, and the isolation property (it runs the whole
# matrix on generated data states and has known-bad meta-tests of its own).
NOT_TARGETED = {Path(__file__).name, "test_isolation_properties.py"}


def targeted_tests() -> dict[str, TargetedTest]:
    """Every test of this folder that takes only a database: ``file::name`` -> function."""
    found: dict[str, TargetedTest] = {}
    for path in sorted(HERE.glob("test_*.py")):
        if path.name in NOT_TARGETED:
            continue
        module = importlib.import_module(f"{__package__}.{path.stem}")
        for name, fn in vars(module).items():
            if not name.startswith("test_") or not inspect.isfunction(fn):
                continue
            params = list(inspect.signature(fn).parameters)
            if params in (["rlsguard_db"], ["rlsguard_clone"]):
                found[f"{path.name}::{name}"] = fn
    return found


@dataclass
class Verdict:
    """What the RLS suite says about one database."""

    cells: dict[str, list[str]] = field(default_factory=dict)  # failing cell -> kinds
    tests: dict[str, str] = field(default_factory=dict)  # failing test -> first line of why
    explanations: dict[str, str] = field(default_factory=dict)


def judge(db: Database, matrix: Matrix, tests: dict[str, TargetedTest]) -> Verdict:
    """Run the matrix and every targeted test against ``db``; nothing is left behind."""
    verdict = Verdict()
    run = check_matrix(db, matrix)
    for result in run.failed:
        verdict.cells[result.cell.id] = result.kinds
        verdict.explanations[result.cell.id] = explain(result)
    for name, test in tests.items():
        db.conn.execute("BEGIN")  # as rlsguard_db: a transaction rolled back afterwards
        try:
            test(db)
        except (Exception, pytest.fail.Exception) as exc:
            verdict.tests[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        finally:
            db.conn.execute("ROLLBACK")
    return verdict


def apply_migration(engine: Any, dbname: str, path: Path) -> None:
    """Run ``path`` in ``dbname`` as the next migration, as ``supabase db push`` would."""
    version, _, name = path.stem.partition("_")
    migration = Migration(path, f"supabase/migrations/{path.name}", path.read_text(), version, name)
    with MigrationSession(connection_target(engine), dbname) as session:
        session.run(migration, "migration")


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    return yaml.safe_load(EXPECTED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def matrix(rlsguard_engine: Any) -> Matrix:
    return load_matrix(REPO / "fixtures" / "rls_matrix.yaml", rlsguard_engine.personas.names)


@pytest.fixture(scope="module")
def tests() -> dict[str, TargetedTest]:
    return targeted_tests()


@pytest.fixture
def bad_database(rlsguard_engine: Any, request: pytest.FixtureRequest) -> Iterator[Database]:
    with rlsguard_engine.cloned_database() as db:
        apply_migration(rlsguard_engine, db.name, KNOWN_BAD / request.param)
        yield db


def test_every_known_bad_file_has_an_expected_entry(expected: dict[str, Any]) -> None:
    assert sorted(expected) == BAD_FILES
    for name, entry in expected.items():
        assert set(entry) <= {"cells", "tests"}, name


def test_the_targeted_tests_are_all_found(tests: dict[str, TargetedTest]) -> None:
    # A test that took other fixtures would be silently left out of the meta-test.
    count = sum(
        1
        for path in HERE.glob("test_*.py")
        if path.name not in NOT_TARGETED
        for line in path.read_text().splitlines()
        if line.startswith("def test_")
    )
    assert len(tests) == count


def test_the_reference_passes_everything(
    rlsguard_engine: Any, matrix: Matrix, tests: dict[str, TargetedTest]
) -> None:
    """The baseline: with no bad migration nothing fails, so every failure below is the file's."""
    with rlsguard_engine.cloned_database() as db:
        verdict = judge(db, matrix, tests)
    assert (verdict.cells, verdict.tests) == ({}, {})


@pytest.mark.parametrize("bad_database", BAD_FILES, indirect=True)
def test_the_suite_fails_exactly_where_expected(
    bad_database: Database,
    matrix: Matrix,
    tests: dict[str, TargetedTest],
    expected: dict[str, Any],
    request: pytest.FixtureRequest,
) -> None:
    verdict = judge(bad_database, matrix, tests)
    entry = expected[request.node.callspec.params["bad_database"]]
    wanted_cells = {cell: list(kinds) for cell, kinds in (entry.get("cells") or {}).items()}
    wanted_tests = sorted(entry.get("tests") or [])
    surplus = {c: verdict.explanations[c] for c in verdict.cells if c not in wanted_cells}
    assert not surplus, "cells that fail but are not expected to:\n" + "\n".join(surplus.values())
    assert verdict.cells == wanted_cells
    assert sorted(verdict.tests) == wanted_tests, verdict.tests
