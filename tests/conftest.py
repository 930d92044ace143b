"""Fixtures shared across the tool's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rlsguard.config import load_config
from rlsguard.harness.engine import Engine, EngineOptions

PROJECTS = Path(__file__).parent / "projects"


@pytest.fixture(scope="session")
def notes_project() -> Path:
    """A tiny Supabase project: notes readable and writable by their owner only."""
    return PROJECTS / "notes" / "supabase"


@pytest.fixture(scope="session")
def template_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Template caches of the tool's own tests stay out of the user's ~/.cache."""
    return tmp_path_factory.mktemp("template-cache")


@pytest.fixture(scope="session")
def notes_engine(notes_project: Path, template_cache_dir: Path) -> Iterator[Engine]:
    config = load_config(supabase_dir=notes_project)
    config = config.model_copy(
        update={"cache": config.cache.model_copy(update={"dir": template_cache_dir})}
    )
    with Engine(config, EngineOptions(supabase_dir=notes_project)) as engine:
        yield engine
