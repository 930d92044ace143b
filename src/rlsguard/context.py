"""What a check needs to know about the project, without the servers that built it.

Checks (:mod:`rlsguard.matrix`, :mod:`rlsguard.policy`, :mod:`rlsguard.audit`) take a
database plus a :class:`ProjectContext`; the harness, the workspace, the pytest plugin and
the CLI build one from the project's files (:meth:`ProjectContext.of`) and hand it down.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rlsguard.config import ProjectConfig, Waiver
from rlsguard.supabase.project import Migration, SupabaseProject


@dataclasses.dataclass(frozen=True)
class ProjectContext:
    """The Data API's schemas, the migration files, the personas and the lint waivers."""

    root: Path
    exposed_schemas: tuple[str, ...] = ("public", "graphql_public")
    migrations: tuple[Migration, ...] = ()
    personas: tuple[str, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    waiver_source: str | None = None  # the config file the waivers came from, as shown

    @classmethod
    def of(cls, project: SupabaseProject, config: ProjectConfig) -> ProjectContext:
        """The context of a loaded ``supabase/`` folder and its rlsguard config."""
        return cls(
            root=project.root,
            exposed_schemas=tuple(project.config.api_schemas),
            migrations=tuple(project.migrations),
            personas=tuple(config.personas),
            waivers=tuple(config.lint.waivers),
            waiver_source=_shown(config.source, project.root),
        )


def _shown(source: Path | None, root: Path) -> str | None:
    if source is None:
        return None
    try:
        return source.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(source)
