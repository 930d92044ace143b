from __future__ import annotations

from pathlib import Path

import pytest

from rlsguard.gameday.faults import FAULTS
from rlsguard.gameday.runbook import QUICK_REFERENCE
from rlsguard.gameday.scenario import (
    ScenarioError,
    json_schema_text,
    load_scenario,
    load_scenarios,
    parse_scenario,
)

ROOT = Path(__file__).parents[2]
SCENARIOS = ROOT / "fixtures" / "gameday"
SECTION_1_FAULTS = {
    "drop_policy",
    "replace_policy",
    "disable_rls",
    "revoke_grant",
    "migration",
    "rotate_jwt_secret",
}

GOOD = """\
name: x
title: a drill
runbook: {incident: RLS policy broken (no access), severity: P1}
steady_state: [canaries]
fault:
  kind: drop_policy
  params: {table: public.classes, policy: classes_select}
detection: {expect: [canary]}
remediation: [{kind: rollback_migration}]
verify: [canaries]
root_cause: because
"""


def test_the_committed_schema_is_the_models() -> None:
    assert (ROOT / "docs" / "gameday.schema.json").read_text(encoding="utf-8") == json_schema_text()


def test_the_reference_platform_ships_one_scenario_per_section_1_fault() -> None:
    scenarios = [
        s
        for s in load_scenarios([SCENARIOS])
        if s.spec.runbook.section == "1. RLS/Auth Failure" and s.spec.auth_service is None
    ]
    kinds = {s.spec.fault.kind for s in scenarios}
    assert kinds == SECTION_1_FAULTS
    using = {
        s.spec.fault.params.get("using") for s in scenarios if s.spec.fault.kind == "replace_policy"
    }
    assert using == {"false", "true"}
    files = {s.spec.fault.params.get("file") for s in scenarios if s.spec.fault.kind == "migration"}
    assert files == {"fixtures/known-bad/20260301090000_runbook_quick_rollback.sql"}
    for s in scenarios:  # severities are the Quick Reference's
        assert s.spec.runbook.severity == QUICK_REFERENCE[s.spec.runbook.incident].severity


def test_a_good_file_parses() -> None:
    scenario = parse_scenario(GOOD)
    assert scenario.spec.fault.kind == "drop_policy"
    assert scenario.lines["fault.params"] == 7


@pytest.mark.parametrize(
    ("change", "key", "line", "reason"),
    [
        (("kind: drop_policy", "kind: drop_polcy"), "fault.kind", 6, "did you mean 'drop_policy'"),
        (("policy: classes_select}", "polcy: x}"), "fault.params.policy", 7, "required key"),
        (("severity: P1", "severity: P2"), "runbook.severity", 3, "rates"),
        (("expect: [canary]", "expect: [canari]"), "detection.expect[0]", 8, "did you mean"),
        (("title: a drill", "titel: a drill"), "titel", 2, "unknown key"),
        (("verify: [canaries]", "verify: [canary]"), "verify[0]", 10, "canaries"),
    ],
)
def test_errors_name_file_line_and_key(
    tmp_path: Path, change: tuple[str, str], key: str, line: int, reason: str
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    problem = next(p for p in info.value.problems if p.key == key)
    assert problem.file == str(path)
    assert problem.line == line
    assert reason in problem.reason
    assert f"{path}:{line}: {key}:" in str(info.value)


def test_duplicate_keys_and_a_wrong_file_name_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "y.yaml"
    path.write_text(GOOD + "title: again\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"y.yaml:12: key 'title' appears twice"):
        load_scenario(path)
    path.write_text(GOOD, encoding="utf-8")
    with pytest.raises(ScenarioError, match="must equal the file name 'y'"):
        load_scenario(path)


def test_every_registered_fault_has_a_parameter_model() -> None:
    for name in FAULTS:
        assert FAULTS.get(name).Params.model_json_schema()["type"] == "object"
