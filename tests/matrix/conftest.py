"""Fixtures of the access matrix tests: the notes and shop projects and their matrices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rlsguard.config import load_config
from rlsguard.database import Database
from rlsguard.harness.engine import Engine, EngineOptions
from rlsguard.matrix.load import Matrix, load_matrix

HERE = Path(__file__).parent
DATA = HERE / "data"
MALFORMED = HERE / "malformed"
SHOP = HERE / "projects" / "shop"


def engine_for(supabase_dir: Path, cache: Path) -> Engine:
    config = load_config(supabase_dir=supabase_dir)
    config = config.model_copy(update={"cache": config.cache.model_copy(update={"dir": cache})})
    return Engine(config, EngineOptions(supabase_dir=supabase_dir))


@pytest.fixture(scope="session")
def shop_engine(template_cache_dir: Path) -> Iterator[Engine]:
    """The shop: tenants from app_metadata, composite keys, column grants, restricting keys."""
    with engine_for(SHOP / "supabase", template_cache_dir) as engine:
        yield engine


@pytest.fixture(scope="module")
def notes_db(notes_engine: Engine) -> Iterator[Database]:
    """A clone of the notes project; matrix runs roll everything back, so tests may share it."""
    with notes_engine.cloned_database() as db:
        yield db


@pytest.fixture(scope="module")
def shop_db(shop_engine: Engine) -> Iterator[Database]:
    with shop_engine.cloned_database() as db:
        yield db


@pytest.fixture
def scratch_notes_db(notes_engine: Engine) -> Iterator[Database]:
    """A clone of the notes project of the test's own, for DDL."""
    with notes_engine.cloned_database() as db:
        yield db


@pytest.fixture(scope="session")
def notes_matrix(notes_engine: Engine) -> Matrix:
    return load_matrix(DATA / "notes.yaml", notes_engine.personas.names)


@pytest.fixture(scope="session")
def shop_matrix(shop_engine: Engine) -> Matrix:
    return load_matrix(SHOP / "fixtures" / "rls_matrix.yaml", shop_engine.personas.names)
