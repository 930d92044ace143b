"""Supabase on plain PostgreSQL: the bootstrap, and migrations and seeds as the CLI applies them.

>>> report = apply_project(server, SupabaseProject.load("supabase"))
>>> user_id = create_user(server, email="ada@example.com", password="secret")
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Eager: the function ``bootstrap`` shares its name with its module, and a lazy attribute would
# be shadowed by the submodule as soon as anything imports it.
from rlsguard.supabase.bootstrap import BootstrapReport, bootstrap, clone_database

# Names are imported on first use (PEP 562): the bootstrap and migration code pulls in the
# SQL parser, which `rlsguard matrix check` and `pytest -m rls` on a cached template never need.
_WHERE = {
    "API_ROLES": "rlsguard.supabase.roles",
    "AppliedFile": "rlsguard.supabase.migrations",
    "ApplyReport": "rlsguard.supabase.apply",
    "BootstrapError": "rlsguard.supabase.errors",
    "DEVIATIONS": "rlsguard.supabase.deviations",
    "Deviation": "rlsguard.supabase.deviations",
    "ExtensionUnavailable": "rlsguard.supabase.errors",
    "FidelityWarning": "rlsguard.supabase.errors",
    "KNOWN_SERVERS": "rlsguard.supabase.extensions",
    "Migration": "rlsguard.supabase.project",
    "MigrationError": "rlsguard.supabase.errors",
    "MigrationSession": "rlsguard.supabase.migrations",
    "ROLES": "rlsguard.supabase.roles",
    "STAND_INS": "rlsguard.supabase.extensions",
    "SqlFile": "rlsguard.supabase.project",
    "StandInWarning": "rlsguard.supabase.extensions",
    "StandIns": "rlsguard.supabase.extensions",
    "SupabaseConfig": "rlsguard.supabase.project",
    "SupabaseProject": "rlsguard.supabase.project",
    "SupabaseProjectWarning": "rlsguard.supabase.project",
    "UserCreationError": "rlsguard.supabase.errors",
    "apply_migrations": "rlsguard.supabase.migrations",
    "apply_project": "rlsguard.supabase.apply",
    "apply_seeds": "rlsguard.supabase.migrations",
    "create_user": "rlsguard.supabase.users",
}

if TYPE_CHECKING:
    from rlsguard.supabase.apply import ApplyReport, apply_project
    from rlsguard.supabase.deviations import DEVIATIONS, Deviation
    from rlsguard.supabase.errors import (
        BootstrapError,
        ExtensionUnavailable,
        FidelityWarning,
        MigrationError,
        UserCreationError,
    )
    from rlsguard.supabase.extensions import KNOWN_SERVERS, STAND_INS, StandIns, StandInWarning
    from rlsguard.supabase.migrations import (
        AppliedFile,
        MigrationSession,
        apply_migrations,
        apply_seeds,
    )
    from rlsguard.supabase.project import (
        Migration,
        SqlFile,
        SupabaseConfig,
        SupabaseProject,
        SupabaseProjectWarning,
    )
    from rlsguard.supabase.roles import API_ROLES, ROLES
    from rlsguard.supabase.users import create_user


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


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
