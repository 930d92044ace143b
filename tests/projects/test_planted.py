"""Planted mistakes are named, and their fixed twins are not.

``planted/bugs`` carries one classic RLS or auth mistake per table (the ones real Supabase
projects ship: a SELECT that only checks for a signed-in user, a membership insert that
lets anyone join as admin, a definer RPC keyed by a caller-chosen id, ...), and
``planted/fixed`` the same tables done right. Lint must report exactly the listed findings
on each: a missing one is a blind spot, an extra one on ``fixed`` a false positive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rlsguard.audit.api import lint_project
from rlsguard.config import load_config
from rlsguard.harness.engine import Engine, EngineOptions

PLANTED = Path(__file__).parent / "planted"
EXPECTED = yaml.safe_load((PLANTED / "expected-findings.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def own_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("planted-templates")


@pytest.mark.parametrize("name", ["bugs", "fixed"])
def test_planted_findings_are_exactly_the_listed_ones(
    name: str, rlsguard_stack: Any, own_cache: Path
) -> None:
    supabase = PLANTED / name / "supabase"
    config = load_config(supabase_dir=supabase)
    config = config.model_copy(update={"cache": config.cache.model_copy(update={"dir": own_cache})})
    options = EngineOptions(supabase_dir=supabase)
    with (
        Engine(config, options, stack=rlsguard_stack) as engine,
        engine.cloned_database(read_only=True) as db,
    ):
        found = lint_project(db, engine.context())
    expected = EXPECTED[name]
    assert all(str(e["why"]).strip() for e in expected)
    assert {(f.rule, f.object, f.level) for f in found} == {
        (e["rule"], e["object"], e["level"]) for e in expected
    }
    assert all(f.location is not None for f in found)
