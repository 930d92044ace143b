#!/usr/bin/env python3
"""Benchmark the database drills (runbook section 2) on the local stack.

Runs the section-2 scenarios in-process on one private cluster (the system clock: TTD and
TTR are wall time, from the journals), and while they run samples the memory of the whole
stack: Postgres (every process of the cluster), the reference app (uvicorn) and this process
(the runner and the synthetic users' threads); no Redis runs in these drills. Memory is PSS
(proportional set size, from /proc/<pid>/smaps_rollup), so shared buffers count once.

Targets: crash drill ``kill -9`` -> the server serving again <= 100 ms (restart_ms: the
restart with crash recovery) and the app's first successful request <= 1 s after the restart
began; exhaustion drills (connections, pool) TTD <= 2 s and TTR <= 5 s; the whole stack
< 300 MB. ``--quick`` runs the pool and crash drills once. The PgBouncer drills run when the
binary is installed (``RLSGUARD_PGBOUNCER`` names another), and are listed as skipped if not.

    python bench/bench_dbdrills.py [--quick] [--runs N] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "fixtures" / "gameday"
ALL = [
    "connection-exhaustion", "pool-leak", "idle-in-transaction", "long-transaction",
    "slow-function", "missing-index", "statement-timeout", "server-crash", "pgbouncer-killed",
    "pgbouncer-frozen", "pgbouncer-pool-exhausted",
]  # fmt: skip
QUICK = ["pool-leak", "server-crash"]
EXHAUSTION = {"connection-exhaustion", "pool-leak", "pgbouncer-pool-exhausted"}
TARGETS = {
    "restart_ms": 100.0,
    "app_first_success_ms": 1000.0,
    "ttd_s": 2.0,
    "ttr_s": 5.0,
    "stack_mb": 300.0,
}


def summarize(samples: list[float]) -> dict[str, float] | None:
    if not samples:
        return None
    return {
        "min": round(min(samples), 3),
        "median": round(statistics.median(samples), 3),
        "max": round(max(samples), 3),
        "n": len(samples),
    }


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def stack_pids(run_dir: str) -> list[int]:
    """This process and every process started in the stack's run directory."""
    out = [os.getpid()]
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(f"/proc/{entry.name}/cwd")
        except OSError:
            continue
        if run_dir in cmd or cwd.startswith(run_dir):
            out.append(int(entry.name))
    return out


class MemorySampler(threading.Thread):
    def __init__(self, run_dir: str, period: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.run_dir = run_dir
        self.period = period
        self.peak_kb = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.period):
            total = sum(_pss_kb(p) for p in stack_pids(self.run_dir))
            self.peak_kb = max(self.peak_kb, total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="pool and crash drills, once")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.chdir(ROOT)
    from rlsguard.config import load_config
    from rlsguard.gameday.drill import Drill
    from rlsguard.gameday.run import platform_for
    from rlsguard.gameday.scenario import load_scenario
    from rlsguard.gameday.target import local_cluster, local_database
    from rlsguard.stack.pgbouncer import discover_pgbouncer

    names = QUICK if args.quick else ALL
    if args.only:
        names = [n for n in names if n in args.only.split(",")] or args.only.split(",")
    skipped = []
    if discover_pgbouncer() is None:
        skipped = [n for n in names if n.startswith("pgbouncer-")]
        names = [n for n in names if n not in skipped]
    runs = 1 if args.quick else args.runs
    config = load_config(ROOT)
    per: dict[str, dict[str, list[float]]] = {}
    failures: list[str] = []
    with local_cluster(config) as engine, tempfile.TemporaryDirectory() as tmp:
        platform = platform_for(engine, config)
        sampler = MemorySampler(str(engine.stack.path))
        sampler.start()
        for n in range(runs):
            for name in names:
                scenario = load_scenario(FOLDER / f"{name}.yaml")
                with local_database(engine, f"bench_{n}_{name.replace('-', '_')}") as target:
                    result = Drill(
                        scenario, target, platform, ledger_file=Path(tmp) / "ledger.jsonl"
                    ).run()
                if not result.ok:
                    failures.append(f"{name}: {result.error or result.journal.summary}")
                slot = per.setdefault(name, {})
                for key in ("ttd_s", "ttr_s"):
                    if result.journal.summary.get(key) is not None:
                        slot.setdefault(key, []).append(result.journal.summary[key])
                for step in result.remedy_steps:
                    for key in ("restart_ms", "kill_to_serving_ms", "app_first_success_ms"):
                        if key in step:
                            slot.setdefault(key, []).append(step[key])
        sampler.done.set()
        sampler.join()
    drills: dict[str, Any] = {
        name: {k: summarize(v) for k, v in slot.items()} for name, slot in per.items()
    }

    def worst(names_: set[str] | list[str], key: str) -> float | None:
        values = [per[n][key] for n in names_ if n in per and key in per[n]]
        return max((max(v) for v in values), default=None)

    crash = per.get("server-crash", {})
    peak_mb = round(sampler.peak_kb / 1024, 1)
    result = {
        "bench": "dbdrills",
        "quick": args.quick,
        "drills": drills,
        "stack_peak_pss_mb": peak_mb,
        "redis": "not part of these drills",
        "skipped": dict.fromkeys(skipped, "pgbouncer is not installed"),
        "targets": TARGETS,
        "met": {
            "restart_ms": bool(crash.get("restart_ms"))
            and max(crash["restart_ms"]) <= TARGETS["restart_ms"],
            "app_first_success_ms": bool(crash.get("app_first_success_ms"))
            and max(crash["app_first_success_ms"]) <= TARGETS["app_first_success_ms"],
            "exhaustion_ttd": (worst(EXHAUSTION, "ttd_s") or 1e9) <= TARGETS["ttd_s"],
            "exhaustion_ttr": (worst(EXHAUSTION, "ttr_s") or 1e9) <= TARGETS["ttr_s"],
            "stack_mb": peak_mb < TARGETS["stack_mb"],
            "all_drills_passed": not failures,
        },
        "failures": failures,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
