"""Token buckets in Redis, shared by every worker; what happens when Redis is gone is a setting.

One Lua script refills, takes and sets the TTL of a bucket in a single atomic step, so no
``ratelimit:`` key ever lives without a TTL (the INCR-then-EXPIRE pattern leaves immortal keys
when the process dies between the two calls; redis/redis #4548). The script is handed "now"
from the injected clock, so refill follows the clock tests move; the TTL is the time the bucket
needs to fill up again (a full bucket and a missing key mean the same), plus a second.

Keys are ``ratelimit:<kind>:<key>``: ``ratelimit:token:10.0.0.7`` (per client address) or
``ratelimit:login:user@example.com`` (per email), the names the runbook's ``redis-cli``
commands look for.

Redis down, refusing or hung (socket timeouts keep a hung server from hanging a login):

* ``closed``: the request is answered ``503 rate_limiter_unavailable``;
* ``open``: an in-process bucket decides, sized ``max(1, floor(burst / workers))`` with
  ``rate / workers`` refill, so N workers together never allow more than
  ``max(burst, workers)`` at once nor refill faster than the configured rate.

After a failure Redis is left alone for ``retry_s`` (on the injected clock); then one request
probes it while the others keep using the degraded path, so a hung server costs one timeout per
worker per interval, not one per request, and never a queue of requests each waiting its own.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

from rlsguard.authservice.ratelimit import Decision, Limit, TokenBucketLimiter
from rlsguard.clock import Clock
from rlsguard.errors import InvalidArgument

log = logging.getLogger("rlsguard.authservice")

KEY_PREFIX = "ratelimit:"
TTL_SLACK_MS = 1000

# KEYS[1]: the bucket. ARGV: capacity, refill per second, now (s), cost, slack (ms).
# Returns {allowed (0/1), retry-after seconds, tokens left} (numbers as strings: Redis would
# truncate Lua floats to integers).
TOKEN_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local slack = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(capacity, tokens + elapsed * rate)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = (cost - tokens) / rate
end
if ts < now then ts = now end
redis.call('HSET', KEYS[1], 't', string.format('%.6f', tokens), 'ts', string.format('%.6f', ts))
local ahead = (ts - now) * 1000
local ttl = math.ceil(ahead + (capacity - tokens) / rate * 1000) + slack
redis.call('PEXPIRE', KEYS[1], ttl)
return {allowed, string.format('%.6f', retry), string.format('%.6f', tokens)}
"""


def bucket_key(kind: str, key: str) -> str:
    return f"{KEY_PREFIX}{kind}:{key}"


class LimiterUnavailable(Exception):
    """Redis could not decide and the policy is fail-closed."""


@dataclass
class LimiterStats:
    """Counters a detector reads (per process)."""

    decisions: int = 0
    redis_errors: int = 0
    fallback_decisions: int = 0
    refused: int = 0


def fallback_limits(limits: dict[str, Limit], workers: int) -> dict[str, Limit]:
    """Each worker's share of every limit, so the sum over workers stays within the limit."""
    shared: dict[str, Limit] = {}
    for name, limit in limits.items():
        capacity = min(limit.burst, limit.rate) if limit.rate else 0.0
        share = max(1.0, math.floor(capacity / workers)) if capacity else 0.0
        shared[name] = Limit(limit.rate / workers, limit.period_s, share)
    return shared


def fallback_bound(limit: Limit, workers: int) -> int:
    """The most requests ``workers`` processes allow at once while Redis is down (fail-open)."""
    capacity = min(limit.burst, limit.rate) if limit.rate else 0.0
    if not capacity:
        return 0
    return int(workers * max(1, math.floor(capacity / workers)))


class RedisTokenBucketLimiter:
    """Buckets in Redis via one Lua script; fail closed or open (bounded) when Redis is down."""

    def __init__(
        self,
        client: Any,
        limits: dict[str, Limit],
        clock: Clock,
        *,
        on_error: str = "closed",
        workers: int = 1,
        retry_s: float = 1.0,
    ) -> None:
        if on_error not in ("closed", "open"):
            raise InvalidArgument(f"on_error must be 'closed' or 'open', not {on_error!r}")
        self.client = client
        self.limits = limits
        self.clock = clock
        self.on_error = on_error
        self.retry_s = retry_s
        self.fallback = TokenBucketLimiter(fallback_limits(limits, workers), clock)
        self.stats = LimiterStats()
        self._script = client.register_script(TOKEN_BUCKET_LUA)
        self._down_until = 0.0
        self._tripped = False  # failed and not yet answered since: one probe at a time
        self._probing = False
        self._lock = threading.Lock()

    def allow(self, bucket: str, key: str) -> bool:
        return self.decide(bucket, key).allowed

    def decide(self, bucket: str, key: str) -> Decision:
        limit = self.limits.get(bucket)
        if limit is None:
            return Decision(True)
        capacity = min(limit.burst, limit.rate) if limit.rate else 0.0
        if capacity < 1:
            return Decision(False, limit.period_s)
        self.stats.decisions += 1
        now = self.clock.now()
        probe = self._may_try(now)
        if probe is not None:
            try:
                allowed, retry, _ = self._script(
                    keys=[bucket_key(bucket, key)],
                    args=[capacity, limit.rate / limit.period_s, f"{now:.6f}", 1, TTL_SLACK_MS],
                )
            except Exception as exc:  # redis-py's ConnectionError, TimeoutError, ResponseError…
                self._failed(exc, now)
            else:
                with self._lock:
                    self._tripped = False
                return Decision(bool(int(allowed)), float(retry))
            finally:
                if probe:
                    with self._lock:
                        self._probing = False
        return self._degraded(bucket, key)

    def _may_try(self, now: float) -> bool | None:
        """None: leave Redis alone; False: Redis is trusted; True: this call is the one probe
        of a Redis that failed (the others degrade meanwhile instead of queueing behind it)."""
        with self._lock:
            if now < self._down_until:
                return None
            if not self._tripped:
                return False
            if self._probing:
                return None
            self._probing = True
            return True

    def _failed(self, exc: Exception, now: float) -> None:
        with self._lock:
            self.stats.redis_errors += 1
            self._down_until = now + self.retry_s
            self._tripped = True
        log.error(
            "rate limiter: redis failed",
            extra={
                "event": "limiter_error",
                "exception": type(exc).__name__,
                "policy": self.on_error,
            },
        )

    def _degraded(self, bucket: str, key: str) -> Decision:
        if self.on_error == "closed":
            self.stats.refused += 1
            raise LimiterUnavailable(f"rate limiter unavailable ({bucket})")
        self.stats.fallback_decisions += 1
        return self.fallback.decide(bucket, key)

    @property
    def healthy(self) -> bool:
        return self.clock.now() >= self._down_until


def redis_client(url: str, timeout_ms: int) -> Any:
    """A redis-py client that fails fast: socket timeouts and no retries, so a hung Redis
    (SIGSTOP) costs at most ``timeout_ms`` per attempt and the policy decides."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    timeout = timeout_ms / 1000.0
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
