"""`pytest -m rls` checks the approved snapshot: it fails on drift and passes after rollback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlsguard.policy.snapshot import Snapshot
from rlsguard.workspace.api import rollback_project
from rlsguard.workspace.build import Workspace
from tests.policy.helpers import copy_project

FAST_START = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker")
OPEN_UP = "alter policy courses_read on public.courses using (true);\n"


def run_pytest(root: Path, *args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RLSGUARD_CACHE_DIR": str(cache), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *FAST_START, "-q", "-rA", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def user_repo(courses_dir: Path, courses_snapshot: Snapshot, tmp_path: Path) -> Path:
    """A user's repository: supabase/ with a widening migration, the approved snapshot."""
    root = tmp_path / "repo"
    copy_project(courses_dir, root, {"20250103000000_open.sql": OPEN_UP})
    courses_snapshot.write(root / "fixtures" / "policies.snapshot.json")
    (root / "test_nothing.py").write_text("def test_other():\n    pass\n")
    return root


def test_drift_fails_with_the_diff_and_passes_after_the_rollback(
    user_repo: Path, workspace: Workspace, template_cache_dir: Path
) -> None:
    drifted = run_pytest(user_repo, "-m", "rls", cache=template_cache_dir)
    out = drifted.stdout + drifted.stderr
    assert drifted.returncode == 1, out
    assert "FAILED fixtures/policies.snapshot.json::test_policy_snapshot" in out
    assert "1 failed, 1 deselected" in out
    assert "The security surface drifted from the approved snapshot" in out
    assert "+ public.courses: USING of policy `courses_read`" in out
    assert "    rlsguard snapshot -o fixtures/policies.snapshot.json" in out
    assert "rlsguard rollback --to fixtures/policies.snapshot.json" in out

    folder = user_repo / "supabase"
    try:
        fix = rollback_project(
            folder, user_repo / "fixtures" / "policies.snapshot.json", workspace=workspace
        )
    finally:
        workspace.release(folder)
    assert fix.restored
    fix.write(folder / "migrations")
    passed = run_pytest(user_repo, "-m", "rls", cache=template_cache_dir)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "PASSED fixtures/policies.snapshot.json::test_policy_snapshot" in passed.stdout


def test_path_arguments_run_only_what_they_name(user_repo: Path, template_cache_dir: Path) -> None:
    # (Without a snapshot file there is no item at all: tests/pytest/test_plugin.py counts.)
    only = run_pytest(user_repo, "test_nothing.py", cache=template_cache_dir)
    assert only.returncode == 0, only.stdout + only.stderr
    assert "1 passed" in only.stdout
    assert "test_policy_snapshot" not in only.stdout
