"""The dev server's state file (proof by pid and start time) and its migration layers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlsguard.config import load_config
from rlsguard.harness import devserver
from rlsguard.harness.engine import Engine, EngineOptions

PROJECTS = Path(__file__).resolve().parent.parent / "projects"


class _Stub:
    def state(self) -> Any:
        class S:
            def as_dict(self) -> dict[str, Any]:
                return {"endpoint": {}, "template_db": "x"}

        return S()


def test_state_file_is_trusted_only_while_its_process_runs_as_recorded(tmp_path: Path) -> None:
    path = devserver.state_path(tmp_path, tmp_path / "supabase")
    devserver.write_state(path, _Stub())
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the JWT secret
    assert devserver.read_state(path)["pid"] == os.getpid()
    state = json.loads(path.read_text())
    path.write_text(json.dumps({**state, "start": "1"}))  # our pid, another process's start
    assert devserver.read_state(path) is None
    gone = subprocess.Popen(["true"])
    gone.wait()
    path.write_text(json.dumps({**state, "pid": gone.pid}))  # a process that has exited
    assert devserver.read_state(path) is None
    path.write_text("{not json")
    assert devserver.read_state(path) is None
    devserver.remove_state(path)  # not ours (unreadable): left alone
    assert path.exists()


def test_remove_state_removes_only_our_own_file(tmp_path: Path) -> None:
    path = devserver.state_path(tmp_path, tmp_path / "supabase")
    devserver.write_state(path, _Stub())
    devserver.remove_state(path)
    assert not path.exists()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, template_cache_dir: Path) -> Iterator[Engine]:
    root = tmp_path_factory.mktemp("layered")
    shutil.copytree(PROJECTS / "notes", root / "notes")
    supabase = root / "notes" / "supabase"
    config = load_config(supabase_dir=supabase)
    config = config.model_copy(
        update={"cache": config.cache.model_copy(update={"dir": template_cache_dir})}
    )
    with Engine(config, EngineOptions(supabase_dir=supabase)) as engine:
        yield engine


def _oids(engine: Engine) -> dict[str, int]:
    with engine.connect("postgres", autocommit=True) as conn:
        rows = conn.execute(
            "select datname, oid::int from pg_database where datname like 'rlsguard_dev_%'"
        ).fetchall()
    return dict(rows)


def test_editing_the_last_migration_rebuilds_only_its_layer_and_the_seed(engine: Engine) -> None:
    first = devserver.ensure_template(engine)
    before = _oids(engine)
    assert devserver.ensure_template(engine) == first
    assert _oids(engine) == before  # nothing rebuilt when nothing changed
    engine.project = None
    migration = engine.load_project().migrations[-1].path
    original = migration.read_text()
    try:
        migration.write_text(original + "\ncomment on table public.notes is 'edited';\n")
        engine.project = None
        chain = [name for name, _ in devserver.layer_names(engine)]
        second = devserver.ensure_template(engine)
        assert second == chain[-1] != first
        after = _oids(engine)
        assert after[chain[0]] == before[chain[0]]  # the bootstrap layer was reused
        # The edited migration and the seed: one new database, cloned from the prefix.
        assert set(after) - set(before) == {chain[-1]}
        assert chain[-2] not in after
        with engine.connect(second) as conn:
            comment = conn.execute("select obj_description('public.notes'::regclass)").fetchone()
            assert comment == ("edited",)
            assert conn.execute("select count(*) from public.notes").fetchone() == (3,)
    finally:
        migration.write_text(original)
        engine.project = None


def test_old_layers_are_evicted_but_never_the_current_chain(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.project = None
    current = devserver.ensure_template(engine)
    monkeypatch.setattr(devserver, "KEEP_LAYERS", 0)
    migration = engine.load_project().migrations[-1].path
    original = migration.read_text()
    try:
        migration.write_text(original + "\n-- another edit\n")
        engine.project = None
        edited = devserver.ensure_template(engine)
        names = set(_oids(engine))
        chain = [name for name, _ in devserver.layer_names(engine)]
        assert names == set(chain) - {chain[-2]}  # the last migration lives in the seed's
        assert current not in names
        assert edited in names
    finally:
        migration.write_text(original)
        engine.project = None


def test_commands_attach_to_a_serving_dev_server_and_ignore_it_once_stopped(
    engine: Engine, template_cache_dir: Path
) -> None:
    supabase = Path(engine.supabase_dir)
    path = devserver.state_path(template_cache_dir, supabase)
    with devserver.serving(engine, path):
        attached = devserver.attach(template_cache_dir, supabase)
        assert attached is not None
        assert attached.dev_server
        assert attached.template_db == engine.template_db
        with attached.cloned_database() as db:
            assert db.conn.execute("select count(*) from public.notes").fetchone() == (3,)
        attached.close()  # an attached engine owns no process: the server keeps running
        with engine.connect("postgres") as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    assert not path.exists()
    assert devserver.attach(template_cache_dir, supabase) is None
