"""Send many requests, each possibly failing, in one round trip.

A matrix run is hundreds of small statements as a dozen identities, and many
of them *should* fail (``42501``). Sent one by one, each costs a round trip
(~0.1 ms here, more than the statement itself). Sent as one multi-statement
message, the first error would abort the rest. So every statement goes
through a temporary PL/pgSQL helper, ``pg_temp.rlsguard_try(text[])``:

- it runs each statement in an ``EXCEPTION`` block, which is a
  subtransaction: an error is caught and returned as ``{"error": sqlstate,
  "message": ...}`` instead of aborting the message;
- after a statement succeeds it raises a private SQLSTATE to roll that
  subtransaction back too, so no statement sees another one's writes;
- it is ``SECURITY INVOKER`` and created by the superuser, so it runs as the
  role the request impersonates, with the request's settings and claims.

A *block* is one request: impersonation (exactly as PostgREST's prologue,
see :mod:`rlsguard.identity.session`) inside a savepoint, then one call of
the helper with all of that identity's statements, then a rollback to the
savepoint. All blocks go in one message. :class:`PlainExecutor` runs the
same statements without the helper, one round trip each; the tests use it to
prove both give identical outcomes, and the benchmark to measure the gain.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from rlsguard.identity.session import RLS_VIOLATION, ApiSettings, Identity, Request, Session
from rlsguard.matrix.params import sql_literal
from rlsguard.transactions import undo_quietly

HELPER = r"""
CREATE OR REPLACE FUNCTION pg_temp.rlsguard_try(stmts text[]) RETURNS SETOF jsonb
LANGUAGE plpgsql AS $rlsguard$
DECLARE
  stmt text;
  result jsonb;
  affected bigint;
  state text;
  message text;
BEGIN
  FOREACH stmt IN ARRAY stmts LOOP
    BEGIN
      IF left(stmt, 1) = '#' THEN
        EXECUTE substr(stmt, 2);
        GET DIAGNOSTICS affected = ROW_COUNT;
        result := jsonb_build_object('count', affected);
      ELSE
        EXECUTE stmt INTO result;
        result := jsonb_build_object('rows', result);
      END IF;
      RAISE SQLSTATE 'RGUND';  -- undo what the statement did
    EXCEPTION
      WHEN SQLSTATE 'RGUND' THEN
        RETURN NEXT result;
      WHEN OTHERS OR query_canceled THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
        RETURN NEXT jsonb_build_object('error', state, 'message', message);
    END;
  END LOOP;
