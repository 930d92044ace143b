#!/usr/bin/env python3
"""Benchmark a pgTAP suite: ``pytest`` items versus ``pg_prove``, on the same server.

The team to-do project's ``supabase/tests`` (11 files, 55 assertions) against one clone of its
prepared template:

- ``pg_prove``: ``pg_prove -h SOCKET -p PORT -U postgres -d DB supabase/tests/*.sql`` (one
  ``psql`` per file, the server's pgTAP installed once, as ``supabase test db`` does). The
  server has no test-helpers extension, so pg_prove gets copies of the files with the helpers'
  SQL inlined in place of ``create extension`` (the helpers' documented manual install);
- ``runner_server`` / ``runner_rlsguard``: rlsguard's runner on one connection, with the
  server's pgTAP or rlsguard's own implementation;
- ``pytest_server`` / ``pytest_rlsguard``: the wall time of ``pytest -m pgtap`` in the
  project's folder (process start, template from the cache, clone, install, 11 items).

Prints one JSON document (seconds: min, median, max, n).

    python bench/bench_pgtap.py [--reps N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
from rlsguard.pgtap.database import TestDatabase
from rlsguard.pgtap.provider import helpers_sql, server_pgtap

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "tests" / "projects" / "pgtap"
FAST_START = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker")


def summarize(samples: list[float]) -> dict[str, float]:
    return {
        "min": round(min(samples), 3),
        "median": round(statistics.median(samples), 3),
        "max": round(max(samples), 3),
        "n": len(samples),
    }


def timed(fn: Callable[[], object], reps: int) -> list[float]:
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def run_checked(command: list[str], **kwargs: Any) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


def inline_helpers(files: list[Path], folder: Path) -> list[Path]:
    """Copies of the files for psql: the helpers' SQL where they create the extension."""
    helpers = helpers_sql("extensions")
    out = []
    for path in files:
        lines = []
        for line in path.read_text().splitlines(keepends=True):
            if line.lower().startswith("create extension") and "helpers" in line:
                lines.append(helpers + "\n")
            else:
                lines.append(line)
        copy = folder / path.name
        copy.write_text("".join(lines))
        out.append(copy)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one repetition, no pytest runs")
    args = parser.parse_args()
    reps = 1 if args.quick else args.reps
    supabase_dir = PROJECT / "supabase"
    files = sorted((supabase_dir / "tests").glob("*.sql"))
    out: dict[str, Any] = {"bench": "pgtap", "files": len(files), "reps": reps}
    config = load_config(supabase_dir=supabase_dir)
    with Engine(config, EngineOptions(supabase_dir=supabase_dir)) as engine:
        assert engine.endpoint is not None
        with engine.connect("postgres") as conn:
            has_pgtap = server_pgtap(conn) is not None
        out["server"] = engine.prepared.server.binaries.describe() if engine.prepared else ""
        out["server_has_pgtap"] = has_pgtap
        for implementation in ("server", "rlsguard"):
            if implementation == "server" and not has_pgtap:
                continue
            name = f"bench_pgtap_{implementation}"
            engine.clone(name)
            try:
                with TestDatabase(
                    engine.conninfo(name),
                    engine.conninfo(name, user="postgres"),
                    implementation=implementation,  # type: ignore[arg-type]
                ) as database:
                    results = [database.run(path) for path in files]
                    assert all(r.passed for r in results), [r.problems() for r in results]
                    out["assertions"] = sum(len(r.tap.assertions) for r in results)
                    samples = timed(lambda db=database: [db.run(p) for p in files], reps)
                    out[f"runner_{implementation}"] = summarize(samples)
                pg_prove = shutil.which("pg_prove")
                if implementation == "server" and pg_prove:
                    endpoint = engine.endpoint
                    inlined = inline_helpers(files, Path(tempfile.mkdtemp(prefix="pgtap-bench-")))
                    command = [
                        pg_prove, "-h", endpoint.host, "-p", str(endpoint.port),
                        "-U", "postgres", "-d", name, *map(str, inlined),
                    ]  # fmt: skip
                    out["pg_prove_command"] = "pg_prove -h SOCKET -p PORT -U postgres -d DB " + (
                        "tests/projects/pgtap/supabase/tests/*.sql"
                    )
                    out["pg_prove"] = summarize(timed(lambda c=command: run_checked(c), reps))
            finally:
                engine.drop(name)
    if not args.quick:
        with tempfile.TemporaryDirectory() as scratch:
            repo = Path(scratch) / "repo"
            shutil.copytree(PROJECT, repo)
            for implementation in ("server", "rlsguard"):
                if implementation == "server" and not has_pgtap:
                    continue
                command = [
                    sys.executable, "-m", "pytest", *FAST_START, "-q", "-m", "pgtap",
                    f"--rlsguard-pgtap={implementation}",
                ]  # fmt: skip
                samples = timed(
                    lambda c=command: run_checked(c, cwd=repo, env=dict(os.environ)), reps
                )
                out[f"pytest_{implementation}"] = summarize(samples)
        out["pytest_command"] = "pytest -m pgtap --rlsguard-pgtap=IMPL (in the project folder)"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
