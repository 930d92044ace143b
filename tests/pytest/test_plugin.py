"""The plugin from a user's side: a project, a test file, plain pytest and pytest -n 2."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rlsguard.stack.runtime import MARKER, OWNER_ENV, RUN_PREFIX, run_roots, tagged_processes

# Plugins of other installed packages cost ~1.3 s per start (hypothesis, faker).
FAST_START = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker")

USER_TESTS = """
import psycopg
import pytest


@pytest.mark.rls
def test_alice_sees_only_her_notes(rlsguard_db):
    with rlsguard_db.as_persona("alice") as s:
        assert {r["body"] for r in s.fetch("select body from notes")} == {"alice 1", "alice 2"}


@pytest.mark.rls
def test_bob_cannot_write_for_alice(rlsguard_db):
    with rlsguard_db.as_persona("bob") as s:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            s.execute("insert into notes (owner_id, body) values "
                      "('11111111-1111-1111-1111-111111111111', 'x')")


def test_a_write_in_one_test(rlsguard_db):
    rlsguard_db.execute("insert into notes (owner_id, body) values "
                        "('22222222-2222-2222-2222-222222222222', 'leak?')")
    assert rlsguard_db.scalar("select count(*) from notes where body = 'leak?'") == 1


def test_is_not_seen_by_the_next(rlsguard_db):
    assert rlsguard_db.scalar("select count(*) from notes where body = 'leak?'") == 0


def test_clone_may_commit_and_open_connections(rlsguard_clone, rlsguard_engine):
    rlsguard_clone.execute("create table scratch (x int)")
    rlsguard_clone.execute("insert into scratch values (1)")
    with rlsguard_engine.connect(rlsguard_clone.name) as other:
        assert other.execute("select count(*) from scratch").fetchone() == (1,)


@pytest.mark.parametrize("n", range(6))
def test_spread_over_workers(rlsguard_db, n):
    with rlsguard_db.as_anon() as s:
        assert s.scalar("select auth.uid()") is None
"""


@pytest.fixture
def user_project(tmp_path: Path, notes_project: Path) -> Path:
    """A user's repository: supabase/, rlsguard.toml and a test file."""
    root = tmp_path / "repo"
    shutil.copytree(notes_project.parent, root)
    (root / "test_access.py").write_text(USER_TESTS)
    return root


def run_pytest(root: Path, *args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RLSGUARD_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *FAST_START, "-q", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def leftovers_of(pid: int) -> list[int]:
    return [
        p for p, env in tagged_processes().items() if env.get(OWNER_ENV, "").startswith(f"{pid}:")
    ]


def run_dirs_of(pid: int) -> list[Path]:
    found = []
    for root in run_roots():
        for marker in root.glob(f"{RUN_PREFIX}*/{MARKER}"):
            with contextlib.suppress(OSError, ValueError):
                if json.loads(marker.read_text()).get("owner_pid") == pid:
                    found.append(marker.parent)
    return found


def test_plain_pytest_on_a_user_project(user_project: Path, template_cache_dir: Path) -> None:
    result = run_pytest(user_project, cache=template_cache_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 passed" in result.stdout


def test_marker_selects_rls_tests(user_project: Path, template_cache_dir: Path) -> None:
    result = run_pytest(user_project, "-m", "rls", cache=template_cache_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed, 9 deselected" in result.stdout


def test_xdist_workers_share_one_cluster_and_leave_nothing(
    user_project: Path, template_cache_dir: Path
) -> None:
    env = {**os.environ, "RLSGUARD_CACHE_DIR": str(template_cache_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *FAST_START, "-q", "-n", "2"],
        cwd=user_project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert "11 passed" in out
    # The controller owned the cluster: none of its processes or directories remain.
    assert leftovers_of(proc.pid) == []
    assert run_dirs_of(proc.pid) == []


def test_a_backend_that_cannot_start_fails_the_session_once(
    user_project: Path, tmp_path: Path, template_cache_dir: Path
) -> None:
    result = run_pytest(
        user_project, "--rlsguard-pg-bin", str(tmp_path / "no-such-bin"), cache=template_cache_dir
    )
    assert result.returncode == 3, result.stdout + result.stderr
    combined = result.stdout + result.stderr
    assert combined.count("rlsguard could not prepare its database") == 1
    assert "no executable 'postgres'" in combined


def test_options_and_markers_are_documented(user_project: Path, template_cache_dir: Path) -> None:
    result = run_pytest(user_project, "--help", cache=template_cache_dir)
    for option in ("--supabase-dir", "--rlsguard-backend", "--rlsguard-dsn",
                   "--rlsguard-pg-bin", "--rlsguard-no-cache", "--rlsguard-stand-in"):  # fmt: skip
        assert option in result.stdout
    markers = run_pytest(user_project, "--markers", cache=template_cache_dir).stdout
    for marker in ("@pytest.mark.rls:", "@pytest.mark.auth:", "@pytest.mark.chaos:",
                   "@pytest.mark.slow:"):  # fmt: skip
        assert marker in markers


PLV8_TESTS = """
import psycopg
import pytest


def test_the_hook_applied_and_raises_when_called(rlsguard_db):
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="plv8 is not available here"):
        rlsguard_db.execute("select public.custom_access_token_hook('{}')")
"""


@pytest.mark.slow  # two pytest runs in subprocesses
def test_the_pytest_option_the_error_names_applies_the_project(
    tmp_path: Path, template_cache_dir: Path
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(Path(__file__).parents[1] / "projects" / "public" / "auth_hook_plv8", root)
    (root / "rlsguard.toml").unlink()
    (root / "test_hook.py").write_text(PLV8_TESTS)
    failed = run_pytest(root, cache=template_cache_dir)
    assert failed.returncode != 0
    hint = re.search(r"(--rlsguard-stand-in [\w-]+) to pytest", failed.stdout + failed.stderr)
    assert hint, failed.stdout + failed.stderr
    passed = run_pytest(root, *hint.group(1).split(), cache=template_cache_dir)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 passed" in passed.stdout
