"""The behavioural access diff: which rows each persona gained or lost between two databases.

A policy diff says what the SQL of a policy became; this says what it *does*. For every
persona x exposed table x ``select``/``update``/``delete``, the rows (by key) the persona's
request touches are observed on the base and on the head database, with the access matrix's
own batched checker (:class:`rlsguard.matrix.Checker`): :func:`observe_access` hands it a
matrix whose every cell expects ``all`` - exactly what ``rlsguard matrix record`` does - and
reads back what each request touched. Insert candidates and changes come from the project's
matrix when it has one (their outcomes: accepted, or rejected by RLS or by a grant).

Comparing the two observations gives one :class:`AccessChange` per cell that differs::

    student · public.users · select: 5 rows → 3 rows (+1: id 2000…0009; -3: ids ...)

Only rows that exist in both databases count as gained or lost: a row that the head's seed
adds is new data, not new access. A change *widens* when a persona gains a row (or an
accepted candidate), *narrows* when it only loses some (or is now refused), and is
*neutral* otherwise. Personas are the project's (``[personas.*]``); a project without
user personas gets anon, a signed-in stranger (a synthetic user with no rows, as the probe
makes), up to :data:`MAX_SEED_USERS` users from the seed, and service_role.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from psycopg.pq import TransactionStatus

from rlsguard.config import Persona
from rlsguard.database import Database
from rlsguard.errors import RlsguardError
from rlsguard.identity.personas import Personas
from rlsguard.matrix import catalog, statements
from rlsguard.matrix.check import Checker
from rlsguard.matrix.load import Cell, Matrix
from rlsguard.matrix.model import CHANGES, ROW_OPERATIONS, MatrixSpec
from rlsguard.matrix.results import ACCEPTED, CellResult, Key, MatrixRun, sort_key
from rlsguard.transactions import undone

if TYPE_CHECKING:
    from rlsguard.harness.engine import Engine
    from rlsguard.workspace.build import Workspace

Grade = Literal["widens", "narrows", "neutral"]
State = Literal["rows", "denied", "error", "unavailable"]
OPERATION_ORDER: tuple[str, ...] = ("select", "insert", "update", CHANGES, "delete")
MAX_SEED_USERS = 12
MAX_KEYS_SHOWN = 20
MAX_LABELLED = 1000
STRANGER = "signed-in stranger"
STRANGER_EMAIL = "rlsguard-gate-stranger@probe.rlsguard.invalid"
VERBS = {
    "select": "read",
    "update": "update",
    "delete": "delete",
    "insert": "insert",
    CHANGES: "make",
}
_SEED_USERS = """
select email from auth.users
where email is not null and deleted_at is null and email not like '%%@probe.rlsguard.invalid'
order by email
limit %s
"""


# -- observations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """What one persona's request did to one table, on one database.

    ``keys`` are row keys for select/update/delete, and ``(name,)`` of each accepted
    candidate for insert and changes. ``reason`` says why a request was refused, failed or
    could not be made.
    """

    state: State
    keys: frozenset[Key] = frozenset()
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "rows"

    def describe(self, unit: str) -> str:
        if self.state == "denied":
            return "denied (42501 permission denied)"
        if self.state == "error":
            return f"error ({self.reason})"
        if self.state == "unavailable":
            return "n/a"
        return _count(len(self.keys), unit)

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "count": len(self.keys),
            "keys": [list(k) for k in sorted(self.keys, key=sort_key)],
            "reason": self.reason,
        }


@dataclass(frozen=True)
class TableFacts:
    """A table as observed: its key and label columns, and the keys of every row."""

    name: str
    key: tuple[str, ...]
    label: tuple[str, ...]
    rows: frozenset[Key] | None  # None: the rows could not be listed


@dataclass
class AccessMap:
    """Everything observed on one database: per (persona, table, operation) an :class:`Access`."""

    label: str
    personas: list[str]
    tables: dict[str, TableFacts] = field(default_factory=dict)
    cells: dict[tuple[str, str, str], Access] = field(default_factory=dict)
    labels: dict[str, dict[Key, tuple[str, ...]]] = field(default_factory=dict)  # label values
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    statements: int = 0
    round_trips: int = 0


# -- personas -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonaChoice:
    """Who the diff acts as, and where they come from (``project`` or ``seed``)."""

    names: list[str]
    source: Literal["project", "seed"]
    personas: Personas
    stranger: bool = False


def project_personas(personas: Personas) -> bool:
    """Whether the project declares personas bound to users (not just anon/service_role)."""
    return any(personas.get(n).user is not None for n in personas.names)


def persona_order(names: Iterable[str]) -> list[str]:
    """anon first, service_role last, everyone else in between as declared."""
    names = list(names)
    middle = [n for n in names if n not in ("anon", "service_role")]
    return [n for n in ("anon", *middle, "service_role") if n in names]


def choose_personas(db: Database, seed_users: Sequence[str] | None = None) -> PersonaChoice:
    """The project's personas; without user personas, anon, a stranger, seed users, service_role.

    ``seed_users``: the emails to use in the fallback (default: read from ``db``); pass the
    same list to both sides of a diff so they act as the same people.
    """
    personas = db.personas
    if project_personas(personas):
        return PersonaChoice(persona_order(personas.names), "project", personas)
    emails = list(seed_users) if seed_users is not None else seed_emails(db)
    declared: dict[str, Persona] = {STRANGER: Persona(user=STRANGER_EMAIL)}
    declared.update({email: Persona(user=email) for email in emails})
    fallback = Personas(personas.signer, declared)
    names = ["anon", STRANGER, *emails, "service_role"]
    return PersonaChoice(names, "seed", fallback, stranger=True)


def seed_emails(db: Database, limit: int = MAX_SEED_USERS) -> list[str]:
    """Emails of the users the seed created (the first ``limit`` by email)."""
    return [r[0] for r in db.conn.execute(_SEED_USERS, (limit,)).fetchall()]


@contextlib.contextmanager
def _transaction(db: Database) -> Iterator[None]:
    """One transaction around the observation, rolled back (the stranger's signup with it)."""
    own = db.conn.info.transaction_status == TransactionStatus.IDLE
    if own:
        db.conn.execute("BEGIN")
    else:
        db.conn.execute("SAVEPOINT rlsguard_access")
    if own:
        undo: tuple[str, ...] = ("ROLLBACK",)
    else:
        undo = ("ROLLBACK TO SAVEPOINT rlsguard_access", "RELEASE SAVEPOINT rlsguard_access")
    with undone(db.conn, *undo):
        yield


# -- observing ------------------------------------------------------------------------------


def observe_access(
    db: Database,
    *,
    schemas: Sequence[str] = ("public",),
    matrix: Matrix | None = None,
    seed_users: Sequence[str] | None = None,
    label: str = "",
) -> AccessMap:
    """Every persona x exposed table x operation on ``db``, through the matrix checker.

    The checker gets a matrix whose cells all expect ``all``: each result's ``actual`` is
    what the request touched, and its ``expected`` every row of the table. ``matrix`` (the
    project's) contributes its insert candidates and changes and its key/label columns.
    Nothing is left behind: everything runs in a transaction that is rolled back.
    """
    with _transaction(db):
        choice = choose_personas(db, seed_users)
        view = Database(db.conn, choice.personas, api=db.api)
        notes: list[str] = []
        if choice.stranger:
            try:
                view.create_user(STRANGER_EMAIL, user_metadata={"full_name": "Gate Stranger"})
            except RlsguardError as exc:  # a signup trigger that refuses strangers
                notes.append(f"the signed-in stranger could not sign up, so it is left out: {exc}")
        usable = _resolvable(view, choice.names, notes)
        tables = catalog.exposed_tables(db.conn, schemas)
        found = AccessMap(label, usable, notes=notes)
        if not usable or not tables:
            return found
        roles = {view.personas.resolve(db.conn, p).role for p in usable}
        infos = catalog.describe_tables(db.conn, tables, roles)
        spec = _spec(usable, tables, matrix)
        run = Checker(
            view, Matrix(MatrixSpec.model_validate(spec)), schemas=schemas, context=False
        ).run()
        _collect(found, run, infos)
        found.labels = _labels(db, found, infos)
    found.seconds = run.seconds
    found.statements = run.statements
    found.round_trips = run.round_trips
    return found


def _resolvable(db: Database, names: Sequence[str], notes: list[str]) -> list[str]:
    usable = []
    for name in names:
        try:
            db.personas.resolve(db.conn, name)
            usable.append(name)
        except RlsguardError as exc:
            notes.append(f"{name}: left out on this side: {exc}")
    return usable


def _spec(personas: list[str], tables: list[str], matrix: Matrix | None) -> dict[str, Any]:
    """A matrix expecting ``all`` everywhere, plus the project matrix's candidates."""
    every = dict.fromkeys(personas, "all")
    out: dict[str, Any] = {"personas": personas, "tables": {}}
    for name in tables:
        entry: dict[str, Any] = {op: dict(every) for op in ROW_OPERATIONS}
        source = matrix.spec.tables.get(name) if matrix is not None else None
        if source is not None:
            if source.key:
                entry["key"] = list(source.key)
            if source.label is not None:
                entry["label"] = list(source.label)
            for operation in ("insert", CHANGES):
                section = getattr(source, operation)
                if section is None:
                    continue
                data = section.model_dump(by_alias=True, exclude_none=True)
                tried = [p for p in personas if _tries(section, p)]
                if not tried:
                    continue
                data["accept"] = dict.fromkeys(tried, "none")
                entry[operation] = data
        out["tables"][name] = entry
    return out


def _tries(section: Any, persona: str) -> bool:
    """Whether ``persona`` tries at least one of a section's candidates."""
    if persona not in section.accept:
        return False
    return any(c.personas is None or persona in c.personas for c in section.candidates)


def _collect(
    found: AccessMap, run: MatrixRun, infos: Mapping[str, catalog.TableInfo | None]
) -> None:
    spec = run.matrix.spec
    for name, table in spec.tables.items():
        info = infos.get(name)
        key = tuple(table.key or (info.primary_key if info else ()))
        label: tuple[str, ...] = ()
        if info is not None:
            label = (
                tuple(table.label) if table.label is not None else tuple(info.default_labels(key))
            )
        rows = None
        for persona in found.personas:
            result = run.results.get(Cell(persona, name, "select"))
            if result is not None and result.expected is not None:
                rows = result.expected
                break
        found.tables[name] = TableFacts(name, key, label, rows)
    for cell, result in run.results.items():
        found.cells[(cell.persona, cell.table, cell.operation)] = _access(result)


def _access(result: CellResult) -> Access:
    if result.problem is not None:
        return Access("unavailable", reason=result.problem.reason)
    if result.cell.operation in ("insert", CHANGES):
        accepted = frozenset(
            (c.name or f"#{c.index}",) for c in result.candidates if c.outcome == ACCEPTED
        )
        return Access("rows", accepted)
    denied = result.denied
    if denied is not None:
        message = f"{denied.sqlstate} {denied.message}" if denied.message else denied.sqlstate
        return Access("denied" if denied.denial == "grant" else "error", reason=message)
    if result.row_errors:
        error = result.row_errors[0]
        return Access("error", result.actual or frozenset(), f"{error.sqlstate} {error.message}")
    return Access("rows", result.actual or frozenset())


def _labels(
    db: Database, found: AccessMap, infos: Mapping[str, catalog.TableInfo | None]
) -> dict[str, dict[Key, tuple[str, ...]]]:
    """The label columns of each table's rows (the first :data:`MAX_LABELLED` by key), so
    changes can name rows as people know them."""
    out: dict[str, dict[Key, tuple[str, ...]]] = {}
    for name, facts in found.tables.items():
        info = infos.get(name)
        if info is None or not facts.label or not facts.key:
            continue
        keys = ", ".join(f"({statements.ident(c)})::text" for c in facts.key)
        labels = ", ".join(f"({statements.ident(c)})::text" for c in facts.label)
        query = (
            f"select {keys}, {labels} from {statements.table_name(info)} "
            f"order by {keys} limit {MAX_LABELLED}"
        )
        width = len(facts.key)
        found_labels: dict[Key, tuple[str, ...]] = {}
        for row in db.conn.execute(query).fetchall():  # type: ignore[arg-type]
            values = tuple(v for v in row[width:] if v)
            if values:
                found_labels[tuple(row[:width])] = values
        out[name] = found_labels
    return out


# -- comparing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessChange:
    """One persona x table x operation whose access differs between base and head."""

    persona: str
    table: str
    operation: str
    before: Access
    after: Access
    grade: Grade
    gained: tuple[Key, ...] = ()
    lost: tuple[Key, ...] = ()
    key_columns: tuple[str, ...] = ()
    by_count: bool = False  # the two seeds share no row keys: compared by count
    labels: Mapping[Key, tuple[str, ...]] = field(default_factory=dict, compare=False, hash=False)
    covered: bool = False  # a passing matrix cell on head expects exactly this

    @property
    def unit(self) -> str:
        return "candidate" if self.operation in ("insert", CHANGES) else "row"

    @property
    def id(self) -> str:
        return f"{self.persona}-{self.table}-{self.operation}"

    @property
    def refused(self) -> bool:
        """A missing grant now refuses what the persona could do before."""
        return self.after.state == "denied" and self.before.state != "denied"

    @property
    def locks_out(self) -> bool:
        """Some rows (or candidates) before, none now: the runbook's P1 "no access".

        A ``USING (false)``, a dropped policy, RLS enabled with no policy (0 rows) and a
        revoked grant (42501) all look like this.
        """
        return (
            self.before.ok
            and bool(self.before.keys)
            and (self.after.state == "denied" or (self.after.ok and not self.after.keys))
        )

    def keys_text(self, keys: Sequence[Key], limit: int = 3, *, short: bool = False) -> str:
        """Keys as people read them: ``ids 2…9 'Grace Hopper', …``; ``short`` prefers the
        first label column over the key."""
        if self.unit == "candidate":
            more = ", …" if len(keys) > limit else ""
            return ", ".join(repr(k[0]) for k in keys[:limit]) + more
        shown = []
        for key in keys[:limit]:
            text = str(key[0]) if len(key) == 1 else "(" + ", ".join(map(str, key)) + ")"
            label = self.labels.get(key, ())
            if short and label:
                shown.append(repr(label[0]))
            else:
                shown.append(" ".join([text, *(repr(v) for v in label)]))
        more = f", … {len(keys) - limit} more" if len(keys) > limit else ""
        if short:
            return ", ".join(shown) + more
        column = "/".join(self.key_columns) or "key"
        if len(self.key_columns) > 1:
            noun = f"keys ({column})"
        else:
            noun = column if len(keys) == 1 else f"{column}s"
        return f"{noun} {', '.join(shown)}{more}"

    def line(self, limit: int = 3) -> str:
        """``student · public.users · select: 1 row → 240 rows (+239: ids ...)``."""
        unit = self.unit
        text = (
            f"{self.persona} · {self.table} · {self.operation}: "
            f"{self.before.describe(unit)} → {self.after.describe(unit)}"
        )
        parts = []
        if self.gained:
            parts.append(f"+{len(self.gained)}: {self.keys_text(self.gained, limit)}")
        if self.lost:
            parts.append(f"-{len(self.lost)}: {self.keys_text(self.lost, limit)}")
        if self.by_count:
            parts.append("compared by count: the two seeds share no row keys")
        return text + (f" ({'; '.join(parts)})" if parts else "")

    def sentence(self, limit: int = 2) -> str:
        """The change in plain words, without the persona (summaries group by persona)."""
        verb = VERBS.get(self.operation, self.operation)
        table = f"`{self.table}`"
        out = []
        if self.operation in ("insert", CHANGES):
            into = "into" if self.operation == "insert" else "on"
            what = "" if self.operation == "insert" else "the change "
            if self.gained:
                names = self.keys_text(self.gained, limit)
                out.append(f"can now {verb} {what}{names} {into} {table}")
            if self.lost:
                names = self.keys_text(self.lost, limit)
                out.append(f"can no longer {verb} {what}{names} {into} {table}")
        else:
            if self.gained:
                rows = self.keys_text(self.gained, limit, short=True)
                were = "was" if len(self.gained) == 1 else "were"
                out.append(
                    f"can now {verb} {_count(len(self.gained), 'row')} of {table} "
                    f"that {were} out of reach before ({rows})"
                )
            if self.lost and not self.refused:
                rows = self.keys_text(self.lost, limit, short=True)
                none = ", none left" if self.after.ok and not self.after.keys else ""
                out.append(
                    f"can no longer {verb} {_count(len(self.lost), 'row')} of {table} "
                    f"({rows}{none})"
                )
            if self.by_count:
                out.append(
                    f"can {verb} {self.after.describe('row')} of {table} now, "
                    f"{self.before.describe('row')} before"
                )
        if self.refused:
            before = f"; it reached {_count(len(self.lost), self.unit)}" if self.lost else ""
            out.append(
                f"can no longer {verb} {table} at all (42501 permission denied: a missing "
                f"grant{before})"
            )
        elif self.after.state == "error" and self.before.state != "error":
            out.append(f"can no longer {verb} {table}: the request fails ({self.after.reason})")
        elif self.before.state in ("denied", "error") and self.after.ok and not out:
            out.append(f"can {verb} {table} again (it was refused before)")
        elif self.after.state == "unavailable" and not out:
            out.append(f"cannot be checked on head ({verb} on {table}: {self.after.reason})")
        return "; ".join(out) or self.line()

    def as_dict(self) -> dict[str, Any]:
        return {
            "persona": self.persona,
            "table": self.table,
            "operation": self.operation,
            "grade": self.grade,
            "covered": self.covered,
            "by_count": self.by_count,
            "key_columns": list(self.key_columns),
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
            "gained": [list(k) for k in self.gained],
            "lost": [list(k) for k in self.lost],
            "line": self.line(MAX_KEYS_SHOWN),
        }


@dataclass
class AccessDiff:
    """All access changes from base to head, widenings first."""

    base: str
    head: str
    personas: list[str]
    persona_source: str
    tables: list[str]
    changes: list[AccessChange] = field(default_factory=list)
    tables_added: list[str] = field(default_factory=list)
    tables_dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cells: int = 0
    seconds: float = 0.0

    def by_grade(self, grade: Grade) -> list[AccessChange]:
        return [c for c in self.changes if c.grade == grade]

    @property
    def widens(self) -> list[AccessChange]:
        return self.by_grade("widens")

    @property
    def narrows(self) -> list[AccessChange]:
        return self.by_grade("narrows")

    @property
    def neutral(self) -> list[AccessChange]:
        return self.by_grade("neutral")

    @property
    def uncovered(self) -> list[AccessChange]:
        """Widenings that no passing matrix cell expects: the ones that block a gate."""
        return [c for c in self.widens if not c.covered]

    @property
    def lockouts(self) -> list[AccessChange]:
        """Personas that lost all access to a table, and no passing matrix cell expects it."""
        return [c for c in self.changes if c.locks_out and not c.covered]

    def lockout_tables(self) -> dict[str, list[str]]:
        """``{table: ["persona operation", ...]}`` of :attr:`lockouts`, in order."""
        out: dict[str, list[str]] = {}
        for change in self.lockouts:
            out.setdefault(change.table, []).append(f"{change.persona} {change.operation}")
        return out

    def __bool__(self) -> bool:
        return bool(self.changes or self.tables_added or self.tables_dropped)

    def counts(self) -> dict[str, int]:
        return {
            "widens": len(self.widens),
            "narrows": len(self.narrows),
            "neutral": len(self.neutral),
            "uncovered": len(self.uncovered),
            "lockouts": len(self.lockouts),
        }

    def by_persona(self) -> dict[str, list[AccessChange]]:
        out: dict[str, list[AccessChange]] = {p: [] for p in self.personas}
        for change in self.changes:
            out.setdefault(change.persona, []).append(change)
        return {p: c for p, c in out.items() if c}

    def cover(self, run: MatrixRun | None) -> None:
        """Mark widenings that a passing cell of the head's matrix run expects."""
        if run is None:
            return
        passed = {
            (r.cell.persona, r.cell.table, r.cell.operation)
            for r in run.results.values()
            if r.passed
        }
        self.changes = [
            replace(c, covered=(c.persona, c.table, c.operation) in passed) for c in self.changes
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "personas": list(self.personas),
            "persona_source": self.persona_source,
            "tables": list(self.tables),
            "cells": self.cells,
            "counts": self.counts(),
            "changes": [c.as_dict() for c in self.changes],
            "tables_added": list(self.tables_added),
            "tables_dropped": list(self.tables_dropped),
            "notes": list(self.notes),
        }


def diff_access(base: AccessMap, head: AccessMap) -> AccessDiff:
    """Every cell whose access differs between ``base`` and ``head``, graded."""
    shared = [t for t in head.tables if t in base.tables]
    personas = [p for p in head.personas if p in base.personas]
    diff = AccessDiff(
        base.label or "base",
        head.label or "head",
        personas,
        "",
        shared,
        tables_added=[t for t in head.tables if t not in base.tables],
        tables_dropped=[t for t in base.tables if t not in head.tables],
        notes=_side_notes(base, head),
    )
    grade_rank = {"widens": 0, "narrows": 1, "neutral": 2}
    for table in shared:
        before_facts, after_facts = base.tables[table], head.tables[table]
        ops = [op for op in OPERATION_ORDER if _has(base, table, op) or _has(head, table, op)]
        disjoint = _disjoint(before_facts, after_facts)
        if disjoint:
            diff.notes.append(
                f"{table}: base and head share no row keys (the seed makes random "
                "keys?); rows are compared by count"
            )
        for persona in personas:
            for operation in ops:
                before = base.cells.get((persona, table, operation))
                after = head.cells.get((persona, table, operation))
                if before is None or after is None:
                    continue
                diff.cells += 1
                change = _compare(
                    persona,
                    table,
                    operation,
                    before,
                    after,
                    before_facts,
                    after_facts,
                    disjoint,
                    base,
                    head,
                )
                if change is not None:
                    diff.changes.append(change)
    diff.changes.sort(
        key=lambda c: (
            grade_rank[c.grade],
            personas.index(c.persona),
            c.table,
            OPERATION_ORDER.index(c.operation),
        )
    )
    return diff


def _has(side: AccessMap, table: str, operation: str) -> bool:
    return any(t == table and op == operation for (_, t, op) in side.cells)


def _disjoint(before: TableFacts, after: TableFacts) -> bool:
    return bool(before.rows and after.rows and not (before.rows & after.rows))


def _side_notes(base: AccessMap, head: AccessMap) -> list[str]:
    notes = [f"base: {n}" for n in base.notes] + [f"head: {n}" for n in head.notes]
    only = [p for p in base.personas if p not in head.personas]
    only += [p for p in head.personas if p not in base.personas]
    if only:
        notes.append(
            f"compared only where both sides have the persona: {', '.join(only)} "
            "exist(s) on one side"
        )
    return notes


def _compare(
    persona: str,
    table: str,
    operation: str,
    before: Access,
    after: Access,
    before_facts: TableFacts,
    after_facts: TableFacts,
    disjoint: bool,
    base: AccessMap,
    head: AccessMap,
) -> AccessChange | None:
    if before == after:
        return None
    if before.state == "unavailable" or after.state == "unavailable":
        if before.state == after.state:
            return None
        return AccessChange(
            persona, table, operation, before, after, "neutral", key_columns=after_facts.key
        )
    candidate = operation in ("insert", CHANGES)
    by_count = disjoint and not candidate
    gained: list[Key] = []
    lost: list[Key] = []
    if by_count:
        ratio_before = len(before.keys) / max(len(before_facts.rows or ()), 1)
        ratio_after = len(after.keys) / max(len(after_facts.rows or ()), 1)
        widened = ratio_after > ratio_before
        narrowed = ratio_after < ratio_before
    else:
        both = None if candidate else _shared_rows(before_facts, after_facts)
        gained = sorted(
            (k for k in after.keys - before.keys if both is None or k in both), key=sort_key
        )
        lost = sorted(
            (k for k in before.keys - after.keys if both is None or k in both), key=sort_key
        )
        widened, narrowed = bool(gained), bool(lost)
    refused = before.ok and not after.ok
    if widened:
        grade: Grade = "widens"
    elif narrowed or refused:
        grade = "narrows"
    elif before.state != after.state:
        grade = "neutral"
    else:
        return None  # only rows that exist on one side differ: data, not access
    labels = {**base.labels.get(table, {}), **head.labels.get(table, {})}
    return AccessChange(
        persona,
        table,
        operation,
        before,
        after,
        grade,
        tuple(gained),
        tuple(lost),
        after_facts.key or before_facts.key,
        by_count,
        {k: labels[k] for k in (*gained[:MAX_KEYS_SHOWN], *lost[:MAX_KEYS_SHOWN]) if k in labels},
    )


def _shared_rows(before: TableFacts, after: TableFacts) -> frozenset[Key] | None:
    if before.rows is None or after.rows is None:
        return None
    return before.rows & after.rows


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def _plural(items: Sequence[object]) -> str:
    return "" if len(items) == 1 else "s"


# -- whole databases and sources ------------------------------------------------------------


def access_of_engines(
    base: Engine,
    head: Engine,
    *,
    matrix: Matrix | None = None,
    base_label: str = "base",
    head_label: str = "head",
) -> AccessDiff:
    """The access diff between two prepared engines (each observed on a throwaway clone)."""
    schemas = list(head.load_project().config.api_schemas)
    with base.cloned_database() as base_db, head.cloned_database() as head_db:
        return access_of_databases(
            base_db,
            head_db,
            schemas=schemas,
            matrix=matrix,
            base_label=base_label,
            head_label=head_label,
        )


def shared_seed_users(base_db: Database, head_db: Database) -> list[str] | None:
    """The seed users both sides act as when the project declares no user personas (None:
    it does, and they are used instead)."""
    if project_personas(head_db.personas):
        return None
    return sorted(set(seed_emails(base_db)) | set(seed_emails(head_db)))[:MAX_SEED_USERS]


def compare(before: AccessMap, after: AccessMap, seed_users: Sequence[str] | None) -> AccessDiff:
    """The diff of two observations made with the same ``seed_users``."""
    diff = diff_access(before, after)
    diff.persona_source = "project" if seed_users is None else "seed"
    diff.seconds = before.seconds + after.seconds
    return diff


def access_of_databases(
    base_db: Database,
    head_db: Database,
    *,
    schemas: Sequence[str] = ("public",),
    matrix: Matrix | None = None,
    base_label: str = "base",
    head_label: str = "head",
) -> AccessDiff:
    """Observe both databases as the same personas and compare."""
    seed = shared_seed_users(base_db, head_db)
    # Two servers: observing both at once keeps both cores busy (the work is the servers').
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="rlsguard-access") as pool:
        sides = [
            pool.submit(
                observe_access, db, schemas=schemas, matrix=matrix, seed_users=seed, label=label
            )
            for db, label in ((base_db, base_label), (head_db, head_label))
        ]
        before, after = (side.result() for side in sides)
    return compare(before, after, seed)


