#!/usr/bin/env python3
"""Benchmark ``rlsguard gate``: wall time on the reference platform, cache cold and warm.

A temporary git repository is made from this repository's project files (supabase/,
rlsguard.toml, the access matrix): its HEAD~1 lacks the last migration, as a pull request's
base would. The gate runs as CI runs it - ``rlsguard gate --base HEAD~1`` in a fresh
process, every report file written - so the wall time includes Python's start-up:

- ``cold``: an empty template cache; base and head schemas are both built (in parallel);
- ``warm``: the same command again, both schemas from the cache.

Per-step seconds come from the run's own ``--json`` report. Target: <= 30 s wall on 2 cores
(cold included). Prints one JSON document.

    python bench/bench_gate.py [--quick]
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAST_MIGRATION = "20260105090400_reporting.sql"
TARGET_S = 30.0


def summarize(samples: list[float], digits: int = 3) -> dict[str, float]:
    return {
        "min": round(min(samples), digits),
        "median": round(statistics.median(samples), digits),
        "max": round(max(samples), digits),
        "n": len(samples),
    }


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@rlsguard.test",
         "-c", "commit.gpgsign=false", *args],
        check=True, capture_output=True,
    )  # fmt: skip


def make_repo(root: Path) -> Path:
    """The project in a git repository of its own: HEAD~1 without the last migration."""
    shutil.copytree(ROOT / "supabase", root / "supabase",
                    ignore=shutil.ignore_patterns(LAST_MIGRATION))  # fmt: skip
    shutil.copy2(ROOT / "rlsguard.toml", root / "rlsguard.toml")
    matrix = ROOT / "fixtures" / "rls_matrix.yaml"
    if matrix.is_file():
        (root / "fixtures").mkdir()
        shutil.copy2(matrix, root / "fixtures" / matrix.name)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    shutil.copy2(ROOT / "supabase" / "migrations" / LAST_MIGRATION,
                 root / "supabase" / "migrations" / LAST_MIGRATION)  # fmt: skip
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "head")
    return root


def gate_once(repo: Path, cache: Path, out: Path) -> tuple[float, dict[str, Any]]:
    """One ``rlsguard gate`` process: its wall time and its JSON report."""
    report = out / "gate.json"
    command = [sys.executable, "-m", "rlsguard.cli", "gate", "--base", "HEAD~1",
               "--summary", str(out / "summary.md"), "--junit", str(out / "junit.xml"),
               "--sarif", str(out / "gate.sarif"), "--json", str(report)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env["RLSGUARD_CACHE_DIR"] = str(cache)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1) or not report.is_file():
        raise SystemExit(f"the gate failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return wall, json.loads(report.read_text(encoding="utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each (CI)")
    args = parser.parse_args()
    cold_runs, warm_runs = (1, 1) if args.quick else (3, 5)
    cold: list[float] = []
    warm: list[float] = []
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rlsguard-bench-gate-") as scratch:
        repo = make_repo(Path(scratch) / "repo")
        out = Path(scratch) / "out"
        for index in range(cold_runs):
            cache = Path(scratch) / f"cold-cache-{index}"  # empty: both schemas are built
            wall, report = gate_once(repo, cache, out)
            cold.append(wall)
        cache = Path(scratch) / "cold-cache-0"  # filled by the first cold run
        steps: dict[str, list[float]] = {}
        for _ in range(warm_runs):
            wall, report = gate_once(repo, cache, out)
            warm.append(wall)
            for step in report["steps"]:
                steps.setdefault(step["name"], []).append(step["seconds"])
    result = {
        "meta": {
            "project": str(ROOT / "supabase"),
            "command": "rlsguard gate --base HEAD~1 (+ --summary --junit --sarif --json)",
            "cpus": os.cpu_count(),
            "verdict": report["verdict"],
            "access_cells": report["access"]["cells"] if report.get("access") else None,
            "matrix_cells": report["matrix"]["cells"] if report.get("matrix") else None,
        },
        "cold_wall_s": summarize(cold),
        "warm_wall_s": summarize(warm),
        "warm_steps_s": {name: summarize(samples) for name, samples in steps.items()},
        "target_s": TARGET_S,
        "met": max(cold + warm) <= TARGET_S,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
