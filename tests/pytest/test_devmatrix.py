"""``pytest -m rls`` answered by a running ``rlsguard dev``: same items, same verdicts.

The dev server runs in this process (a thread serving its Unix socket); the pytest under test
is a subprocess, as a user's would be.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlsguard.cli.dev import _commands
from rlsguard.cli.devservice import DevService
from rlsguard.config import load_config
from rlsguard.harness import devclient, devserver
from rlsguard.harness.engine import Engine, EngineOptions
from tests.matrix.conftest import DATA
from tests.pytest.test_matrix import make_project, pytest_in

WIDEN = """
create policy "everyone reads every note" on public.notes
  for select to authenticated using (true);
"""
TIMING = re.compile(r" \((database|checked) [^)]*\)$| in [0-9.]+s", re.MULTILINE)


class Flaky(DevService):
    """A dev server that can be told to fail its verdicts (as one that breaks mid-run)."""

    broken = False

    def pytest_verdict(self, path: str, expect_digest: str) -> dict[str, Any]:
        if self.broken:
            raise RuntimeError("the dev server broke")
        return super().pytest_verdict(path, expect_digest)


@contextlib.contextmanager
def dev_server(project: Path, cache: Path) -> Iterator[Flaky]:
    """``rlsguard dev`` for ``project``, served from a thread of this process."""
    supabase = project / "supabase"
    config = load_config(supabase_dir=supabase)
    config = config.model_copy(update={"cache": config.cache.model_copy(update={"dir": cache})})
    with Engine(config, EngineOptions(supabase_dir=supabase)) as engine:
        state = devserver.state_path(cache, supabase)
        service = Flaky(engine)
        with devserver.serving(engine, state), _commands(service, state) as server:
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                yield service
            finally:
                server.shutdown()
                thread.join(timeout=60)
                service.close()


@pytest.fixture
def cache(template_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RLSGUARD_CACHE_DIR", str(template_cache_dir))  # where clients look
    return template_cache_dir


def test_same_items_and_verdicts_with_a_dev_server_and_after_it_breaks(
    tmp_path: Path, notes_project: Path, cache: Path
) -> None:
    project = make_project(tmp_path / "repo", notes_project, DATA / "notes_wrong.yaml")
    alone = pytest_in(project, "-m", "rls", "-v", cache=cache)
    assert alone.returncode == 1, alone.stdout + alone.stderr
    assert "engine start included" in alone.stdout
    with dev_server(project, cache) as service:
        served = pytest_in(project, "-m", "rls", "-v", cache=cache)
        service.broken = True
        fallen_back = pytest_in(project, "-m", "rls", "-v", cache=cache)
    assert served.returncode == 1, served.stdout + served.stderr
    assert "checked on the dev server" in served.stdout
    assert "9 failed, 2 passed" in served.stdout  # 10 cells and the project's own rls test
    out = served.stdout
    assert "alice: UPDATE on public.notes: 2 row(s), 2 expected; 1 unexpected; 1 missing" in out
    assert "    id=2  body='alice 2'" in out  # the offending rows, as without a server
    assert "'owners edit their notes' PERMISSIVE UPDATE TO authenticated" in out
    # Every item, every verdict, every explanation: the same, but for the timings.
    assert TIMING.sub("", served.stdout) == TIMING.sub("", alone.stdout)
    assert fallen_back.returncode == 1, fallen_back.stdout + fallen_back.stderr
    assert "checked here, as the dev server did not answer, in" in fallen_back.stdout
    assert TIMING.sub("", fallen_back.stdout) == TIMING.sub("", alone.stdout)


def test_an_edited_migration_is_seen_by_the_next_run(
    tmp_path: Path, notes_project: Path, cache: Path
) -> None:
    project = make_project(tmp_path / "repo", notes_project, DATA / "notes.yaml")
    migration = sorted((project / "supabase" / "migrations").glob("*.sql"))[-1]
    with dev_server(project, cache) as service:
        before = pytest_in(project, "-m", "rls", "-v", cache=cache)
        first = service.verdict(service.default_matrix())
        assert service.verdict(service.default_matrix()) is first  # nothing changed: reused
        original = migration.read_text()
        migration.write_text(original + WIDEN)
        after = pytest_in(project, "-m", "rls", "-v", cache=cache)
        assert service.verdict(service.default_matrix()) is not first
        # A save: the watcher checks the files again before anyone asks.
        migration.write_text(original)
        polls: list[int] = []
        second_poll = threading.Event()

        def changed() -> bool:  # the injected change source: one save, then quiet
            polls.append(1)
            if len(polls) == 2:
                second_poll.set()  # the refresh after the first poll has finished
            return len(polls) == 1

        service.watch(changed, interval=0.001)
        assert second_poll.wait(timeout=120)
        ready = list(service._verdicts.values())
        reverted = service.verdict(service.default_matrix())
        assert len(ready) == 1
        assert ready[0] is reverted  # computed by the watcher, then only looked up
        assert reverted.run is not None
        assert reverted.run.ok
    assert before.returncode == 0, before.stdout + before.stderr
    assert "20 passed, 1 deselected" in before.stdout
    assert "checked on the dev server" in before.stdout
    out = after.stdout
    assert after.returncode == 1, out + after.stderr
    assert "fixtures/rls_matrix.yaml::test_access[alice-public.notes-select] FAILED" in out
    assert "fixtures/rls_matrix.yaml::test_access[bob-public.notes-select] FAILED" in out
    assert "fixtures/rls_matrix.yaml::test_access[anon-public.notes-select] PASSED" in out
    assert "'everyone reads every note'" in out  # the new policy, named in the explanation
    assert "test_access.py::test_alice_reads FAILED" in out  # fixtures see the edit too


def test_a_dead_or_stale_dev_server_is_never_asked(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "project"
    (root / "supabase").mkdir(parents=True)
    index = devclient.index_path(root)
    index.parent.mkdir(parents=True, exist_ok=True)
    start = devserver.process_start(os.getpid())
    stale = {"pid": os.getpid(), "start": "1", "socket": str(tmp_path / "s.sock")}
    index.write_text(json.dumps(stale))  # our pid, but another start: a reused pid
    assert devclient.live_server(root) is None
    assert devclient.ask(root, {"op": "cells"}) is None
    index.write_text(json.dumps({**stale, "start": start}))  # alive, but its socket is gone
    assert devclient.live_server(root) is not None
    assert devclient.ask(root, {"op": "cells"}) is None
    index.write_text("{not json")
    assert devclient.ask(root, {"op": "cells"}) is None


def test_pgtap_files_beside_the_matrix_are_collected_as_without_a_dev_server(
    tmp_path: Path, notes_project: Path, cache: Path
) -> None:
    project = make_project(tmp_path / "repo", notes_project, DATA / "notes.yaml")
    tests = project / "supabase" / "tests"
    tests.mkdir()
    (tests / "01_notes.sql").write_text(
        "select plan(1);\n"
        "select is((select count(*) from public.notes)::int, 3, 'three notes');\n"
        "select * from finish();\n"
    )
    shutil.copy(DATA / "notes_wrong.yaml", project / "wrong.yaml")
    with dev_server(project, cache):
        result = pytest_in(project, "-m", "rls or pgtap", "-v", cache=cache)
        chosen = pytest_in(project, "--co", "-q", "--rlsguard-matrix", "wrong.yaml", cache=cache)
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr
    assert "wrong.yaml::test_access[bob-public.notes-insert]" in chosen.stdout
    assert chosen.stdout.count("wrong.yaml::test_access[") == 10  # that file's cells, not 19
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "checked on the dev server" in out  # the matrix still comes from the server
    assert "supabase/tests/01_notes.sql::pgtap PASSED" in out  # the rest, read here
    assert "21 passed" in out
