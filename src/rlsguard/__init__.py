"""rlsguard: RLS and auth regression and chaos suite for Supabase-style Postgres."""

from rlsguard.errors import (
    BackendUnavailable,
    ConfigError,
    DestructiveActionRefused,
    RlsguardError,
    ServerError,
)

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "ConfigError",
    "DestructiveActionRefused",
    "RlsguardError",
    "ServerError",
    "__version__",
]
