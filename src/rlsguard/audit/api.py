"""Lint and probe a project's prepared database: the glue the CLI and the gate share.

Both take an open :class:`~rlsguard.engine.Engine` and a :class:`~rlsguard.database.Database`
(a clone of its template) and read from the project what the checks need: the Data API's
schemas, the migration files (for locations) and the waivers of the project config.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from rlsguard.audit.findings import Finding
from rlsguard.audit.lint import lint_database, project_sources
from rlsguard.audit.probe import ProbeReport, run_probe
from rlsguard.database import Database
from rlsguard.engine import Engine


def _waiver_source(engine: Engine) -> str | None:
    source = engine.config.source
    if source is None:
        return None
    root = engine.load_project().root
    try:
        return source.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(source)


def lint_project(
    engine: Engine, db: Database, *, extra_files: Iterable[Path] = ()
) -> list[Finding]:
    """Lint ``db`` with the project's schemas, migrations and waivers.

    ``extra_files``: migrations applied on top of the project (their lines are reported).
    """
    project = engine.load_project()
    return lint_database(
        db.conn,
        exposed_schemas=project.config.api_schemas,
        files=project_sources(project, extra_files),
        waivers=engine.config.lint.waivers,
        waiver_source=_waiver_source(engine),
        reader=db.catalog,  # one read for the run: snapshot, lint and probe share it
    )


def probe_project(
    engine: Engine,
    db: Database,
    *,
    personas: Sequence[str] | None = None,
    extra_files: Iterable[Path] = (),
) -> ProbeReport:
    """Probe ``db`` as the project's personas (or synthetic users without any)."""
    project = engine.load_project()
    return run_probe(
        db,
        exposed_schemas=project.config.api_schemas,
        personas=personas,
        files=project_sources(project, extra_files),
        waivers=engine.config.lint.waivers,
        waiver_source=_waiver_source(engine),
        reader=db.catalog,
    )
