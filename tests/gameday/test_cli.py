"""``rlsguard gameday`` on the reference platform: the report matches the journal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlsguard.cli import app
from rlsguard.journal import JournalDocument

ROOT = Path(__file__).parents[2]


@pytest.mark.chaos
def test_the_report_is_the_journals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app, ["gameday", "using-false", "--report", str(out), "--ledger", str(tmp_path / "l")]
    )
    assert result.exit_code == 0, result.output
    assert "PASS using-false" in result.output
    summary = json.loads((out / "gameday.json").read_text())
    journal = json.loads((out / "using-false" / "journal.json").read_text())
    (drill,) = summary["drills"]
    assert drill["ttd_s"] == journal["summary"]["ttd_s"]
    assert drill["ttr_s"] == journal["summary"]["ttr_s"]
    assert journal["outcome"] == "pass"
    assert JournalDocument.model_validate(journal).kind == "gameday"  # the committed schema
    postmortem = (out / "using-false" / "postmortem.md").read_text()
    timeline = [line for line in postmortem.splitlines() if line.startswith("- +")]
    assert timeline == [
        f"- +{e['t']:.3f} s `{e['kind']}` {e['message']}" for e in journal["events"]
    ]
    assert f"{journal['summary']['ttd_s']:.3f} s" in postmortem
    markdown = (out / "gameday.md").read_text()
    assert "log-based alerting ('permission denied' in the Postgres logs) never fires" in markdown
    assert (
        "🚨 INCIDENT: RLS policy broken (no access) (P1)"
        in (out / "using-false" / "incident.md").read_text()
    )
    assert "✅ INCIDENT RESOLVED" in (out / "using-false" / "resolved.md").read_text()


def test_an_invalid_scenario_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    from tests.gameday.test_scenario import GOOD

    bad = tmp_path / "x.yaml"
    bad.write_text(GOOD.replace("kind: drop_policy", "kind: nope"), encoding="utf-8")
    result = CliRunner().invoke(app, ["gameday", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:6: fault.kind: unknown fault 'nope'" in result.output.replace("\n", "")
