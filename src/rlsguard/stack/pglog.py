"""Read a Postgres server log incrementally: the records written since a mark.

Detectors (and tests) take a mark, cause something, then read what the server
logged after it. jsonlog (PG15+) is parsed line by line; csvlog, the fallback
for older servers, through the csv module because a record may span lines.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlsguard.errors import InvalidArgument

# csvlog columns, in order (PG13/14; later versions append columns, which we ignore).
_CSV_COLUMNS = (
    "timestamp", "user", "dbname", "pid", "remote_host", "session_id", "line_num",
    "ps", "session_start", "vxid", "txid", "error_severity", "state_code", "message",
    "detail", "hint", "internal_query", "internal_position", "context", "statement",
    "cursor_position", "func_name", "application_name", "backend_type", "leader_pid",
    "query_id",
)  # fmt: skip


@dataclass(frozen=True)
class LogRecord:
    """One server log record, the same shape for jsonlog and csvlog."""

    severity: str
    message: str
    state_code: str | None = None
    detail: str | None = None
    hint: str | None = None
    statement: str | None = None
    user: str | None = None
    dbname: str | None = None
    application_name: str | None = None
    backend_type: str | None = None
    pid: int | None = None
    timestamp: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogRecord:
        return cls(
            severity=str(data.get("error_severity", "")),
            message=str(data.get("message", "")),
            state_code=data.get("state_code"),
            detail=data.get("detail"),
            hint=data.get("hint"),
            statement=data.get("statement"),
            user=data.get("user"),
            dbname=data.get("dbname"),
            application_name=data.get("application_name"),
            backend_type=data.get("backend_type"),
            pid=data.get("pid"),
            timestamp=data.get("timestamp"),
            raw=data,
        )

    @classmethod
    def from_csv(cls, row: list[str]) -> LogRecord:
        data: dict[str, Any] = {k: (v or None) for k, v in zip(_CSV_COLUMNS, row, strict=False)}
        if data.get("pid"):
            data["pid"] = int(data["pid"])
        data["query"] = data.pop("statement", None)
        data["statement"] = data["query"]
        return cls.from_json(data)


@dataclass(frozen=True)
class LogMark:
    """A position in the log; records after it are 'new'."""

    offset: int


class PgLog:
    """The structured log of one cluster (a single file, never rotated)."""

    def __init__(self, path: Path, fmt: str) -> None:
        if fmt not in ("jsonlog", "csvlog"):
            raise InvalidArgument(f"unsupported log format {fmt!r}; use jsonlog or csvlog")
        self.path = path
        self.format = fmt

    def mark(self) -> LogMark:
        """The current end of the log."""
        try:
            return LogMark(self.path.stat().st_size)
        except FileNotFoundError:
            return LogMark(0)

    def records(self, since: LogMark | None = None) -> list[LogRecord]:
        """Complete records written after ``since`` (all of them without a mark)."""
        start = since.offset if since else 0
        try:
            with open(self.path, "rb") as fh:
                fh.seek(start)
                data = fh.read()
        except FileNotFoundError:
            return []
        # Only whole lines: the server may be half-way through writing one.
        end = data.rfind(b"\n")
        if end < 0:
            return []
        text = data[: end + 1].decode("utf-8", errors="replace")
        if self.format == "jsonlog":
            return [LogRecord.from_json(json.loads(line)) for line in text.splitlines() if line]
        return [LogRecord.from_csv(row) for row in csv.reader(io.StringIO(text)) if row]
