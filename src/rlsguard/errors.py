"""Every error rlsguard raises on purpose derives from :class:`RlsguardError`.

Messages say what went wrong *and* what to do next, so the CLI and the pytest
plugin can print them as they are, without a traceback.
"""

from __future__ import annotations


class RlsguardError(Exception):
    """Base class: an error the user can act on."""


class ConfigError(RlsguardError):
    """A configuration file is invalid; names the file, the dotted key and the reason."""

    def __init__(self, path: str, key: str, reason: str) -> None:
        self.path = path
        self.key = key
        self.reason = reason
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {reason}")


class BackendUnavailable(RlsguardError):
    """A backend (server binaries, Docker engine, DSN) cannot be used on this machine."""


class ServerError(RlsguardError):
    """A supervised server failed to start, stop or become ready."""


class DestructiveActionRefused(RlsguardError):
    """A destructive verb was aimed at a server rlsguard did not start."""
