"""Lint and probe tell the truth on every project of tests/projects/public.

Each project's ``expected-findings.yaml`` lists what lint and probe may report on it and why
(the project really has that weakness, or it is deliberate), plus the tables the probe could
not try. The findings must be exactly these and none an ERROR: a new finding on correct code
is a defect in its rule, to be fixed there (with fixtures under tests/audit/fixtures), not
listed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rlsguard.audit.api import lint_project, probe_project
from rlsguard.audit.findings import Finding, failing
from rlsguard.config import load_config
from rlsguard.harness.engine import Engine, EngineOptions

PUBLIC = Path(__file__).parent / "public"
NAMES = sorted(p.name for p in PUBLIC.iterdir() if (p / "supabase").is_dir())
EXPECTED = "expected-findings.yaml"


def expectations(name: str) -> dict[str, list[dict[str, Any]]]:
    data = yaml.safe_load((PUBLIC / name / EXPECTED).read_text(encoding="utf-8")) or {}
    assert set(data) <= {"lint", "probe", "untested"}, f"{name}/{EXPECTED}: unknown key"
    for entries in data.values():
        for entry in entries:
            assert str(entry.get("why", "")).strip(), f"{name}/{EXPECTED}: {entry} has no why"
    return {key: data.get(key) or [] for key in ("lint", "probe", "untested")}


def keyed(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.rule, f.object, f.level) for f in findings}


def wanted(entries: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(e["rule"], e["object"], e["level"]) for e in entries}


def test_every_project_has_expectations() -> None:
    assert len(NAMES) >= 8
    assert [n for n in NAMES if not (PUBLIC / n / EXPECTED).is_file()] == []


@pytest.fixture(scope="module")
def own_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Nine templates would push the session's other templates out of the shared cache."""
    return tmp_path_factory.mktemp("corpus-templates")


@pytest.mark.parametrize("name", NAMES)
def test_findings_are_exactly_the_expected_ones(
    name: str, rlsguard_stack: Any, own_cache: Path
) -> None:
    supabase = PUBLIC / name / "supabase"
    config = load_config(supabase_dir=supabase)
    config = config.model_copy(update={"cache": config.cache.model_copy(update={"dir": own_cache})})
    expected = expectations(name)
    with Engine(config, EngineOptions(supabase_dir=supabase), stack=rlsguard_stack) as engine:
        with engine.cloned_database(read_only=True) as db:
            lint = lint_project(db, engine.context())
        with engine.cloned_database() as db:
            report = probe_project(db, engine.context())
    assert failing(lint, "error") == []
    assert keyed(lint) == wanted(expected["lint"])
    assert failing(report.findings, "error") == []
    assert keyed(report.findings) == wanted(expected["probe"])
    assert set(report.untested) == {e["table"] for e in expected["untested"]}
    assert all(f.location is not None for f in lint + report.findings)
