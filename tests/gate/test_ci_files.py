"""The CI template: the workflow parses and calls the entry point, which finds its base."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gate.conftest import REPO, commit, git, make_project

WORKFLOW = REPO / ".github" / "workflows" / "rls-gate.yml"
SCRIPT = REPO / "scripts" / "rls-gate"
STEPS = [
    "Check out the pull request with its history",
    "Set up Python",
    "Install rlsguard",
    "Run the RLS gate",
    "Upload findings to code scanning",
    "Post the summary on the pull request",
    "Keep the gate's reports",
]


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _step(workflow: dict[Any, Any], name: str) -> dict[str, Any]:
    return next(s for s in workflow["jobs"]["gate"]["steps"] if s["name"] == name)


def test_the_workflow_runs_on_pull_requests_touching_supabase(workflow: dict[Any, Any]) -> None:
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"pull_request"}
    assert "supabase/**" in triggers["pull_request"]["paths"]
    assert workflow["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "security-events": "write",
    }
    assert [s["name"] for s in workflow["jobs"]["gate"]["steps"]] == STEPS


def test_the_workflow_steps(workflow: dict[Any, Any]) -> None:
    checkout = _step(workflow, "Check out the pull request with its history")
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0
    assert _step(workflow, "Set up Python")["uses"].startswith("actions/setup-python@")
    install = _step(workflow, "Install rlsguard")["run"]
    assert "pip install rlsguard" in install
    assert "pip install -e ." in install
    gate = _step(workflow, "Run the RLS gate")
    assert gate["run"] == 'scripts/rls-gate --base "$BASE_SHA"'
    assert gate["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    out = gate["env"]["RLS_GATE_OUT"]
    sarif = _step(workflow, "Upload findings to code scanning")
    assert sarif["uses"].startswith("github/codeql-action/upload-sarif@")
    assert sarif["with"]["sarif_file"] == f"{out}/rlsguard.sarif"
    assert sarif["if"].startswith("always()")
    comment = _step(workflow, "Post the summary on the pull request")
    assert comment["uses"].startswith("marocchino/sticky-pull-request-comment@")
    assert comment["with"]["path"] == f"{out}/summary.md"
    assert comment["if"].startswith("always()")


def test_the_script_writes_the_files_the_workflow_uploads() -> None:
    text = SCRIPT.read_text(encoding="utf-8")
    written = set(re.findall(r'"\$\{out\}/([\w.]+)"', text))
    assert written == {"summary.md", "junit.xml", "rlsguard.sarif", "gate.json"}
    assert os.access(SCRIPT, os.X_OK)


def _run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RLS_GATE_"))}
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_script_needs_a_base(tmp_path: Path) -> None:
    done = _run(tmp_path, {"RLSGUARD": "false"})  # rlsguard is never reached
    assert done.returncode == 2
    assert "no --base given" in done.stderr


def test_the_script_takes_the_base_from_github_base_ref(
    tmp_path: Path, template_cache_dir: Path
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    make_project(root)
    commit(root, "reference")
    git(root, "update-ref", "refs/remotes/origin/main", "HEAD")  # what actions/checkout fetches
    job_summary = tmp_path / "step-summary.md"
    env = {
        "GITHUB_BASE_REF": "main",
        "GITHUB_STEP_SUMMARY": str(job_summary),
        "RLS_GATE_OUT": str(tmp_path / "out"),
        "RLSGUARD": f"{sys.executable} -m rlsguard.cli",
        "RLSGUARD_CACHE_DIR": str(template_cache_dir),
    }
    done = _run(root, env)
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "out" / "gate.json").read_text())
    assert document["base"]["spec"] == "origin/main"
    assert document["verdict"] == "pass"
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert summary.startswith("## ✅ rlsguard gate: pass")
    assert job_summary.read_text() == summary
    for name in ("junit.xml", "rlsguard.sarif"):
        assert (tmp_path / "out" / name).is_file()
