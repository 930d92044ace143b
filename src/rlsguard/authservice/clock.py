"""A clock a test can move in another process: system time plus an offset kept in a file.

The service runs as its own process under uvicorn, so a test's :class:`ManualClock` cannot
reach it. The test writes seconds to add into a file the service reads on every ``now()``
(a few microseconds); no file, or an unreadable one, means no offset.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


class OffsetFileClock:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def offset(self) -> float:
        try:
            return float(self.path.read_text(encoding="ascii").strip() or 0)
        except (OSError, ValueError):
            return 0.0

    def now(self) -> float:
        return time.time() + self.offset()

    def reset(self) -> None:
        """Back to real time: between tests only (a test that moved time must not leak it)."""
        self._write(0.0)

    def _write(self, total: float) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(repr(total), encoding="ascii")
        os.chmod(tmp, 0o644)
        tmp.replace(self.path)

    def advance(self, seconds: float) -> float:
        """Move the service's time forward (never back); written atomically."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        total = self.offset() + seconds
        self._write(total)
        return total
