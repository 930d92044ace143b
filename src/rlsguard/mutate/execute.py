"""Run mutants: each applied in a transaction that rolls back, judged by injected checks.

No server restart and no re-migration: DDL is transactional in Postgres, so ``BEGIN``,
the mutant's statements, the checks (they open savepoints of their own) and ``ROLLBACK``
leave the database as it was. Mutants are spread over workers, one per cloned database
(``--jobs``); each worker is a thread holding its own connection, so the server does the
work of both cores while Python waits on sockets.

The checks come from the caller (:class:`Judge`): this package never imports the matrix
or the audit, it only asks "which checks fail now?".
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import psycopg

from rlsguard.mutate.equivalence import WaiverRule, equivalent, waiver_for
from rlsguard.mutate.model import Mutant, MutationRun, Outcome
from rlsguard.policy.catalog import Catalog


class Judge(Protocol):
    """What one worker needs: a connection to its database and the project's checks."""

    conn: psycopg.Connection[Any]

    def failing(self, mutant: Mutant) -> tuple[str, ...]:
        """The checks that fail with the mutant applied (empty: it survived)."""

    def suggest(self, mutant: Mutant) -> str:
        """Matrix cells (YAML) that would kill a survivor, from its observed difference."""


def triage(
    mutants: Sequence[Mutant], catalog: Catalog, waivers: Sequence[WaiverRule] = ()
) -> tuple[list[Outcome], list[Mutant]]:
    """Outcomes decided without a database (equivalent, waived) and the mutants to run."""
    decided: list[Outcome] = []
    to_run: list[Mutant] = []
    for mutant in mutants:
        why = equivalent(mutant, catalog)
        if why:
            decided.append(Outcome(mutant, "equivalent", reason=why))
            continue
        waiver = waiver_for(mutant, waivers)
        if waiver is not None:
            decided.append(Outcome(mutant, "waived", reason=waiver.reason))
            continue
        to_run.append(mutant)
    return decided, to_run


def run_one(judge: Judge, mutant: Mutant) -> Outcome:
    """Apply, judge, roll back. A mutant whose SQL the server refuses is an ``error``."""
    started = time.perf_counter()
    conn = judge.conn
    conn.execute("BEGIN")
    try:
        try:
            for statement in mutant.apply:
                conn.execute(statement)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            message = exc.diag.message_primary or str(exc)
            return Outcome(
                mutant, "error", time.perf_counter() - started, reason=f"{exc.sqlstate}: {message}"
            )
        failing = judge.failing(mutant)
        if failing:
            return Outcome(mutant, "killed", time.perf_counter() - started, killed_by=failing)
        suggestion = judge.suggest(mutant)
        return Outcome(mutant, "survived", time.perf_counter() - started, suggestion=suggestion)
    finally:
        if not conn.closed:
            conn.rollback()


def run_mutants(
    mutants: Sequence[Mutant],
    judges: Sequence[Judge],
    *,
    decided: Sequence[Outcome] = (),
    progress: Callable[[Outcome], None] | None = None,
) -> MutationRun:
    """Every mutant through one of ``judges`` (one thread each); outcomes in input order."""
    started = time.perf_counter()
    work: queue.Queue[tuple[int, Mutant]] = queue.Queue()
    for item in enumerate(mutants):
        work.put(item)
    results: dict[int, Outcome] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(judge: Judge) -> None:
        while not errors:
            try:
                index, mutant = work.get_nowait()
            except queue.Empty:
                return
            try:
                outcome = run_one(judge, mutant)
            except BaseException as exc:
                errors.append(exc)
                return
            with lock:
                results[index] = outcome
                if progress is not None:
                    progress(outcome)

    threads = [threading.Thread(target=worker, args=(j,), daemon=True) for j in judges]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    outcomes = [*decided, *(results[i] for i in range(len(mutants)))]
    return MutationRun(outcomes, time.perf_counter() - started, jobs=len(judges))
