"""Processes: every server the suite runs, under one supervisor."""

from rlsguard.stack.pgbin import PgBinaries, discover_pg_binaries
from rlsguard.stack.pglog import LogMark, LogRecord, PgLog
from rlsguard.stack.postgres import PostgresServer, PostgresSettings
from rlsguard.stack.process import Server, State
from rlsguard.stack.runtime import ServiceUser, reap_stale
from rlsguard.stack.supervisor import Stack

__all__ = [
    "LogMark",
    "LogRecord",
    "PgBinaries",
    "PgLog",
    "PostgresServer",
    "PostgresSettings",
    "Server",
    "ServiceUser",
    "Stack",
    "State",
    "discover_pg_binaries",
    "reap_stale",
]
