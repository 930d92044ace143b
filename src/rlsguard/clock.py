"""Time is an input: everything that depends on it reads a Clock that tests can advance."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from rlsguard.errors import InvalidArgument


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to, so tests assert 'within K ticks' without sleeping."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise InvalidArgument(
                "a clock does not go backwards; advance it by zero or more seconds"
            )
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, timestamp: float) -> None:
        with self._lock:
            self._now = float(timestamp)


SYSTEM_CLOCK: Clock = SystemClock()
