"""Which migration did it: replay the migrations one by one and follow every changed value.

The runbook's "find the problematic migration" step is ``ls supabase/migrations | grep``.
:func:`blame` instead starts from the Supabase bootstrap alone (a cached template), applies
each migration and then each seed file exactly as the CLI does (:class:`MigrationSession`),
and snapshots the surface after every file. The head surface is compared with the approved
snapshot; for every difference, the file that last changed that value is its culprit (the
earlier files that touched it are its history). ``first_departure`` is the earliest
culprit: the first migration whose result departs from the approved surface and stays
departed. ``matches_through`` names the last file after which the surface was exactly the
approved one, when there was such a moment.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlsguard.policy.catalog import read_catalog
from rlsguard.policy.diff import Change, PolicyDiff, diff_snapshots, value_at
from rlsguard.policy.render import summary_line
from rlsguard.policy.snapshot import Snapshot
from rlsguard.supabase.migrations import MigrationSession
from rlsguard.workspace.build import Workspace, connection_target, load_project
from rlsguard.workspace.sources import display_path

BOOTSTRAP = "(Supabase bootstrap)"


@dataclass(frozen=True)
class Step:
    """The surface after one file (the first step is the bootstrap alone)."""

    file: str  # display path, e.g. supabase/migrations/20260105090000_tenancy.sql
    kind: str  # "bootstrap" | "migration" | "seed"
    snapshot: Snapshot


@dataclass(frozen=True)
class Culprit:
    """One difference from the approved surface and the file that made it."""

    change: Change
    file: str  # the last file that changed this value (BOOTSTRAP: no migration did)
    history: tuple[str, ...]  # every file that changed it, in order

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "history": list(self.history), **self.change.as_dict()}


@dataclass
class BlameReport:
    approved: str
    files: list[str]
    diff: PolicyDiff
    culprits: list[Culprit] = field(default_factory=list)
    matches_through: str | None = None
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.diff.changes

    @property
    def first_departure(self) -> str | None:
        """The earliest file that produced a difference still present at the end."""
        order = {name: i for i, name in enumerate((BOOTSTRAP, *self.files))}
        blamed = sorted({c.file for c in self.culprits}, key=lambda f: order.get(f, -1))
        return blamed[0] if blamed else None

    def by_file(self) -> dict[str, list[Culprit]]:
        out: dict[str, list[Culprit]] = {}
        order = {name: i for i, name in enumerate((BOOTSTRAP, *self.files))}
        for culprit in sorted(self.culprits, key=lambda c: order.get(c.file, -1)):
            out.setdefault(culprit.file, []).append(culprit)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "approved": self.approved,
            "clean": self.clean,
            "first_departure": self.first_departure,
            "matches_through": self.matches_through,
            "files": self.files,
            "culprits": [c.as_dict() for c in self.culprits],
            "seconds": round(self.seconds, 3),
        }

    def render(self) -> str:
        if self.clean:
            return (
                f"The surface after all {len(self.files)} file(s) matches the approved "
                f"snapshot ({self.approved}): nothing to blame.\n"
            )
        lines = [f"{self.first_departure} is the first file that departs from {self.approved}."]
        if self.matches_through:
            lines.append(f"Up to {self.matches_through} the surface matched it exactly.")
        for file, culprits in self.by_file().items():
            lines.append("")
            lines.append(f"{file}:")
            for culprit in culprits:
                earlier = [f for f in culprit.history if f != file]
                note = f" (earlier: {', '.join(earlier)})" if earlier else ""
                lines.append(f"  [{culprit.change.grade}] {culprit.change.message}{note}")
        lines.append("")
        lines.append(f"In all: {summary_line(self.diff)}.")
        return "\n".join(lines) + "\n"


def replay(workspace: Workspace, supabase_dir: Path) -> list[Step]:
    """Snapshots after the bootstrap and after every migration and seed file, in order.

    The files run in a bootstrap-only cluster of their own (from the template cache), which
    is stopped afterwards: roles a migration creates belong to the cluster, so a second
    replay must not find them there.
    """
    project = load_project(Path(supabase_dir).resolve())
    engine = workspace.engine(project.supabase_dir, "bootstrap", project)
    exposed = project.config.api_schemas
    try:
        with (
            engine.connect(engine.template_db, autocommit=True) as reader,
            MigrationSession(connection_target(engine), engine.template_db) as session,
        ):

            def shot(label: str) -> Snapshot:
                return Snapshot.from_catalog(read_catalog(reader, exposed), label)

            steps = [Step(BOOTSTRAP, "bootstrap", shot(BOOTSTRAP))]
            for migration in project.migrations:
                session.run(migration, "migration")
                steps.append(Step(migration.display, "migration", shot(migration.display)))
            for seed in project.seeds:
                session.run(seed, "seed")
                steps.append(Step(seed.display, "seed", shot(seed.display)))
    finally:
        workspace.release(project.supabase_dir, "bootstrap")
    return steps


def attribute(approved: Snapshot, steps: Sequence[Step], head_label: str = "") -> BlameReport:
    """Blame each difference between ``approved`` and the last step on the file that made it."""
    head = Snapshot(steps[-1].snapshot.doc, head_label or "head")
    diff = diff_snapshots(approved, head)
    culprits = []
    for change in diff.changes:
        values = [value_at(step.snapshot.doc, change.path) for step in steps]
        moments = [i for i in range(1, len(steps)) if values[i] != values[i - 1]]
        if change.before is None or change.after is None:
            # Something added (or removed): blame the file that created (dropped) it, not a
            # later one that only changed a detail inside it.
            appeared = [i for i in moments if (values[i - 1] is None) != (values[i] is None)]
            blamed = appeared or moments
        else:
            blamed = moments
        touched = tuple(steps[i].file for i in moments)
        culprits.append(Culprit(change, steps[blamed[-1]].file if blamed else BOOTSTRAP, touched))
    matches = [s.file for s in steps if s.snapshot == approved]
    return BlameReport(
        approved=approved.label or "the approved snapshot",
        files=[s.file for s in steps[1:]],
        diff=diff,
        culprits=culprits,
        matches_through=matches[-1] if matches else None,
    )


def blame(workspace: Workspace, supabase_dir: Path, approved: Snapshot) -> BlameReport:
    """Replay ``supabase_dir`` file by file and name the files that departed from
    ``approved`` (see the module docstring)."""
    started = time.perf_counter()
    report = attribute(approved, replay(workspace, supabase_dir), display_path(supabase_dir))
    report.seconds = time.perf_counter() - started
    return report
