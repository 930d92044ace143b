#!/usr/bin/env python3
"""The inner loop: edit a migration -> verdict, rlsguard against pgTAP on a running server.

For each schema (the reference platform in ``supabase/``, and ``bench/loop/teams``: 20 users,
5 tables, 315 select/update/delete cells), in a scratch copy of the project, every round
appends a comment to the last migration (a new content hash: nothing cached for the
migrations fits any more) and then times, in a shuffled order:

- ``pgtap``: what a pgTAP user does against a running server: ``dropdb``, ``createdb`` from a
  database that holds only the Supabase bootstrap and pgTAP, ``psql -f`` every migration and
  the seed, then ``pg_prove`` a suite with the matrix's expectations (written by
  ``bench/loop/pgtap_suite.py``: the same cells, the same row sets). The server is started
  once, before the rounds, and its start is not counted.
- ``matrix_check``: ``rlsguard matrix check`` (a new process each round).
- ``pytest_rls``: ``pytest -m rls`` in the project's folder (a new process each round).

Both rlsguard contenders run against a warm cache (one untimed round first). Prints one
JSON document with each contender's median and ``speedup`` = pgTAP median / contender
median (target >= 2). pgTAP needs the Debian packages ``postgresql-NN-pgtap`` and
``libtap-parser-sourcehandler-pgtap-perl`` (``pg_prove``); without them the competitor is
skipped with the reason.

    python bench/bench_loop.py [--rounds N] [--quick] [--schema reference|teams]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench" / "loop"))

SCHEMAS = {
    "reference": ROOT,
    "teams": ROOT / "bench" / "loop" / "teams",
}
TARGET_SPEEDUP = 2.0
FAST_START = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker")


def pgtap_missing(major: int) -> str | None:
    """Why the pgTAP competitor cannot run here, or None."""
    if shutil.which("pg_prove") is None:
        return "pg_prove not found: apt-get install libtap-parser-sourcehandler-pgtap-perl"
    control = Path(f"/usr/share/postgresql/{major}/extension/pgtap.control")
    if not control.exists():
        return (
            f"pgTAP not installed for PostgreSQL {major}: apt-get install postgresql-{major}-pgtap"
        )
    return None


def copy_project(source: Path, into: Path) -> Path:
    """The project's config, supabase/ and matrix, in a folder the bench may edit."""
    project = into / source.name
    project.mkdir(parents=True)
    shutil.copytree(source / "supabase", project / "supabase")
    shutil.copy(source / "rlsguard.toml", project / "rlsguard.toml")
    (project / "fixtures").mkdir()
    shutil.copy(source / "fixtures" / "rls_matrix.yaml", project / "fixtures" / "rls_matrix.yaml")
    (project / "pytest.ini").write_text("[pytest]\n")  # rootdir here, nothing else collected
    return project


