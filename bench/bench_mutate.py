#!/usr/bin/env python3
"""Benchmark ``rlsguard mutate``: mutants/s and the wall time of a whole run.

Runs the command's own code path (template from the cache, one clone per job, every mutant
of the live surface applied in a rolled-back transaction and judged by the matrix and lint)
on the reference platform and reports the wall time (target <= 20 s on 2 cores), mutants/s
and the score. ``--quick`` runs only the mutants of one table (CI keeps the script alive
with it; the figure is not the target's). Prints one JSON document.

    python bench/bench_mutate.py [--supabase-dir DIR] [--jobs N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from rlsguard.cli import app

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 20.0
QUICK_ONLY = "public.users*"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--supabase-dir", type=Path, default=ROOT / "supabase")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    command = ["mutate", "--supabase-dir", str(args.supabase_dir), "--format", "json",
               "--jobs", str(args.jobs)]  # fmt: skip
    if args.quick:
        command += ["--only", QUICK_ONLY]
    started = time.perf_counter()
    result = CliRunner().invoke(app, command)
    wall = time.perf_counter() - started
    if result.exit_code not in (0, 1):
        print(result.output, file=sys.stderr)
        return 1
    report = json.loads(result.stdout)
    out = {
        "bench": "mutate",
        "quick": args.quick,
        "jobs": args.jobs,
        "mutants": len(report["mutants"]),
        "counts": report["counts"],
        "score": report["score"],
        "mutants_per_second": report["mutants_per_second"],
        "mutants_seconds": report["seconds"],
        "wall_seconds": round(wall, 2),
        "target_wall_seconds": TARGET_S,
        "meets_target": None if args.quick else wall <= TARGET_S,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