END
$rlsguard$;
GRANT EXECUTE ON FUNCTION pg_temp.rlsguard_try(text[]) TO PUBLIC
"""

_RESULT_COLUMN = "rlsguard_block"
_OUTER = sql.Identifier("rlsguard_matrix")
_BLOCK_NAME = "rlsguard_block"
_BLOCK = sql.Identifier(_BLOCK_NAME)


@dataclass(frozen=True)
class Statement:
    """One statement; ``count`` for statements without a result (their row count matters)."""

    text: str
    count: bool = False


@dataclass(frozen=True)
class Outcome:
    """What one statement did: key rows, a row count, or an error."""

    rows: tuple[tuple[str | None, ...], ...] | None = None
    count: int | None = None
    sqlstate: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.sqlstate is None

    @property
    def denial(self) -> str | None:
        """``"rls"`` or ``"grant"`` for the two kinds of 42501 (as :func:`denial_kind`)."""
        if self.sqlstate != "42501":
            return None
        return "rls" if (self.message or "").startswith(RLS_VIOLATION) else "grant"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        if "error" in data:
            return cls(sqlstate=data["error"], message=data.get("message"))
        if "count" in data:
            return cls(count=int(data["count"]))
        return cls(rows=tuple(tuple(r) for r in data.get("rows") or ()))

    @classmethod
    def from_error(cls, exc: psycopg.Error) -> Outcome:
        return cls(sqlstate=exc.sqlstate, message=exc.diag.message_primary or str(exc))


@dataclass
class Block:
    """Statements run as one identity (None: the superuser, RLS bypassed) and HTTP method.

    ``settings`` are set transaction-locally after the impersonation, as a server-side
    client would (e.g. the Storage API's ``storage.allow_delete_query``).
    """

    identity: Identity | None
    method: str = "GET"
    statements: list[Statement] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    # Set as the superuser before the impersonation (``session_replication_role``).
    elevated: dict[str, str] = field(default_factory=dict)

    def add(self, statement: Statement) -> int:
        self.statements.append(statement)
        return len(self.statements) - 1


SessionFactory = Callable[[Identity, Request], Session]


class _Base:
    def __init__(
        self, conn: psycopg.Connection[Any], make_session: SessionFactory, api: ApiSettings
    ) -> None:
        self.conn = conn
        self.make_session = make_session
        self.api = api
        self.round_trips = 0
        self.messages: list[str] = []  # whole runs sent by the helper executor, in order
        self._prologues: dict[tuple[str, str | None], str] = {}

    def _prologue(self, block: Block) -> str:
        """SQL text that turns the block's savepoint into its request.

        The identity's impersonation (PostgREST's prologue) is rendered once per identity
        and reused for each method: only ``request.method``, read-only-ness and the block's
        settings differ, and they are set after it, so each request ends in the state
        PostgREST would leave.
        """
        if block.identity is None:
            return f"SELECT set_config('search_path', {sql_literal(self.api.search_path)}, true)"
        identity = block.identity
        key = (identity.label, identity.token)
        base = self._prologues.get(key)
        if base is None:
            parts = self.make_session(identity, Request(method="GET")).impersonation()
            base = ";\n".join(p.as_string(self.conn) for p in parts)
            self._prologues[key] = base
        request = Request(method=block.method)
        texts = [base]
        if request.read_only:
            texts.insert(0, "SET LOCAL transaction_read_only = on")
        if block.elevated:
            calls = ", ".join(
                f"set_config({sql_literal(k)}, {sql_literal(v)}, true)"
                for k, v in block.elevated.items()
            )
            texts.insert(0, f"SELECT {calls}")
        settings = dict(block.settings)
        if request.method.upper() != "GET":
            settings = {"request.method": request.method.upper(), **settings}
        if settings:
            calls = ", ".join(
                f"set_config({sql_literal(k)}, {sql_literal(v)}, true)" for k, v in settings.items()
            )
            texts.append(f"SELECT {calls}")
        return ";\n".join(texts)

    def _begin(self) -> bool:
        """Open the run's transaction (or a savepoint in the caller's); True if it is ours."""
        own = self.conn.info.transaction_status == TransactionStatus.IDLE
        self.conn.execute("BEGIN" if own else sql.SQL("SAVEPOINT {}").format(_OUTER))
        self.round_trips += 1
        return own

    def _end(self, own: bool, *, failing: bool = False) -> None:
        """Undo everything the run did (also after an error part-way through a message).

        ``failing``: an exception (a Ctrl-C included) is unwinding; an undo that fails on the
        connection it broke must not replace it.
        """
        if self.conn.closed or self.conn.info.transaction_status == TransactionStatus.IDLE:
            return
        if own:
            statement: sql.Composable = sql.SQL("ROLLBACK")
        else:
            statement = sql.SQL("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}").format(_OUTER)
        if failing:
            undo_quietly(self.conn, statement)
        else:
            self.conn.execute(statement)
        self.round_trips += 1


class HelperExecutor(_Base):
    """All blocks in as few messages as asked (default: one), through the helper."""

    def run(self, blocks: Sequence[Block], per_message: int | None = None) -> list[list[Outcome]]:
        if not any(b.statements for b in blocks):
            return [[] for _ in blocks]
        if per_message is None:
            return self._in_one_message(blocks)
        own = self._begin()
        try:
            self.conn.execute(HELPER)
            self.round_trips += 1
            results: list[list[Outcome]] = []
            for block in blocks:
                results.append([])
                for start in range(0, len(block.statements), per_message):
                    part = Block(
                        block.identity, block.method, block.statements[start : start + per_message]
                    )
                    results[-1].extend(self._send([part])[0])
        except BaseException:
            self._end(own, failing=True)
            raise
        self._end(own)
        return results

    def _in_one_message(self, blocks: Sequence[Block]) -> list[list[Outcome]]:
        """Open, create the helper, run every block and roll back: one round trip."""
        own = self.conn.info.transaction_status == TransactionStatus.IDLE
        if own:
            opening, closing = sql.SQL("BEGIN"), sql.SQL("ROLLBACK")
        else:
            opening = sql.SQL("SAVEPOINT {}").format(_OUTER)
            closing = sql.SQL("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}").format(_OUTER)
        try:
            return self._send(
                blocks, opening=opening.as_string(self.conn), closing=closing.as_string(self.conn)
            )
        except BaseException:
            self._end(own, failing=True)
            raise

    def script(self, blocks: Sequence[Block]) -> str:
        parts: list[str] = []
        for block in blocks:
            parts.append(f"SAVEPOINT {_BLOCK_NAME}")
            parts.append(self._prologue(block))
            texts = ", ".join(
                sql_literal(("#" + s.text) if s.count else s.text) for s in block.statements
            )
            call = f"pg_temp.rlsguard_try(ARRAY[{texts}]::text[])"
            parts.append(f"SELECT r AS {_RESULT_COLUMN} FROM {call} AS r")
            parts.append(f"ROLLBACK TO SAVEPOINT {_BLOCK_NAME}; RELEASE SAVEPOINT {_BLOCK_NAME}")
        return ";\n".join(parts)

    def _send(
        self, blocks: Sequence[Block], *, opening: str = "", closing: str = ""
    ) -> list[list[Outcome]]:
        text = self.script(blocks)
        if opening:
            text = f"{opening};\n{HELPER};\n{text};\n{closing}"
        self.messages.append(text)  # what was sent, for benchmarks and debugging
        found: list[list[Outcome]] = []
        with self.conn.cursor() as cur:
            cur.execute(text)  # type: ignore[call-overload]
            self.round_trips += 1
            while True:
                if cur.description is not None and cur.description[0].name == _RESULT_COLUMN:
                    found.append([Outcome.from_json(_json(r[0])) for r in cur.fetchall()])
                if not cur.nextset():
                    break
        if len(found) != len(blocks):
            raise RuntimeError(f"expected {len(blocks)} result sets, got {len(found)}")
        return found


class PlainExecutor(_Base):
    """The same statements without the helper: one round trip each (the slow, obvious way)."""

    def run(self, blocks: Sequence[Block], per_message: int | None = None) -> list[list[Outcome]]:
        own = self._begin()
        try:
            outcomes = [[self._one(block, s) for s in block.statements] for block in blocks]
        except BaseException:
            self._end(own, failing=True)
            raise
        self._end(own)
        return outcomes

    def _one(self, block: Block, statement: Statement) -> Outcome:
        self.conn.execute(f"SAVEPOINT {_BLOCK_NAME};\n{self._prologue(block)}")  # type: ignore[arg-type]
        self.round_trips += 1
        try:
            with self.conn.cursor() as cur:
                cur.execute(statement.text)  # type: ignore[arg-type]
                self.round_trips += 1
                if statement.count:
                    outcome = Outcome(count=cur.rowcount)
                else:
                    row = cur.fetchone()
                    data = _json(row[0]) if row else []
                    outcome = Outcome(rows=tuple(tuple(r) for r in data))
        except psycopg.Error as exc:
            self.round_trips += 1
            outcome = Outcome.from_error(exc)
        self.conn.execute(
            sql.SQL("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}").format(_BLOCK)
        )
        self.round_trips += 1
        return outcome


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


@dataclass(frozen=True)
class Ref:
    """Where a planned statement's outcome will be: block and position."""

    block: int
    index: int


