"""The security surface: read it, snapshot it, diff it, blame a migration, roll it back.

>>> from rlsguard.policy import Workspace, diff_sources, render_diff
>>> with Workspace() as ws:
...     diff = diff_sources("HEAD~1", supabase_dir=Path("supabase"), workspace=ws)
...     print(render_diff(diff, "markdown"))

:mod:`rlsguard.catalog` reads the catalog (for lint, probe and the matrix too). Modules:
:mod:`.sqlnorm` and :mod:`.predicates` (pglast-based normalisation and predicate comparison),
:mod:`.snapshot`, :mod:`.diff` and :mod:`.render`, :mod:`.sources` (files, folders, git
refs), :mod:`.build` (databases per folder), :mod:`.blame`, :mod:`.rollback`, :mod:`.api`
(one call per command) and :mod:`.cli`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlsguard._lazy import lazy_exports

# Imported on first use, so `import rlsguard.catalog.surface` (the lints) and the pytest plugin
# do not pay for the engine, the stack and pglast up front. Names that are also submodules
# (blame, render) are not exported: importing the submodule would replace them.
_EXPORTS = {
    "blame_project": "api",
    "default_snapshot_path": "paths",
    "diff_sources": "api",
    "resolve_snapshot": "api",
    "rollback_project": "api",
    "snapshot_project": "api",
    "BlameReport": "blame",
    "Culprit": "blame",
    "Workspace": "build",
    "Catalog": "rlsguard.catalog.surface",
    "Column": "rlsguard.catalog.surface",
    "DefaultPrivilege": "rlsguard.catalog.surface",
    "Function": "rlsguard.catalog.surface",
    "Grant": "rlsguard.catalog.surface",
    "Policy": "rlsguard.catalog.surface",
    "Role": "rlsguard.catalog.surface",
    "Schema": "rlsguard.catalog.surface",
    "Table": "rlsguard.catalog.surface",
    "View": "rlsguard.catalog.surface",
    "read_catalog": "rlsguard.catalog.surface",
    "Change": "diff",
    "PolicyDiff": "diff",
    "diff_snapshots": "diff",
    "render_diff": "render",
    "Rollback": "rollback",
    "generate_rollback": "rollback",
    "plan_rollback": "rollback",
    "DEFAULT_SNAPSHOT": "paths",
    "Snapshot": "snapshot",
    "Source": "sources",
    "SourceError": "rlsguard.errors",
    "open_source": "sources",
}
__all__ = [
    "DEFAULT_SNAPSHOT",
    "BlameReport",
    "Catalog",
    "Change",
    "Column",
    "Culprit",
    "DefaultPrivilege",
    "Function",
    "Grant",
    "Policy",
    "PolicyDiff",
    "Role",
    "Rollback",
    "Schema",
    "Snapshot",
    "Source",
    "SourceError",
    "Table",
    "View",
    "Workspace",
    "blame_project",
    "default_snapshot_path",
    "diff_snapshots",
    "diff_sources",
    "generate_rollback",
    "open_source",
    "plan_rollback",
    "read_catalog",
    "render_diff",
    "resolve_snapshot",
    "rollback_project",
    "snapshot_project",
]

if TYPE_CHECKING:
    from rlsguard.catalog.surface import (
        Catalog,
        Column,
        DefaultPrivilege,
        Function,
        Grant,
        Policy,
        Role,
        Schema,
        Table,
        View,
        read_catalog,
    )
    from rlsguard.errors import SourceError
    from rlsguard.policy.api import (
        blame_project,
        diff_sources,
        resolve_snapshot,
        rollback_project,
        snapshot_project,
    )
    from rlsguard.policy.blame import BlameReport, Culprit
    from rlsguard.policy.build import Workspace
    from rlsguard.policy.diff import Change, PolicyDiff, diff_snapshots
    from rlsguard.policy.paths import DEFAULT_SNAPSHOT, default_snapshot_path
    from rlsguard.policy.render import render_diff
    from rlsguard.policy.rollback import Rollback, generate_rollback, plan_rollback
    from rlsguard.policy.snapshot import Snapshot
    from rlsguard.policy.sources import Source, open_source


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
