"""One call per command, for drills and the gate: no shell, no argument parsing.

Each function takes an optional :class:`Workspace`; pass one to share servers (and template
cache hits) between calls, or leave it out and the call opens and closes its own.

>>> with Workspace() as ws:
...     approved = snapshot_project(Path("supabase"), workspace=ws)
...     changes = diff_sources("HEAD~1", supabase_dir=Path("supabase"), workspace=ws)
...     report = blame_project(Path("supabase"), approved, workspace=ws)
...     fix = rollback_project(Path("supabase"), "HEAD~1", workspace=ws)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from rlsguard.config import load_config
from rlsguard.policy.diff import PolicyDiff, diff_snapshots
from rlsguard.policy.paths import default_snapshot_path
from rlsguard.policy.snapshot import Snapshot
from rlsguard.workspace.blame import BlameReport, blame
from rlsguard.workspace.build import Workspace
from rlsguard.workspace.rollback import Rollback, generate_rollback

__all__ = [
    "blame_project",
    "default_snapshot_path",
    "diff_sources",
    "resolve_snapshot",
    "rollback_project",
    "snapshot_project",
]

T = TypeVar("T")


@contextmanager
def _workspace(workspace: Workspace | None, supabase_dir: Path) -> Iterator[Workspace]:
    if workspace is not None:
        yield workspace
        return
    with Workspace(load_config(supabase_dir=supabase_dir)) as own:
        yield own


def _with(workspace: Workspace | None, supabase_dir: Path, call: Callable[[Workspace], T]) -> T:
    with _workspace(workspace, supabase_dir) as ws:
        return call(ws)


def snapshot_project(supabase_dir: Path, *, workspace: Workspace | None = None) -> Snapshot:
    """The surface ``supabase db reset`` would leave for this folder."""
    return _with(workspace, supabase_dir, lambda ws: ws.snapshot(Path(supabase_dir)))


def resolve_snapshot(
    spec: str | Path, *, supabase_dir: Path, workspace: Workspace | None = None
) -> Snapshot:
    """A snapshot file, a folder or a git ref (of ``supabase_dir``'s repository) as a snapshot."""
    return _with(workspace, supabase_dir, lambda ws: ws.resolve(spec, supabase_dir=supabase_dir))


def diff_sources(
    base: str | Path,
    head: str | Path | None = None,
    *,
    supabase_dir: Path,
    workspace: Workspace | None = None,
) -> PolicyDiff:
    """The graded diff from ``base`` to ``head`` (default: the working tree's folder)."""

    def run(ws: Workspace) -> PolicyDiff:
        specs = [base, head if head is not None else supabase_dir]
        before, after = ws.resolve_many(specs, supabase_dir=supabase_dir)
        return diff_snapshots(before, after)

    return _with(workspace, supabase_dir, run)


def blame_project(
    supabase_dir: Path, against: Snapshot, *, workspace: Workspace | None = None
) -> BlameReport:
    """Which migration files make ``supabase_dir``'s surface depart from ``against``."""
    return _with(workspace, supabase_dir, lambda ws: blame(ws, Path(supabase_dir), against))


def rollback_project(
    supabase_dir: Path,
    to: Snapshot | str | Path,
    *,
    workspace: Workspace | None = None,
    now: datetime | None = None,
) -> Rollback:
    """A verified rollback migration from ``supabase_dir``'s surface back to ``to``."""

    def run(ws: Workspace) -> Rollback:
        target = to if isinstance(to, Snapshot) else ws.resolve(to, supabase_dir=supabase_dir)
        return generate_rollback(ws, Path(supabase_dir), target, now=now)

    return _with(workspace, supabase_dir, run)
