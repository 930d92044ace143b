"""The Redis token bucket against a real Redis/Valkey, on a clock the test moves."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlsguard.authservice.ratelimit import Limit
from rlsguard.authservice.redislimit import (
    LimiterUnavailable,
    RedisTokenBucketLimiter,
    bucket_key,
    fallback_bound,
    redis_client,
)
from rlsguard.clock import ManualClock

pytestmark = pytest.mark.auth

LIMITS = {"token": Limit(rate=150, period_s=300, burst=30), "login": Limit(6, 300, 30)}


@pytest.fixture(scope="module")
def redis_server(rlsguard_stack: Any) -> Iterator[Any]:
    server = rlsguard_stack.redis(rlsguard_stack.unique_name("limiter-redis"))
    yield server
    rlsguard_stack.discard(server.name)


@pytest.fixture
def client(redis_server: Any) -> Iterator[Any]:
    if not redis_server.is_running:
        redis_server.restart()
    c = redis_client(redis_server.url, timeout_ms=1000)  # a loaded machine is slow, not down
    c.flushdb()
    yield c
    c.close()


def limiter(client: Any, clock: ManualClock, **kwargs: Any) -> RedisTokenBucketLimiter:
    return RedisTokenBucketLimiter(client, LIMITS, clock, **kwargs)


def ttls(client: Any) -> dict[str, int]:
    return {k.decode(): client.pttl(k) for k in client.scan_iter(match="ratelimit:*", count=100)}


def test_burst_refill_and_retry_after(client: Any) -> None:
    clock = ManualClock()
    lim = limiter(client, clock)
    assert all(lim.allow("token", "10.0.0.1") for _ in range(30))
    refused = lim.decide("token", "10.0.0.1")
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(2.0, abs=0.01)  # 150 per 300 s
    assert lim.allow("token", "10.0.0.2")  # another client has its own bucket
    clock.advance(2)
    assert lim.allow("token", "10.0.0.1")
    assert not lim.allow("token", "10.0.0.1")
    assert set(ttls(client)) == {bucket_key("token", "10.0.0.1"), bucket_key("token", "10.0.0.2")}


def test_a_full_bucket_expires_and_keys_always_have_a_ttl(client: Any) -> None:
    clock = ManualClock()
    lim = limiter(client, clock)
    lim.allow("login", "a@example.com")  # 6 per 300 s: one token takes 50 s to come back
    ttl = ttls(client)[bucket_key("login", "a@example.com")]
    assert 50_000 < ttl <= 51_000


def test_a_key_stripped_of_its_ttl_gets_it_back_on_the_next_decision(client: Any) -> None:
    lim = limiter(client, ManualClock())
    key = bucket_key("login", "b@example.com")
    lim.allow("login", "b@example.com")
    client.persist(key)
    assert client.pttl(key) == -1
    lim.allow("login", "b@example.com")
    assert client.pttl(key) > 0


@settings(
    max_examples=20,
    deadline=None,  # a loaded machine is slow, not wrong
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.floats(0, 120)), max_size=40))
def test_no_key_ever_lives_without_a_ttl_and_never_more_than_allowed(
    client: Any, steps: list[tuple[str, float]]
) -> None:
    client.flushdb()
    clock = ManualClock()
    lim = limiter(client, clock)
    start = clock.now()
    allowed = {"a": 0, "b": 0, "c": 0}
    for who, wait in steps:
        clock.advance(wait)
        allowed[who] += lim.allow("login", who)
        assert all(t > 0 for t in ttls(client).values())
    elapsed = clock.now() - start
    for count in allowed.values():  # burst 6 plus 6 per 300 s refilled
        assert count <= 6 + elapsed * 6 / 300 + 1e-9


def test_fail_closed_when_redis_is_down_then_recovers(client: Any, redis_server: Any) -> None:
    clock = ManualClock()
    lim = limiter(client, clock, on_error="closed", retry_s=1.0)
    assert lim.allow("token", "c1")
    redis_server.kill()
    with pytest.raises(LimiterUnavailable):
        lim.decide("token", "c1")
    with pytest.raises(LimiterUnavailable):  # within retry_s: Redis is not even tried
        lim.decide("token", "c1")
    assert lim.stats.redis_errors == 1
    redis_server.restart()
    clock.advance(1.0)
    assert lim.allow("token", "c1")  # restarted without persistence: a fresh bucket
    assert lim.stats.redis_errors == 1


def test_a_frozen_redis_costs_one_timeout_not_a_hang(client: Any, redis_server: Any) -> None:
    clock = ManualClock()
    lim = limiter(client, clock, on_error="closed", retry_s=5.0)
    lim.allow("token", "c2")
    redis_server.freeze()
    try:
        started = time.monotonic()
        with pytest.raises(LimiterUnavailable):
            lim.decide("token", "c2")
        for _ in range(50):  # the breaker is open: these do not touch Redis
            with pytest.raises(LimiterUnavailable):
                lim.decide("token", "c2")
        waited = time.monotonic() - started
    finally:
        redis_server.thaw()
    # Redis was asked once (each ask of a frozen Redis is an error): the breaker kept the other
    # 50 away. Without the socket timeout the first ask never returns, and without the breaker
    # the 51 asks cost 51 s: the wall-clock bound sits far from both and from the ~1 s a
    # correct limiter takes, so a loaded machine cannot cross it.
    assert lim.stats.redis_errors == 1
    assert waited < 30.0, f"a frozen Redis held the limiter {waited:.1f}s (timeout is 1 s)"


def test_a_frozen_redis_is_probed_by_one_request_while_the_others_degrade(
    client: Any, redis_server: Any
) -> None:
    clock = ManualClock()
    lim = limiter(client, clock, on_error="open", retry_s=1.0)
    lim.allow("token", "c3")
    redis_server.freeze()
    try:
        assert lim.allow("token", "c3")  # the first timeout trips the breaker: fallback
        clock.advance(1.0)
        probe_done = threading.Event()

        def probe() -> None:
            lim.decide("token", "c3")
            probe_done.set()

        worker = threading.Thread(target=probe)
        worker.start()
        while not lim._probing:  # the probe is waiting on the frozen Redis
            assert worker.is_alive() or lim._probing, "the probe ended without probing"
            time.sleep(0.001)
        decided = [lim.decide("token", f"other-{i}") for i in range(20)]
        answered_during_probe = not probe_done.is_set()
        worker.join()
    finally:
        redis_server.thaw()
    assert answered_during_probe  # the others did not queue behind the probe's timeout
    assert all(d.allowed for d in decided)
    assert lim.stats.redis_errors == 2  # the trip and the one probe, not 22 timeouts
    assert lim.stats.fallback_decisions == 22  # the trip, the failed probe and the 20
    clock.advance(1.0)
    assert lim.allow("token", "c3")  # thawed: the next probe succeeds and closes the breaker
    assert lim.stats.fallback_decisions == 22
    assert not lim._tripped


def test_fail_open_allows_each_worker_its_share(client: Any, redis_server: Any) -> None:
    clock = ManualClock()
    lim = limiter(client, clock, on_error="open", workers=2)
    redis_server.kill()
    allowed = sum(lim.allow("login", "d@example.com") for _ in range(20))
    assert allowed == 3  # floor(6 / 2): the two workers together allow at most 6
    assert fallback_bound(LIMITS["login"], 2) == 6
    assert lim.stats.fallback_decisions == 20


def test_unknown_buckets_pass_and_zero_limits_refuse(client: Any) -> None:
    lim = RedisTokenBucketLimiter(client, {"otp": Limit(0, 300, 30)}, ManualClock())
    assert not lim.allow("otp", "x")
    assert lim.allow("nosuch", "x")
    assert ttls(client) == {}
