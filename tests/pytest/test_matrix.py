"""``pytest -m rls`` on a user's project: one item per cell, failures explained, gaps listed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.matrix.conftest import DATA, MALFORMED

# Plugins of other installed packages cost ~1.3 s per start (hypothesis, faker).
FAST_START = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker")

USER_TESTS = """
import pytest


@pytest.mark.rls
def test_alice_reads(rlsguard_db):
    with rlsguard_db.as_persona("alice") as s:
        assert s.scalar("select count(*) from notes") == 2


def test_plain(rlsguard_db):
    assert rlsguard_db.scalar("select 1") == 1
"""


def make_project(root: Path, notes_project: Path, matrix: Path) -> Path:
    shutil.copytree(notes_project.parent, root)
    (root / "fixtures").mkdir()
    shutil.copy(matrix, root / "fixtures" / "rls_matrix.yaml")
    (root / "test_access.py").write_text(USER_TESTS)
    return root


@pytest.fixture
def project(tmp_path: Path, notes_project: Path) -> Path:
    return make_project(tmp_path / "repo", notes_project, DATA / "notes.yaml")


def pytest_in(cwd: Path, *args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RLSGUARD_CACHE_DIR": str(cache), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *FAST_START, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_one_item_per_cell_with_readable_ids(project: Path, template_cache_dir: Path) -> None:
    result = pytest_in(project, "-m", "rls", "-v", cache=template_cache_dir)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for cell in ("anon-public.notes-select", "alice-public.notes-insert",
                 "alice_mfa-public.notes-update", "service_role-public.notes-delete"):  # fmt: skip
        assert f"fixtures/rls_matrix.yaml::test_access[{cell}] PASSED" in out
    assert "20 passed, 1 deselected" in out
    assert "rlsguard access matrix" in out
    assert "fixtures/rls_matrix.yaml: 19 cell(s) checked, 0 failed" in out
    assert "untested: personas not in personas: ghost" in out
    assert "untested: public.notes delete: not for alice_mfa" in out


def test_under_xdist_every_worker_reports_and_gaps_are_listed(
    project: Path, template_cache_dir: Path
) -> None:
    result = pytest_in(project, "-n", "2", "-m", "rls", cache=template_cache_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "20 passed" in result.stdout
    assert "19 cell(s) checked, 0 failed" in result.stdout
    assert "untested: personas not in personas: ghost" in result.stdout


def test_another_projects_own_matrix_and_its_failures(
    tmp_path: Path, notes_project: Path, template_cache_dir: Path
) -> None:
    other = make_project(tmp_path / "other", notes_project, DATA / "notes_wrong.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = pytest_in(
        elsewhere,
        "-m", "rls", "--supabase-dir", str(other / "supabase"),
        cache=template_cache_dir,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "9 failed, 1 passed" in out
    assert "test_access[alice-public.notes-update]" in out
    assert "alice: UPDATE on public.notes: 2 row(s), 2 expected; 1 unexpected; 1 missing" in out
    assert "    id=2  body='alice 2'" in out
    assert "'owners edit their notes' PERMISSIVE UPDATE TO authenticated" in out
    assert "rejected by a missing grant: permission denied for table notes (42501)" in out
    assert "FAILED ../other/fixtures/rls_matrix.yaml::test_access[anon-public.notes-select]" in out


def test_which_runs_collect_the_matrix(project: Path, template_cache_dir: Path) -> None:
    def collected(*args: str) -> list[str]:
        result = pytest_in(project, "--co", "-q", *args, cache=template_cache_dir)
        assert result.returncode == 0, result.stdout + result.stderr
        return [line for line in result.stdout.splitlines() if "::" in line]

    assert collected("test_access.py") == [
        "test_access.py::test_alice_reads",
        "test_access.py::test_plain",
    ]
    folder = collected("fixtures")
    assert len(folder) == 19
    assert folder[0] == "fixtures/rls_matrix.yaml::test_access[anon-public.notes-select]"
    shutil.copy(DATA / "notes_wrong.yaml", project / "wrong.yaml")
    chosen = collected("--rlsguard-matrix", "wrong.yaml", "test_access.py")
    assert len(chosen) == 12
    assert "wrong.yaml::test_access[bob-public.notes-insert]" in chosen


def test_a_malformed_matrix_is_a_collection_error(project: Path, template_cache_dir: Path) -> None:
    shutil.copy(MALFORMED / "bad_operation.yaml", project / "fixtures" / "rls_matrix.yaml")
    result = pytest_in(project, "-m", "rls", cache=template_cache_dir)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "ERROR collecting fixtures/rls_matrix.yaml" in result.stdout
    assert (
        "fixtures/rls_matrix.yaml:7: tables.public.notes.upsert: unknown operation 'upsert'"
        in result.stdout
    )
