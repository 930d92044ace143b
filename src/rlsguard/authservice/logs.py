"""Structured JSON log lines: one object per line, named fields, no request bodies.

Nothing a client sends in a body, header or query string is ever put in a record (only the
path, method, status and GoTrue's error code), so secrets — passwords, OTPs, refresh and
access tokens, API keys — cannot reach the log by construction; a test greps the log file to
keep it that way.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__  # the type, never the text
        return json.dumps(entry, default=str, separators=(",", ":"))


def configure_json_logging(level: int = logging.INFO) -> None:
    """Our loggers and uvicorn's as JSON on stderr; uvicorn's access log (it prints query
    strings) is replaced by our own request line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("rlsguard.authservice", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.disabled = True
