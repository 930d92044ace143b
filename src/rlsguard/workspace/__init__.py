"""Orchestration above the checks: databases per folder or git ref, blame and rollback.

>>> from rlsguard.workspace import Workspace, diff_sources
>>> from rlsguard.policy import render_diff
>>> with Workspace() as ws:
...     diff = diff_sources("HEAD~1", supabase_dir=Path("supabase"), workspace=ws)
...     print(render_diff(diff, "markdown"))

Modules: :mod:`.sources` (files, folders, git refs), :mod:`.build` (one engine per folder
in one supervisor), :mod:`.trial` (a migration tried on a clone), :mod:`.blame`,
:mod:`.rollback` and :mod:`.api` (one call per command). The checks below this floor take
a database; this floor is what starts servers for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported on first use: `import rlsguard.workspace.sources` must not pay for the engine.
_EXPORTS = {
    "blame_project": "api",
    "diff_sources": "api",
    "resolve_snapshot": "api",
    "rollback_project": "api",
    "snapshot_project": "api",
    "BlameReport": "blame",
    "Culprit": "blame",
    "Workspace": "build",
    "Rollback": "rollback",
    "generate_rollback": "rollback",
    "plan_rollback": "rollback",
    "Source": "sources",
    "SourceError": "sources",
    "open_source": "sources",
}
__all__ = [
    "BlameReport",
    "Culprit",
    "Rollback",
    "Source",
    "SourceError",
    "Workspace",
    "blame_project",
    "diff_sources",
    "generate_rollback",
    "open_source",
    "plan_rollback",
    "resolve_snapshot",
    "rollback_project",
    "snapshot_project",
]

if TYPE_CHECKING:
    from rlsguard.workspace.api import (
        blame_project,
        diff_sources,
        resolve_snapshot,
        rollback_project,
        snapshot_project,
    )
    from rlsguard.workspace.blame import BlameReport, Culprit
    from rlsguard.workspace.build import Workspace
    from rlsguard.workspace.rollback import Rollback, generate_rollback, plan_rollback
    from rlsguard.workspace.sources import Source, SourceError, open_source


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rlsguard.workspace' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rlsguard.workspace.{module}"), name)
