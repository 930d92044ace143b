"""The crash-safe fault ledger: every fault is written down *before* it is applied.

Two copies, so an interrupted or killed drill can always be undone by the next run or by
``rlsguard gameday --cleanup``:

- in the target database, schema ``rlsguard_chaos``: the undo statements and the baseline
  snapshot travel with the fault (whoever reaches the database can revert it);
- in a local JSON-lines file, flushed and fsynced: which targets have faults outstanding
  (a target whose local cluster died with the run took its faults with it).

Chaos Toolkit keeps its rollbacks in the process and skips them when a run is interrupted;
here the undo is data, and reverting is idempotent.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

SCHEMA = "rlsguard_chaos"
CHAOS_APP = "rlsguard-chaos"  # application_name prefix of every session a drill opens
# Sessions remediations never end: the drill's own observers (the canary's traffic).
PROTECTED_APPS = ("rlsguard-canary",)
CHANNEL = SCHEMA  # NOTIFY channel of ledger state changes

_DDL = f"""
create schema if not exists {SCHEMA};
revoke all on schema {SCHEMA} from public;
create table if not exists {SCHEMA}.ledger (
    id text primary key,
    run_id text not null,
    pid int not null,
    host text not null,
    scenario text not null,
    kind text not null,
    summary text not null,
    revert text[] not null,
    baseline jsonb,
    state text not null default 'pending' check (state in ('pending', 'applied', 'reverted')),
    created_at timestamptz not null default clock_timestamp(),
    reverted_at timestamptz
);
"""


@dataclass
class Entry:
    """One fault (or one drill artifact, such as a rollback's history row) and its undo."""

    scenario: str
    kind: str
    summary: str
    revert: list[str]
    target: str
    dbname: str
    run_id: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    baseline: dict[str, Any] | None = None


class FileLedger:
    """Append-only JSON lines; the last line about an id gives its state."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def record(self, entry: Entry) -> None:
        data = asdict(entry)
        data.pop("baseline")  # the database copy holds it; the file says where to look
        self._append({**data, "state": "pending"})

    def mark(self, entry_id: str, state: str) -> None:
        self._append({"id": entry_id, "state": state})

    def note(self, entry_id: str, **fields: Any) -> None:
        """Add to an entry (a process fault's pids and start times, once it has them)."""
        self._append({"id": entry_id, **fields})

    def entries(self) -> dict[str, dict[str, Any]]:
        """Every id's merged record (later lines override earlier ones)."""
        out: dict[str, dict[str, Any]] = {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-write: its fault was never applied
            out.setdefault(record["id"], {}).update(record)
        return out

    def outstanding(self, target: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.entries().values()
            if e.get("state") != "reverted" and (target is None or e.get("target") == target)
        ]


class DbLedger:
    """The ``rlsguard_chaos.ledger`` table of the target database (autocommit connection)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def ensure(self) -> None:
        self.conn.execute(_DDL)

    def exists(self) -> bool:
        row = self.conn.execute("select to_regclass(%s) is not null", (f"{SCHEMA}.ledger",))
        found = row.fetchone()
        return bool(found and found[0])

    def record(self, entry: Entry) -> None:
        self.conn.execute(
            f"insert into {SCHEMA}.ledger (id, run_id, pid, host, scenario, kind, summary, "
            "revert, baseline) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                entry.id,
                entry.run_id,
                entry.pid,
                entry.host,
                entry.scenario,
                entry.kind,
                entry.summary,
                entry.revert,
                Jsonb(entry.baseline) if entry.baseline is not None else None,
            ),
        )

    def mark(self, entry_id: str, state: str) -> None:
        """Record a state change, and announce it (``LISTEN rlsguard_chaos``: watchers wait
        on it instead of polling)."""
        self.conn.execute(
            f"update {SCHEMA}.ledger set state = %s, reverted_at = case when %s = 'reverted' "
            "then clock_timestamp() end where id = %s",
            (state, state, entry_id),
        )
        self.conn.execute("select pg_notify(%s, %s)", (CHANNEL, f"{entry_id} {state}"))

    def outstanding(self) -> list[dict[str, Any]]:
        if not self.exists():
            return []
        cur = self.conn.cursor(row_factory=psycopg.rows.dict_row)
        return cur.execute(
            f"select * from {SCHEMA}.ledger where state <> 'reverted' order by created_at desc"
        ).fetchall()

    def drop_if_clean(self) -> bool:
        """Remove the schema once nothing is outstanding (it is a chaos object itself)."""
        if self.outstanding():
            return False
        self.conn.execute(f"drop schema if exists {SCHEMA} cascade")
        return True


class Ledger:
    """Both copies, written file first (fsynced), then the database."""

    def __init__(self, file: FileLedger, db: DbLedger) -> None:
        self.file = file
        self.db = db

    def record(self, entry: Entry) -> None:
        self.file.record(entry)
        self.db.ensure()
        self.db.record(entry)

    def mark(self, entry: Entry | str, state: str) -> None:
        entry_id = entry if isinstance(entry, str) else entry.id
        self.db.mark(entry_id, state)
        self.file.mark(entry_id, state)
