"""pgTAP files as pytest items, as a user runs them: plain pytest, -n 2, a bad migration."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rlsguard.stack.pgbin import discover_pg_binaries
from tests.pgtap.conftest import PGTAP_PROJECT
from tests.pytest.test_plugin import FAST_START

BAD_MIGRATION = """\
-- A "quick fix" for a slow dashboard: every signed-in user reads every todo, and
-- memberships lose RLS.
drop policy "members read todos" on public.todos;
create policy "members read todos" on public.todos for select to authenticated using (true);
alter table public.memberships disable row level security;
"""


@pytest.fixture
def pgtap_repo(tmp_path: Path) -> Path:
    """A user's repository: the team to-do project with its supabase/tests pgTAP files."""
    root = tmp_path / "repo"
    shutil.copytree(PGTAP_PROJECT, root)
    return root


def run(root: Path, *args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RLSGUARD_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *FAST_START, "-q", "-rf", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def failed_files(output: str) -> set[str]:
    return set(re.findall(r"^FAILED supabase/tests/(\S+\.sql)::pgtap", output, re.M))


def test_plain_pytest_runs_each_file_as_an_item(pgtap_repo: Path, template_cache_dir: Path) -> None:
    result = run(pgtap_repo, "-m", "pgtap", "-vv", cache=template_cache_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 passed" in result.stdout
    assert "supabase/tests/05_members_read.sql::pgtap PASSED" in result.stdout
    assert "rlsguard pgtap: supabase/tests (11 file(s))" in result.stdout
    assert "11 file(s), 55 assertion(s), 0 failed; the server's pgTAP" in result.stdout


def test_a_failing_assertion_is_reported_at_its_line(
    pgtap_repo: Path, template_cache_dir: Path
) -> None:
    path = pgtap_repo / "supabase" / "tests" / "05_members_read.sql"
    path.write_text(path.read_text().replace("array['red'], 'alice", "array['blue'], 'alice"))
    result = run(pgtap_repo, "--rlsguard-pgtap=rlsguard", cache=template_cache_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    assert failed_files(result.stdout) == {"05_members_read.sql"}
    out = result.stdout
    assert "supabase/tests/05_members_read.sql:25: not ok 2 - alice sees only her team" in out
    assert "    #     Extra records:\n    #         (red)" in out
    assert "    #     Missing records:\n    #         (blue)" in out
    assert "# Looks like you failed 1 test of 5" in out
    assert "11 file(s), 55 assertion(s), 1 failed; rlsguard's own pgTAP" in out


@pytest.mark.slow
def test_under_xdist_with_rlsguards_own_pgtap(pgtap_repo: Path, template_cache_dir: Path) -> None:
    result = run(pgtap_repo, "-n", "2", "--rlsguard-pgtap=rlsguard", cache=template_cache_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 passed" in result.stdout
    assert "11 file(s), 55 assertion(s), 0 failed; rlsguard's own pgTAP" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("implementation", ["server", "rlsguard"])
def test_a_known_bad_migration_fails_the_expected_files(
    pgtap_repo: Path, template_cache_dir: Path, implementation: str
) -> None:
    """Meta-test: the suite catches the regression, in the files that test what it broke."""
    if implementation == "server" and "pgtap" not in discover_pg_binaries().available_extensions():
        pytest.skip("this server has no pgtap extension (apt-get install postgresql-15-pgtap)")
    migration = pgtap_repo / "supabase" / "migrations" / "20260102000000_open_todos.sql"
    migration.write_text(BAD_MIGRATION)
    result = run(pgtap_repo, f"--rlsguard-pgtap={implementation}", cache=template_cache_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    assert failed_files(result.stdout) == {
        "02_rls_enabled.sql",  # tests.rls_enabled('public'): memberships lost RLS
        "05_members_read.sql",  # alice sees the blue team's todo
        "06_forbidden_writes.sql",  # a member could add members (no RLS on memberships)
    }
    assert "05_members_read.sql:26: not ok 3 - alice sees nothing of the blue team" in result.stdout
