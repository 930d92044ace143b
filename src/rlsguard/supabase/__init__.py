"""Supabase on plain PostgreSQL: the bootstrap, and migrations and seeds as the CLI applies them.

>>> report = apply_project(server, SupabaseProject.load("supabase"))
>>> user_id = create_user(server, email="ada@example.com", password="secret")

Imported eagerly, unlike the other packages: ``bootstrap`` names both a function and its
module, and a lazy export would be shadowed by the module once anything imports it.
"""

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
