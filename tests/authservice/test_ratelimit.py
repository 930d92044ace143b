"""The in-process token bucket, on a clock the test moves."""

from __future__ import annotations

import pytest

from rlsguard.authservice.ratelimit import Limit, TokenBucketLimiter, gotrue_limits
from rlsguard.authservice.settings import RateLimits
from rlsguard.clock import ManualClock

pytestmark = pytest.mark.auth


def test_burst_then_refill() -> None:
    clock = ManualClock()
    limiter = TokenBucketLimiter({"token": Limit(rate=150, period_s=300, burst=30)}, clock)
    assert all(limiter.allow("token", "a") for _ in range(30))
    assert not limiter.allow("token", "a")
    assert limiter.allow("token", "b")  # another client has its own bucket
    clock.advance(2)  # 150 per 300 s = one every 2 s
    assert limiter.allow("token", "a")
    assert not limiter.allow("token", "a")


def test_email_limit_is_hourly() -> None:
    clock = ManualClock()
    limiter = TokenBucketLimiter(gotrue_limits(RateLimits(email_sent=2)), clock)
    assert limiter.allow("email", "instance")
    assert limiter.allow("email", "instance")
    assert not limiter.allow("email", "instance")
    clock.advance(1800)  # half an hour: one more
    assert limiter.allow("email", "instance")
    assert not limiter.allow("email", "instance")


def test_zero_allows_nothing_and_unknown_buckets_everything() -> None:
    limiter = TokenBucketLimiter({"otp": Limit(0, 300, 30)}, ManualClock())
    assert not limiter.allow("otp", "a")
    assert limiter.allow("nosuch", "a")
