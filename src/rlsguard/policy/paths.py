"""Where the approved snapshot lives (kept light: the pytest plugin imports it at startup)."""

from __future__ import annotations

from pathlib import Path

from rlsguard.config import ProjectConfig, load_config

DEFAULT_SNAPSHOT = Path("fixtures") / "policies.snapshot.json"


def default_snapshot_path(supabase_dir: Path, config: ProjectConfig | None = None) -> Path:
    """``fixtures/policies.snapshot.json`` beside the project's rlsguard config (or beside
    the ``supabase/`` folder when there is none)."""
    config = config or load_config(supabase_dir=supabase_dir)
    root = config.source.parent if config.source else Path(supabase_dir).resolve().parent
    return root / DEFAULT_SNAPSHOT
