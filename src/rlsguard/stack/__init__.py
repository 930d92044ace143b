"""Processes: every server the suite runs, under one supervisor.

Names are imported on first use: server children such as the SMTP sink run
``python -m rlsguard.stack._smtp_child`` and must not pay for psycopg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlsguard._lazy import lazy_exports

_EXPORTS = {
    "HttpService": "http",
    "LogMark": "pglog",
    "LogRecord": "pglog",
    "PgBinaries": "pgbin",
    "PgLog": "pglog",
    "PostgresServer": "postgres",
    "PostgresSettings": "postgres",
    "RedisBinary": "redis",
    "RedisServer": "redis",
    "Server": "process",
    "ServiceUser": "runtime",
    "SmtpMessage": "smtp",
    "SmtpSink": "smtp",
    "Stack": "supervisor",
    "State": "process",
    "discover_pg_binaries": "pgbin",
    "discover_redis_binary": "redis",
    "reap_stale": "runtime",
}

__all__ = [
    "HttpService",
    "LogMark",
    "LogRecord",
    "PgBinaries",
    "PgLog",
    "PostgresServer",
    "PostgresSettings",
    "RedisBinary",
    "RedisServer",
    "Server",
    "ServiceUser",
    "SmtpMessage",
    "SmtpSink",
    "Stack",
    "State",
    "discover_pg_binaries",
    "discover_redis_binary",
    "reap_stale",
]

if TYPE_CHECKING:
    from rlsguard.stack.http import HttpService
    from rlsguard.stack.pgbin import PgBinaries, discover_pg_binaries
    from rlsguard.stack.pglog import LogMark, LogRecord, PgLog
    from rlsguard.stack.postgres import PostgresServer, PostgresSettings
    from rlsguard.stack.process import Server, State
    from rlsguard.stack.redis import RedisBinary, RedisServer, discover_redis_binary
    from rlsguard.stack.runtime import ServiceUser, reap_stale
    from rlsguard.stack.smtp import SmtpMessage, SmtpSink
    from rlsguard.stack.supervisor import Stack


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
