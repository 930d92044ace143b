"""Supabase on plain PostgreSQL: the bootstrap, and migrations and seeds as the CLI applies them.

>>> report = apply_project(server, SupabaseProject.load("supabase"))
>>> user_id = create_user(server, email="ada@example.com", password="secret")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlsguard._lazy import lazy_exports

_EXPORTS = {
    "BootstrapError": "rlsguard.errors",
    "ExtensionUnavailable": "rlsguard.errors",
    "FidelityWarning": "rlsguard.errors",
    "MigrationError": "rlsguard.errors",
    "StandInWarning": "rlsguard.errors",
    "SupabaseProjectWarning": "rlsguard.errors",
    "UserCreationError": "rlsguard.errors",
    "ApplyReport": "apply",
    "apply_project": "apply",
    "BootstrapReport": "bootstrap",
    "bootstrap": "bootstrap",
    "clone_database": "bootstrap",
    "DEVIATIONS": "deviations",
    "Deviation": "deviations",
    "KNOWN_SERVERS": "extensions",
    "STAND_INS": "extensions",
    "StandIns": "extensions",
    "AppliedFile": "migrations",
    "MigrationSession": "migrations",
    "apply_migrations": "migrations",
    "apply_seeds": "migrations",
    "Migration": "project",
    "SqlFile": "project",
    "SupabaseConfig": "project",
    "SupabaseProject": "project",
    "ROLES": "roles",
    "create_user": "users",
    "API_ROLES": "rlsguard.vocab",
}

__all__ = [
    "API_ROLES",
    "DEVIATIONS",
    "KNOWN_SERVERS",
    "ROLES",
    "STAND_INS",
    "AppliedFile",
    "ApplyReport",
    "BootstrapError",
    "BootstrapReport",
    "Deviation",
    "ExtensionUnavailable",
    "FidelityWarning",
    "Migration",
    "MigrationError",
    "MigrationSession",
    "SqlFile",
    "StandInWarning",
    "StandIns",
    "SupabaseConfig",
    "SupabaseProject",
    "SupabaseProjectWarning",
    "UserCreationError",
    "apply_migrations",
    "apply_project",
    "apply_seeds",
    "bootstrap",
    "clone_database",
    "create_user",
]

if TYPE_CHECKING:
    from rlsguard.errors import (
        BootstrapError,
        ExtensionUnavailable,
        FidelityWarning,
        MigrationError,
        StandInWarning,
        SupabaseProjectWarning,
        UserCreationError,
    )
    from rlsguard.supabase.apply import ApplyReport, apply_project
    from rlsguard.supabase.bootstrap import BootstrapReport, bootstrap, clone_database
    from rlsguard.supabase.deviations import DEVIATIONS, Deviation
    from rlsguard.supabase.extensions import KNOWN_SERVERS, STAND_INS, StandIns
    from rlsguard.supabase.migrations import (
        AppliedFile,
        MigrationSession,
        apply_migrations,
        apply_seeds,
    )
    from rlsguard.supabase.project import Migration, SqlFile, SupabaseConfig, SupabaseProject
    from rlsguard.supabase.roles import ROLES
    from rlsguard.supabase.users import create_user
    from rlsguard.vocab import API_ROLES

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
