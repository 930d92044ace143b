"""Undo a transaction or savepoint without hiding why the work stopped.

A ``finally: conn.execute("ROLLBACK")`` runs after a Ctrl-C too; when the interrupt cancelled
the query or broke the connection, that ROLLBACK raises a psycopg error that replaces the
KeyboardInterrupt (a traceback and exit 1 instead of exit 130). :func:`undone` runs the undo
strictly after success, and best-effort after a failure, so the original exception wins.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

Statement = str | sql.Composable


def undo_quietly(conn: psycopg.Connection[Any], *statements: Statement) -> None:
    """Run ``statements`` unless the connection is gone; a failure is logged, never raised."""
    if conn.closed:
        return
    try:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        log.debug("undo after a failure failed too (the first error is kept): %s", exc)


@contextmanager
def undone(conn: psycopg.Connection[Any], *statements: Statement) -> Iterator[None]:
    """Run ``statements`` (ROLLBACK, ROLLBACK TO SAVEPOINT ...) when the block ends."""
    try:
        yield
    except BaseException:
        undo_quietly(conn, *statements)
        raise
    for statement in statements:
        conn.execute(statement)  # type: ignore[arg-type]
