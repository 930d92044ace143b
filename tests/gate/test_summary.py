"""The summary fits a GitHub comment whatever the size of the change."""

from __future__ import annotations

import pytest

from rlsguard.audit.findings import Finding, Location
from rlsguard.gate.access import Access, AccessChange, AccessDiff
from rlsguard.gate.run import GateFinding, GateOptions, GateReport, SourceInfo, Step
from rlsguard.gate.summary import COMMENT_LIMIT, render_summary

PERSONAS = [f"persona_{i}" for i in range(40)]


def _huge_report(tables: int = 300, findings: int = 3000) -> GateReport:
    changes = []
    for t in range(tables):
        for persona in PERSONAS[:12]:
            before = Access("rows", frozenset((str(k),) for k in range(50)))
            after = Access("rows", frozenset((str(k),) for k in range(25, 90)))
            gained = tuple((str(k),) for k in range(50, 90))
            lost = tuple((str(k),) for k in range(25))
            changes.append(
                AccessChange(
                    persona, f"public.table_{t:04d}", "select", before, after, "widens",
                    gained, lost, ("id",),
                )
            )  # fmt: skip
    diff = AccessDiff(
        "base", "head", PERSONAS, "project", [f"public.table_{t:04d}" for t in range(tables)]
    )
    diff.changes = changes
    diff.cells = len(changes)
    report = GateReport(GateOptions(base="origin/main"))
    report.base = SourceInfo("origin/main", "origin/main:supabase", "git", "a" * 40)
    report.head = SourceInfo("supabase", "supabase", "directory")
    report.steps = [Step("access", "access diff", "failed", 1.0, "many")]
    report.access = diff
    report.findings = [
        GateFinding(
            Finding(
                rule="rls_policy_always_true",
                level="error",
                category="security",
                object=f"public.table_{i:04d}",
                message="policy p lets every authenticated request read all rows " * 4,
                remediation="Scope it. " * 20,
                location=Location(f"supabase/migrations/{i:04d}_x.sql", 3),
            ),
            new=True,
            blocking=True,
        )
        for i in range(findings)
    ]
    report.probe_notes = [f"note {i}: " + "x" * 200 for i in range(2000)]
    return report


def test_thousands_of_differences_fit_one_comment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/app")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    report = _huge_report()
    assert len(report.access.changes) == 3600  # type: ignore[union-attr]
    text = render_summary(report, full_report="rlsguard-gate.json")
    assert len(text) < COMMENT_LIMIT
    assert text.startswith("## ❌ rlsguard gate: blocked\n")
    assert ", and 2990 more" in text  # the blocking reason names ten findings
    assert "3600 changes on 300 table(s), by table:" in text  # collapsed by table
    assert "… and " in text
    assert "Full report: `rlsguard-gate.json`" in text
    assert "https://github.com/acme/app/actions/runs/42#artifacts" in text
    assert text.count("<details>") == text.count("</details>")


def test_a_small_change_is_not_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    report = _huge_report(tables=2, findings=3)
    report.probe_notes = []
    text = render_summary(report)
    assert "left out to fit one comment" not in text
    assert "Full report" not in text
    assert "uncovered] persona_0 · public.table_0000 · select" in text  # one line per change


def test_a_tight_limit_drops_collapsed_sections_and_says_so() -> None:
    text = render_summary(_huge_report(tables=5, findings=40), limit=8_000)
    assert len(text) <= 8_000
    assert "more collapsed section(s) left out to fit one comment" in text


def test_an_unreachable_api_is_said_on_the_first_screen() -> None:
    report = _huge_report(tables=1, findings=0)
    report.findings = [
        GateFinding(
            Finding(
                rule="tables_unreachable_by_api",
                level="warn",
                category="security",
                object="public",
                message="no exposed table is reachable by anon or authenticated (public.t). "
                "Set `auto_expose_new_tables = true` under `[api]` in supabase/config.toml",
                remediation="",
                details={"every": True},
            ),
            new=False,
            blocking=False,
        )
    ]
    visible = render_summary(report).split("<details>", 1)[0]
    assert "⚠️ **no exposed table is reachable" in visible
    assert "auto_expose_new_tables = true" in visible
