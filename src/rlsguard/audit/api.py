"""Lint and probe a project's database: the glue the CLI and the gate share.

Both take a :class:`~rlsguard.database.Database` and the project's
:class:`~rlsguard.context.ProjectContext` (the Data API's schemas, the migration files for
locations, the waivers of the project config); neither starts or opens anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from rlsguard.audit.findings import Finding
from rlsguard.audit.lint import lint_database, project_sources
from rlsguard.audit.probe import ProbeReport, run_probe
from rlsguard.context import ProjectContext
from rlsguard.database import Database


def lint_project(
    db: Database, context: ProjectContext, *, extra_files: Iterable[Path] = ()
) -> list[Finding]:
    """Lint ``db`` with the project's schemas, migrations and waivers.

    ``extra_files``: migrations applied on top of the project (their lines are reported).
    """
    return lint_database(
        db.conn,
        exposed_schemas=context.exposed_schemas,
        files=project_sources(context, extra_files),
        waivers=context.waivers,
        waiver_source=context.waiver_source,
    )


def probe_project(
    db: Database,
    context: ProjectContext,
    *,
    personas: Sequence[str] | None = None,
    extra_files: Iterable[Path] = (),
) -> ProbeReport:
    """Probe ``db`` as the project's personas (or synthetic users without any)."""
    return run_probe(
        db,
        exposed_schemas=context.exposed_schemas,
        personas=personas,
        files=project_sources(context, extra_files),
        waivers=context.waivers,
        waiver_source=context.waiver_source,
    )
