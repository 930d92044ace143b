"""A security check that checked nothing never passes.

Each case used to end green (or with "no tests ran") while not a single cell
was checked; now the session fails once, with the message the CLI prints.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.matrix.conftest import DATA
from tests.pytest.test_matrix import make_project, pytest_in


@pytest.fixture
def project(tmp_path: Path, notes_project: Path) -> Path:
    return make_project(tmp_path / "repo", notes_project, DATA / "notes.yaml")


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("\n[postgres]\nmax_conections = 5\n", "postgres.max_conections"),
        ("\n[postgres]\nmax_connections = 'many'\n", "postgres.max_connections"),
        ('\nmatrix = "fixtures/rls_matrx.yaml"\n', "rls_matrx.yaml"),
    ],
    ids=["unknown-key", "wrong-type", "matrix-typo"],
)
def test_a_broken_config_fails_the_session_once(
    project: Path, template_cache_dir: Path, toml: str, named: str
) -> None:
    config = project / "rlsguard.toml"
    # Top-level keys must precede the persona tables of the notes project.
    text = config.read_text()
    config.write_text(toml + text if toml.startswith("\nmatrix") else text + toml)
    result = pytest_in(project, cache=template_cache_dir)
    out = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert named in out
    assert "rlsguard.toml" in out
    assert out.count(named) <= 2  # once (pytest may echo the usage line), not per item
    assert "passed" not in result.stdout


def test_a_missing_supabase_dir_fails_the_session(project: Path, template_cache_dir: Path) -> None:
    result = pytest_in(project, "--supabase-dir", "supabse", cache=template_cache_dir)
    out = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert "--supabase-dir" in out
    assert "supabse" in out


def test_a_matrix_without_cells_is_not_a_pass(project: Path, template_cache_dir: Path) -> None:
    (project / "fixtures" / "rls_matrix.yaml").write_text(
        "version: 1\npersonas: [anon]\ntables: {}\n"
    )
    result = pytest_in(project, "-m", "rls", cache=template_cache_dir)
    out = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.INTERRUPTED, out
    assert "the matrix has no cells" in out
    allowed = pytest_in(
        project, "-m", "rls", "--rlsguard-allow-empty", "--co", cache=template_cache_dir
    )
    assert "the matrix has no cells" not in allowed.stdout + allowed.stderr
    assert allowed.returncode in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)


@pytest.fixture
def cli_cache(monkeypatch: pytest.MonkeyPatch, template_cache_dir: Path) -> None:
    monkeypatch.setenv("RLSGUARD_CACHE_DIR", str(template_cache_dir))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.mark.usefixtures("cli_cache")
def test_a_probe_whose_personas_cannot_act_is_not_a_pass(notes_project: Path) -> None:
    """``--persona ghost`` (no such user seeded) used to fall back to anon and exit 0."""
    from typer.testing import CliRunner

    from rlsguard.cli import app

    args = ["probe", "--supabase-dir", str(notes_project), "--persona", "ghost"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "nothing was checked" in result.output
    assert "ghost" in result.output
    allowed = CliRunner().invoke(app, [*args, "--allow-empty"])
    assert allowed.exit_code == 0, allowed.output


@pytest.mark.usefixtures("cli_cache")
def test_matrix_check_of_an_empty_matrix_is_not_a_pass(notes_project: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rlsguard.cli import app

    empty = tmp_path / "empty.yaml"
    empty.write_text("version: 1\npersonas: [anon]\ntables: {}\n")
    args = ["matrix", "check", "--supabase-dir", str(notes_project), "--matrix", str(empty)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "nothing was checked" in result.output
    assert CliRunner().invoke(app, [*args, "--allow-empty"]).exit_code == 0


def test_a_migration_that_would_lose_work_is_never_cached(
    tmp_path: Path, notes_project: Path, template_cache_dir: Path
) -> None:
    """``commit; begin;`` used to build (and cache) a template with empty tables."""
    import json
    import shutil

    from rlsguard.config import load_config
    from rlsguard.harness.engine import Engine, EngineOptions
    from rlsguard.harness.templates import TemplateCache
    from rlsguard.supabase import MigrationError

    project = tmp_path / "app" / "supabase"
    shutil.copytree(notes_project, project)
    name = "99999999999999_open.sql"
    (project / "migrations" / name).write_text("commit;\nbegin;\nselect 1;\n")
    config = load_config(supabase_dir=project)
    config = config.model_copy(
        update={"cache": config.cache.model_copy(update={"dir": template_cache_dir})}
    )
    with pytest.raises(MigrationError, match=rf"supabase/migrations/{name}:2:1"):
        Engine(config, EngineOptions(supabase_dir=project)).open()
    for entry in TemplateCache(template_cache_dir / "templates").entries():
        inputs = json.loads((entry / "meta.json").read_text())["inputs"]
        assert not any(name in part for part in inputs), entry
