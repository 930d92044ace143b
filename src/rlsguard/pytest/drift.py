"""pytest item: the live security surface must equal the approved snapshot.

When ``fixtures/policies.snapshot.json`` exists beside the project (beside its rlsguard
config, or beside ``supabase/`` when there is none), pytest collects it as one ``rls`` item,
``test_policy_snapshot``, under the same rules as the access matrix: when pytest runs without
path arguments (``pytest``, ``pytest -m rls``), or when a path argument is the file or its
folder. The item snapshots a clone of the session's template database and fails with the
graded diff and the command that approves the new surface.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rlsguard.errors import RlsguardError
from rlsguard.pytest.session import fail_session, session_engine

if TYPE_CHECKING:
    from rlsguard.config import ProjectConfig
    from rlsguard.policy.diff import PolicyDiff

PLUGIN_NAME = "rlsguard-policy-snapshot"
ITEM_NAME = "test_policy_snapshot"


def configure_drift(config: pytest.Config, project: ProjectConfig | None) -> None:
    """Register the snapshot collector when the project has an approved snapshot.

    ``project`` is the config the plugin read; None when it could not be read (the
    engine reports that when a test needs it).
    """
    if project is None:
        return
    from rlsguard.policy.paths import default_snapshot_path

    supabase_option = config.getoption("--supabase-dir", None)
    supabase_dir = Path(supabase_option).resolve() if supabase_option else None
    try:
        path = default_snapshot_path(supabase_dir or Path(project.supabase_dir), project)
    except RlsguardError:
        return
    if not path.is_file():
        return
    config.pluginmanager.register(
        SnapshotPlugin(path, approve_command(config, path, supabase_option), _shown(config, path)),
        PLUGIN_NAME,
    )
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args.append(str(path))


def _shown(config: pytest.Config, path: Path | str) -> str:
    """``path`` relative to where pytest was started (as a user would type it)."""
    try:
        return os.path.relpath(Path(path).resolve(), config.invocation_params.dir)
    except ValueError:
        return str(path)


def approve_command(config: pytest.Config, path: Path, supabase_option: str | None) -> str:
    """``rlsguard snapshot -o <path>``, relative to where pytest was started."""
    flag = f" --supabase-dir {_shown(config, supabase_option)}" if supabase_option else ""
    return f"rlsguard snapshot{flag} -o {_shown(config, path)}"


class SnapshotDrift(Exception):
    """The live surface differs from the approved snapshot."""

    def __init__(self, diff: PolicyDiff, command: str) -> None:
        super().__init__(f"{len(diff.changes)} change(s)")
        self.diff = diff
        self.command = command


class SnapshotFile(pytest.File):
    def collect(self) -> Iterator[SnapshotItem]:
        yield SnapshotItem.from_parent(self, name=ITEM_NAME)


class SnapshotItem(pytest.Item):
    """The approved snapshot against a clone of the session's template."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker(pytest.mark.rls)

    def runtest(self) -> None:
        from rlsguard.policy.catalog import read_catalog
        from rlsguard.policy.diff import diff_snapshots
        from rlsguard.policy.snapshot import Snapshot

        plugin: SnapshotPlugin = self.config.pluginmanager.getplugin(PLUGIN_NAME)
        approved = Snapshot.load(self.path)
        try:
            engine = session_engine(self.config)
        except RlsguardError as exc:
            fail_session(exc)
        schemas = engine.context().exposed_schemas
        with engine.cloned_database(f"rlsguard_snapshot_{os.getpid()}", read_only=True) as db:
            live = Snapshot.from_catalog(read_catalog(db.conn, schemas), "the live database")
        diff = diff_snapshots(approved, live)
        if diff.changes:
            raise SnapshotDrift(diff, plugin.command)

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> Any:
        if isinstance(excinfo.value, SnapshotDrift):
            from rlsguard.policy.render import render_text

            plugin: SnapshotPlugin = self.config.pluginmanager.getplugin(PLUGIN_NAME)
            drift = excinfo.value
            return (
                f"The security surface drifted from the approved snapshot {self.path.name}.\n\n"
                f"{render_text(drift.diff)}\n"
                "If every change above is intended, approve the new surface with:\n\n"
                f"    {drift.command}\n\n"
                "and commit the snapshot with the migration. Otherwise `rlsguard blame` names "
                "the migration that did it and `rlsguard rollback --to "
                f"{plugin.shown}` writes the fix."
            )
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, ITEM_NAME


class SnapshotPlugin:
    def __init__(self, path: Path, command: str, shown: str) -> None:
        self.path = path.resolve()
        self.command = command
        self.shown = shown

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> Any:
        if file_path.resolve() == self.path:
            return SnapshotFile.from_parent(parent, path=file_path)
        return None