def access_diff_sources(
    base: str | Path,
    head: str | Path | None = None,
    *,
    supabase_dir: Path,
    workspace: Workspace | None = None,
    matrix: Matrix | Literal["project"] | None = "project",
) -> AccessDiff:
    """The access diff from ``base`` (a git ref or folder) to ``head`` (default: the working
    tree's folder), both built in parallel in ``workspace`` (or a workspace of its own).

    ``matrix``: whose insert candidates and changes to try; ``"project"`` loads the project
    config's matrix file when there is one.
    """
    from rlsguard.config import load_config
    from rlsguard.matrix.load import load_matrix
    from rlsguard.workspace.build import Workspace
    from rlsguard.workspace.sources import SourceError, open_source

    def run(ws: Workspace) -> AccessDiff:
        nonlocal matrix
        if matrix == "project":
            path = Path(ws.config.matrix)
            names = Personas(None, ws.config.personas).names
            matrix = load_matrix(path, names) if path.is_file() else None
        specs = [base, head if head is not None else supabase_dir]
        with contextlib.ExitStack() as stack:
            sources = [
                stack.enter_context(open_source(s, supabase_dir=supabase_dir)) for s in specs
            ]
            for spec, source in zip(specs, sources, strict=True):
                if source.supabase_dir is None:
                    raise SourceError(
                        f"{spec}: the access diff needs a database, and a snapshot file has no "
                        "rows; give a git ref or a supabase/ folder"
                    )
            folders = [s.supabase_dir for s in sources if s.supabase_dir is not None]
            before, after = ws.engines(folders)
            try:
                return access_of_engines(
                    before,
                    after,
                    matrix=matrix,
                    base_label=sources[0].label,
                    head_label=sources[1].label,
                )
            finally:
                for source in sources:
                    if source.kind == "git" and source.supabase_dir is not None:
                        ws.release(source.supabase_dir)

    if workspace is not None:
        return run(workspace)
    with Workspace(load_config(supabase_dir=supabase_dir)) as own:
        return run(own)
