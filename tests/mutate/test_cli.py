"""``rlsguard mutate`` from a shell: formats, the score threshold, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rlsguard.cli import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
ONLY = "public.users.users_select_self/*"


def test_an_unknown_format_is_bad_input_and_starts_nothing() -> None:
    result = runner.invoke(app, ["mutate", "--format", "yaml"])
    assert result.exit_code == 2
    assert "--format 'yaml'" in result.output


def test_a_broken_matrix_is_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\npersonas: [nobody]\ntables: {public.users: {select: 3}}\n")
    result = runner.invoke(app, ["mutate", "--matrix", str(bad), "--only", ONLY])
    assert result.exit_code == 2, result.output


@pytest.mark.slow
def test_json_and_sarif_and_the_min_score(tmp_path: Path) -> None:
    spec = yaml.safe_load((REPO / "fixtures" / "rls_matrix.yaml").read_text(encoding="utf-8"))
    # A weakened matrix: some mutants live. (Without users' SELECT cells alone, lint still
    # kills uid_always_true: it reads `auth.uid() is not null` as admitting every row; with
    # the UPDATE cells gone too, flip_equality lives.)
    for operation in ("select", "update", "changes"):
        del spec["tables"]["public.users"][operation]
    weak = tmp_path / "weak.yaml"
    weak.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    args = ["mutate", "--supabase-dir", str(REPO / "supabase"), "--only", ONLY, "--jobs", "1"]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["score"] == 100.0
    assert {m["status"] for m in report["mutants"]} <= {"killed", "equivalent"}
    assert all("seconds" in m and m["diff"] for m in report["mutants"])
    sarif_file = tmp_path / "out.sarif"
    result = runner.invoke(
        app, [*args, "--matrix", str(weak), "--format", "sarif", "--min-score", "100",
              "-o", str(sarif_file)],
    )  # fmt: skip
    assert result.exit_code == 1
    sarif = json.loads(sarif_file.read_text(encoding="utf-8"))
    results = sarif["runs"][0]["results"]
    assert results
    assert all(r["ruleId"].startswith("mutant/") for r in results)
    assert sarif["runs"][0]["properties"]["score"] < 100


@pytest.mark.slow
def test_the_reference_platform_scores_100_with_at_most_5_percent_waived(tmp_path: Path) -> None:
    """The issue's bar: every mutant of supabase/ killed, equivalent or waived with a reason
    (the waivers of rlsguard.toml), in JSON and in SARIF (waived ones suppressed)."""
    args = ["mutate", "--supabase-dir", str(REPO / "supabase"), "--jobs", "2"]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output  # min_score = 100 in rlsguard.toml
    report = json.loads(result.stdout)
    assert report["score"] == 100.0
    assert report["counts"]["survived"] == report["counts"]["error"] == 0
    assert 0 < report["waived_percent"] <= 5.0
    assert report["unused_waivers"] == []
    waived = [m for m in report["mutants"] if m["status"] == "waived"]
    assert waived
    assert all(len(m["reason"]) > 40 for m in waived)
    sarif_file = tmp_path / "out.sarif"
    result = runner.invoke(app, [*args, "--format", "sarif", "-o", str(sarif_file)])
    assert result.exit_code == 0, result.output
    run = json.loads(sarif_file.read_text(encoding="utf-8"))["runs"][0]
    assert run["properties"]["score"] == 100.0
    assert all(r.get("suppressions") for r in run["results"])  # only waived ones are listed
    assert len(run["results"]) == len(waived)
