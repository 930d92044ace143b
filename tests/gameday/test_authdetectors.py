"""The auth detectors on made-up observations: each fires on its symptom and only on it."""

from __future__ import annotations

from typing import Any

import pytest

from rlsguard.gameday.authdetectors import (
    AuthErrorRate,
    AuthHealth,
    LoginLatency,
    MailFailures,
    OutboxAge,
    Premature429,
    RateLimitNoTtl,
    RedisPing,
)
from rlsguard.gameday.authrig import AuthView, AuthWindow, Sample
from rlsguard.gameday.detectors import Observation

OUTBOX = {"pending": 0, "oldest_age_s": 0.0, "sent": 5, "expired": 0, "attempts": 5,
          "failures": 0, "bounces": 0}  # fmt: skip
DELIVERY = {"queued": 5, "delivered": 5, "missing": [], "duplicates": 0, "pending": 0,
            "overdue": 0}  # fmt: skip


def view(samples: list[Sample] | None = None, **kw: Any) -> Observation:
    ok = [Sample("signin", 0.0, 0.01, 200, None, True) for _ in range(10)]
    fields: dict[str, Any] = {
        "window": AuthWindow(ok if samples is None else samples, 0.2),
        "health": 200,
        "health_s": 0.01,
        "redis_ping": True,
        "limiter_errors": 0,
        "stuck_keys": [],
        "outbox": dict(OUTBOX),
        "delivery": dict(DELIVERY),
    }
    fields.update(kw)
    return Observation(0.0, authsvc=AuthView(**fields))


DETECTORS = [AuthHealth, AuthErrorRate, LoginLatency, RedisPing, RateLimitNoTtl, Premature429,
             MailFailures, OutboxAge]  # fmt: skip


@pytest.mark.parametrize("detector", DETECTORS)
def test_a_healthy_rig_fires_nothing(detector: Any) -> None:
    assert detector().check(view()) is None


def test_each_symptom_fires_its_detector() -> None:
    assert AuthHealth().check(view(health=0)) is not None
    assert AuthHealth().check(view(health=200, health_s=3.0)) is not None
    refused = [Sample("signin", 0.0, 0.01, 200, None, False)] * 3  # 200, data layer refused
    fired = AuthErrorRate().check(view(refused))
    assert fired is not None
    assert "3 refused by the data layer" in fired.message
    assert LoginLatency().check(view([Sample("signin", 0.0, 2.5, 200, None, True)])) is not None
    assert LoginLatency().check(view([Sample("signin", 0.0, 0.1, 0, "ReadTimeout")])) is not None
    assert RedisPing().check(view(redis_ping=False)) is not None
    assert RateLimitNoTtl().check(view(stuck_keys=[("ratelimit:login:a@b.co", -1)])) is not None
    limited = [Sample("signin", 0.0, 0.01, 429, "over_request_rate_limit")] * 2
    assert Premature429().check(view(limited)) is not None
    bounced = {**OUTBOX, "failures": 1, "bounces": 1, "attempts": 10}
    assert MailFailures().check(view(outbox=bounced)) is not None  # 10% > 5%
    assert MailFailures().check(view(outbox={**bounced, "attempts": 40})) is None  # 2.5%
    queued = {**OUTBOX, "pending": 2, "oldest_age_s": 1.5}
    assert OutboxAge().check(view(outbox=queued)) is not None
    assert OutboxAge().check(view(outbox={**queued, "oldest_age_s": 0.5})) is None
