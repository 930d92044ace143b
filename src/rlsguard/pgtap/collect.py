"""Where a project's pgTAP files are: ``[pgtap].tests`` or ``supabase/tests``, globbed."""

from __future__ import annotations

from pathlib import Path

from rlsguard.config import ProjectConfig

DEFAULT_FOLDER = "tests"  # inside supabase/, where `supabase test db` looks


def tests_folder(config: ProjectConfig) -> Path:
    folder = config.pgtap.tests or Path(config.supabase_dir) / DEFAULT_FOLDER
    return Path(folder).resolve()


def find_test_files(folder: Path, pattern: str = "**/*.sql") -> list[Path]:
    """The test files, in the order ``pg_prove`` runs them (sorted paths)."""
    if not folder.is_dir():
        return []
    return sorted(path.resolve() for path in folder.glob(pattern) if path.is_file())
