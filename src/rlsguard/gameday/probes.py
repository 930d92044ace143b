"""Probes: the reads a drill makes of its target each tick. They query; they never judge.

- :func:`canaries`: every persona's matrix-derived requests (rows that must stay visible,
  rows that must stay hidden, writes accepted or denied), batched;
- :class:`Traffic`: the personas' reads sent one by one, as an app sends them, so the server
  log shows their errors like any client's;
- :func:`drift`: the live security surface against the approved snapshot;
- :func:`auth_attempts`: each signed-in persona presents its token to a PostgREST-like
  gateway that verifies it with the secret the database is configured with, then asks
  ``auth.uid()``;
- :class:`LogTail`: the server log read incrementally (jsonlog or csvlog).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

import jwt
import psycopg

from rlsguard.database import Database
from rlsguard.gameday.faults import JWT_SECRET_SETTING
from rlsguard.gameday.ledger import SCHEMA
from rlsguard.identity.session import Identity
from rlsguard.identity.tokens import TokenSigner
from rlsguard.matrix.check import Checker
from rlsguard.matrix.load import Matrix
from rlsguard.policy.catalog import read_catalog
from rlsguard.policy.diff import Change, diff_snapshots
from rlsguard.policy.snapshot import Snapshot
from rlsguard.stack.pglog import LogRecord, PgLog
from rlsguard.workspace.rollback import qualified


@dataclass(frozen=True)
class CanaryFailure:
    cell: str
    persona: str
    table: str
    operation: str
    kinds: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class CanaryRun:
    cells: int
    failures: tuple[CanaryFailure, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def canaries(db: Database, matrix: Matrix, *, executor: str = "helper") -> CanaryRun:
    """Run the matrix's cells as the personas (in a transaction that is rolled back)."""
    run = Checker(db, matrix, executor=executor, context=False).run()
    failures = tuple(
        CanaryFailure(
            r.cell.id, r.cell.persona, r.cell.table, r.cell.operation, tuple(r.kinds), r.summary()
        )
        for r in run.failed
    )
    return CanaryRun(len(run.results), failures)


class Traffic:
    """The personas' reads sent as an app sends them - one request, one transaction, one round
    trip each - so the server logs their errors like any client's (the batched canaries
    swallow theirs)."""

    def __init__(self, db: Database, matrix: Matrix) -> None:
        self.db = db
        self.pairs = [(c.persona, c.table) for c in matrix.cells() if c.operation == "select"]
        self._requests: list[str] | None = None

    def _build(self) -> list[str]:
        conn = self.db.conn
        prologues: dict[str, str] = {}
        out = []
        for persona, table in self.pairs:
            if persona not in prologues:
                session = self.db.session(self.db.personas.resolve(conn, persona))
                prologues[persona] = ";\n".join(p.as_string(conn) for p in session.impersonation())
            out.append(
                f"BEGIN READ ONLY;\n{prologues[persona]};\n"
                f"SELECT count(*) FROM {qualified(table)};\nROLLBACK"
            )
        return out

    def send(self) -> int:
        """Send every request once; the number sent."""
        if self._requests is None:
            self._requests = self._build()
        conn = self.db.conn
        for text in self._requests:
            try:
                conn.execute(text)  # type: ignore[arg-type]
            except psycopg.Error:
                conn.execute("ROLLBACK")
        return len(self._requests)


def snapshot_of(conn: psycopg.Connection[Any], exposed: tuple[str, ...], label: str) -> Snapshot:
    """The live surface without the drill's own ledger schema (the residue check sees it)."""
    doc = Snapshot.from_catalog(read_catalog(conn, exposed), label).doc
    clean = {
        section: (
            {k: v for k, v in value.items() if not _is_chaos(k)}
            if isinstance(value, dict)
            else value
        )
        for section, value in doc.items()
    }
    return Snapshot(clean, label)


def drift(
    conn: psycopg.Connection[Any], exposed: tuple[str, ...], approved: Snapshot
) -> list[Change]:
    """Every difference between the live surface and the approved one (the drill's own
    ledger schema aside: it is checked by the residue check)."""
    return list(diff_snapshots(approved, snapshot_of(conn, exposed, "live")).changes)


def _is_chaos(name: str) -> bool:
    return name == SCHEMA or name.startswith((SCHEMA + ".", f"{SCHEMA}:"))


def database_settings(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """``ALTER DATABASE <current> SET`` values (what new sessions will see)."""
    row = conn.execute(
        "select coalesce(setconfig, '{}') from pg_db_role_setting s join pg_database d "
        "on d.oid = s.setdatabase where d.datname = current_database() and s.setrole = 0"
    ).fetchone()
    out = {}
    for item in row[0] if row else []:
        name, _, value = item.partition("=")
        out[name] = value
    return out


@dataclass(frozen=True)
class AuthAttempt:
    persona: str
    ok: bool
    error: str | None = None


def auth_attempts(db: Database, signer: TokenSigner, personas: list[str]) -> list[AuthAttempt]:
    """Each persona's token through the gateway: verified, then ``auth.uid()`` asked."""
    secret = database_settings(db.conn).get(JWT_SECRET_SETTING) or signer.secret
    gateway = TokenSigner(secret=secret, clock=signer.clock)
    out = []
    for name in personas:
        identity = db.personas.resolve(db.conn, name)
        if identity.token is None or identity.user_id is None:
            continue
        try:
            claims = gateway.verify(identity.token)
        except jwt.PyJWTError as exc:
            out.append(AuthAttempt(name, False, f"JWT rejected: {exc}"))
            continue
        verified = Identity(identity.role, claims, identity.token, identity.user_id, name)
        with db.session(verified) as s:
            uid = s.scalar("select auth.uid()::text")
        if uid != identity.user_id:
            out.append(AuthAttempt(name, False, f"auth.uid() is {uid or 'NULL'}"))
        else:
            out.append(AuthAttempt(name, True))
    return out


@dataclass
class LogTail:
    """New complete records of a server log since the last read."""

    log: PgLog
    offset: int = 0
    records_seen: int = field(default=0)

    @classmethod
    def at_end(cls, log: PgLog) -> LogTail:
        return cls(log, log.mark().offset)

    def read(self) -> list[LogRecord]:
        try:
            with open(self.log.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        chunk = data[: end + 1]
        self.offset += len(chunk)
        text = chunk.decode("utf-8", errors="replace")
        if self.log.format == "jsonlog":
            records = [LogRecord.from_json(json.loads(x)) for x in text.splitlines() if x]
        else:
            records = [LogRecord.from_csv(row) for row in csv.reader(io.StringIO(text)) if row]
        self.records_seen += len(records)
        return records
