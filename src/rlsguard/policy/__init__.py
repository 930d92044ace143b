"""The security surface as data: read it, snapshot it, diff it, render the diff.

>>> from rlsguard.policy import Snapshot, diff_snapshots, render_diff, read_catalog
>>> live = Snapshot.from_catalog(read_catalog(conn, ["public"]), "live")
>>> print(render_diff(diff_snapshots(approved, live), "markdown"))

:mod:`rlsguard.catalog` reads the catalog (for lint, probe and the matrix too). Modules:
:mod:`.predicates` (pglast-based predicate comparison),
:mod:`.snapshot`, :mod:`.diff`, :mod:`.render` and :mod:`.paths`. Everything here reads a
connection it is given; building databases per folder or git ref, blame and rollback live
one floor up in :mod:`rlsguard.workspace`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlsguard._lazy import lazy_exports

# Imported on first use, so `import rlsguard.catalog.surface` (the lints) and the pytest plugin
# do not pay for the engine, the stack and pglast up front. Names that are also submodules
# (blame, render) are not exported: importing the submodule would replace them.
_EXPORTS = {
    "default_snapshot_path": "paths",
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
    "DEFAULT_SNAPSHOT": "paths",
    "Snapshot": "snapshot",
}
__all__ = [
    "DEFAULT_SNAPSHOT",
    "Catalog",
    "Change",
    "Column",
    "DefaultPrivilege",
    "Function",
    "Grant",
    "Policy",
    "PolicyDiff",
    "Role",
    "Schema",
    "Snapshot",
    "Table",
    "View",
    "default_snapshot_path",
    "diff_snapshots",
    "read_catalog",
    "render_diff",
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
    from rlsguard.policy.diff import Change, PolicyDiff, diff_snapshots
    from rlsguard.policy.paths import DEFAULT_SNAPSHOT, default_snapshot_path
    from rlsguard.policy.render import render_diff
    from rlsguard.policy.snapshot import Snapshot


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
