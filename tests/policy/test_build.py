"""Workspace: several folders in one Stack, built in parallel, each closed on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlsguard.config import ProjectConfig
from rlsguard.harness.engine import Engine
from rlsguard.supabase.migrations import MigrationSession
from rlsguard.workspace.build import Workspace, connection_target
from tests.policy.helpers import REFERENCE


def test_folders_share_the_stack_and_close_alone(
    rlsguard_stack: Any, policy_config: ProjectConfig, courses_dir: Path
) -> None:
    with Workspace(policy_config, stack=rlsguard_stack) as ws:
        courses, reference = ws.engines([courses_dir, REFERENCE])
        assert courses is ws.engine(courses_dir)  # cached per folder
        assert courses.stack is reference.stack is rlsguard_stack
        names = {courses.prepared.server.name, reference.prepared.server.name}  # type: ignore[union-attr]
        assert len(names) == 2
        assert names <= set(rlsguard_stack.servers)
        ws.release(courses_dir)
        assert courses.prepared is None
        assert reference.prepared is not None
        assert reference.prepared.server.is_running
        fresh = ws.engine(courses_dir)
        assert fresh is not courses
    # The workspace stopped its clusters but not the stack it was given.
    assert rlsguard_stack.is_open
    assert not names & set(rlsguard_stack.servers)


def test_bootstrap_stage_has_no_migrations(workspace: Workspace, courses_dir: Path) -> None:
    engine: Engine = workspace.engine(courses_dir, "bootstrap")
    try:
        with engine.connect(engine.template_db) as conn:
            row = conn.execute("select to_regclass('public.courses')").fetchone()
            assert row == (None,)
            assert conn.execute("select to_regproc('auth.uid') is not null").fetchone() == (True,)
        with MigrationSession(connection_target(engine), engine.template_db) as session:
            assert session.applied_versions() == set()
    finally:
        workspace.release(courses_dir, "bootstrap")
