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


class InputFileError(RlsguardError):
    """A file of the user's project cannot be read (missing, dangling link, no permission,
    not UTF-8); names the file and what to do."""

    def __init__(self, path: str, reason: str, fix: str) -> None:
        self.path = path
        super().__init__(f"{path}: {reason}. {fix}")


class CacheError(RlsguardError):
    """The template cache cannot be written or read (full disk, no permission)."""


class NothingChecked(RlsguardError):
    """A check ran but checked nothing (no attempts, no cells, no persona resolved).

    A security check that checked nothing must not look like a pass; the
    command's ``--allow-empty`` says the user accepts it.
    """
