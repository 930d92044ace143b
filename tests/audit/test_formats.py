"""Text, JSON, SARIF and Markdown renderings of the same findings."""

from __future__ import annotations

import json

from rlsguard.audit.findings import Finding, Location
from rlsguard.audit.formats import as_sarif, render, rule_texts
from rlsguard.audit.probe import PROBE_RULES
from rlsguard.audit.rules import RULES
from tests.audit.sarif_check import problems

FINDINGS = [
    Finding(
        "row_role_confusion", "error", "security", "public.users",
        "policy auth_policy_select: USING compares the row's role with 'admin' | pipes",
        "Test the requester.",
        Location("supabase/migrations/20260301090000_rollback.sql", 52),
    ),
    Finding(
        "multiple_permissive_policies", "warn", "performance", "public.users", "two policies",
        "Merge them.", Location("supabase/migrations/1_init.sql", 3),
        waived="reads better as two",
    ),
    Finding(
        "cross_tenant_read", "error", "security", "storage.objects", "student reads 1 of 1",
        "Scope it.", None, check="probe", details={"reads": {"student": 1}},
    ),
]  # fmt: skip


def test_sarif_is_structurally_valid() -> None:
    log = as_sarif(FINDINGS, checks=("lint", "probe"), default_uri="supabase/config.toml")
    assert problems(log) == []
    run = log["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert set(RULES) | set(PROBE_RULES) | {"unused_waiver"} == set(rule_ids)
    results = {r["ruleId"]: r for r in run["results"]}
    located = results["row_role_confusion"]["locations"][0]["physicalLocation"]
    assert located == {
        "artifactLocation": {"uri": "supabase/migrations/20260301090000_rollback.sql"},
        "region": {"startLine": 52},
    }
    assert results["row_role_confusion"]["level"] == "error"
    assert results["multiple_permissive_policies"]["level"] == "warning"
    assert results["multiple_permissive_policies"]["suppressions"] == [
        {"kind": "external", "justification": "reads better as two"}
    ]
    # Unknown location: the project file stands in, so the upload still has a place.
    fallback = results["cross_tenant_read"]["locations"][0]["physicalLocation"]
    assert fallback == {"artifactLocation": {"uri": "supabase/config.toml"}}


def test_the_validator_catches_broken_logs() -> None:
    log = as_sarif(FINDINGS[:1])
    log["version"] = "2.0.0"
    log["runs"][0]["results"][0]["ruleId"] = "no_such_rule"
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    found = problems(log)
    assert len(found) == 4  # version, ruleId, ruleIndex, startLine


def test_json_keeps_the_finding_shape() -> None:
    doc = json.loads(render(FINDINGS, "json", checks=("lint", "probe")))
    assert doc["summary"] == {"error": 2, "warn": 0, "info": 0, "waived": 1}
    first = doc["findings"][0]
    assert set(first) >= {"rule", "level", "category", "object", "message", "remediation",
                          "location", "check", "waived"}  # fmt: skip
    assert [f["rule"] for f in doc["findings"]] == [
        "row_role_confusion", "cross_tenant_read", "multiple_permissive_policies",
    ]  # fmt: skip
    assert doc["findings"][0]["location"] == {
        "file": "supabase/migrations/20260301090000_rollback.sql",
        "line": 52,
    }


def test_markdown_for_a_pull_request() -> None:
    text = render(FINDINGS, "markdown", title="rlsguard lint")
    assert text.startswith("### rlsguard lint\n")
    assert "**2 error(s)**, 0 warning(s), 0 info, 1 waived." in text
    assert "| ERROR | `row_role_confusion` | `public.users` |" in text
    assert "\\| pipes" in text  # a pipe in a message does not break the table
    assert "<details><summary>1 waived finding(s)</summary>" in text
    assert "| `multiple_permissive_policies` | `public.users` | reads better as two |" in text
    assert render([], "markdown").endswith("No findings.\n")


def test_text_lists_findings_waivers_and_a_summary() -> None:
    text = render(FINDINGS, "text", title="rlsguard lint", width=160, notes=["a note"])
    assert "row_role_confusion" in text
    assert "supabase/migrations/20260301090000_rollback.sql:52" in text
    assert "reads better as two" in text
    assert "note: a note" in text
    assert text.rstrip().endswith("rlsguard lint: 2 error(s), 0 warning(s), 0 info, 1 waived")


def test_every_rule_is_described() -> None:
    for text in rule_texts():
        assert all((text.title, text.description, text.remediation)), text.id
        assert text.level in ("error", "warn", "info")
        assert text.category in ("security", "performance")
