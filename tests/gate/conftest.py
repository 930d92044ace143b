"""Shared servers and projects of the gate tests.

Every gate here runs in one :class:`Workspace` inside the session's Stack, with the session's
template cache: the reference schema is built once, and each known-bad head once (all six
in parallel, before the first of them is gated). Projects are temporary git repositories
made from this repository's files - never its own history.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from rlsguard.config import ProjectConfig, load_config
from rlsguard.gate.run import GateOptions, GateReport, run_gate
from rlsguard.workspace.build import Workspace

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "supabase"
KNOWN_BAD = REPO / "fixtures" / "known-bad"
MATRIX = REPO / "fixtures" / "rls_matrix.yaml"
LAST_MIGRATION = "20260105090400_reporting.sql"  # left out of the "previous commit"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t.test",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def make_project(
    root: Path, *, leave_out: Sequence[str] = (), extra: dict[str, str] | None = None
) -> Path:
    """The reference project (supabase/, rlsguard.toml, the matrix) copied under ``root``;
    ``leave_out`` migrations are skipped, ``extra`` ones (name -> SQL) added. Returns the
    copy's supabase/ folder."""
    folder = root / "supabase"
    shutil.copytree(REFERENCE, folder, ignore=shutil.ignore_patterns(*leave_out))
    shutil.copy2(REPO / "rlsguard.toml", root / "rlsguard.toml")
    if MATRIX.is_file():
        (root / "fixtures").mkdir(exist_ok=True)
        shutil.copy2(MATRIX, root / "fixtures" / MATRIX.name)
    for name, sql in (extra or {}).items():
        (folder / "migrations" / name).write_text(sql, encoding="utf-8")
    return folder


def commit(root: Path, message: str) -> str:
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="session")
def gate_config(template_cache_dir: Path) -> ProjectConfig:
    config = load_config(supabase_dir=REFERENCE)
    return config.model_copy(
        update={"cache": config.cache.model_copy(update={"dir": template_cache_dir})}
    )


@pytest.fixture(scope="session")
def gate_workspace(rlsguard_stack: Any, gate_config: ProjectConfig) -> Iterator[Workspace]:
    with Workspace(gate_config, stack=rlsguard_stack) as ws:
        yield ws


@pytest.fixture(scope="session")
def reference_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository of the reference project: HEAD~1 lacks the last migration."""
    root = tmp_path_factory.mktemp("reference-repo")
    make_project(root, leave_out=[LAST_MIGRATION])
    commit(root, "previous: without reporting")
    shutil.copy2(
        REFERENCE / "migrations" / LAST_MIGRATION, root / "supabase" / "migrations" / LAST_MIGRATION
    )
    commit(root, "reporting: roster view and class average")
    return root


GateRunner = Callable[..., GateReport]


@pytest.fixture(scope="session")
def gate(gate_workspace: Workspace) -> GateRunner:
    """Run the gate in the shared workspace: ``gate(root, base="HEAD", head=None, ...)``."""

    def run(root: Path, base: str = "HEAD", **options: Any) -> GateReport:
        opts = GateOptions(base=base, supabase_dir=root / "supabase", **options)
        return run_gate(opts, workspace=gate_workspace)

    return run


@pytest.fixture(scope="session")
def reference_report(gate: GateRunner, reference_repo: Path) -> GateReport:
    """The reference gated against itself (``--base HEAD``)."""
    return gate(reference_repo, base="HEAD")


KNOWN_BAD_FILES = sorted(p.name for p in KNOWN_BAD.glob("*.sql"))


@pytest.fixture(scope="session")
def bad_projects(
    tmp_path_factory: pytest.TempPathFactory, gate_workspace: Workspace
) -> dict[str, Path]:
    """One repository per known-bad file: the reference committed, the bad migration added
    but not committed. Their heads are built up front, two at a time."""
    roots = {}
    for name in KNOWN_BAD_FILES:
        root = tmp_path_factory.mktemp(Path(name).stem.split("_", 1)[1])
        make_project(root)
        commit(root, "reference")
        shutil.copy2(KNOWN_BAD / name, root / "supabase" / "migrations" / name)
        roots[name] = root
    gate_workspace.engines([root / "supabase" for root in roots.values()])
    return roots


@pytest.fixture(scope="session")
def known_bad_report(
    gate: GateRunner, bad_projects: dict[str, Path]
) -> Callable[[str], GateReport]:
    """The gate's report for a known-bad file (``--base HEAD``), run once per session."""
    reports: dict[str, GateReport] = {}

    def get(name: str) -> GateReport:
        if name not in reports:
            reports[name] = gate(bad_projects[name], base="HEAD")
        return reports[name]

    return get
