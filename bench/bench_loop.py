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
- ``pytest_rls``: ``pytest -m rls`` in the project's folder (a new process each round);
  ``pytest_rls_dev_lean``: the same with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 -p rlsguard``
  (no plugin of another installed package is loaded).

The ``_dev`` contenders attach to ``rlsguard dev`` (started before the rounds, in a copy of
the project of its own, which the rounds edit like the other); the others start from a warm
template cache. All run once untimed first. CPU figures add the database server's and, for the
``_dev`` contenders, the dev server's. After the rounds, ``fixed_costs`` times runs with
nothing edited (see :func:`fixed_costs`). Prints one JSON document with each contender's
median and ``speedup`` = pgTAP median / contender median (target >= 2). pgTAP needs the
Debian packages ``postgresql-NN-pgtap`` and ``libtap-parser-sourcehandler-pgtap-perl``
(``pg_prove``); without them the competitor is skipped with the reason.

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
TARGETS_S = {  # fixed costs on a warm project (see fixed_costs)
    "matrix_check_dev": 0.3,
    "matrix_check": 0.3,
    "pytest_rls_dev_beyond_start": 0.5,
    "pytest_rls_dev_lean_beyond_start": 0.5,
    "import_rlsguard": 0.05,
}
FAST_START = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker")
LEAN_START = ("-p", "rlsguard", "-p", "no:cacheprovider")  # with PYTEST_DISABLE_PLUGIN_AUTOLOAD
LEAN = [sys.executable, "-m", "pytest", *LEAN_START, "-m", "rls", "-q"]


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


def process_cpu(pid: int) -> float:
    """CPU seconds of a running process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu(server: str | None, helper: int | None) -> float:
    """This process's children, the database server's and the dev server's CPU so far."""
    total = _children_cpu()
    if server:
        total += postmaster_cpu(server)
    if helper:
        total += process_cpu(helper)
    return total


