"""Synthetic users: one thread per persona calling the app at a set rate, as its users would.

Each request is a :class:`Sample` stamped with the injected clock, so windows (error rate,
p95 latency) are measured on the drill's clock. A run is bounded both by a request count and
by a duration, so a forgotten run stops on its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from rlsguard.clock import SYSTEM_CLOCK, Clock

SERVER_ERRORS = (500, 502, 503, 504)


@dataclass(frozen=True)
class Call:
    """One request a user makes (path relative to the app)."""

    path: str
    method: str = "GET"
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    t: float
    persona: str
    path: str
    status: int  # 0: no HTTP answer (connection refused, client timeout)
    latency_s: float
    sent: float = 0.0  # time.monotonic() when the request was sent (orders it against looks)

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status in SERVER_ERRORS


@dataclass(frozen=True)
class Window:
    """What the users saw in a window of the clock."""

    start: float
    end: float
    requests: int
    errors: int
    by_status: dict[int, int]
    p95_ms: float | None
    # each path's answered latencies (ms): latency per endpoint against its own steady state
    by_path: dict[str, list[float]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "t": round(self.end, 3),
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 4),
            "p95_ms": self.p95_ms,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
        }


def p95(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


class SyntheticUsers:
    """Personas (name -> bearer token) calling ``calls`` in turn at ``rate_hz`` each."""

    def __init__(
        self,
        base_url: str,
        tokens: dict[str, str | None],
        calls: Sequence[Call],
        *,
        rate_hz: float = 5.0,
        max_requests: int = 10_000,
        max_seconds: float = 600.0,
        timeout_s: float = 5.0,
        clock: Clock = SYSTEM_CLOCK,
        wait: Callable[[float], None] | None = None,
    ) -> None:
        self.base_url = base_url
        self.tokens = tokens
        self.calls = list(calls)
        self.rate_hz = rate_hz
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.timeout_s = timeout_s
        self.clock = clock
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._threads: list[threading.Thread] = []

    def start(self) -> SyntheticUsers:
        for persona, token in self.tokens.items():
            thread = threading.Thread(
                target=self._user, args=(persona, token), name=f"user-{persona}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout_s + 1)
        self._threads.clear()

    def __enter__(self) -> SyntheticUsers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def request(self, client: httpx.Client, persona: str, call: Call) -> Sample:
        sent = time.monotonic()
        started = time.perf_counter()
        try:
            response = client.request(
                call.method, self.base_url + call.path, params=call.params, headers=call.headers
            )
            status = response.status_code
        except httpx.HTTPError:
            status = 0
        latency = time.perf_counter() - started
        sample = Sample(self.clock.now(), persona, call.path, status, latency, sent)
        with self._arrived:
            self.samples.append(sample)
            self._arrived.notify_all()
        return sample

    def wait_for_samples(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` samples exist (an observable condition, not a
        sleep): a drill's tick waits for the users' next answers before judging them."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.samples) >= count, timeout)

    def since_index(self, index: int) -> tuple[list[Sample], int]:
        """Samples from position ``index`` on, and the next position."""
        with self._lock:
            return self.samples[index:], len(self.samples)

    def summarise(self, samples: list[Sample], start: float, end: float) -> Window:
        by_status: dict[int, int] = {}
        for s in samples:
            by_status[s.status] = by_status.get(s.status, 0) + 1
        value = p95([s.latency_s * 1000 for s in samples])
        by_path: dict[str, list[float]] = {}
        for s in samples:
            if not s.failed:
                by_path.setdefault(s.path, []).append(s.latency_s * 1000)
        return Window(
            start,
            end,
            len(samples),
            sum(1 for s in samples if s.failed),
            by_status,
            None if value is None else round(value, 3),
            by_path,
        )

    def _user(self, persona: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        deadline = time.monotonic() + self.max_seconds
        period = 1.0 / self.rate_hz
        n = 0
        with httpx.Client(headers=headers, timeout=self.timeout_s) as client:
            while not self._stop.is_set() and n < self.max_requests:
                if time.monotonic() > deadline:
                    break
                self.request(client, persona, self.calls[n % len(self.calls)])
                n += 1
                self._wait(period)

    # -- what they saw ---------------------------------------------------------
    def since(self, start: float, end: float | None = None) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if s.t >= start and (end is None or s.t <= end)]

    def window(self, start: float, end: float) -> Window:
        """Samples stamped in ``(start, end]`` on the clock."""
        samples = [s for s in self.since(start, end) if s.t > start or start == end]
        return self.summarise(samples, start, end)

    def first_success_after(self, t: float) -> Sample | None:
        with self._lock:
            for s in self.samples:
                if s.t >= t and not s.failed:
                    return s
        return None

    def timeline(self, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """Error rate and p95 per ``step`` seconds (the report's chart)."""
        out = []
        t = start
        while t < end:
            out.append(self.window(t, min(t + step, end)).as_dict())
            t += step
        return out
