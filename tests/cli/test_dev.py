"""``rlsguard watch``: an injected change source drives the loop; no sleeps, no polling."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlsguard.cli.dev import PollingChanges, watch_loop
from rlsguard.config import load_config
from rlsguard.harness.engine import Engine, EngineOptions

PROJECTS = Path(__file__).resolve().parent.parent / "projects"
MATRIX = """\
version: 1
personas: [alice, bob]
tables:
  public.notes:
    select:
      alice: owner_id = :uid
      bob: owner_id = :uid
"""
WIDEN = """
create policy "everyone reads every note" on public.notes
  for select to authenticated using (true);
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("watched")
    shutil.copytree(PROJECTS / "notes", root / "notes")
    (root / "notes" / "matrix.yaml").write_text(MATRIX)
    return root / "notes"


@pytest.fixture(scope="module")
def engine(project: Path, template_cache_dir: Path) -> Iterator[Engine]:
    supabase = project / "supabase"
    config = load_config(supabase_dir=supabase)
    config = config.model_copy(
        update={"cache": config.cache.model_copy(update={"dir": template_cache_dir})}
    )
    with Engine(config, EngineOptions(supabase_dir=supabase)) as engine:
        yield engine


def _migration(project: Path) -> Path:
    return sorted((project / "supabase" / "migrations").glob("*.sql"))[-1]


def test_watch_prints_only_the_cells_that_flipped_with_their_rows(
    engine: Engine, project: Path
) -> None:
    migration = _migration(project)
    original = migration.read_text()
    lines: list[str] = []

    def saves() -> Iterator[set[Path]]:
        migration.write_text(original + WIDEN)  # alice and bob now read each other's notes
        yield {migration}
        migration.write_text(original + "\ncreate tabel broken ();\n")
        yield {migration}
        migration.write_text(original)  # back as it was: both cells pass again
        yield {migration}

    try:
        runs = watch_loop(engine, project / "matrix.yaml", saves(), lines.append)
    finally:
        migration.write_text(original)
    assert [run.ok for run in runs] == [True, False, True]
    text = "\n".join(lines)
    assert lines[0].startswith("start: 2 cell(s), 0 failed, 0 changed")
    # bob owns note 3, alice notes 1 and 2 (tests/projects/notes/supabase/seed.sql)
    assert "  alice select public.notes: pass -> fail (gained 3)" in lines
    assert "  bob select public.notes: pass -> fail (gained 1, 2)" in lines
    broken = next(line for line in lines if "error" in line)
    assert broken.startswith(f"changed {migration.name}: error:")
    assert "tabel" in broken  # the database's own words about the bad statement
    assert "  alice select public.notes: fail -> pass (lost 3)" in lines
    assert text.count("select public.notes") == 4  # nothing is printed for unchanged cells


def test_an_edit_of_the_matrix_alone_reruns_and_reports_the_new_expectation(
    engine: Engine, project: Path
) -> None:
    matrix = project / "matrix.yaml"
    lines: list[str] = []

    def saves() -> Iterator[set[Path]]:
        matrix.write_text(MATRIX.replace("bob: owner_id = :uid", "bob: none"))
        yield {matrix}

    try:
        watch_loop(engine, matrix, saves(), lines.append)
    finally:
        matrix.write_text(MATRIX)
    assert lines[1].startswith("changed matrix.yaml: 2 cell(s), 1 failed, 1 changed")
    assert lines[2].startswith("  bob select public.notes: pass -> fail")


def test_polling_source_reports_a_changed_file_once(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("one")
    naps: list[float] = []
    source = PollingChanges([tmp_path], sleep=naps.append)
    assert source.poll() == set()
    target = tmp_path / "a.sql"
    target.write_text("two")
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert source.poll() == {target}
    assert source.poll() == set()
    (tmp_path / "b.sql").write_text("new")
    batches = iter(source)
    assert next(batches) == {tmp_path / "b.sql"}
    assert naps == []  # a change was waiting: no nap before it


def test_thin_client_gets_the_check_from_the_dev_server_with_its_exit_code(
    engine: Engine, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rlsguard.cli.dev import _commands
    from rlsguard.cli.devservice import DevService
    from rlsguard.harness import devclient, devserver

    monkeypatch.setenv("RLSGUARD_CACHE_DIR", str(tmp_path))  # where clients look
    monkeypatch.chdir(project)
    state = devserver.state_path(None, Path(engine.supabase_dir))
    argv = ["matrix", "check", "--matrix", "matrix.yaml", "--json"]
    assert devclient.request(argv) is None  # no dev server yet: run the command here
    matrix = project / "matrix.yaml"
    with devserver.serving(engine, state), _commands(DevService(engine), state) as server:
        answers = []
        for text in (MATRIX, MATRIX.replace("bob: owner_id = :uid", "bob: none")):
            matrix.write_text(text)
            thread = threading.Thread(target=server.handle_request)
            thread.start()
            answers.append(devclient.request(argv))
            thread.join(timeout=60)
        matrix.write_text(MATRIX)
    assert [a[0] for a in answers if a] == [0, 1]
    cells = {c["id"]: c["status"] for c in json.loads(answers[1][1])["cells"]}
    assert cells == {"bob-public.notes-select": "fail", "alice-public.notes-select": "pass"}
    assert devclient.request(argv) is None  # stopped: its index is gone, clients run locally
    assert not state.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["matrix", "record"],
        ["matrix", "check", "--supabase-dir", "x"],
        ["matrix", "check", "--matrix"],
        ["gate", "--base", "main"],
    ],
)
def test_thin_client_leaves_what_it_does_not_pass_on_to_the_full_cli(argv: list[str]) -> None:
    from rlsguard.harness import devclient

    assert devclient.request(argv) is None
