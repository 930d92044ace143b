"""The catalogue: bad inputs a new user gives, and what rlsguard answers.

Each case breaks a private copy of the notes project the way people do (a typo in a key,
a broken migration, a matrix naming a persona that does not exist, a wrong flag) and runs
the real command line - the console entry point itself, in-process to stay fast. Each asserts
the exit code, the first line of the message (the file, line and key named) and that
nothing is left behind: no run directory, no server process.

Exit codes: 2 usage or environment (the message says what to fix), 0 for what the Supabase
CLI only warns about. Templates come from the session's cache (the base layer is built once).
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rlsguard.__main__ import main
from tests.reliability.clirun import NOTES, owned_by, rlsguard

MALFORMED = Path(__file__).resolve().parents[1] / "matrix" / "malformed"
MIGRATION = "supabase/migrations/20250102000000_more.sql"
TOML = "rlsguard.toml"


@dataclass(frozen=True)
class Case:
    """``edits``: path -> new text (``+text`` appends, ``None`` deletes). ``first``: a regex
    for the first line of stderr, ``<p>`` standing for the project folder."""

    id: str
    args: list[str]
    code: int
    first: str
    edits: dict[str, str | None] = field(default_factory=dict)
    also: str = ""  # a further line the output must contain (usage errors: the reason)
    stream: str = "err"  # where the message is: stderr, or stdout for a report


def usage(command: str) -> str:
    return re.escape(f"Usage: rlsguard {command} [OPTIONS]")


CASES = [
    # -- rlsguard.toml / [tool.rlsguard] ------------------------------------------------------
    Case("config-unknown-key", ["lint"], 2,
         r"error: <p>/rlsguard.toml: supabase_dri: unknown key; did you mean 'supabase_dir'\?",
         {TOML: 'supabase_dri = "supabase"\n'}),
    Case("config-unknown-nested-key", ["lint"], 2,
         r"error: <p>/rlsguard.toml: postgres.max_conections: unknown key; did you mean "
         r"'max_connections'\?", {TOML: "+\n[postgres]\nmax_conections = 5\n"}),
    Case("config-wrong-type", ["lint"], 2,
         r"error: <p>/rlsguard.toml: postgres.max_connections: Input should be a valid integer",
         {TOML: '+\n[postgres]\nmax_connections = "many"\n'}),
    Case("config-bad-toml", ["lint"], 2,
         r"error: <p>/rlsguard.toml: invalid TOML at line 3, column 10",
         {TOML: 'supabase_dir = "supabase"\n\nmatrix = \n'}),
    Case("config-reserved-setting", ["lint"], 2,
         r"error: <p>/rlsguard.toml: postgres.settings.port: port is set by rlsguard",
         {TOML: "+\n[postgres.settings]\nport = 1\n"}),
    Case("config-persona-unknown-key", ["lint"], 2,
         r"error: <p>/rlsguard.toml: personas.carol.usr: unknown key; did you mean 'user'\?",
         {TOML: '+\n[personas.carol]\nusr = "carol@notes.test"\n'}),
    Case("config-persona-wrong-type", ["lint"], 2,
         r"error: <p>/rlsguard.toml: personas.carol.claims: must be a table, not a string",
         {TOML: '+\n[personas.carol]\nclaims = "aal2"\n'}),
    Case("config-pyproject-unknown-key", ["lint"], 2,
         r"error: <p>/pyproject.toml: tool.rlsguard.supabase_dri: unknown key; did you mean "
         r"'supabase_dir'\?",
         {TOML: None, "pyproject.toml": '[tool.rlsguard]\nsupabase_dri = "supabase"\n'}),
    Case("config-matrix-file-missing", ["matrix", "check"], 2,
         r"error: .*fixtures/nope.yaml",
         {TOML: 'matrix = "fixtures/nope.yaml"\nsupabase_dir = "supabase"\n'}),
    Case("supabase-config-bad-toml", ["lint"], 2,
         r"error: <p>/supabase/config.toml: not valid TOML: .*line 1, column 5",
         {"supabase/config.toml": "[api\nport = 1\n"}),
    Case("supabase-config-wrong-type", ["lint"], 2,
         r"error: <p>/supabase/config.toml: db.major_version: ",
         {"supabase/config.toml": '[db]\nmajor_version = "fifteen"\n'}),
    # -- command-line arguments -------------------------------------------------------------
    Case("cli-unknown-option", ["lint", "--nope"], 2, usage("lint"), also="No such option: --nope"),
    Case("cli-bad-choice", ["lint", "--format", "xml"], 2, usage("lint"),
         also="Invalid value for '--format'"),
    Case("cli-missing-required", ["diff"], 2, usage("diff"), also="Missing option '--base'"),
    Case("cli-unknown-command", ["lnt"], 2, re.escape("Usage: rlsguard [OPTIONS] COMMAND"),
         also="No such command 'lnt'"),
    Case("cli-supabase-dir-is-a-file", ["lint", "--supabase-dir", "rlsguard.toml"], 2,
         usage("lint"), also="is a file"),
    Case("cli-matrix-is-a-directory", ["matrix", "check", "--matrix", "supabase"], 2,
         usage("matrix check"), also="is a directory"),
    # -- missing folders and files ------------------------------------------------------------
    Case("dir-supabase-missing", ["lint", "--supabase-dir", "nowhere"], 2,
         r"error: <p>/nowhere: supabase_dir: no Supabase project here"),
    Case("dir-supabase-empty", ["snapshot"], 2,
         r"error: <p>/supabase: supabase_dir: no Supabase project here",
         {"supabase/config.toml": None, "supabase/seed.sql": None, "supabase/migrations": None}),
    Case("file-rollback-target-missing", ["rollback", "--to", "nowhere.json"], 2,
         r"error: .*nowhere.json"),
    Case("file-approved-snapshot-missing", ["blame"], 2,
         r"error: .*fixtures/policies.snapshot.json: no such snapshot file"),
    Case("ref-gate-base-unknown", ["gate", "--base", "no-such-ref"], 2, r".*no-such-ref"),
    # -- migrations and the seed ---------------------------------------------------------------
    Case("migration-syntax-error", ["lint"], 2,
         r"error: supabase/migrations/20250102000000_more.sql:2:1: migration failed: ERROR "
         r'42601: syntax error at or near "selec"',
         {MIGRATION: "create table public.t (id int);\nselec 1;\n"}),
    Case("migration-unknown-table", ["lint"], 2,
         r"error: supabase/migrations/20250102000000_more.sql:1:13: migration failed: ERROR "
         r'42P01: relation "public.nope" does not exist',
         {MIGRATION: "insert into public.nope values (1);\n"}),
    Case("migration-function-body", ["lint"], 2,
         r"error: supabase/migrations/20250102000000_more.sql:3:3: migration failed: ERROR "
         r'42601: syntax error at or near "retrun"',
         {MIGRATION: "create function public.f() returns int language plpgsql as $$\nbegin\n"
                     "  retrun 1;\nend $$;\n"}),
    Case("migration-shared-version", ["lint"], 2,
         r"error: supabase/migrations/20250101000000_notes.sql: version 20250101000000 is also "
         r"the version of supabase/migrations/20250101000000_again.sql",
         {"supabase/migrations/20250101000000_again.sql": "select 1;\n"}),
    Case("migration-misnamed", ["lint"], 0,
         r"supabase/migrations: warning: Skipping migration supabase/migrations/notes_extra.sql"
         r"\.\.\. \(file name "
         r'must match pattern "<timestamp>_name.sql"\)',
         {"supabase/migrations/notes_extra.sql": "select 1;\n"}),
    Case("seed-unknown-table", ["lint"], 2,
         r"error: supabase/seed.sql:16:13: seed failed: ERROR 42P01: relation \"public.nope\"",
         {"supabase/seed.sql": "+\ninsert into public.nope values (1);\n"}),
    # -- matrix files --------------------------------------------------------------------------
    Case("matrix-unknown-persona", ["matrix", "check", "--matrix", "m.yaml"], 2,
         r"error: .*m.yaml:2: personas\[1\]: unknown persona 'carol'",
         {"m.yaml": (MALFORMED / "unknown_persona.yaml").read_text()}),
    Case("matrix-bad-yaml", ["matrix", "check", "--matrix", "m.yaml"], 2,
         r"error: .*m.yaml:\d+",
         {"m.yaml": (MALFORMED / "yaml_syntax.yaml").read_text()}),
    Case("matrix-bad-key", ["matrix", "check", "--matrix", "m.yaml"], 2,
         r"error: .*m.yaml:7: tables.public.notes.upsert",
         {"m.yaml": (MALFORMED / "bad_operation.yaml").read_text()}),
    Case("matrix-wrong-type", ["matrix", "check", "--matrix", "m.yaml"], 2,
         r"error: .*m.yaml:1: personas",
         {"m.yaml": "personas: alice\ntables: {}\n"}),
    # A table the database lacks is a bad file (exit 2), reported once, with the table meant.
    Case("matrix-unknown-table", ["matrix", "check", "--matrix", "m.yaml"], 2,
         r"error: .*m.yaml:7: tables.public.note: no table public.note",
         {"m.yaml": (MALFORMED / "unknown_table.yaml").read_text()},
         also="did you mean 'public.notes'?"),
    Case("matrix-predicate-syntax", ["matrix", "check", "--matrix", "m.yaml"], 2,
         r"error: .*m.yaml:7: tables.public.notes.select.bob",
         {"m.yaml": (MALFORMED / "predicate_syntax.yaml").read_text()}),
]  # fmt: skip


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("catalogue") / "notes"
    shutil.copytree(NOTES, folder)
    return folder


@pytest.fixture
def private_run_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="rg-", dir="/tmp"))
    root.chmod(0o755)
    monkeypatch.setenv("RLSGUARD_RUN_ROOT", str(root))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def apply(project: Path, edits: dict[str, str | None]) -> None:
    for name, text in edits.items():
        path = project / name
        if text is None and path.is_dir():
            shutil.rmtree(path)
        elif text is None:
            path.unlink()
        elif text.startswith("+"):
            path.write_text(path.read_text() + text[1:])
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(
    case: Case,
    pristine: Path,
    tmp_path: Path,
    template_cache_dir: Path,
    private_run_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = tmp_path / "p"
    shutil.copytree(pristine, project)
    apply(project, case.edits)
    monkeypatch.chdir(project)
    monkeypatch.setenv("RLSGUARD_CACHE_DIR", str(template_cache_dir))
    monkeypatch.setattr(sys, "argv", ["rlsguard", *case.args])
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # the CLI replaces it
    servers_before = set(owned_by_me())
    with pytest.raises(SystemExit) as exited:
        main()
    out, err = capsys.readouterr()
    shown = f"exit {exited.value.code}\n--- stdout\n{out[:600]}\n--- stderr\n{err}"
    assert exited.value.code == case.code, shown
    message = err if case.stream == "err" else out
    lines = [line.strip() for line in message.replace(str(project), "<p>").splitlines()]
    first = next((line for line in lines if line), "")
    assert re.match(case.first, first), shown
    if case.also:
        assert case.also in message, shown
    assert "Traceback" not in err, shown
    assert list(private_run_root.iterdir()) == [], "a run directory was left behind"
    assert started_and_left(servers_before) == [], "a server of the command is still running"


def owned_by_me() -> list[int]:
    import os

    return owned_by(os.getpid())


def started_and_left(before: set[int]) -> list[int]:
    """Tagged processes that are new and were not forked by one already running: a server the
    command left. A session's own servers fork meanwhile (a new backend, an autovacuum
    worker), and their children carry the same tag: those are not the command's."""
    now = set(owned_by_me())
    left = []
    for pid in now - before:
        try:  # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # short-lived: gone already
        if parent not in now | before:
            left.append(pid)
    return left


def test_the_catalogue_is_big_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


def test_a_failed_migration_is_the_first_line_in_a_real_process(
    pristine: Path, tmp_path: Path, template_cache_dir: Path, run_root: Path
) -> None:
    """Outside pytest (which captures logging) psycopg printed a stray line first:
    ``error ignored terminating <psycopg.Pipeline ...>: pipeline aborted``."""
    project = tmp_path / "p"
    shutil.copytree(pristine, project)
    apply(project, {MIGRATION: "insert into public.nope values (1);\n"})
    ran = rlsguard("lint", cwd=project, cache=template_cache_dir, run_root=run_root)
    assert ran.code == 2, ran
    assert ran.first_line.startswith(f"error: {MIGRATION}:1:13: migration failed"), ran
    assert ran.leftovers == [], ran
