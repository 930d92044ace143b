"""Undo what the ledger lists, then prove nothing is left (the residue check).

Reverting runs each entry's undo statements, then - when the entry carries the baseline
snapshot - restores anything still different from it with the rollback planner (a migration
fault's effects are not known in advance). Everything is idempotent: a second revert of the
same entry changes nothing.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any

import psycopg

from rlsguard.gameday.ledger import CHAOS_APP, SCHEMA, DbLedger, FileLedger
from rlsguard.gameday.probes import database_settings, snapshot_of
from rlsguard.policy.diff import diff_snapshots
from rlsguard.policy.snapshot import Snapshot
from rlsguard.workspace.rollback import plan_rollback


@dataclass
class Reverted:
    id: str
    run_id: str
    scenario: str
    summary: str
    statements: int
    restored: list[str] = field(default_factory=list)  # objects the snapshot restore fixed


def restore_statements(live: Snapshot, baseline: Snapshot) -> tuple[list[str], list[str]]:
    """SQL that brings ``live``'s surface back to ``baseline`` (and the objects it touches)."""
    plan = plan_rollback(live, baseline)
    return [s for u in plan.units for s in u.statements], [u.object for u in plan.units]


def running_elsewhere(row: dict[str, Any]) -> bool:
    """An entry of another drill on this machine that is still running (leave it to it)."""
    if row.get("host") != socket.gethostname() or row["pid"] == os.getpid():
        return False
    try:
        os.kill(row["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def revert_outstanding(
    conn: psycopg.Connection[Any],
    exposed: tuple[str, ...],
    file: FileLedger | None = None,
    *,
    spare_running: bool = False,
) -> list[Reverted]:
    """Revert every outstanding entry of the target's ledger, newest first.

    ``spare_running``: leave entries of drills still running on this machine (a new drill
    does; ``--cleanup``, asked by a person, does not).
    """
    db = DbLedger(conn)
    out = []
    for row in db.outstanding():
        if spare_running and running_elsewhere(row):
            continue
        with conn.transaction():
            for statement in row["revert"]:
                conn.execute(statement)
        done = Reverted(
            row["id"], row["run_id"], row["scenario"], row["summary"], len(row["revert"])
        )
        if row["baseline"] is not None:
            baseline = Snapshot(row["baseline"], "baseline")
            statements, objects = restore_statements(snapshot_of(conn, exposed, "live"), baseline)
            if statements:
                with conn.transaction():
                    for statement in statements:
                        conn.execute(statement)
                done.restored = objects
        db.mark(row["id"], "reverted")
        if file is not None:
            file.mark(row["id"], "reverted")
        out.append(done)
    dead_runs = sorted({r.run_id for r in out} - {_own_run(conn)})
    if dead_runs:
        end_sessions(conn, dead_runs)
    return out


def _own_run(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("select current_setting('application_name')").fetchone()
    name = str(row[0]) if row else ""
    return name.removeprefix(f"{CHAOS_APP}:")


def end_sessions(conn: psycopg.Connection[Any], run_ids: list[str]) -> int:
    """Terminate sessions a reverted run left open - only those named after it (provably
    ours: ``rlsguard-chaos:<run id>``), only in this database."""
    names = [f"{CHAOS_APP}:{run_id}" for run_id in run_ids]
    rows = conn.execute(
        "select pg_terminate_backend(pid, 5000) from pg_stat_activity "
        "where datname = current_database() and application_name = any(%s) "
        "and pid <> pg_backend_pid()",
        (names,),
    ).fetchall()
    return len(rows)


@dataclass
class Residue:
    """What a drill left behind (empty lists: clean)."""

    pending: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.pending or self.sessions or self.objects or self.settings or self.drift)

    def lines(self) -> list[str]:
        out = [f"fault still in the ledger: {p}" for p in self.pending]
        out += [f"chaos session still open: {s}" for s in self.sessions]
        out += [f"chaos object left: {o}" for o in self.objects]
        out += [f"database setting differs from the baseline: {s}" for s in self.settings]
        out += [f"surface differs from the baseline: {d}" for d in self.drift]
        return out


def residue(
    conn: psycopg.Connection[Any],
    exposed: tuple[str, ...],
    baseline: Snapshot,
    baseline_settings: dict[str, str] | None,
    *,
    schema_may_remain: bool = False,
) -> Residue:
    """No chaos sessions, objects or settings; the surface equals the baseline."""
    found = Residue()
    db = DbLedger(conn)
    found.pending = [f"{r['scenario']}: {r['summary']}" for r in db.outstanding()]
    rows = conn.execute(
        "select pid, application_name from pg_stat_activity where application_name like %s "
        "and pid <> pg_backend_pid() and datname = current_database()",
        (CHAOS_APP + "%",),
    ).fetchall()
    found.sessions = [f"pid {pid} ({app})" for pid, app in rows]
    if not schema_may_remain and db.exists():
        found.objects.append(f"schema {SCHEMA}")
    if baseline_settings is not None:
        now = database_settings(conn)
        for key in sorted(set(now) | set(baseline_settings)):
            if now.get(key) != baseline_settings.get(key):
                found.settings.append(key)
    diff = diff_snapshots(baseline, snapshot_of(conn, exposed, "after"))
    found.drift = [c.message for c in diff.changes]
    return found
