"""Process-level faults the runner owns: held connections, idle or long transactions.

Every session a holder opens is named ``rlsguard-chaos:<run id>:<what>`` and its backend pid
and start time are written to the ledger before the fault counts as applied, so cleanup can
prove a session is ours (name, pid *and* start time) before it ends it. The holder's
connections live in the runner process: if the runner is killed, the server sees the
sockets close and ends the sessions itself; ``--cleanup`` ends any that remain.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

import psycopg

from rlsguard.gameday.ledger import CHAOS_APP

TOO_MANY = "53300"
# A refused connection carries no SQLSTATE client-side (libpq reports the FATAL as text):
# the texts of 53300 too_many_connections, every version (postinit.c, proc.c).
TOO_MANY_TEXTS = (
    "sorry, too many clients already",
    "remaining connection slots are reserved for",
)


def refused_code(exc: psycopg.OperationalError) -> str | None:
    """53300 when the server refused the connection for want of slots."""
    if exc.sqlstate:
        return exc.sqlstate
    text = str(exc)
    return TOO_MANY if any(t in text for t in TOO_MANY_TEXTS) else None


def refused_message(exc: psycopg.OperationalError) -> str:
    """The server's FATAL text, without libpq's "connection to server ... failed:" prefix."""
    text = str(exc).strip()
    return text.split("FATAL:", 1)[1].strip() if "FATAL:" in text else text


def holder_name(run_id: str, what: str) -> str:
    return f"{CHAOS_APP}:{run_id}:{what}"


def backend_of(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    row = conn.execute(
        "select pg_backend_pid(), extract(epoch from backend_start)::float8 "
        "from pg_stat_activity where pid = pg_backend_pid()"
    ).fetchone()
    assert row is not None
    return {"kind": "backend", "pid": int(row[0]), "start": float(row[1])}


def terminate_sql(name: str) -> str:
    """The ledger's undo: end the sessions named ``name`` (and only those)."""
    quoted = "'" + name.replace("'", "''") + "'"
    return (
        "select pg_terminate_backend(pid, 5000) from pg_stat_activity "
        f"where application_name = {quoted} and pid <> pg_backend_pid()"
    )


@dataclass
class Holder:
    """Sessions held open by the runner."""

    name: str
    conns: list[psycopg.Connection[Any]] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    refused: psycopg.OperationalError | None = None
    errors: list[str] = field(default_factory=list)

    def backends(self) -> list[dict[str, Any]]:
        out = []
        for conn in self.conns:
            with contextlib.suppress(psycopg.Error):
                info = conn.info
                out.append({"kind": "backend", "pid": info.backend_pid, "name": self.name})
        return out

    def release(self, admin: psycopg.Connection[Any] | None) -> int:
        """End the held sessions (through ``admin``, since a holder may be blocked in a
        query), then close them; returns how many were ended."""
        ended = 0
        if not self.threads:  # idle sessions: closing them is enough (and quickest)
            for conn in self.conns:
                with contextlib.suppress(Exception):
                    conn.close()
        if admin is not None:
            with contextlib.suppress(psycopg.Error):
                ended = len(admin.execute(terminate_sql(self.name)).fetchall())
        for thread in self.threads:
            thread.join(timeout=10)
        for conn in self.conns:
            with contextlib.suppress(Exception):
                conn.close()
        self.conns.clear()
        self.threads.clear()
        return ended


def fill_connections(conninfo: str, name: str, limit: int) -> Holder:
    """Open connections until the server refuses one (53300), at most ``limit``."""
    holder = Holder(name)
    for _ in range(limit):
        try:
            holder.conns.append(psycopg.connect(conninfo, application_name=name, autocommit=True))
        except psycopg.OperationalError as exc:
            holder.refused = exc
            break
    return holder


def open_transaction(conninfo: str, name: str, statements: str) -> Holder:
    """One session that runs ``statements`` in a transaction and then sits idle in it."""
    conn = psycopg.connect(conninfo, application_name=name, autocommit=True)
    conn.execute(f"BEGIN; {statements}")  # type: ignore[arg-type]
    return Holder(name, [conn])


def long_transactions(conninfo: str, name: str, statements: str, n: int = 1) -> Holder:
    """``n`` sessions each running ``statements`` (a lock, then a long query) in a thread; a
    cancelled statement leaves the transaction open and aborted, as a careless client does."""
    holder = Holder(name)
    started = threading.Barrier(n + 1, timeout=30)
    for _ in range(n):
        conn = psycopg.connect(conninfo, application_name=name, autocommit=True)
        holder.conns.append(conn)
        first, _, rest = statements.partition(";")

        def run(conn: psycopg.Connection[Any] = conn, first: str = first, rest: str = rest) -> None:
            try:
                conn.execute(f"BEGIN; {first}")  # type: ignore[arg-type]
                started.wait()
                conn.execute(rest)  # type: ignore[arg-type]
            except psycopg.Error as exc:
                holder.errors.append(f"{exc.sqlstate}: {str(exc).strip()}")

        thread = threading.Thread(target=run, name=f"{name}-hold", daemon=True)
        thread.start()
        holder.threads.append(thread)
    started.wait()
    return holder
