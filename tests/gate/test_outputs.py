"""The gate's CI files: JUnit XML, SARIF 2.1.0, JSON against the committed schema, the summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from rlsguard.gate.model import json_schema, json_schema_text
from rlsguard.gate.outputs import render_json, render_junit, render_sarif
from rlsguard.gate.run import GateReport
from rlsguard.gate.summary import render_summary, write_summary
from tests.audit.sarif_check import problems as sarif_problems
from tests.gate.conftest import REPO, GateRunner
from tests.gate.schema_check import problems as schema_problems

SCHEMA_FILE = REPO / "docs" / "gate.schema.json"
QUICK_ROLLBACK = "20260301090000_runbook_quick_rollback.sql"


@pytest.fixture(scope="module")
def blocked(known_bad_report: Callable[[str], GateReport]) -> GateReport:
    return known_bad_report(QUICK_ROLLBACK)


@pytest.fixture(scope="module")
def errored(gate: GateRunner, reference_repo: Path) -> GateReport:
    return gate(reference_repo, base="no-such-ref")


def test_the_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema_text(), (
        "docs/gate.schema.json is stale: python -m rlsguard.gate.model > docs/gate.schema.json"
    )


@pytest.mark.parametrize("which", ["reference_report", "blocked", "errored"])
def test_json_follows_the_committed_schema(which: str, request: pytest.FixtureRequest) -> None:
    report: GateReport = request.getfixturevalue(which)
    document = json.loads(render_json(report))
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema_problems(document, schema) == []
    assert document["verdict"] == report.verdict
    assert document["exit_code"] == report.exit_code


def test_the_schema_checker_can_fail(reference_report: GateReport) -> None:
    document = json.loads(render_json(reference_report))
    document["verdict"] = "maybe"
    del document["steps"][0]["seconds"]
    document["access"]["changes"] = [{"persona": 1}]
    found = schema_problems(document, json_schema())
    assert any(p.startswith("$.verdict:") for p in found)
    assert any("missing required property 'seconds'" in p for p in found)
    assert any("$.access.changes[0]" in p for p in found)


def test_json_carries_everything_of_a_blocked_run(blocked: GateReport) -> None:
    document = json.loads(render_json(blocked))
    assert document["verdict"] == "blocked"
    assert document["reasons"] == blocked.reasons
    assert [s["name"] for s in document["steps"]] == [
        "build", "policy", "audit", "matrix", "access", "rollback"
    ]  # fmt: skip
    change = next(
        c
        for c in document["access"]["changes"]
        if (c["persona"], c["operation"]) == ("student", "select")
    )
    assert change["table"] == "public.users"
    assert change["gained"] == [["20000000-0000-4000-8000-000000000009"]]
    assert change["covered"] is False
    rules = {f["rule"] for f in document["findings"] if f["blocking"]}
    assert "row_role_confusion" in rules
    assert document["matrix"]["failed"]
    assert document["rollback"]["problems"] == []
    assert document["rollback"]["command"].startswith("rlsguard rollback --to ")
    assert "CREATE POLICY" in document["rollback"]["sql"]


def _suites(text: str) -> dict[str, ET.Element]:
    root = ET.fromstring(text.split("\n", 1)[1])  # after the XML declaration
    assert root.tag == "testsuites"
    suites = {s.get("name", ""): s for s in root.findall("testsuite")}
    for suite in suites.values():
        cases = suite.findall("testcase")
        assert suite.get("tests") == str(len(cases))
        for kind, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
            assert suite.get(kind) == str(sum(c.find(tag) is not None for c in cases)), kind
        for case in cases:
            assert case.get("name")
            assert case.get("classname") == suite.get("name")
            float(case.get("time", "x"))
    total = sum(int(s.get("tests", "0")) for s in suites.values())
    assert root.get("tests") == str(total)
    return suites


def test_junit_of_a_passing_run(reference_report: GateReport) -> None:
    suites = _suites(render_junit(reference_report))
    assert set(suites) == {f"rlsguard.gate.{n}" for n in
                           ("steps", "findings", "matrix", "access", "rollback")}  # fmt: skip
    assert all(s.get("failures") == "0" and s.get("errors") == "0" for s in suites.values())
    findings = suites["rlsguard.gate.findings"].findall("testcase")
    assert findings
    assert all(c.find("skipped") is not None for c in findings)  # all old: on base already


def test_junit_of_a_blocked_run_fails_the_checks_that_block(blocked: GateReport) -> None:
    suites = _suites(render_junit(blocked))
    failed = {
        s: [c.get("name") for c in e.findall("testcase") if c.find("failure") is not None]
        for s, e in suites.items()
    }
    assert "lint row_role_confusion · public.users" in failed["rlsguard.gate.findings"]
    assert "student-public.users-select" in failed["rlsguard.gate.matrix"]
    assert "student-public.users-select" in failed["rlsguard.gate.access"]
    assert failed["rlsguard.gate.rollback"] == []
    assert set(failed["rlsguard.gate.steps"]) == {
        "lint and probe", "access matrix on head", "access diff"
    }  # fmt: skip


def test_junit_of_an_error_names_it(errored: GateReport) -> None:
    suites = _suites(render_junit(errored))
    [build] = suites["rlsguard.gate.steps"].findall("testcase")
    error = build.find("error")
    assert error is not None
    assert "no-such-ref" in (error.text or "")


@pytest.mark.parametrize("which", ["reference_report", "blocked", "errored"])
def test_sarif_is_structurally_valid(which: str, request: pytest.FixtureRequest) -> None:
    report: GateReport = request.getfixturevalue(which)
    log = json.loads(render_sarif(report))
    assert sarif_problems(log) == []
    results = log["runs"][0]["results"]
    assert len(results) == len(report.findings)
    states = {r["baselineState"] for r in results}
    assert states <= {"new", "unchanged"}


def test_sarif_marks_what_the_change_introduced(blocked: GateReport) -> None:
    log = json.loads(render_sarif(blocked))
    new = {r["ruleId"] for r in log["runs"][0]["results"] if r["baselineState"] == "new"}
    assert "row_role_confusion" in new
    old = {r["ruleId"] for r in log["runs"][0]["results"] if r["baselineState"] == "unchanged"}
    assert "multiple_permissive_policies" in old
    located = [r for r in log["runs"][0]["results"] if r["ruleId"] == "row_role_confusion"]
    uri = located[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == f"supabase/migrations/{QUICK_ROLLBACK}"


def test_the_summary_goes_to_the_file_and_the_job_summary(
    blocked: GateReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = tmp_path / "step-summary.md"
    job.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(job))
    written = write_summary(blocked, tmp_path / "out" / "summary.md")
    assert written == [tmp_path / "out" / "summary.md", job]
    text = render_summary(blocked)
    assert (tmp_path / "out" / "summary.md").read_text() == text
    assert job.read_text() == "earlier step\n" + text


def test_the_summary_fits_one_screen_before_its_details(blocked: GateReport) -> None:
    text = render_summary(blocked)
    visible = text.split("<details>", 1)[0]
    lines = visible.splitlines()
    assert lines[0] == "## ❌ rlsguard gate: blocked"
    headings = [line for line in lines if line.startswith("### ")]
    assert headings == [
        "### Access changes", "### Widened policies", "### New findings",
        "### Matrix failures (fixtures/rls_matrix.yaml)", "### Rollback",
    ]  # fmt: skip
    assert len(lines) <= 50
    assert "<details><summary>Old findings" in text  # collapsed, not on the first screen
