"""User text that looks like rich markup is printed as it is, by every command.

``[/b]`` in a failing statement used to crash the report with a MarkupError (the real error
lost), ``[bold red]`` vanished from the user's SQL (the caret then pointed at the wrong
column) and ``[personas.<name>]`` vanished from hints.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlsguard.cli import app
from tests.reliability.clirun import copy_notes, rlsguard

MARKUP = "[bold red]no[/b]where[/]"
BROKEN_SQL = "select '[bold red]' as x, '[/b]' from public.nope;\n"


@pytest.fixture
def broken_sql_project(tmp_path: Path) -> Path:
    project = copy_notes(tmp_path / "p")
    (project / "supabase" / "migrations" / "20250102000000_markup.sql").write_text(
        "create table public.t (id int);\n" + BROKEN_SQL, encoding="utf-8"
    )
    return project


def test_a_failing_statement_with_markup_is_shown_verbatim_with_the_caret_under_the_error(
    broken_sql_project: Path, template_cache_dir: Path, run_root: Path
) -> None:
    ran = rlsguard("lint", cwd=broken_sql_project, cache=template_cache_dir, run_root=run_root)
    assert ran.code == 2, ran
    assert "Traceback" not in ran.stderr, ran
    assert ran.first_line.startswith("error: supabase/migrations/20250102000000_markup.sql:2:"), ran
    lines = ran.stderr.splitlines()
    sql_line = next(line for line in lines if "public.nope" in line and "|" in line)
    assert sql_line.endswith(BROKEN_SQL.strip().rstrip(";")), ran
    caret_line = lines[lines.index(sql_line) + 1]
    assert caret_line.index("^") == sql_line.index("public.nope"), ran
    assert ran.leftovers == []


# Every command, given a --supabase-dir whose name is markup: the path comes back verbatim.
COMMANDS = [
    ["lint"],
    ["probe"],
    ["up"],
    ["snapshot"],
    ["diff", "--base", "HEAD"],
    ["blame"],
    ["rollback", "--to", "HEAD"],
    ["matrix", "check"],
    ["matrix", "record", "-o", "-"],
    ["gate", "--base", "HEAD"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_path_with_markup_is_named_verbatim(command: list[str], tmp_path: Path) -> None:
    folder = tmp_path / MARKUP
    result = CliRunner().invoke(app, [*command, "--supabase-dir", str(folder)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert f"{tmp_path}/[bold red]no[/b]where[" in result.output, result.output


def test_doctor_shows_a_config_key_with_markup_verbatim(tmp_path: Path) -> None:
    (tmp_path / "supabase").mkdir()
    (tmp_path / "rlsguard.toml").write_text('[postgres]\n"[/b]x" = 1\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["doctor", "--supabase-dir", str(tmp_path / "supabase")])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert 'postgres."[/b]x"' in result.output, result.output


def test_a_matrix_hint_and_a_persona_name_with_markup_survive(
    tmp_path: Path, template_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_notes(tmp_path / "p")
    matrix = project / "[red]matrix.yaml"
    matrix.write_text(
        "personas: [alice, 'ev[/i]e']\ntables:\n  public.notes:\n    select:\n"
        "      alice: owner_id = :uid\n      'ev[/i]e': none\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("RLSGUARD_CACHE_DIR", str(template_cache_dir))
    monkeypatch.chdir(project)
    result = CliRunner().invoke(app, ["matrix", "check", "--matrix", str(matrix)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "[red]matrix.yaml" in result.output, result.output
    assert "'ev[/i]e'" in result.output, result.output
    assert "[personas.<name>]" in result.output, result.output
