"""The security surface as data: read it, snapshot it, diff it, render the diff.

>>> from rlsguard.policy import Snapshot, diff_snapshots, render_diff, read_catalog
>>> live = Snapshot.from_catalog(read_catalog(conn, ["public"]), "live")
>>> print(render_diff(diff_snapshots(approved, live), "markdown"))

Modules: :mod:`.catalog` (one reader of the catalog, shared with the lints), :mod:`.sqlnorm`
and :mod:`.predicates` (pglast-based normalisation and predicate comparison),
:mod:`.snapshot`, :mod:`.diff`, :mod:`.render` and :mod:`.paths`. Everything here reads a
connection it is given; building databases per folder or git ref, blame and rollback live
one floor up in :mod:`rlsguard.workspace`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported on first use, so `import rlsguard.policy.catalog` (the lints) and the pytest plugin
# do not pay for the engine, the stack and pglast up front. Names that are also submodules
# (blame, render) are not exported: importing the submodule would replace them.
_EXPORTS = {
    "default_snapshot_path": "paths",
    "Catalog": "catalog",
    "Column": "catalog",
    "DefaultPrivilege": "catalog",
    "Function": "catalog",
    "Grant": "catalog",
    "Policy": "catalog",
    "Role": "catalog",
    "Schema": "catalog",
    "Table": "catalog",
    "View": "catalog",
    "read_catalog": "catalog",
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
    from rlsguard.policy.catalog import (
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rlsguard.policy' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rlsguard.policy.{module}"), name)
