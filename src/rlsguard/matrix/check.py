"""The checker: every cell's actual rows under RLS against the oracle's, in a few round trips.

Per cell:

- ``select``: the keys the persona's SELECT returns;
- ``update``: the keys a no-op ``UPDATE t SET c = c ... RETURNING key`` changes
  (``c`` a column the role may update: a key column unless it is GENERATED
  ALWAYS or column grants leave it out). A silently dropped write is simply
  a missing key;
- ``delete``: the keys ``DELETE ... RETURNING key`` removes (sent as the Storage
  API sends deletes, so storage's guard against direct SQL deletes stands aside);
- ``insert``: each candidate alone, classified accepted, rejected by RLS
  (``42501`` new row violates...), rejected by a missing grant (``42501``
  permission denied) or another error;
- ``changes``: each change alone, an ``UPDATE t SET ... WHERE key IN (...)
  RETURNING key`` on the rows the oracle says the persona may update (narrowed
  by the change's ``where``), classified as inserts are, or ``unchanged``.

Everything runs in one transaction that is rolled back (a savepoint when the
connection is already in one, e.g. inside ``rlsguard_db``), every statement
in a subtransaction of its own, all in one message through the helper of
:mod:`.executor`. A second message, only when needed, carries what depends
on the first one's answers: the changes (their rows come from the oracle)
and, when a whole UPDATE or DELETE failed (say a foreign key refuses one
row), its rows one by one; a row that RLS let through but a foreign key
stopped counts as affected (the persona *may* delete it). A DELETE on a
table that other tables reference, and that has no trigger or rule of its own
on DELETE, runs with ``session_replication_role = replica`` (set as the
superuser, before the impersonation): foreign-key checks then do not fire, RLS
does, and the cell needs no retry row by row. Failing cells get a third round
trip for row labels, policies and privileges, so the report can explain them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlsguard.database import Database
from rlsguard.errors import RlsguardError
from rlsguard.identity.session import Identity
from rlsguard.matrix import catalog, oracle, statements
from rlsguard.matrix.coverage import untested
from rlsguard.matrix.executor import (
    HelperExecutor,
    Outcome,
    PlainExecutor,
    Plan,
    Ref,
    Statement,
)
from rlsguard.matrix.load import Cell, Expectation, Matrix, Problem, tried
from rlsguard.matrix.model import CHANGES
from rlsguard.matrix.results import (
    ACCEPTED,
    MAX_ROWS_SHOWN,
    SKIPPED,
    UNCHANGED,
    CandidateResult,
    CellResult,
    FailureContext,
    Key,
    MatrixRun,
    RowError,
    sort_key,
)

METHODS = {
    "select": "GET",
    "insert": "POST",
    "update": "PATCH",
    CHANGES: "PATCH",
    "delete": "DELETE",
}
# Storage refuses SQL deletes unless the transaction says it is the Storage API (which is how
# files are deleted); RLS still decides which rows go.
REQUEST_SETTINGS = {"DELETE": {"storage.allow_delete_query": "true"}}


@dataclass
class _Table:
    info: catalog.TableInfo
    key: list[str]
    label: list[str]
    insert_problem: Problem | None = None
    changes_problem: Problem | None = None
    all_keys: Ref | None = None


@dataclass
class _CellPlan:
    result: CellResult
    identity: Identity | None = None
    table: _Table | None = None
    expected: Ref | None = None
    actual: Ref | None = None
    candidates: list[tuple[int, Ref, dict[str, str]]] = field(default_factory=list)
    rows: list[tuple[Key, Ref]] = field(default_factory=list)  # the one-by-one fallback
    changes: list[_ChangePlan] = field(default_factory=list)


@dataclass
class _ChangePlan:
    """One change as one persona: its rows (an oracle query), then the update (2nd message)."""

    index: int
    values: dict[str, str]
    target: Ref | None  # None: the persona may update no row
    update: Ref | None = None
    keys: frozenset[Key] = frozenset()


class Checker:
    """Checks a matrix against one database.

    ``executor`` is ``"helper"`` (batched, the default) or ``"plain"`` (one round trip per
    statement); ``per_message`` caps the statements per message (None: all in one).
    """

    def __init__(
        self,
        db: Database,
        matrix: Matrix,
        *,
        schemas: Sequence[str] = ("public",),
        executor: str = "helper",
        per_message: int | None = None,
        context: bool = True,
    ) -> None:
        self.db = db
        self.matrix = matrix
        self.schemas = list(schemas)
        self.per_message = per_message
        self.context = context
        make = {"helper": HelperExecutor, "plain": PlainExecutor}[executor]
        self.executor = make(db.conn, lambda i, r: db.session(i, request=r), db.api)

    @property
    def conn(self) -> Any:
        return self.db.conn

    def run(self, cells: Iterable[Cell] | None = None) -> MatrixRun:
        started = time.perf_counter()
        self.executor.round_trips = 0
        self.executor.messages.clear()
        self._second = Plan()
        selected = list(cells) if cells is not None else self.matrix.cells()
        plans = [self._new(cell) for cell in selected]
        identities = self._identities(plans)
        tables = self._tables(plans, identities)
        plan = Plan(REQUEST_SETTINGS)
        for cp in plans:
            self._plan(plan, cp, identities, tables)
        plan.run(self.executor, self.per_message)
        self._second_message(plans, plan)
        for cp in plans:
            self._judge(cp, plan)
        if self.context:
            self._explain([cp for cp in plans if not cp.result.passed and cp.table])
        gaps = untested(
            self.matrix.spec,
            self.db.personas.names,
            catalog.exposed_tables(self.conn, self.schemas),
        )
        return MatrixRun(
            self.matrix,
            {cp.result.cell: cp.result for cp in plans},
            gaps,
            seconds=time.perf_counter() - started,
            round_trips=self.executor.round_trips,
            statements=plan.statements,
        )

    # -- preparation -------------------------------------------------------------------
    def _new(self, cell: Cell) -> _CellPlan:
        line = self.matrix.line(cell.key)
        result = CellResult(cell, self.matrix.file, line)
        if cell.table in self.matrix.spec.tables:
            result.expectation = self.matrix.expectation(cell)
        return _CellPlan(result)

    def _identities(self, plans: list[_CellPlan]) -> dict[str, Identity | Problem]:
        found: dict[str, Identity | Problem] = {}
        personas = self.matrix.personas
        for cp in plans:
            name = cp.result.cell.persona
            if name in found:
                continue
            try:
                found[name] = self.db.personas.resolve(self.conn, name)
            except RlsguardError as exc:
                index = personas.index(name) if name in personas else None
                key = f"personas[{index}]" if index is not None else "personas"
                found[name] = self.matrix.problem(key, str(exc))
        return found

    def _tables(
        self, plans: list[_CellPlan], identities: dict[str, Identity | Problem]
    ) -> dict[str, _Table | Problem]:
        names = list(dict.fromkeys(cp.result.cell.table for cp in plans))
        roles = {i.role for i in identities.values() if isinstance(i, Identity)}
        infos = catalog.describe_tables(self.conn, names, roles)
        found: dict[str, _Table | Problem] = {}
        for name in names:
            info = infos.get(name)
            if info is None:
                close = catalog.similar_table(self.conn, name)
                hint = f"; did you mean {close!r}?" if close else ""
                found[name] = self.matrix.problem(
                    f"tables.{name}",
                    f"no table {name}: the project's migrations do not create it{hint}",
                )
                continue
            found[name] = self._table(name, info)
        return found

    def _table(self, name: str, info: catalog.TableInfo) -> _Table | Problem:
        spec = self.matrix.table(name)
        base = f"tables.{name}"
        key = list(spec.key) if spec.key else list(info.primary_key)
        if not key:
            return self.matrix.problem(
                base, f"{name} has no primary key; add key: [columns that identify a row]"
            )
        for field_name, columns in (("key", spec.key or []), ("label", spec.label or [])):
            unknown = [c for c in columns if c not in info.columns]
            if unknown:
                return self.matrix.problem(
                    f"{base}.{field_name}", f"no column {unknown[0]!r} in {name}{_columns(info)}"
                )
        label = list(spec.label) if spec.label is not None else info.default_labels(key)
        table = _Table(info, key, label)
        if spec.insert is not None:
            for index, candidate in enumerate(spec.insert.candidates):
                parts = (("values", candidate.values), ("sql", candidate.sql))
                problem = self._unknown_column(info, f"{base}.insert.candidates[{index}]", parts)
                table.insert_problem = table.insert_problem or problem
        if spec.changes is not None:
            for index, change in enumerate(spec.changes.candidates):
                parts = (("set", change.set_), ("sql", change.sql))
                where = f"{base}.{CHANGES}.candidates[{index}]"
                problem = self._unknown_column(info, where, parts)
                table.changes_problem = table.changes_problem or problem
        return table

    def _unknown_column(
        self, info: catalog.TableInfo, where: str, parts: Sequence[tuple[str, Iterable[str]]]
    ) -> Problem | None:
        for part, columns in parts:
            for column in columns:
                if column not in info.columns:
                    return self.matrix.problem(
                        f"{where}.{part}.{column}",
                        f"no column {column!r} in {info.name}{_columns(info)}",
                    )
        return None

    def _plan(
        self,
        plan: Plan,
        cp: _CellPlan,
        identities: dict[str, Identity | Problem],
        tables: dict[str, _Table | Problem],
    ) -> None:
        result = cp.result
        cell = result.cell
        identity = identities[cell.persona]
        table = tables[cell.table]
        if isinstance(table, Problem):
            result.problem = table
            return
        if cell.operation == "insert" and table.insert_problem:
            result.problem = table.insert_problem
            return
        if cell.operation == CHANGES and table.changes_problem:
            result.problem = table.changes_problem
            return
        if isinstance(identity, Problem):
            result.problem = identity
            return
        cp.identity, cp.table = identity, table
        info, key = table.info, table.key
        method = METHODS[cell.operation]
        expectation = result.expectation
        assert expectation is not None
        if cell.operation == "insert":
            insert = self.matrix.table(cell.table).insert
            assert insert is not None
            texts: list[str] = []
            for index in tried(self.matrix.table(cell.table), cell.persona):
                candidate = insert.candidates[index]
                values = oracle.candidate_values(candidate, identity)
                ref = plan.add(identity, method, Statement(statements.insert(info, values), True))
                cp.candidates.append((index, ref, values))
                texts.extend(oracle.candidate_texts(candidate))
            result.parameters = oracle.parameters_used(identity, texts)
            return
        if cell.operation == CHANGES:
            self._plan_changes(plan, cp, identity, table)
            return
        if expectation.kind == "keys":
            problem = self._check_arity(cell, key, expectation.keys)
            if problem is not None:
                result.problem = problem
                return
        if expectation.kind == "where" and expectation.where is not None:
            result.parameters = oracle.parameters_used(identity, [expectation.where])
        wanted = oracle.expected_statement(info, key, expectation, identity)
        if wanted is not None:
            cp.expected = plan.add(None, "GET", wanted)
        if cell.operation == "select":
            text = statements.rows(info, key)
        elif cell.operation == "update":
            text = statements.update(info, key, info.noop_column(identity.role, key))
        else:
            text = statements.delete(info, key)
        cp.actual = plan.add(identity, method, Statement(text), _elevated(cell.operation, info))
        if cell.operation in ("update", "delete") and table.all_keys is None:
            table.all_keys = plan.add(None, "GET", Statement(statements.rows(info, key)))

    def _plan_changes(self, plan: Plan, cp: _CellPlan, identity: Identity, table: _Table) -> None:
        """Queue the oracle query of each change's rows; the updates follow in message two."""
        cell = cp.result.cell
        spec = self.matrix.table(cell.table)
        assert spec.changes is not None
        rows = self._update_rows(cell)
        if rows.kind == "keys":
            problem = self._check_arity(Cell(cell.persona, cell.table, "update"), table.key,
                                        rows.keys)  # fmt: skip
            if problem is not None:
                cp.result.problem = problem
                return
        texts = [rows.where] if rows.where else []
        for index in tried(spec, cell.persona, CHANGES):
            change = spec.changes.candidates[index]
            values = oracle.candidate_values(change, identity)
            wanted = oracle.change_target(table.info, table.key, rows, change, identity)
            target = plan.add(None, "GET", wanted) if wanted is not None else None
            cp.changes.append(_ChangePlan(index, values, target))
            texts.extend(oracle.candidate_texts(change))
        cp.result.parameters = oracle.parameters_used(identity, texts)

    def _update_rows(self, cell: Cell) -> Expectation:
        """The rows ``cell.persona`` may update (every row when the file does not say)."""
        update = Cell(cell.persona, cell.table, "update")
        if cell.persona in (self.matrix.table(cell.table).update or {}):
            return self.matrix.expectation(update)
        return Expectation("all")

    def _check_arity(
        self, cell: Cell, key: list[str], keys: tuple[tuple[Any, ...], ...]
    ) -> Problem | None:
        for index, value in enumerate(keys):
            if len(value) != len(key):
                return self.matrix.problem(
                    f"{cell.key}.keys[{index}]",
                    f"has {len(value)} value(s) but the key has {len(key)} column(s) "
                    f"({', '.join(key)})",
                )
        return None

    # -- the second message: changes, and the one-by-one fallback --------------------------
    def _second_message(self, plans: list[_CellPlan], plan: Plan) -> None:
        second = Plan(REQUEST_SETTINGS)
        for cp in plans:
            if cp.changes:
                self._queue_changes(second, cp, plan)
        self._fall_back(plans, plan, second)
        if second.blocks:
            second.run(self.executor, self.per_message)
        self._second = second

    def _queue_changes(self, second: Plan, cp: _CellPlan, plan: Plan) -> None:
        table, identity = cp.table, cp.identity
        assert table is not None
        assert identity is not None
        spec = self.matrix.table(cp.result.cell.table)
        assert spec.changes is not None
        for change in cp.changes:
            if change.target is None:
                continue
            found = plan.outcome(change.target)
            if not found.ok:  # a bad where, or a bad update expectation it builds on
                cell = cp.result.cell
                if spec.changes.candidates[change.index].where:
                    key = f"tables.{cell.table}.{CHANGES}.candidates[{change.index}].where"
                else:
                    key = Cell(cell.persona, cell.table, "update").key
                cp.result.problem = self.matrix.problem(key, f"{found.message} ({found.sqlstate})")
                return
            change.keys = oracle.keys_of(found)
            if change.keys:
                keys = sorted(change.keys, key=sort_key)
                text = statements.change(table.info, table.key, change.values, keys)
                change.update = second.add(identity, METHODS[CHANGES], Statement(text))

    def _fall_back(self, plans: list[_CellPlan], plan: Plan, second: Plan) -> None:
        for cp in plans:
            if cp.actual is None or cp.result.cell.operation not in ("update", "delete"):
                continue
            outcome = plan.outcome(cp.actual)
            table, identity = cp.table, cp.identity
            assert table is not None
            assert identity is not None
            assert table.all_keys is not None
            if outcome.ok or _denied_on(outcome, table.info):
                continue
            every = plan.outcome(table.all_keys)
            method = METHODS[cp.result.cell.operation]
            for row in oracle.keys_of(every):
                values = list(row)
                if cp.result.cell.operation == "update":
                    column = table.info.noop_column(identity.role, table.key)
                    text = statements.update(table.info, table.key, column, values)
                else:
                    text = statements.delete(table.info, table.key, values)
                cp.rows.append((row, second.add(identity, method, Statement(text))))

    # -- judging -----------------------------------------------------------------------
    def _judge(self, cp: _CellPlan, plan: Plan) -> None:
        result = cp.result
        if result.problem is not None or cp.table is None:
            return
        if result.cell.operation == "insert":
            self._judge_insert(cp, plan)
            return
        if result.cell.operation == CHANGES:
            self._judge_changes(cp)
            return
        expectation = result.expectation
        assert expectation is not None
        if cp.expected is None:
            result.expected = frozenset()
        else:
            wanted = plan.outcome(cp.expected)
            if not wanted.ok:
                suffix = ".where" if _long_form(self.matrix, result.cell) else ""
                if expectation.kind == "keys":
                    suffix = ".keys"
                result.problem = self.matrix.problem(
                    result.cell.key + suffix, f"{wanted.message} ({wanted.sqlstate})"
                )
                return
            result.expected = oracle.keys_of(wanted)
        assert cp.actual is not None
        actual = plan.outcome(cp.actual)
        if actual.ok:
            result.actual = oracle.keys_of(actual)
        elif _denied_on(actual, cp.table.info):
            result.actual, result.denied = frozenset(), actual
        elif cp.rows:
            result.fell_back = actual
            result.actual, result.row_errors = self._one_by_one(cp)
        else:
            result.denied = actual

    def _one_by_one(self, cp: _CellPlan) -> tuple[frozenset[Key], tuple[RowError, ...]]:
        affected: set[Key] = set()
        errors: list[RowError] = []
        for row, ref in cp.rows:
            outcome = self._second.outcome(ref)
            if outcome.ok:
                affected.update(outcome.rows or ())
            elif outcome.sqlstate == "23503" and cp.result.cell.operation == "delete":
                affected.add(row)  # RLS let the delete through; a foreign key stopped it
            elif outcome.denial is None:
                errors.append(RowError(row, outcome.sqlstate or "", outcome.message or ""))
        return frozenset(affected), tuple(errors)

    def _judge_insert(self, cp: _CellPlan, plan: Plan) -> None:
        result = cp.result
        insert = self.matrix.table(result.cell.table).insert
        assert insert is not None
        assert result.expectation is not None
        found = []
        for index, ref, values in cp.candidates:
            candidate = insert.candidates[index]
            outcome = plan.outcome(ref)
            if outcome.ok:
                kind = ACCEPTED if (outcome.count or 0) > 0 else SKIPPED
            else:
                kind = outcome.denial or "error"
            found.append(
                CandidateResult(
                    index,
                    candidate.name,
                    values,
                    index in result.expectation.accept,
                    kind,
                    outcome.sqlstate,
                    outcome.message,
                )
            )
        result.candidates = tuple(found)

    def _judge_changes(self, cp: _CellPlan) -> None:
        result = cp.result
        spec = self.matrix.table(result.cell.table).changes
        assert spec is not None
        assert result.expectation is not None
        found = []
        for change in cp.changes:
            kind, changed = UNCHANGED, ()
            sqlstate = message = None
            if change.update is not None:
                outcome = self._second.outcome(change.update)
                sqlstate, message = outcome.sqlstate, outcome.message
                if outcome.ok:
                    changed = tuple(sorted(oracle.keys_of(outcome), key=sort_key))
                    kind = ACCEPTED if changed else UNCHANGED
                else:
                    kind = outcome.denial or "error"
            found.append(
                CandidateResult(
                    change.index,
                    spec.candidates[change.index].name,
                    change.values,
                    change.index in result.expectation.accept,
                    kind,
                    sqlstate,
                    message,
                    target=len(change.keys),
                    changed=changed,
                )
            )
        result.candidates = tuple(found)

    # -- explaining failures -------------------------------------------------------------
    def _explain(self, plans: list[_CellPlan]) -> None:
        if not plans:
            return
        policy_cache: dict[tuple[str, str], list[catalog.Policy]] = {}
        privilege_cache: dict[tuple[str, str], catalog.Privileges | None] = {}
        with catalog.plain_search_path(self.conn):
            for cp in plans:
                self._explain_one(cp, policy_cache, privilege_cache)

    def _explain_one(
        self,
        cp: _CellPlan,
        policy_cache: dict[tuple[str, str], list[catalog.Policy]],
        privilege_cache: dict[tuple[str, str], catalog.Privileges | None],
    ) -> None:
        table, identity = cp.table, cp.identity
        if table is None or identity is None or cp.result.problem is not None:
            return
        pair = (table.info.name, identity.role)
        if pair not in policy_cache:
            policy_cache[pair] = catalog.policies(self.conn, *pair)
            privilege_cache[pair] = catalog.privileges(self.conn, *pair)
        context = FailureContext(
            identity.role,
            table.key,
            table.label,
            policies=policy_cache[pair],
            privileges=privilege_cache[pair],
            rls=table.info.rls,
            force_rls=table.info.force_rls,
        )
        rows = [
            *sorted(cp.result.unexpected, key=sort_key)[:MAX_ROWS_SHOWN],
            *sorted(cp.result.missing, key=sort_key)[:MAX_ROWS_SHOWN],
        ]
        if rows and table.label:
            text = statements.labels(
                table.info, table.key, table.label, [[str(v) for v in r] for r in rows]
            )
            width = len(table.key)
            for found in self.conn.execute(text).fetchall():  # type: ignore[arg-type]
                context.labels[tuple(found[:width])] = dict(
                    zip(table.label, found[width:], strict=True)
                )
        cp.result.context = context


def _denied_on(outcome: Outcome, info: catalog.TableInfo) -> bool:
    """A grant refusal of the table itself (not of something a policy or trigger reads)."""
    if outcome.denial != "grant":
        return False
    message = outcome.message or ""
    return message.endswith((f" {info.relname}", f"schema {info.schema}"))


def _long_form(matrix: Matrix, cell: Cell) -> bool:
    from rlsguard.matrix.model import Where

    entries = getattr(matrix.table(cell.table), cell.operation) or {}
    return isinstance(entries.get(cell.persona), Where)


def _columns(info: catalog.TableInfo) -> str:
    return f" (columns: {', '.join(info.columns)})"


def check_matrix(db: Database, matrix: Matrix, **options: Any) -> MatrixRun:
    """Run every cell of ``matrix`` against ``db`` (see :class:`Checker` for options)."""
    return Checker(db, matrix, **options).run()


REPLICA = {"session_replication_role": "replica"}


def _elevated(operation: str, info: catalog.TableInfo) -> dict[str, str] | None:
    """Settings a statement needs from the superuser: replica mode for FK-bound deletes."""
    return REPLICA if operation == "delete" and info.delete_skips_fks else None
