"""Paths and small helpers of the policy tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from rlsguard.harness.engine import Engine
from rlsguard.supabase.migrations import MigrationSession
from rlsguard.supabase.project import Migration
from rlsguard.workspace.build import connection_target

PROJECTS = Path(__file__).parent / "projects"
REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "supabase"
APPROVED = REPO / "fixtures" / "policies.snapshot.json"
KNOWN_BAD = REPO / "fixtures" / "known-bad"


def apply_sql(engine: Engine, dbname: str, sql: str, version: str = "29990101000000") -> None:
    """Run ``sql`` in ``dbname`` as a migration file, exactly as ``supabase db push`` would."""
    migration = Migration(Path(f"{version}_t.sql"), f"supabase/migrations/{version}_t.sql", sql,
                          version, "t")  # fmt: skip
    with MigrationSession(connection_target(engine), dbname) as session:
        session.run(migration, "migration")


def copy_project(source: Path, target: Path, extra: dict[str, str] | None = None) -> Path:
    """A copy of ``source`` (a supabase/ folder) under ``target``, plus extra migrations."""
    folder = target / "supabase"
    shutil.copytree(source, folder)
    for name, sql in (extra or {}).items():
        (folder / "migrations" / name).write_text(sql, encoding="utf-8")
    return folder
