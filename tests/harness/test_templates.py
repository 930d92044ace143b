"""The template cache: built once, reused while nothing changed, rebuilt when anything did."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rlsguard.config import load_config
from rlsguard.harness.engine import Engine, EngineOptions
from rlsguard.harness.templates import TemplateCache, TemplateInputs, package_fingerprint


def engine_for(project: Path, cache_dir: Path, *, no_cache: bool = False) -> Engine:
    config = load_config(supabase_dir=project)
    config = config.model_copy(update={"cache": config.cache.model_copy(update={"dir": cache_dir})})
    return Engine(config, EngineOptions(supabase_dir=project, no_cache=no_cache))


@pytest.fixture
def project_copy(tmp_path: Path, notes_project: Path) -> Path:
    target = tmp_path / "app" / "supabase"
    shutil.copytree(notes_project, target)
    return target


def test_hit_after_build_and_miss_after_a_migration_changes(
    project_copy: Path, tmp_path: Path
) -> None:
    cache_dir = tmp_path / "cache"
    with engine_for(project_copy, cache_dir) as first:
        assert first.prepared is not None
        assert not first.prepared.cache_hit
        assert not first.prepared.base_hit
        first_key = first.prepared.key
    with engine_for(project_copy, cache_dir) as second:
        assert second.prepared is not None
        assert second.prepared.cache_hit
        assert second.prepared.key == first_key
        with second.cloned_database() as db:
            assert db.scalar("select count(*) from public.notes") == 3  # seed came along
    migration = next((project_copy / "migrations").glob("*.sql"))
    migration.write_text(migration.read_text() + "\ncomment on table public.notes is 'v2';\n")
    with engine_for(project_copy, cache_dir) as third:
        assert third.prepared is not None
        assert not third.prepared.cache_hit
        assert third.prepared.base_hit  # an edit reuses the cached initdb + bootstrap
        assert third.prepared.key != first_key
        with third.cloned_database() as db:
            assert db.scalar("select obj_description('public.notes'::regclass)") == "v2"


def test_no_cache_rebuilds_even_when_cached(project_copy: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    with engine_for(project_copy, cache_dir):
        pass
    with engine_for(project_copy, cache_dir, no_cache=True) as engine:
        assert engine.prepared is not None
        assert not engine.prepared.cache_hit


def test_a_new_seed_file_changes_the_key(project_copy: Path, tmp_path: Path) -> None:
    with engine_for(project_copy, tmp_path / "c") as engine:
        assert engine.project is not None
        before = engine.prepared.key if engine.prepared else ""
    (project_copy / "seed.sql").write_text(
        (project_copy / "seed.sql").read_text() + "\nselect 1;\n"
    )
    with engine_for(project_copy, tmp_path / "c") as engine:
        assert engine.prepared is not None
        assert engine.prepared.key != before


def test_inputs_key_is_order_independent_and_content_sensitive() -> None:
    a = TemplateInputs({"x": b"1", "y": b"2"})
    b = TemplateInputs({"y": b"2", "x": b"1"})
    c = TemplateInputs({"x": b"1", "y": b"3"})
    assert a.key() == b.key()
    assert a.key() != c.key()


def test_bootstrap_fingerprint_covers_the_sql_it_ships() -> None:
    assert package_fingerprint("rlsguard.supabase") != package_fingerprint("rlsguard.identity")
    assert len(package_fingerprint("rlsguard.supabase")) == 64


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    cache = TemplateCache(tmp_path / "cache")
    for i in range(5):
        data = tmp_path / "src" / str(i)
        data.mkdir(parents=True)
        (data / "PG_VERSION").write_text("15\n")
        cache.store(f"k{i}", data, {"i": i})
    removed = cache.prune(keep=2)
    assert len(removed) == 3
    assert [p.name for p in cache.entries()] == ["k4", "k3"]
    assert cache.lookup("k4") is not None
    assert cache.lookup("k0") is None


def test_an_entry_of_an_older_layout_is_replaced(tmp_path: Path) -> None:
    cache = TemplateCache(tmp_path / "cache")
    old = tmp_path / "cache" / "k" / "data"  # the directory layout before archives
    old.mkdir(parents=True)
    (old / "PG_VERSION").write_text("15\n")
    (tmp_path / "cache" / "k" / "meta.json").write_text("{}")
    assert cache.lookup("k") is None
    source = tmp_path / "src"
    source.mkdir()
    (source / "PG_VERSION").write_text("15\n")
    cache.store("k", source, {})
    assert cache.lookup("k") == cache.path("k")
