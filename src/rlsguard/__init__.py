"""rlsguard: RLS and auth regression and chaos suite for Supabase-style Postgres.

Everything a user holds is importable from here (README, "Python API")::

    from rlsguard import Database, Session, Request, denial_kind, RlsguardError

Names load on first use, so ``import rlsguard`` costs next to nothing: server children
and the pytest plugin import the package without paying for psycopg or pydantic. Type
checkers read the names from ``__init__.pyi`` (no import here, so no layer sees one).
"""

from __future__ import annotations

from rlsguard._lazy import lazy_exports

__version__ = "0.1.0"

_ERRORS = (
    "RlsguardError", "ConfigError", "MatrixError", "InvalidArgument", "SqlNormalizationError",
    "MisuseError", "UnknownCell", "InternalError", "BackendUnavailable", "ServerError",
    "WaitTimeout", "DestructiveActionRefused", "BootstrapError", "MigrationError",
    "ExtensionUnavailable", "UserCreationError", "PersonaError", "SourceError", "GateError",
    "ScenarioError", "FaultError", "DrillAborted", "MailerError",
    "Unsupported", "CellFailed", "SnapshotDrift", "MigrationNotRecorded", "InputFileError",
    "CacheError", "NothingChecked", "PgtapUnavailable", "TestFileError", "PgtapFailed",
    "IsolationBreak", "Relayed",
    "RlsguardWarning", "ConfigWarning", "SupabaseProjectWarning", "FidelityWarning",
    "StandInWarning", "CacheFullWarning",
)  # fmt: skip

_EXPORTS = {
    # the harness: a prepared database server for the project, and the process supervisor
    "Engine": "rlsguard.harness.engine",
    "EngineOptions": "rlsguard.harness.engine",
    "Stack": "rlsguard.stack",
    "ProjectConfig": "rlsguard.config",
    "load_config": "rlsguard.config",
    "SupabaseProject": "rlsguard.supabase.project",
    # a database, and requests made to it as the Data API would
    "Database": "rlsguard.database",
    "Session": "rlsguard.identity.session",
    "Request": "rlsguard.identity.session",
    "Identity": "rlsguard.identity.session",
    "ApiSettings": "rlsguard.identity.session",
    "denial_kind": "rlsguard.identity.session",
    "Batch": "rlsguard.identity.batch",
    "Personas": "rlsguard.identity.personas",
    "AuthUser": "rlsguard.identity.tokens",
    "TokenSigner": "rlsguard.identity.tokens",
    "UserFactory": "rlsguard.identity.factory",
    "API_ROLES": "rlsguard.vocab",
    # the access matrix
    "Matrix": "rlsguard.matrix",
    "load_matrix": "rlsguard.matrix",
    "check_matrix": "rlsguard.matrix",
    "explain": "rlsguard.matrix",
    # lint and probe
    "Finding": "rlsguard.audit",
    "lint_database": "rlsguard.audit",
    "probe_database": "rlsguard.audit",
    "failing": "rlsguard.audit",
    # the pre-merge gate
    "GateOptions": "rlsguard.gate",
    "GateReport": "rlsguard.gate",
    "run_gate": "rlsguard.gate",
    "render_summary": "rlsguard.gate",
    "access_diff_sources": "rlsguard.gate",
    # time, injectable
    "Clock": "rlsguard.clock",
    "ManualClock": "rlsguard.clock",
    "SystemClock": "rlsguard.clock",
    # errors and warnings
    **dict.fromkeys(_ERRORS, "rlsguard.errors"),
}

__all__ = [
    "API_ROLES",
    "ApiSettings",
    "AuthUser",
    "BackendUnavailable",
    "Batch",
    "BootstrapError",
    "CacheError",
    "CacheFullWarning",
    "CellFailed",
    "Clock",
    "ConfigError",
    "ConfigWarning",
    "Database",
    "DestructiveActionRefused",
    "DrillAborted",
    "Engine",
    "EngineOptions",
    "ExtensionUnavailable",
    "FaultError",
    "FidelityWarning",
    "Finding",
    "GateError",
    "GateOptions",
    "GateReport",
    "Identity",
    "InputFileError",
    "InternalError",
    "InvalidArgument",
    "IsolationBreak",
    "MailerError",
    "ManualClock",
    "Matrix",
    "MatrixError",
    "MigrationError",
    "MigrationNotRecorded",
    "MisuseError",
    "NothingChecked",
    "PersonaError",
    "Personas",
    "PgtapFailed",
    "PgtapUnavailable",
    "ProjectConfig",
    "Relayed",
    "Request",
    "RlsguardError",
    "RlsguardWarning",
    "ScenarioError",
    "ServerError",
    "Session",
    "SnapshotDrift",
    "SourceError",
    "SqlNormalizationError",
    "Stack",
    "StandInWarning",
    "SupabaseProject",
    "SupabaseProjectWarning",
    "SystemClock",
    "TestFileError",
    "TokenSigner",
    "UnknownCell",
    "Unsupported",
    "UserCreationError",
    "UserFactory",
    "WaitTimeout",
    "__version__",
    "access_diff_sources",
    "check_matrix",
    "denial_kind",
    "explain",
    "failing",
    "lint_database",
    "load_config",
    "load_matrix",
    "probe_database",
    "render_summary",
    "run_gate",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
