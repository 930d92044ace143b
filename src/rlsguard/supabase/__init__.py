"""Supabase on plain PostgreSQL: the bootstrap, and migrations and seeds as the CLI applies them.

>>> report = apply_project(server, SupabaseProject.load("supabase"))
>>> user_id = create_user(server, email="ada@example.com", password="secret")

Lazy like the other packages (:mod:`rlsguard._lazy`), but ``bootstrap`` is imported eagerly:
it names both a function and its module, and a lazy export would be shadowed by the module.
"""

from typing import TYPE_CHECKING

from rlsguard._lazy import lazy_exports

# Eager: the function ``bootstrap`` shares its name with its module, and a lazy attribute would
# be shadowed by the submodule as soon as anything imports it.
from rlsguard.supabase.bootstrap import BootstrapReport, bootstrap, clone_database

# The rest loads on first use: the bootstrap and migration code pulls in the SQL parser,
# which `rlsguard matrix check` and `pytest -m rls` on a cached template never need.
_EXPORTS = {
    "API_ROLES": "rlsguard.vocab",
    "AppliedFile": "migrations",
    "ApplyReport": "apply",
    "BootstrapError": "rlsguard.errors",
    "DEVIATIONS": "deviations",
    "Deviation": "deviations",
    "ExtensionUnavailable": "rlsguard.errors",
    "FidelityWarning": "rlsguard.errors",
    "KNOWN_SERVERS": "extensions",
    "Migration": "project",
    "MigrationError": "rlsguard.errors",
    "MigrationSession": "migrations",
    "ROLES": "roles",
    "STAND_INS": "extensions",
    "SqlFile": "project",
    "StandInWarning": "rlsguard.errors",
    "StandIns": "extensions",
    "SupabaseConfig": "project",
    "SupabaseProject": "project",
    "SupabaseProjectWarning": "rlsguard.errors",
    "UserCreationError": "rlsguard.errors",
    "apply_migrations": "migrations",
    "apply_project": "apply",
    "apply_seeds": "migrations",
    "create_user": "users",
}

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
