"""Rate limits behind one small interface, so a shared (Redis) limiter can replace this one.

GoTrue limits per client IP with token buckets (tollbooth): ``rate / period`` refill and a
burst (``internal/api/apilimiter/apilimiter.go``); the email limit is per hour for the whole
instance. This in-process bucket reads the injected clock, so tests move time instead of
sleeping.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from rlsguard.authservice.settings import RateLimits
from rlsguard.clock import Clock

FIVE_MINUTES_S = 300.0
HOUR_S = 3600.0
BURST = 30  # tollbooth SetBurst(30) for /token and /verify


@dataclass(frozen=True)
class Limit:
    """``rate`` requests per ``period_s``, at most ``burst`` at once."""

    rate: float
    period_s: float
    burst: float


@dataclass(frozen=True)
class Decision:
    """Allowed or not, and when a refused client may try again (``Retry-After``)."""

    allowed: bool
    retry_after_s: float = 0.0


class RateLimiter(Protocol):
    def allow(self, bucket: str, key: str) -> bool:
        """Take one request from ``bucket`` for ``key``; False when over the limit."""
        ...

    def decide(self, bucket: str, key: str) -> Decision:
        """:meth:`allow` with the wait before the next token."""
        ...


def gotrue_limits(limits: RateLimits) -> dict[str, Limit]:
    """The buckets GoTrue keeps, sized from ``[auth.rate_limit]``."""
    return {
        "token": Limit(limits.token_refresh, FIVE_MINUTES_S, BURST),
        "signup": Limit(limits.sign_in_sign_ups, FIVE_MINUTES_S, BURST),
        "otp": Limit(limits.sign_in_sign_ups, FIVE_MINUTES_S, BURST),
        "verify": Limit(limits.token_verifications, FIVE_MINUTES_S, BURST),
        "email": Limit(limits.email_sent, HOUR_S, max(limits.email_sent, 1)),
        # Per email address (rlsguard's shared limiter only): password attempts on one account
        # from any number of addresses, at the sign-in rate.
        "login": Limit(limits.sign_in_sign_ups, FIVE_MINUTES_S, BURST),
    }


class TokenBucketLimiter:
    """Token buckets in this process; fine for one service instance."""

    def __init__(self, limits: dict[str, Limit], clock: Clock) -> None:
        self.limits = limits
        self.clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, bucket: str, key: str) -> bool:
        return self.decide(bucket, key).allowed

    def decide(self, bucket: str, key: str) -> Decision:
        limit = self.limits.get(bucket)
        if limit is None:
            return Decision(True)
        capacity = min(limit.burst, limit.rate) if limit.rate else 0.0
        refill = limit.rate / limit.period_s
        now = self.clock.now()
        with self._lock:
            tokens, last = self._buckets.get((bucket, key), (capacity, now))
            tokens = min(capacity, tokens + max(0.0, now - last) * refill)
            if tokens < 1.0:
                self._buckets[(bucket, key)] = (tokens, now)
                return Decision(False, (1.0 - tokens) / refill if refill else limit.period_s)
            self._buckets[(bucket, key)] = (tokens - 1.0, now)
            return Decision(True)