class Pgtap:
    """A running server with a bootstrapped base database; each round rebuilds ``bench``."""

    def __init__(self, engine: Any, project: Path, suite: Path) -> None:
        from rlsguard.supabase.bootstrap import bootstrap

        endpoint = engine.endpoint
        self.env = {
            **os.environ,
            "PGHOST": endpoint.host,
            "PGPORT": str(endpoint.port),
            "PGUSER": endpoint.superuser,
            "PGDATABASE": "postgres",
        }
        self.project = project
        self.suite = sorted(str(p) for p in suite.glob("*.sql"))
        server = engine.prepared.server
        with server.connect(autocommit=True) as conn:
            conn.execute("create database bench_base template template0")
        bootstrap(server, dbname="bench_base", auto_expose=False)
        with server.connect("bench_base", autocommit=True) as conn:
            conn.execute("create extension pgtap with schema extensions")
            # On Supabase, supautils lets `postgres` create policies on storage tables; plain
            # psql has no supautils, so `postgres` gets them the simple way.
            conn.execute(
                "do $$ declare t record; begin for t in select c.oid::regclass as r from "
                "pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = "
                "'storage' and c.relkind = 'r' loop execute format('alter table %s owner to "
                "postgres', t.r); end loop; end $$"
            )

    def run(self) -> None:
        supabase = self.project / "supabase"
        files = [*sorted((supabase / "migrations").glob("*.sql")), supabase / "seed.sql"]
        script = " && ".join(
            [
                "dropdb --if-exists bench",
                "createdb -O postgres -T bench_base bench",
                "psql -X -q -v ON_ERROR_STOP=1 -d bench -c 'SET SESSION AUTHORIZATION postgres' "
                + " ".join(f"-f '{f}'" for f in files)
                + " > /dev/null",
                "pg_prove -d bench " + " ".join(f"'{t}'" for t in self.suite),
            ]
        )
        done = subprocess.run(script, shell=True, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pgTAP loop failed:\n{done.stdout[:3000]}\n{done.stderr[-2000:]}")


def start_dev_server(project: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """``rlsguard dev`` in the project, ready when it prints its connection string."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlsguard", "dev"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("dev server ready"):
        proc.kill()
        raise RuntimeError(f"rlsguard dev did not start: {line!r} (exit {proc.wait()})")
    return proc, line.split(": ", 1)[1].strip()


def stop_dev_server(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends: it stops its cluster and exits
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _edit(project: Path, round_no: int) -> None:
    last = sorted((project / "supabase" / "migrations").glob("*.sql"))[-1]
    with last.open("a") as f:
        f.write(f"\n-- bench edit {round_no} {time.time_ns()}\n")


def per_kind(engine: Any) -> dict[str, Any]:
    """Checker time per cell by operation (all cells of a kind in one run; Python included)."""
    from rlsguard.matrix.check import Checker
    from rlsguard.matrix.load import load_matrix

    loaded = load_matrix(engine.config.matrix, engine.personas.names)
    out: dict[str, Any] = {}
    with engine.cloned_database() as db:
        for kind in ("select", "insert", "update", "delete", "changes"):
            cells = [c for c in loaded.cells() if c.operation == kind]
            if not cells:
                continue
            runs = [Checker(db, loaded, schemas=["public"]).run(cells) for _ in range(3)]
            best = min(runs, key=lambda r: r.seconds)
            out[kind] = {
                "cells": len(cells),
                "ms_per_cell": round(best.seconds * 1000 / len(cells), 3),
                "round_trips": best.round_trips,
                "fell_back": sum(r.fell_back is not None for r in best.results.values()),
            }
    return out


def postmaster_cpu(conninfo: str) -> float:
    """CPU seconds of a server so far: the postmaster's own and its exited backends'."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    with psycopg.connect(make_conninfo(conninfo, dbname="postgres")) as conn:
        datadir = conn.execute("show data_directory").fetchone()[0]
    pid = int(Path(datadir, "postmaster.pid").read_text().split()[0])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(argv: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> None:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode not in ok:
        raise RuntimeError(f"{argv} exited {done.returncode}:\n{done.stdout[-3000:]}"
                           f"\n{done.stderr[-3000:]}")  # fmt: skip


def bench_schema(name: str, rounds: int, scratch: Path, skip_pgtap: bool) -> dict[str, Any]:
    from pgtap_suite import write_suite

    from rlsguard.harness.engine import Engine, EngineOptions

    project = copy_project(SCHEMAS[name], scratch / name)
    cold = {**os.environ, "RLSGUARD_CACHE_DIR": str(scratch / "cache-cold")}
    cold.pop("PYTHONDONTWRITEBYTECODE", None)  # as on a developer's machine: bytecode cached
    warm = {**cold, "RLSGUARD_CACHE_DIR": str(scratch / "cache-dev")}
    os.environ["RLSGUARD_CACHE_DIR"] = str(scratch / "cache-pgtap")
    check = [sys.executable, "-m", "rlsguard", "matrix", "check"]
    rls = [sys.executable, "-m", "pytest", "-m", "rls", "-q", *FAST_START]
    contenders: dict[str, Any] = {
        "matrix_check_dev": lambda: _run(check, project, warm),
        "pytest_rls_dev": lambda: _run(rls, project, warm),
        "matrix_check": lambda: _run(check, project, cold),
        "pytest_rls": lambda: _run(rls, project, cold),
    }
    dev, dev_conninfo = start_dev_server(project, warm)
    servers = {"matrix_check_dev": dev_conninfo, "pytest_rls_dev": dev_conninfo}
    result: dict[str, Any] = {"schema": name, "rounds": rounds}
    engine = None
    try:
        if not skip_pgtap:
            engine = Engine(options=EngineOptions(supabase_dir=project / "supabase")).open()
            result["checker_per_kind"] = per_kind(engine)
            reason = pgtap_missing(engine.endpoint.major)
            if reason is None:
                suite = scratch / f"{name}-pgtap"
                result["pgtap_suite"] = write_suite(engine, engine.config.matrix, suite)
                contenders["pgtap"] = Pgtap(engine, project, suite).run
                servers["pgtap"] = engine.conninfo("postgres")
            else:
                result["pgtap_skipped"] = reason
        times: dict[str, list[float]] = {k: [] for k in contenders}
        cpu: dict[str, list[float]] = {k: [] for k in contenders}
        for run in contenders.values():
            run()  # warm: the base layer cached, pg_prove's Perl modules read once
        for round_no in range(rounds):
            order = list(contenders)
            random.shuffle(order)
            for key in order:
                _edit(project, round_no * 10 + order.index(key))
                server = servers.get(key)
                cpu_before = _children_cpu() + (postmaster_cpu(server) if server else 0.0)
                started = time.perf_counter()
                contenders[key]()
                times[key].append(time.perf_counter() - started)
                cpu_after = _children_cpu() + (postmaster_cpu(server) if server else 0.0)
                cpu[key].append(cpu_after - cpu_before)
    finally:
        stop_dev_server(dev)
        if engine is not None:
            engine.close()
    result["median_s"] = {k: round(statistics.median(v), 3) for k, v in times.items()}
    result["min_s"] = {k: round(min(v), 3) for k, v in times.items()}
    result["median_cpu_s"] = {k: round(statistics.median(v), 3) for k, v in cpu.items()}
    if "pgtap" in times:
        base = statistics.median(times["pgtap"])
        result["speedup_vs_pgtap"] = {
            k: round(base / statistics.median(v), 2) for k, v in times.items() if k != "pgtap"
        }
        base_cpu = statistics.median(cpu["pgtap"])
        result["cpu_speedup_vs_pgtap"] = {
            k: round(base_cpu / max(statistics.median(v), 1e-6), 2)
            for k, v in cpu.items()
            if k != "pgtap"
        }
        result["meets_target"] = {
            k: s >= TARGET_SPEEDUP for k, s in result["speedup_vs_pgtap"].items()
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="1 round per schema (CI smoke)")
    parser.add_argument("--schema", choices=sorted(SCHEMAS), action="append")
    parser.add_argument("--no-pgtap", action="store_true")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    out: dict[str, Any] = {"bench": "loop", "target_speedup": TARGET_SPEEDUP,
                           "load_average": [round(x, 2) for x in os.getloadavg()],
                           "bytecode": True, "schemas": []}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="rlsguard-bench-loop-") as tmp:
        for name in args.schema or ["reference", "teams"]:
            out["schemas"].append(bench_schema(name, rounds, Path(tmp), args.no_pgtap))
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
