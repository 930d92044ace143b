#!/usr/bin/env python3
"""Benchmark the access matrix: cells/s on one connection, and a full ``pytest -m rls``.

On one connection to a clone of the project's template:

- ``batched``: the checker as pytest runs it (every cell in one message through the helper;
  persona lookups, catalog queries and Python included);
- ``server_limit``: the same messages sent on their own, nothing else - the server's pace;
  ``batched_vs_server`` is the share of it the checker reaches (target >= 0.8);
- ``helper_one_per_round_trip`` and ``plain_one_per_round_trip``: the same statements one
  round trip each, through the helper or as plain statements with client-side savepoints.

Then the wall time of ``pytest -m rls`` in the project's folder (what a developer types;
target <= 10 s), and the per-item cost the plugin reports. Without a matrix file of its own,
the project gets one recorded from its current behaviour. Prints one JSON document.

    python bench/bench_matrix.py [--supabase-dir DIR] [--matrix FILE] [--quick] [--no-pytest]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlsguard.config import load_config
from rlsguard.harness.engine import Engine, EngineOptions
from rlsguard.matrix.check import Checker
from rlsguard.matrix.executor import HelperExecutor
from rlsguard.matrix.load import Matrix, load_matrix, parse_matrix
from rlsguard.matrix.record import record, render

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "supabase"
FALLBACK = ROOT / "tests" / "matrix" / "projects" / "shop" / "supabase"
FAST_START = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker")
TARGET_RATIO = 0.8
TARGET_PYTEST_S = 10.0
_SUMMARY = re.compile(
    r"(\d+) cell\(s\) checked, (\d+) failed"
    r"(?: \(database ([\d.]+) s.*?then ([\d.]+) ms per item\))?"
)


def summarize(samples: list[float], digits: int = 4) -> dict[str, float]:
    return {
        "min": round(min(samples), digits),
        "median": round(statistics.median(samples), digits),
        "max": round(max(samples), digits),
        "n": len(samples),
    }


def timed(fn: Callable[[], object], reps: int) -> list[float]:
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def matrix_for(engine: Engine, db: Any, given: Path | None, scratch: Path) -> tuple[Matrix, Path]:
    """The given file, the project's own, or one recorded now from current behaviour."""
    path = given or Path(engine.config.matrix)
    if path.is_file():
        return load_matrix(path, engine.personas.names), path
    schemas = list(engine.load_project().config.api_schemas)
    text = render(record(db, schemas=schemas), source="bench")
    recorded = scratch / "recorded_matrix.yaml"
    recorded.write_text(text)
    return parse_matrix(text, source=recorded, personas=engine.personas.names), recorded


