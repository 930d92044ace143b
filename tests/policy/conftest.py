"""Shared servers for the policy tests: one Workspace (in the session's Stack) for all.

``surface_after(sql)`` is the cheap way to a changed surface: it applies ``sql`` to the built
courses database as a migration (as the Supabase CLI would) inside a transaction, snapshots
it and rolls it back, in ~0.05 s instead of building a template for every variant.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rlsguard.config import ProjectConfig, load_config
from rlsguard.harness.engine import Engine
from rlsguard.policy.snapshot import Snapshot
from rlsguard.workspace.build import Workspace
from rlsguard.workspace.trial import surface_with
from tests.policy.helpers import PROJECTS, apply_sql

_names = itertools.count(1)


@pytest.fixture(scope="session")
def courses_dir() -> Path:
    """A small project: courses with policies, a definer helper, an invoker view, an audit log."""
    return PROJECTS / "courses" / "supabase"


@pytest.fixture(scope="session")
def policy_config(courses_dir: Path, template_cache_dir: Path) -> ProjectConfig:
    config = load_config(supabase_dir=courses_dir)
    return config.model_copy(
        update={"cache": config.cache.model_copy(update={"dir": template_cache_dir})}
    )


@pytest.fixture(scope="session")
def workspace(rlsguard_stack: Any, policy_config: ProjectConfig) -> Iterator[Workspace]:
    with Workspace(policy_config, stack=rlsguard_stack) as ws:
        yield ws


@pytest.fixture(scope="session")
def courses_engine(workspace: Workspace, courses_dir: Path) -> Engine:
    return workspace.engine(courses_dir)


@pytest.fixture(scope="session")
def courses_snapshot(workspace: Workspace, courses_dir: Path) -> Snapshot:
    return workspace.snapshot(courses_dir, "courses")


@pytest.fixture
def clone_of(courses_engine: Engine) -> Iterator[Callable[..., str]]:
    """Clones of the courses template (or of another engine's), dropped after the test."""
    made: list[tuple[Engine, str]] = []

    def make(engine: Engine | None = None, sql: str | None = None) -> str:
        engine = engine or courses_engine
        name = f"policy_{os.getpid()}_{next(_names)}"
        engine.clone(name)
        made.append((engine, name))
        if sql:
            apply_sql(engine, name, sql)
        return name

    yield make
    for engine, name in made:
        engine.drop(name)


@pytest.fixture
def surface_after(courses_engine: Engine) -> Callable[[str], Snapshot]:
    """The courses surface after one more migration (``sql``), rolled back afterwards."""

    def run(sql: str) -> Snapshot:
        return surface_with(courses_engine, courses_engine.template_db, sql, label="head")

    return run
