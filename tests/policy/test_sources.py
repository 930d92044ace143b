"""Sources: a git ref's supabase/ folder (never the working tree), a directory, a snapshot."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rlsguard.policy.diff import diff_snapshots
from rlsguard.policy.snapshot import Snapshot
from rlsguard.workspace.build import Workspace
from rlsguard.workspace.sources import SourceError, export_tree, open_source
from tests.policy.helpers import copy_project

OPEN_UP = "alter policy courses_read on public.courses using (true);\n"


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t.test", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@pytest.fixture
def repo(courses_dir: Path, tmp_path: Path) -> Path:
    """A repository with the courses project under app/supabase, committed once."""
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    copy_project(courses_dir, root / "app")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "courses")
    return root


def test_a_ref_is_read_from_git_and_the_working_tree_is_left_alone(repo: Path) -> None:
    folder = repo / "app" / "supabase"
    uncommitted = folder / "migrations" / "20250103000000_open.sql"
    uncommitted.write_text(OPEN_UP)
    status_before = git(repo, "status", "--porcelain")
    with open_source("HEAD", supabase_dir=folder) as source:
        assert source.kind == "git"
        assert source.label == "HEAD:app/supabase"
        assert source.supabase_dir is not None
        exported = sorted(p.name for p in (source.supabase_dir / "migrations").iterdir())
        assert exported == ["20250101000000_courses.sql", "20250102000000_audit.sql"]
        assert (source.supabase_dir / "config.toml").read_text() == (
            folder / "config.toml"
        ).read_text()
        temporary = source.supabase_dir
    assert not temporary.exists()  # removed when the block ends
    assert git(repo, "status", "--porcelain") == status_before
    assert uncommitted.read_text() == OPEN_UP


def test_an_older_commit_and_a_folder_are_sources_too(repo: Path) -> None:
    folder = repo / "app" / "supabase"
    (folder / "migrations" / "20250103000000_open.sql").write_text(OPEN_UP)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "open up")
    with open_source("HEAD~1", supabase_dir=folder) as old:
        assert old.supabase_dir is not None
        assert len(list((old.supabase_dir / "migrations").iterdir())) == 2
    with open_source(str(repo / "app"), supabase_dir=folder) as directory:
        assert directory.kind == "directory"
        assert directory.supabase_dir == folder  # the folder holding supabase/ works too


def test_snapshot_files_are_sources(courses_snapshot: Snapshot, tmp_path: Path) -> None:
    path = courses_snapshot.write(tmp_path / "approved.json")
    with open_source(str(path), supabase_dir=tmp_path) as source:
        assert source.kind == "snapshot"
        assert source.snapshot == courses_snapshot


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-such-ref", "is not a commit"),
        ("missing.json", "no such snapshot file"),
    ],
)
def test_bad_sources_say_why(repo: Path, spec: str, message: str) -> None:
    with pytest.raises(SourceError, match=message), open_source(spec, supabase_dir=repo / "app"):
        pass


def test_a_file_that_is_not_json_is_refused(repo: Path) -> None:
    with (
        pytest.raises(SourceError, match=r"must be a \.json snapshot"),
        open_source(str(repo / "app" / "supabase" / "config.toml"), supabase_dir=repo),
    ):
        pass


def test_a_ref_without_the_folder_is_refused(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="has no nowhere/ folder"):
        export_tree(repo, "HEAD", "nowhere", tmp_path / "out")


def test_a_ref_outside_a_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "supabase").mkdir()
    with (
        pytest.raises(SourceError, match="not in a git repository"),
        open_source("HEAD", supabase_dir=tmp_path / "supabase"),
    ):
        pass


def test_diff_of_a_ref_against_the_uncommitted_working_tree(
    workspace: Workspace, repo: Path
) -> None:
    folder = repo / "app" / "supabase"
    (folder / "migrations" / "20250103000000_open.sql").write_text(OPEN_UP)
    try:
        base, head = workspace.resolve_many(["HEAD", str(folder)], supabase_dir=folder)
        diff = diff_snapshots(base, head)
    finally:
        workspace.release(folder)
    assert base.label == "HEAD:app/supabase"
    assert [(c.kind, c.grade) for c in diff.changes] == [("policy.using", "widens")]