class Plan:
    """Statements grouped into blocks by identity and method, in the order first seen.

    Superuser statements (identity None) are deduplicated by text: personas
    whose parameters are equal share one oracle query.
    """

    def __init__(self, settings: dict[str, dict[str, str]] | None = None) -> None:
        """``settings``: per HTTP method, transaction-local settings of its blocks."""
        self.settings = settings or {}
        self.blocks: list[Block] = []
        self._by_key: dict[tuple[str | None, str, tuple[tuple[str, str], ...]], int] = {}
        self._shared: dict[str, Ref] = {}
        self.outcomes: list[list[Outcome]] = []

    def add(
        self,
        identity: Identity | None,
        method: str,
        statement: Statement,
        elevated: dict[str, str] | None = None,
    ) -> Ref:
        if identity is None and statement.text in self._shared:
            return self._shared[statement.text]
        who = None if identity is None else identity.label
        key = (who, method, tuple(sorted((elevated or {}).items())))
        slot = self._by_key.get(key)
        if slot is None:
            slot = len(self.blocks)
            self._by_key[key] = slot
            settings = dict(self.settings.get(method, {})) if identity is not None else {}
            self.blocks.append(
                Block(identity, method, settings=settings, elevated=dict(elevated or {}))
            )
        ref = Ref(slot, self.blocks[slot].add(statement))
        if identity is None:
            self._shared[statement.text] = ref
        return ref

    @property
    def statements(self) -> int:
        return sum(len(b.statements) for b in self.blocks)

    def run(self, executor: HelperExecutor | PlainExecutor, per_message: int | None) -> None:
        self.outcomes = executor.run(self.blocks, per_message)
        if len(self.outcomes) != len(self.blocks):  # empty blocks are never planned
            raise RuntimeError("the executor skipped a block")

    def outcome(self, ref: Ref) -> Outcome:
        return self.outcomes[ref.block][ref.index]
