#!/usr/bin/env python3
"""Benchmark the engine: template cold/warm start, per-test isolation, impersonated checks.

Prints one JSON document, each figure with min/median/max and its target from
docs/performance.md (DESIGN.md "Targets"). Not a test; CI runs ``--quick``.

    python bench/bench_engine.py [--supabase-dir DIR] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psycopg_pool import ConnectionPool

from rlsguard.config import load_config
from rlsguard.harness.engine import Engine, EngineOptions

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROJECT = ROOT / "tests" / "projects" / "notes" / "supabase"

TARGETS = {
    "cold_start_s": 1.0,
    "warm_start_s": 0.2,
    "per_test_rollback_ms": 0.5,
    "per_test_clone_ms": 10.0,
}


def summarize(samples: list[float], digits: int = 3) -> dict[str, float]:
    return {
        "min": round(min(samples), digits),
        "median": round(statistics.median(samples), digits),
        "max": round(max(samples), digits),
        "n": len(samples),
    }


def with_target(name: str, samples: list[float]) -> dict[str, Any]:
    figure: dict[str, Any] = summarize(samples)
    if name in TARGETS:
        figure["target"] = TARGETS[name]
        figure["met"] = figure["median"] <= TARGETS[name]
    return figure


def engine_for(project: Path, cache: Path, *, no_cache: bool = False) -> Engine:
    config = load_config(supabase_dir=project)
    config = config.model_copy(update={"cache": config.cache.model_copy(update={"dir": cache})})
    return Engine(config, EngineOptions(supabase_dir=project, no_cache=no_cache))


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def cold_starts(project: Path, reps: int) -> list[float]:
    samples = []
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as cache:
            engine = engine_for(project, Path(cache))
            samples.append(timed(engine.open))
            engine.close()
    return samples


def warm_starts(project: Path, cache: Path, reps: int) -> list[float]:
    """Cache hit -> the first test can run: cluster up, worker database cloned, query answered."""
    engine_for(project, cache).open().close()  # fill the cache
    samples = []
    for _ in range(reps):
        engine = engine_for(project, cache)

        def start(engine: Engine = engine) -> None:
            engine.open()
            engine.clone("bench_worker")
            with engine.connect("bench_worker") as conn:
                conn.execute("select 1")

        samples.append(timed(start))
        engine.close()
    return samples


def isolation(engine: Engine, reps: int) -> dict[str, list[float]]:
    engine.clone("bench_db")
    pool = ConnectionPool(
        engine.conninfo("bench_db"), min_size=1, max_size=2, kwargs={"autocommit": True}
    )
    rollback_ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        with pool.connection() as conn:  # what the rlsguard_db fixture does around a test
            conn.execute("BEGIN")
            engine.database(conn)
            conn.execute("ROLLBACK")
        rollback_ms.append((time.perf_counter() - t0) * 1000)
    pool.close()
    clone_ms, cycle_ms = [], []
    for i in range(max(3, reps // 50)):
        name = f"bench_clone_{i}"
        t0 = time.perf_counter()
        engine.clone(name)
        t1 = time.perf_counter()
        with engine.connect(name) as conn:
            conn.execute("select 1")
        engine.drop(name)
        clone_ms.append((t1 - t0) * 1000)
        cycle_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "per_test_rollback_ms": rollback_ms,
        "per_test_clone_ms": clone_ms,
        "per_test_clone_full_cycle_ms": cycle_ms,
    }


def checks(engine: Engine, personas: list[str], query: str, reps: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with engine.connect("bench_db", autocommit=True) as conn:
        db = engine.database(conn)
        identities = [db.personas.resolve(conn, p) for p in personas]
        conn.execute("BEGIN")
        latency = []
        for i in range(reps):
            t0 = time.perf_counter()
            with db.session(identities[i % len(identities)]) as s:
                s.fetch(query)
            latency.append((time.perf_counter() - t0) * 1000)
        conn.execute("ROLLBACK")
        results["impersonated_check_ms"] = summarize(latency)

        def throughput(per_message: int, total: int) -> float:
            t0 = time.perf_counter()
            sent = 0
            while sent < total:
                batch = db.batch()
                for i in range(min(per_message, total - sent)):
                    batch.add(identities[(sent + i) % len(identities)], query)
                batch.run()
                sent += per_message
            return total / (time.perf_counter() - t0)

        total = max(200, reps * 4)
        one = throughput(1, total)
        batched = throughput(50, total)
        server = throughput(total, total)  # everything in one message: the server's own pace
        results["checks_per_s"] = {
            "one_per_round_trip": round(one),
            "batched_50_per_round_trip": round(batched),
            "all_in_one_message": round(server),
            "batched_vs_server": round(batched / server, 2),
            "target_batched_vs_server": 0.8,
            "met": batched / server >= 0.8,
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--supabase-dir", type=Path, default=DEFAULT_PROJECT)
    parser.add_argument("--quick", action="store_true", help="few repetitions (CI)")
    parser.add_argument("--personas", default="", help="comma-separated (default: config's)")
    parser.add_argument("--query", default="select count(*) from public.notes")
    args = parser.parse_args()
    project = args.supabase_dir.resolve()
    reps = 2 if args.quick else 7
    check_reps = 50 if args.quick else 500
    out: dict[str, Any] = {"meta": {"project": str(project), "reps": reps, "cpus": os.cpu_count()}}
    results: dict[str, Any] = {}
    results["cold_start_s"] = with_target("cold_start_s", cold_starts(project, reps))
    with tempfile.TemporaryDirectory() as cache:
        results["warm_start_s"] = with_target(
            "warm_start_s", warm_starts(project, Path(cache), reps)
        )
        with engine_for(project, Path(cache)) as engine:
            for name, samples in isolation(engine, check_reps * 2).items():
                results[name] = with_target(name, samples)
            personas = [p for p in args.personas.split(",") if p] or [
                p for p in engine.personas.names if p not in ("anon", "ghost")
            ]
            results.update(checks(engine, personas, args.query, check_reps))
            out["meta"]["server"] = engine.prepared.server.binaries.describe()  # type: ignore[union-attr]
    out["results"] = results
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
