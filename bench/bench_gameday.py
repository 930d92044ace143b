#!/usr/bin/env python3
"""Benchmark ``rlsguard gameday``: time to detect and to recover per section-1 drill, and the
whole game day, on the local stack (a private cluster from the template cache).

Each run is a fresh ``rlsguard gameday --report DIR`` process, as a user runs it, so the
whole-run wall time includes Python's start-up and the cluster's start; TTD and TTR per drill
come from the journals it writes (wall clock, measured by the runner). Targets: TTD <= 2 s
and TTR <= 5 s for each drill (the runbook allows 15 min), the whole game day <= 30 s.
``--quick`` runs two scenarios once (CI keeps the script from rotting). Prints one JSON
document.

    python bench/bench_gameday.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TTD_TARGET_S = 2.0
TTR_TARGET_S = 5.0
WHOLE_TARGET_S = 30.0
QUICK = ["using-false", "revoke-grant"]
# Section 1 only: the database drills (section 2) have their own bench, bench_dbdrills.py.
SECTION_1 = [
    "drop-policy", "revoke-grant", "rls-disabled", "rotated-jwt-secret", "runbook-rollback",
    "using-false", "using-true",
]  # fmt: skip


def summarize(samples: list[float]) -> dict[str, float]:
    return {
        "min": round(min(samples), 3),
        "median": round(statistics.median(samples), 3),
        "max": round(max(samples), 3),
        "n": len(samples),
    }


def run_once(scenarios: list[str], out: Path) -> tuple[float, int, dict[str, Any]]:
    ledger = out / "ledger.jsonl"
    command = [sys.executable, "-m", "rlsguard.cli", "gameday", *scenarios,
               "--report", str(out / "report"), "--ledger", str(ledger)]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode == 2:
        raise SystemExit(f"rlsguard gameday failed:\n{proc.stderr[-3000:]}")
    summary = json.loads((out / "report" / "gameday.json").read_text(encoding="utf-8"))
    return wall, proc.returncode, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="two scenarios, one run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    scenarios = QUICK if args.quick else SECTION_1
    runs = 1 if args.quick else args.runs
    walls: list[float] = []
    per: dict[str, dict[str, list[float]]] = {}
    exits = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="rlsguard-bench-gameday-") as tmp:
            wall, code, summary = run_once(scenarios, Path(tmp))
        walls.append(wall)
        exits.append(code)
        for drill in summary["drills"]:
            slot = per.setdefault(drill["scenario"], {"ttd_s": [], "ttr_s": []})
            for key in ("ttd_s", "ttr_s"):
                if drill[key] is not None:
                    slot[key].append(drill[key])
    drills = {
        name: {
            "ttd_s": summarize(v["ttd_s"]) if v["ttd_s"] else None,
            "ttr_s": summarize(v["ttr_s"]) if v["ttr_s"] else None,
        }
        for name, v in per.items()
    }
    worst_ttd = max((d["ttd_s"]["max"] for d in drills.values() if d["ttd_s"]), default=None)
    worst_ttr = max((d["ttr_s"]["max"] for d in drills.values() if d["ttr_s"]), default=None)
    result = {
        "bench": "gameday",
        "quick": args.quick,
        "scenarios": sorted(per),
        "whole_run_s": summarize(walls),
        "drills": drills,
        "exit_codes": exits,
        "targets": {"ttd_s": TTD_TARGET_S, "ttr_s": TTR_TARGET_S, "whole_s": WHOLE_TARGET_S},
        "met": {
            "ttd": worst_ttd is not None and worst_ttd <= TTD_TARGET_S,
            "ttr": worst_ttr is not None and worst_ttr <= TTR_TARGET_S,
            "whole": statistics.median(walls) <= WHOLE_TARGET_S,
            "all_drills_passed": all(code == 0 for code in exits),
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
