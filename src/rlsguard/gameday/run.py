"""A game day: several drills on one target, each journalled, and the cleanup verb.

Local (default): one private cluster from the cached template for the whole game day, a
database cloned per drill. DSN: the named database itself (destructive faults refused unless
named). The file ledger lives in the cache directory (``RLSGUARD_GAMEDAY_LEDGER`` overrides).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlsguard.clock import SYSTEM_CLOCK, Clock
from rlsguard.config import ProjectConfig
from rlsguard.gameday.drill import Drill, DrillResult, Platform
from rlsguard.gameday.ledger import FileLedger
from rlsguard.gameday.revert import Reverted, revert_outstanding
from rlsguard.gameday.scenario import Scenario
from rlsguard.gameday.target import Target, dsn_target, local_cluster, local_database
from rlsguard.journal import Reporter
from rlsguard.stack.pgbouncer import discover_pgbouncer

SEEDED_SCHEMAS = ("public",)


def default_ledger_path() -> Path:
    env = os.environ.get("RLSGUARD_GAMEDAY_LEDGER")
    if env:
        return Path(env)
    from rlsguard.harness.templates import default_cache_dir

    return default_cache_dir().parent / "gameday" / "ledger.jsonl"


def project_root(config: ProjectConfig) -> Path:
    return config.source.parent if config.source else Path(config.supabase_dir).resolve().parent


def platform_for(engine: Any, config: ProjectConfig) -> Platform:
    """The matrix, approved snapshot and migrations of the project under test."""
    from rlsguard.matrix.load import load_matrix
    from rlsguard.policy.paths import default_snapshot_path
    from rlsguard.policy.snapshot import Snapshot

    project = engine.load_project()
    root = project_root(config)
    matrix = load_matrix(root / config.matrix, engine.personas.names)
    approved = Snapshot.load(default_snapshot_path(project.supabase_dir, config))
    tables = tuple(
        sorted(
            name
            for name, t in approved.doc.get("tables", {}).items()
            if name.split(".")[0] in SEEDED_SCHEMAS and t.get("kind") == "table"
        )
    )
    return Platform(
        engine,
        matrix,
        approved,
        tuple(project.config.api_schemas),
        root,
        tuple(m.version for m in project.migrations),
        tables,
    )


@dataclass
class GameDay:
    """What ``rlsguard gameday`` was asked."""

    config: ProjectConfig
    scenarios: list[Scenario]
    dsn: str | None = None
    scratch_dsn: str | None = None
    target_name: str | None = None
    report_dir: Path | None = None
    ledger: Path = field(default_factory=default_ledger_path)
    clock: Clock = SYSTEM_CLOCK
    sleep: Callable[[float], None] = time.sleep
    reporter_for: Callable[[Scenario], Reporter | None] = lambda s: None
    on_result: Callable[[DrillResult], None] = lambda r: None
    on_skip: Callable[[Scenario, str], None] = lambda s, why: None


@contextlib.contextmanager
def _targets(day: GameDay) -> Iterator[tuple[Any, Callable[[str], Any]]]:
    """(engine, scenario name -> context manager of its Target)."""
    if day.dsn is not None:
        from rlsguard.harness.engine import Engine, EngineOptions

        target = dsn_target(day.dsn, named=day.target_name, config=day.config)
        engine = Engine(day.config, EngineOptions())  # personas and API settings; not opened
        yield engine, lambda name: contextlib.nullcontext(target)
        return
    with local_cluster(day.config, scratch_dsn=day.scratch_dsn) as engine:
        run = uuid.uuid4().hex[:6]
        yield engine, lambda name: local_database(engine, f"gameday_{run}_{name.replace('-', '_')}")


def run_gameday(day: GameDay) -> list[DrillResult]:
    results = []
    with _targets(day) as (engine, target_for):
        platform = platform_for(engine, day.config)
        for scenario in day.scenarios:
            if scenario.spec.app is not None and day.dsn is not None:
                day.on_skip(
                    scenario,
                    "a database drill runs the reference app against a server rlsguard "
                    "started; run it without --dsn (a private local cluster)",
                )
                continue
            if scenario.spec.fault.kind == "pgbouncer_down" and discover_pgbouncer() is None:
                day.on_skip(
                    scenario,
                    "pgbouncer is not installed (rlsguard doctor): this drill needs the pooler; "
                    "the other database drills run the app direct",
                )
                continue
            with target_for(scenario.name) as target:
                artifacts = day.report_dir / scenario.name if day.report_dir else None
                drill = Drill(
                    scenario,
                    target,
                    platform,
                    ledger_file=day.ledger,
                    clock=day.clock,
                    sleep=day.sleep,
                    reporter=day.reporter_for(scenario),
                    artifacts=artifacts,
                )
                result = drill.run()
            results.append(result)
            day.on_result(result)
    return results


def _alive(pid: object) -> bool:
    """Whether the run that wrote an entry still runs (its private cluster with it)."""
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup(
    config: ProjectConfig, *, dsn: str | None, target_name: str | None, ledger: Path
) -> tuple[list[Reverted], list[str]]:
    """Revert every outstanding fault of the target; close file entries of vanished clusters."""
    file = FileLedger(ledger)
    notes: list[str] = []
    reverted: list[Reverted] = []
    target: Target | None = None
    if dsn is not None:
        target = dsn_target(dsn, named=target_name, config=config)
        target.require_destructive("revert faults")
        from rlsguard.harness.engine import load_project

        exposed = tuple(load_project(Path(config.supabase_dir)).config.api_schemas)
        with target.connect() as conn:
            reverted = revert_outstanding(conn, exposed, file)
            from rlsguard.gameday.ledger import DbLedger

            DbLedger(conn).drop_if_clean()
    for entry in file.outstanding():
        if target is not None and entry.get("target") == target.name:
            file.mark(entry["id"], "reverted")  # the database copy said it is reverted
        elif str(entry.get("target", "")).startswith("local:") and not _alive(entry.get("pid")):
            file.mark(entry["id"], "reverted")
            notes.append(
                f"{entry.get('scenario')}: {entry.get('summary')} went with its private "
                f"cluster ({entry.get('target')}), which no longer runs"
            )
        else:
            notes.append(
                f"{entry.get('scenario')}: {entry.get('summary')} is outstanding on "
                f"{entry.get('target')}: run `rlsguard gameday --cleanup --dsn <its DSN> "
                f"--target {entry.get('target')}`"
            )
    return reverted, notes