def cells_per_second(engine: Engine, matrix: Matrix, reps: int) -> dict[str, Any]:
    schemas = list(engine.load_project().config.api_schemas)
    with engine.cloned_database("bench_matrix") as db:
        run = Checker(db, matrix, schemas=schemas).run()  # warm caches, check it passes
        cells = len(run.results)

        def batched() -> None:
            Checker(db, matrix, schemas=schemas).run()

        probe = Checker(db, matrix, schemas=schemas)
        probe.run()
        assert isinstance(probe.executor, HelperExecutor)
        messages = list(probe.executor.messages)  # the run's messages, fallback included

        def server() -> None:
            with db.conn.cursor() as cur:
                for message in messages:
                    cur.execute(message)  # type: ignore[arg-type]
                    while cur.nextset():
                        pass

        def one_by_one(executor: str) -> Callable[[], None]:
            return lambda: Checker(
                db, matrix, schemas=schemas, executor=executor, per_message=1
            ).run()

        figures = {
            "batched": timed(batched, reps),
            "server_limit": timed(server, reps),
            "helper_one_per_round_trip": timed(one_by_one("helper"), max(1, reps // 2)),
            "plain_one_per_round_trip": timed(one_by_one("plain"), max(1, reps // 2)),
        }
    out: dict[str, Any] = {
        "cells": cells,
        "failed_cells": len(run.failed),
        "statements": run.statements,
        "round_trips_batched": run.round_trips,
    }
    for name, samples in figures.items():
        out[name] = {"seconds": summarize(samples), "cells_per_s": round(cells / min(samples))}
    ratio = out["batched"]["cells_per_s"] / out["server_limit"]["cells_per_s"]
    out["batched_vs_server"] = round(ratio, 3)
    out["target_batched_vs_server"] = TARGET_RATIO
    out["met"] = ratio >= TARGET_RATIO
    out["batched_vs_plain_one_per_round_trip"] = round(
        out["batched"]["cells_per_s"] / out["plain_one_per_round_trip"]["cells_per_s"], 1
    )
    return out


def pytest_rls(project: Path, matrix: Path, cache: Path, reps: int) -> dict[str, Any]:
    """``pytest -m rls`` in the project's folder, as a developer runs it (cache warm)."""
    own = Path(load_config(supabase_dir=project).matrix).resolve() == matrix.resolve()
    args = [sys.executable, "-m", "pytest", *FAST_START, "-q", "-m", "rls",
            "--supabase-dir", str(project)]  # fmt: skip
    if not own:
        args += ["--rlsguard-matrix", str(matrix)]
    env = {**os.environ, "RLSGUARD_CACHE_DIR": str(cache), "COLUMNS": "200"}

    def once() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, cwd=project.parent, env=env, capture_output=True, text=True, check=False
        )

    once()  # fill the template cache
    walls, results = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        results.append(once())
        walls.append(time.perf_counter() - t0)
    last = results[-1]
    found = _SUMMARY.search(last.stdout)
    tail = last.stdout.strip().splitlines()[-1] if last.stdout.strip() else last.stderr[-300:]
    figure: dict[str, Any] = {
        "command": " ".join(args[1:]),
        "cwd": str(project.parent),
        "wall_s": summarize(walls, 3),
        "target_s": TARGET_PYTEST_S,
        "met": statistics.median(walls) <= TARGET_PYTEST_S,
        "exit_code": last.returncode,
        "outcome": tail,
    }
    if found:
        figure["matrix_items"] = int(found[1])
        figure["matrix_failed"] = int(found[2])
        if found[3]:
            figure["matrix_database_s"] = float(found[3])
            figure["per_item_ms"] = float(found[4])
    return figure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = REFERENCE if (REFERENCE / "migrations").is_dir() else FALLBACK
    parser.add_argument("--supabase-dir", type=Path, default=default)
    parser.add_argument("--matrix", type=Path, default=None, help="default: the project's")
    parser.add_argument("--quick", action="store_true", help="few repetitions (CI)")
    parser.add_argument("--no-pytest", action="store_true", help="skip the pytest wall time")
    args = parser.parse_args()
    project = args.supabase_dir.resolve()
    given = args.matrix.resolve() if args.matrix else None
    reps = 3 if args.quick else 9
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(os.environ.get("RLSGUARD_CACHE_DIR") or Path(scratch) / "cache")
        config = load_config(supabase_dir=project)
        config = config.model_copy(update={"cache": config.cache.model_copy(update={"dir": cache})})
        with Engine(config, EngineOptions(supabase_dir=project)) as engine:
            with engine.cloned_database("bench_matrix_record") as db:
                matrix, matrix_path = matrix_for(engine, db, given, Path(scratch))
            out: dict[str, Any] = {
                "meta": {
                    "project": str(project),
                    "matrix": str(matrix_path),
                    "recorded": matrix_path.parent == Path(scratch),
                    "reps": reps,
                    "cpus": os.cpu_count(),
                    "server": engine.prepared.server.binaries.describe(),  # type: ignore[union-attr]
                },
                "cells_per_second": cells_per_second(engine, matrix, reps),
            }
        if not args.no_pytest:
            out["pytest_rls"] = pytest_rls(project, matrix_path, cache, max(1, reps // 3))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
