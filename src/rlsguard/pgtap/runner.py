"""Run one pgTAP test file in a transaction that is always rolled back.

The runner takes an open connection (as ``postgres``, as ``supabase test db`` connects) to a
database that already has pgTAP (see :mod:`.provider`); it never starts anything. Per file:
``BEGIN``, every statement in order (the file's own ``BEGIN``/``ROLLBACK`` skipped, ``create
extension pgtap`` a no-op, the test helpers created when the server lacks them), then
``ROLLBACK`` whatever happened. Each row a statement returns is TAP output, tagged with the
statement's line. The first statement that fails ends the file, as ``psql`` with
``ON_ERROR_STOP`` does under ``pg_prove``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from rlsguard.pgtap.provider import Provider, helpers_sql, unsupported_function
from rlsguard.pgtap.sqlfile import FileStatement, TestFileError, read_test_file
from rlsguard.pgtap.tap import TapStream, parse
from rlsguard.supabase.extensions import StandIns, where_available
from rlsguard.supabase.supautils import created_extension


@dataclass
class StatementError:
    """The statement that stopped a file, where it is and what the server said."""

    line: int
    statement: str
    sqlstate: str | None
    message: str
    detail: str | None = None
    hint: str | None = None
    advice: str | None = None

    def render(self, path: Path | str) -> str:
        lines = [f"{path}:{self.line}: ERROR {self.sqlstate or ''}: {self.message}".rstrip()]
        if self.detail:
            lines.append(f"DETAIL: {self.detail}")
        if self.hint:
            lines.append(f"HINT: {self.hint}")
        lines.append("statement: " + _shorten(self.statement))
        if self.advice:
            lines.append(self.advice)
        return "\n".join(lines)


@dataclass
class FileResult:
    """What one file printed and whether it passed."""

    path: Path
    tap: TapStream
    error: StatementError | None = None
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        out = []
        if self.error is not None:
            out.append(self.error.render(self.path))
        out.extend(self.tap.problems())
        return out

    @property
    def passed(self) -> bool:
        return not self.problems()


def run_file(
    conn: psycopg.Connection[Any],
    path: Path,
    provider: Provider,
    stand_ins: StandIns | None = None,
) -> FileResult:
    """Run ``path`` on ``conn`` (autocommit, idle) and roll everything back.

    ``stand_ins``: the project's opt-in stand-ins, used for ``create extension`` of an
    extension the server lacks (as the migration runner does; see docs/pgtap.md).
    """
    started = time.perf_counter()
    try:
        statements = read_test_file(path)
    except TestFileError as exc:
        error = StatementError(0, "", None, str(exc))
        return FileResult(path, parse([]), error, time.perf_counter() - started)
    outputs: list[tuple[int | None, str]] = []
    notices: list[str] = []

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        notices.append(f"{diag.severity}: {diag.message_primary}")

    conn.add_notice_handler(on_notice)
    error = None
    conn.execute("BEGIN")
    try:
        for item in statements:
            try:
                _run(conn, item, provider, outputs, stand_ins or StandIns.none(), notices)
            except psycopg.Error as exc:
                error = _error(item, exc, provider)
                break
    finally:
        conn.remove_notice_handler(on_notice)
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        # A file may RESET ROLE or SET search_path without LOCAL: start the next one clean.
        conn.execute("RESET ALL")
    return FileResult(path, parse(outputs), error, time.perf_counter() - started, notices)


def _run(
    conn: psycopg.Connection[Any],
    item: FileStatement,
    provider: Provider,
    outputs: list[tuple[int | None, str]],
    stand_ins: StandIns,
    notices: list[str],
) -> None:
    if item.kind in ("transaction", "create_pgtap", "drop_extension"):
        return  # the runner owns the transaction; pgTAP is installed; nothing is dropped
    if item.kind == "create_helpers" and not provider.helpers_on_server:
        conn.execute(helpers_sql(provider.schema))
        return
    if item.kind == "create_extension" and item.extension not in provider.available:
        stand_in = stand_ins.for_extension(item.extension or "")
        if stand_in is not None:
            created = created_extension(item.statement.node)
            schema = created[1] if created else None
            for text in stand_in.statements(schema):
                conn.execute(text, prepare=False)
            notices.append(f"stand-in for {item.extension} ({stand_in.kind}: {stand_in.provides})")
            return
    with conn.cursor() as cur:
        cur.execute(item.text, prepare=False)
        while True:
            if cur.description is not None and len(cur.description) == 1:
                for (value,) in cur.fetchall():
                    if value is not None:
                        outputs.append((item.line, str(value)))
            if not cur.nextset():
                break


def _error(item: FileStatement, exc: psycopg.Error, provider: Provider) -> StatementError:
    diag = exc.diag
    advice = unsupported_function(provider, exc)
    if item.kind == "create_extension" and item.extension not in provider.available:
        advice = (
            f"{where_available(item.extension or '')} Or opt into a stand-in: stand_ins = "
            f'["{item.extension}"] in rlsguard.toml, or --stand-in {item.extension}.'
        )
    return StatementError(
        line=item.line,
        statement=item.text,
        sqlstate=diag.sqlstate,
        message=diag.message_primary or str(exc),
        detail=diag.message_detail,
        hint=diag.message_hint,
        advice=advice,
    )


def _shorten(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
