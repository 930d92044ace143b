#!/usr/bin/env python3
"""Benchmark the auth drills' moving parts: the Redis limiter's decision time, the outbox
under a flaky SMTP server, and TTD/TTR of each auth drill.

- ``limiter``: p50/p95 of one :class:`RedisTokenBucketLimiter` decision (one EVALSHA round
  trip over loopback TCP) with Redis up. Target: p50 <= 1 ms.
- ``frozen``: Redis frozen (SIGSTOP) under 8 threads deciding as fast as they can for 3 s,
  fail-open, the drills' 500 ms socket timeout and 0.5 s retry: p95/max of a decision. Target:
  p95 < 1 s (the login_latency threshold: a frozen Redis must not make sign-ins slow; the
  redis-frozen drill proves sign-ins still succeed, this proves they stay fast).
- ``outbox``: N OTP messages queued, sent through the real SMTP sink by a transport that fails
  a seeded 30% of attempts; every message must reach the sink, each once by Message-ID.
  Target: 0 lost (N = 1,000; 200 with ``--quick``).
- ``drills``: ``rlsguard gameday <auth scenarios> --report DIR`` as a user runs it; TTD and TTR
  per drill from its gameday.json (wall clock). Targets: TTD <= 2 s, TTR <= 5 s.

Prints one JSON document.

    python bench/bench_authdrills.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

AUTH_DRILLS = [
    "redis-killed", "redis-frozen", "stuck-bucket", "premature-429", "auth-server-down",
    "auth-server-hung", "email-refused", "email-stalled", "email-bounced", "auth-config-broken",
]  # fmt: skip
QUICK_DRILLS = ["redis-killed", "email-refused"]
LIMITER_P50_TARGET_MS = 1.0
TTD_TARGET_S = 2.0
TTR_TARGET_S = 5.0


def bench_limiter(stack: Any, n: int) -> dict[str, Any]:
    from rlsguard.authservice.ratelimit import Limit
    from rlsguard.authservice.redislimit import RedisTokenBucketLimiter, redis_client
    from rlsguard.clock import SYSTEM_CLOCK

    server = stack.redis(stack.unique_name("bench-redis"))
    try:
        client = redis_client(server.url, timeout_ms=250)
        limiter = RedisTokenBucketLimiter(
            client, {"token": Limit(1e9, 300, 1e9)}, SYSTEM_CLOCK, on_error="closed"
        )
        for i in range(200):  # warm: the script loaded, the connection open
            limiter.decide("token", f"10.0.{i % 250}.1")
        samples = []
        for i in range(n):
            started = time.perf_counter()
            limiter.decide("token", f"10.1.{i % 250}.{i // 250 % 250}")
            samples.append((time.perf_counter() - started) * 1000)
        client.close()
    finally:
        stack.discard(server.name)
    samples.sort()
    p50 = statistics.median(samples)
    return {
        "decisions": n,
        "p50_ms": round(p50, 4),
        "p95_ms": round(samples[int(0.95 * (n - 1))], 4),
        "target_p50_ms": LIMITER_P50_TARGET_MS,
        "met": p50 <= LIMITER_P50_TARGET_MS,
    }


def bench_frozen(stack: Any, seconds: float) -> dict[str, Any]:
    import threading

    from rlsguard.authservice.ratelimit import Limit
    from rlsguard.authservice.redislimit import RedisTokenBucketLimiter, redis_client
    from rlsguard.clock import SYSTEM_CLOCK

    server = stack.redis(stack.unique_name("bench-frozen-redis"))
    samples: list[float] = []
    lock = threading.Lock()
    try:
        client = redis_client(server.url, timeout_ms=500)
        limiter = RedisTokenBucketLimiter(client, {"token": Limit(1e9, 300, 1e9)}, SYSTEM_CLOCK,
                                          on_error="open", workers=2, retry_s=0.5)  # fmt: skip
        limiter.decide("token", "warm")
        server.freeze()
        deadline = time.perf_counter() + seconds

        def decide(n: int) -> None:
            i = 0
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                limiter.decide("token", f"10.2.{n}.{i % 250}")
                with lock:
                    samples.append(time.perf_counter() - started)
                i += 1
                time.sleep(0.01)  # a request every ~10 ms per thread

        threads = [threading.Thread(target=decide, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        server.thaw()
        client.close()
        stats = limiter.stats
    finally:
        stack.discard(server.name)
    samples.sort()
    p95 = samples[int(0.95 * (len(samples) - 1))]
    return {
        "decisions": len(samples),
        "redis_errors": stats.redis_errors,
        "p95_ms": round(p95 * 1000, 2),
        "max_ms": round(samples[-1] * 1000, 2),
        "target_p95_ms": 1000,
        "met": p95 < 1.0,
    }


class Flaky:
    def __init__(self, inner: Any, rate: float, seed: int) -> None:
        self.inner, self.rate, self.random = inner, rate, random.Random(seed)

    def send(self, message_id: str, to: str, subject: str, body: str) -> None:
        from rlsguard.authservice.mailer import SendFailed

        if self.random.random() < self.rate:
            raise SendFailed("injected 421")
        self.inner.send(message_id, to, subject, body)


def bench_outbox(engine: Any, n: int) -> dict[str, Any]:
    from psycopg_pool import ConnectionPool

    from rlsguard.authservice.mailer import SmtpMailer
    from rlsguard.authservice.outbox import OutboxSender, enqueue, ensure_table
    from rlsguard.authservice.server import AUTH_ADMIN
    from rlsguard.clock import ManualClock

    stack = engine.stack
    sink = stack.smtp(stack.unique_name("bench-smtp"))
    dbname = f"bench_outbox_{uuid.uuid4().hex[:8]}"
    engine.clone(dbname)
    clock = ManualClock(time.time())
    try:
        with ConnectionPool(engine.conninfo(dbname, user=AUTH_ADMIN), min_size=1, max_size=2,
                            kwargs={"autocommit": True}) as pool:  # fmt: skip
            with pool.connection() as conn:
                ensure_table(conn)
                with conn.transaction():
                    ids = [enqueue(conn, f"u{i}@bench.test", "code", f"code {i}", clock.now(),
                                   3600) for i in range(n)]  # fmt: skip
            transport = Flaky(SmtpMailer(sink.host, sink.port), 0.30, 1000)
            sender = OutboxSender(pool, transport, clock, base_s=1.0, max_s=8.0)
            started = time.perf_counter()
            rounds = 0
            while rounds < 10_000:
                rounds += 1
                sender.run_once()
                with pool.connection() as conn:
                    row = conn.execute(
                        "select count(*) from auth.mail_outbox where status = 'pending'"
                    ).fetchone()
                if row is None or row[0] == 0:
                    break
                clock.advance(1.0)
            wall = time.perf_counter() - started
        copies = Counter(m.header("Message-ID") for m in sink.messages())
    finally:
        stack.discard(sink.name)
        engine.drop(dbname)
    lost = [i for i in ids if not copies.get(i)]
    return {
        "messages": n,
        "failure_rate": 0.30,
        "failed_attempts": sender.stats.failed,
        "delivered": sum(1 for i in ids if copies.get(i)),
        "lost": len(lost),
        "duplicates": sum(c - 1 for c in copies.values() if c > 1),
        "rounds": rounds,
        "wall_s": round(wall, 2),
        "met": not lost,
    }


def bench_drills(names: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rlsguard-bench-authdrills-") as tmp:
        out = Path(tmp)
        command = [sys.executable, "-m", "rlsguard.cli", "gameday", *names, "--report",
                   str(out / "report"), "--ledger", str(out / "ledger.jsonl")]  # fmt: skip
        started = time.perf_counter()
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if proc.returncode == 2:
            raise SystemExit(f"rlsguard gameday failed:\n{proc.stderr[-3000:]}")
        summary = json.loads((out / "report" / "gameday.json").read_text(encoding="utf-8"))
    drills = {
        d["scenario"]: {
            "ok": d["ok"],
            "ttd_s": d["ttd_s"],
            "ttr_s": d["ttr_s"],
            "ttd_met": d["ttd_s"] is not None and d["ttd_s"] <= TTD_TARGET_S,
            "ttr_met": d["ttr_s"] is not None and d["ttr_s"] <= TTR_TARGET_S,
        }
        for d in summary["drills"]
    }
    return {"wall_s": round(wall, 2), "exit": proc.returncode, "drills": drills}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples, two drills")
    args = parser.parse_args()

    from rlsguard.config import load_config
    from rlsguard.gameday.target import local_cluster

    with local_cluster(load_config(ROOT)) as engine:
        limiter = bench_limiter(engine.stack, 500 if args.quick else 5000)
        frozen = bench_frozen(engine.stack, 3.0)
        outbox = bench_outbox(engine, 200 if args.quick else 1000)
    drills = bench_drills(QUICK_DRILLS if args.quick else AUTH_DRILLS)
    print(
        json.dumps(
            {
                "bench": "authdrills",
                "quick": args.quick,
                "limiter": limiter,
                "frozen": frozen,
                "outbox": outbox,
                "drills": drills,
                "targets": {
                    "ttd_s": TTD_TARGET_S,
                    "ttr_s": TTR_TARGET_S,
                    "limiter_p50_ms": LIMITER_P50_TARGET_MS,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
