"""Names of ``from rlsguard import ...`` for type checkers (see ``__init__.py``)."""

from rlsguard.audit import Finding, failing, lint_database, probe_database
from rlsguard.clock import Clock, ManualClock, SystemClock
from rlsguard.config import ProjectConfig, load_config
from rlsguard.database import Database
from rlsguard.errors import (
    BackendUnavailable,
    BootstrapError,
    CellFailed,
    ConfigError,
    ConfigWarning,
    DestructiveActionRefused,
    DrillAborted,
    ExtensionUnavailable,
    FaultError,
    FidelityWarning,
    GateError,
    InternalError,
    InvalidArgument,
    MailerError,
    MatrixError,
    MigrationError,
    MisuseError,
    PersonaError,
    RlsguardError,
    RlsguardWarning,
    ScenarioError,
    ServerError,
    SnapshotDrift,
    SourceError,
    SqlNormalizationError,
    StandInWarning,
    SupabaseProjectWarning,
    UnknownCell,
    Unsupported,
    UserCreationError,
    WaitTimeout,
)
from rlsguard.gate import (
    GateOptions,
    GateReport,
    access_diff_sources,
    render_summary,
    run_gate,
)
from rlsguard.harness.engine import Engine, EngineOptions
from rlsguard.identity.batch import Batch
from rlsguard.identity.factory import UserFactory
from rlsguard.identity.personas import Personas
from rlsguard.identity.session import ApiSettings, Identity, Request, Session, denial_kind
from rlsguard.identity.tokens import AuthUser, TokenSigner
from rlsguard.matrix import Matrix, check_matrix, explain, load_matrix
from rlsguard.stack import Stack
from rlsguard.supabase.project import SupabaseProject
from rlsguard.vocab import API_ROLES

__version__: str

__all__ = [
    "API_ROLES",
    "ApiSettings",
    "AuthUser",
    "BackendUnavailable",
    "Batch",
    "BootstrapError",
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
    "InternalError",
    "InvalidArgument",
    "MailerError",
    "ManualClock",
    "Matrix",
    "MatrixError",
    "MigrationError",
    "MisuseError",
    "PersonaError",
    "Personas",
    "ProjectConfig",
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
