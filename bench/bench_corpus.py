#!/usr/bin/env python3
"""Benchmark applying the public-pattern corpus (tests/projects/public): per project, what
``supabase db reset`` costs here with the stand-ins its rlsguard.toml names.

Each repetition clones a freshly bootstrapped database and applies the project's migrations and
seed (the bootstrap of the clone only adds the grant mode and the project's vault, if any).
Prints one JSON document; not a test. CI runs ``--quick`` so the script cannot rot.

    python bench/bench_corpus.py            # 5 repetitions
    python bench/bench_corpus.py --quick    # 1 repetition
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import time
import warnings
from pathlib import Path

from rlsguard.config import load_config
from rlsguard.stack import Stack
from rlsguard.supabase import SupabaseProject, apply_project, bootstrap, clone_database
from rlsguard.supabase.statements import split

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "projects" / "public"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    reps = 1 if args.quick else 5
    warnings.simplefilter("ignore")
    names = itertools.count()
    results = {}
    with Stack().open() as stack:
        server = stack.postgres("corpus")
        bootstrap(server)
        for folder in sorted(p for p in CORPUS.iterdir() if (p / "supabase").is_dir()):
            toml = folder / "rlsguard.toml"
            stand_ins = load_config(toml).stand_ins if toml.is_file() else ()
            project = SupabaseProject.load(folder / "supabase")
            samples = []
            for _ in range(reps):
                dbname = f"b{next(names)}"
                clone_database(server, dbname, "postgres")
                started = time.perf_counter()
                apply_project(server, project, dbname=dbname, stand_ins=stand_ins)
                samples.append((time.perf_counter() - started) * 1000)
                server.drop_database(dbname)
            results[folder.name] = {
                "switches": {"stand_ins": list(stand_ins)} if stand_ins else {},
                "statements": sum(
                    len(split(f.text)[0]) for f in (*project.migrations, *project.seeds)
                ),
                "apply_ms": {
                    "min": round(min(samples), 1),
                    "median": round(statistics.median(samples), 1),
                    "max": round(max(samples), 1),
                    "n": len(samples),
                },
            }
        version = server.binaries.version
    print(
        json.dumps(
            {
                "bench": "corpus",
                "postgres": version,
                "machine": platform.machine(),
                "projects": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