def _timed(argv: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    _run(argv, cwd, env, ok)
    return time.perf_counter() - started


def import_ms(module: str, env: dict[str, str]) -> float:
    """``import module`` in a fresh interpreter, by its own clock (``-X importtime``)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          env=env, capture_output=True, text=True, check=True)  # fmt: skip
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1000
    raise RuntimeError(f"no import line for {module}: {done.stderr[-500:]}")


def fixed_costs(
    dev_project: Path, project: Path, warm: dict[str, str], cold: dict[str, str], rounds: int
) -> dict[str, Any]:
    """What a run costs when nothing changed, interleaved, medians (targets in TARGETS_S).

    - ``matrix_check_dev``: the whole run (the dev server checked the files when saved);
    - ``matrix_check``: without a dev server, minus the checker's own database time;
    - ``pytest_rls_dev_beyond_start``: ``pytest -m rls`` minus pytest with no tests at all
      (same flags and plugins) in an empty project: rlsguard's share, items included (and
      ``_lean``: both with only rlsguard's plugin loaded);
    - ``import_rlsguard``: ``import rlsguard`` by ``-X importtime``.
    """
    empty = dev_project.parent / "empty"
    empty.mkdir(exist_ok=True)
    (empty / "pytest.ini").write_text("[pytest]\n")
    check = [sys.executable, "-m", "rlsguard", "matrix", "check"]
    rls = [sys.executable, "-m", "pytest", "-m", "rls", "-q", *FAST_START]
    bare = [sys.executable, "-m", "pytest", "-q", *FAST_START]
    db_seconds: list[float] = []

    def check_cold() -> float:
        started = time.perf_counter()
        done = subprocess.run([*check, "--json"], cwd=project, env=cold, capture_output=True,
                              text=True, check=True)  # fmt: skip
        db_seconds.append(json.loads(done.stdout)["seconds"])
        return time.perf_counter() - started - db_seconds[-1]

    lean = {**warm, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    bare_lean = [sys.executable, "-m", "pytest", "-q", *LEAN_START]
    runs: dict[str, Any] = {
        "matrix_check_dev": lambda: _timed(check, dev_project, warm),
        "matrix_check": check_cold,
        "pytest_rls_dev": lambda: _timed(rls, dev_project, warm),
        "pytest_empty": lambda: _timed(bare, empty, warm, ok=(5,)),
        "pytest_rls_dev_lean": lambda: _timed(LEAN, dev_project, lean),
        "pytest_empty_lean": lambda: _timed(bare_lean, empty, lean, ok=(5,)),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}  # the command's own process
    for _ in range(rounds):  # --quick: one, a smoke run
        order = list(runs)
        random.shuffle(order)
        for key in order:
            before = _children_cpu()
            times[key].append(runs[key]())
            cpu[key].append(_children_cpu() - before)
    median = {k: statistics.median(v) for k, v in times.items()}
    median_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    figures = {
        "matrix_check_dev": median["matrix_check_dev"],
        "matrix_check": median["matrix_check"],
        "pytest_rls_dev_beyond_start": median["pytest_rls_dev"] - median["pytest_empty"],
        "pytest_empty": median["pytest_empty"],
        "pytest_rls_dev_lean_beyond_start": (
            median["pytest_rls_dev_lean"] - median["pytest_empty_lean"]
        ),
        "pytest_empty_lean": median["pytest_empty_lean"],
        "import_rlsguard": statistics.median(import_ms("rlsguard", warm) for _ in range(5)) / 1000,
    }
    return {
        "seconds": {k: round(v, 3) for k, v in figures.items()},
        # The same differences in CPU time of the pytest process: steadier on a busy machine.
        "cpu_seconds": {
            "pytest_rls_dev_beyond_start": round(
                median_cpu["pytest_rls_dev"] - median_cpu["pytest_empty"], 3
            ),
            "pytest_rls_dev_lean_beyond_start": round(
                median_cpu["pytest_rls_dev_lean"] - median_cpu["pytest_empty_lean"], 3
            ),
            "pytest_empty": round(median_cpu["pytest_empty"], 3),
            "pytest_empty_lean": round(median_cpu["pytest_empty_lean"], 3),
        },
        "matrix_check_db_s": round(statistics.median(db_seconds), 3),
        "meets_target": {k: figures[k] <= t for k, t in TARGETS_S.items()},
    }


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
    # The dev server watches its project and re-checks on every save: it gets a copy of its
    # own, so the edits made for the other contenders never make it work while they run.
    dev_project = copy_project(SCHEMAS[name], scratch / f"{name}-dev")
    cold = {**os.environ, "RLSGUARD_CACHE_DIR": str(scratch / "cache-cold")}
    cold.pop("PYTHONDONTWRITEBYTECODE", None)  # as on a developer's machine: bytecode cached
    warm = {**cold, "RLSGUARD_CACHE_DIR": str(scratch / "cache-dev")}
    os.environ["RLSGUARD_CACHE_DIR"] = str(scratch / "cache-pgtap")
    check = [sys.executable, "-m", "rlsguard", "matrix", "check"]
    rls = [sys.executable, "-m", "pytest", "-m", "rls", "-q", *FAST_START]
    # pytest with only rlsguard's plugin (the other installed packages' plugins not loaded):
    # what a project whose rls tests need no other plugin can alias its inner loop to.
    lean_env = {**warm, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    contenders: dict[str, Any] = {
        "matrix_check_dev": lambda: _run(check, dev_project, warm),
        "pytest_rls_dev": lambda: _run(rls, dev_project, warm),
        "pytest_rls_dev_lean": lambda: _run(LEAN, dev_project, lean_env),
        "matrix_check": lambda: _run(check, project, cold),
        "pytest_rls": lambda: _run(rls, project, cold),
    }
    dev, dev_conninfo = start_dev_server(dev_project, warm)
    servers = {k: dev_conninfo for k in contenders if "_dev" in k}
    helpers = {k: dev.pid for k in contenders if "_dev" in k}  # its CPU counts too
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
                _edit(dev_project if "_dev" in key else project, round_no * 10 + len(key))
                server, helper = servers.get(key), helpers.get(key)
                cpu_before = _cpu(server, helper)
                started = time.perf_counter()
                contenders[key]()
                times[key].append(time.perf_counter() - started)
                cpu[key].append(_cpu(server, helper) - cpu_before)
        result["fixed_costs"] = fixed_costs(dev_project, project, warm, cold, rounds)
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
