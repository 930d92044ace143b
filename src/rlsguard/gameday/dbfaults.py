"""Faults of the runbook's section 2 ("Database query failure"): held connections, leaked
pool checkouts, idle and long transactions holding locks, a slow function, a crashed server.

Unlike section 1's SQL faults, most are processes the runner owns. Each still follows the
ledger rule: the plan (with its undo: end the sessions named after the run) is written down
before ``inject`` runs; ``release`` undoes it in-process; the ledger's undo covers a runner
that was killed. Killing a server is refused unless rlsguard started it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import psycopg
from pydantic import Field

from rlsguard.errors import DestructiveActionRefused
from rlsguard.gameday.faults import FAULTS, Fault, FaultContext, FaultError, FaultPlan, _Params
from rlsguard.gameday.holders import (
    TOO_MANY,
    backend_of,
    fill_connections,
    holder_name,
    long_transactions,
    open_transaction,
    refused_code,
    refused_message,
    terminate_sql,
)
from rlsguard.gameday.rig import Runtime
from rlsguard.workspace.rollback import qualified


def _end_held(rt: Runtime, key: str) -> Callable[[Any], dict[str, Any]]:
    """The release of a fault whose sessions wait in ``rt.state[key]``: end them."""

    def release(admin: Any) -> dict[str, Any]:
        holder = rt.state.pop(key, None)
        return {"ended": holder.release(admin) if holder else 0}

    return release


def _runtime(ctx: FaultContext) -> Runtime:
    if ctx.runtime is None:
        raise FaultError("this fault acts on live processes: run it through `rlsguard gameday`")
    return ctx.runtime  # type: ignore[no-any-return]


def _as(rt: Runtime, name: str, role: str) -> str:
    return psycopg.conninfo.make_conninfo(rt.target.conninfo(name), user=role)


def refusal_message(major: int, superuser_reserved: int, reserved: int = 0) -> str:
    """The exact 53300 text a non-superuser gets once only reserved slots remain."""
    if superuser_reserved == 0 and reserved == 0:
        return "sorry, too many clients already"
    if major >= 16 and reserved > 0:
        return (
            "remaining connection slots are reserved for roles with privileges of the "
            '"pg_use_reserved_connections" role'
        )
    if major >= 16:
        return "remaining connection slots are reserved for roles with the SUPERUSER attribute"
    return "remaining connection slots are reserved for non-replication superuser connections"


def _server_limits(conn: psycopg.Connection[Any]) -> dict[str, int]:
    rows = conn.execute(
        "select name, setting from pg_settings where name in ('max_connections', "
        "'superuser_reserved_connections', 'reserved_connections', 'server_version_num')"
    ).fetchall()
    return {name: int(value) for name, value in rows}


class HoldParams(_Params):
    role: str = Field(default="authenticator", description="A non-superuser login role.")
    limit: int = Field(default=400, ge=1, description="Never hold more than this many.")


@FAULTS.register("hold_connections")
class HoldConnections(Fault):
    """Connections held open until the server refuses new ones with the real 53300; the
    superuser-reserved slots stay free for the responders."""

    Params = HoldParams

    def plan(self, params: HoldParams, ctx: FaultContext) -> FaultPlan:
        rt = _runtime(ctx)
        name = holder_name(rt.run_id, "hold")
        conninfo = _as(rt, name, params.role)
        limits = _server_limits(rt.admin())
        expected = refusal_message(
            limits["server_version_num"] // 10000,
            limits.get("superuser_reserved_connections", 3),
            limits.get("reserved_connections", 0),
        )

        def inject() -> dict[str, Any]:
            holder = fill_connections(conninfo, name, params.limit)
            rt.state["hold"] = holder
            if holder.refused is None:
                raise FaultError(
                    f"the server accepted {params.limit} connections without refusing one: "
                    "raise fault.params.limit above max_connections"
                )
            got = (refused_code(holder.refused), refused_message(holder.refused))
            if got[0] != TOO_MANY:
                raise FaultError(f"the server refused with {got[0]}, not 53300: {got[1]}")
            return {
                "held": len(holder.conns),
                "max_connections": limits["max_connections"],
                "refused_with": got[1],
                "expected_message": expected,
                "message_as_expected": expected in got[1],
                "processes": holder.backends(),
            }

        return FaultPlan(
            f"connections held as {params.role} until the server refuses new ones (53300)",
            revert=[terminate_sql(name)],
            objects=[name],
            inject=inject,
            release=_end_held(rt, "hold"),
        )


class LockParams(_Params):
    table: str = "public.classes"
    role: str = Field(default="postgres", description="Who holds the lock (a batch job's role).")
    lock: Literal["table", "row"] = Field(
        default="table", description="table: ACCESS EXCLUSIVE; row: SELECT ... FOR UPDATE."
    )


def _lock_sql(table: str, lock: str) -> str:
    t = qualified(table)
    if lock == "row":
        return f"SELECT 1 FROM {t} FOR UPDATE"
    return f"LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE"


@FAULTS.register("idle_in_transaction")
class IdleInTransaction(Fault):
    """A session that took a lock in a transaction and went idle in it (a client that forgot
    to commit): every reader of the table queues behind it until lock_timeout."""

    Params = LockParams

    def plan(self, params: LockParams, ctx: FaultContext) -> FaultPlan:
        rt = _runtime(ctx)
        name = holder_name(rt.run_id, "idle-tx")

        def inject() -> dict[str, Any]:
            holder = open_transaction(
                _as(rt, name, params.role), name, _lock_sql(params.table, params.lock)
            )
            rt.state["idle"] = holder
            return {
                "table": params.table,
                "lock": params.lock,
                "processes": [backend_of(holder.conns[0])],
            }

        return FaultPlan(
            f"a session idle in transaction holds a {params.lock} lock on {params.table}",
            revert=[terminate_sql(name)],
            objects=[params.table],
            inject=inject,
            release=_end_held(rt, "idle"),
        )


class LongParams(LockParams):
    seconds: float = Field(default=3600, gt=0, description="How long the query runs.")
    sessions: int = Field(default=1, ge=1, le=20)


@FAULTS.register("long_transaction")
class LongTransaction(Fault):
    """A batch job's long query holding a lock on a hot table: the readers wait (lock waits),
    then fail with 55P03 (lock_timeout) or 57014 (statement_timeout)."""

    Params = LongParams

    def plan(self, params: LongParams, ctx: FaultContext) -> FaultPlan:
        rt = _runtime(ctx)
        name = holder_name(rt.run_id, "long-tx")
        statements = f"{_lock_sql(params.table, params.lock)}; SELECT pg_sleep({params.seconds})"

        def inject() -> dict[str, Any]:
            holder = long_transactions(
                _as(rt, name, params.role), name, statements, params.sessions
            )
            rt.state["long"] = holder
            return {
                "table": params.table,
                "sessions": params.sessions,
                "processes": holder.backends(),
            }

        return FaultPlan(
            f"{params.sessions} long transaction(s) lock {params.table} and run pg_sleep",
            revert=[terminate_sql(name)],
            objects=[params.table],
            inject=inject,
            release=_end_held(rt, "long"),
        )


class SlowParams(_Params):
    function: str = Field(default="public.class_average(uuid)", description="A signature.")
    seconds: float = Field(default=1.0, gt=0)


def slowed_definition(definition: str, language: str, seconds: float) -> str:
    """The function's own definition with a ``pg_sleep`` first in its body."""
    head, sep, body = definition.partition("AS $function$")
    if not sep:
        raise FaultError("the function's body is not quoted as $function$; cannot slow it")
    if language == "sql":
        return f"{head}{sep}\n  select pg_catalog.pg_sleep({seconds});{body}"
    if language == "plpgsql":
        before, begin, after = body.partition("BEGIN")
        if not begin:
            before, begin, after = body.partition("begin")
        if not begin:
            raise FaultError("no BEGIN in the plpgsql body; cannot slow it")
        return f"{head}{sep}{before}{begin}\n  PERFORM pg_catalog.pg_sleep({seconds});{after}"
    raise FaultError(f"functions in {language} cannot be slowed (sql and plpgsql can)")


@FAULTS.register("slow_function")
class SlowFunction(Fault):
    """``pg_sleep`` first in a function an endpoint calls: the endpoint's requests hit the
    app's statement_timeout (57014) and users see 504s. The undo is the function's own
    definition, read before anything changes."""

    Params = SlowParams

    def plan(self, params: SlowParams, ctx: FaultContext) -> FaultPlan:
        conn = _runtime(ctx).admin()
        try:
            row = conn.execute(
                "select pg_get_functiondef(%s::regprocedure), l.lanname from pg_proc p "
                "join pg_language l on l.oid = p.prolang where p.oid = %s::regprocedure",
                (params.function, params.function),
            ).fetchone()
        except psycopg.Error as exc:
            raise FaultError(f"no function {params.function}: {str(exc).strip()}") from None
        assert row is not None
        original, language = str(row[0]), str(row[1])
        ctx.runtime.state[f"definition:{params.function}"] = original  # for the fix
        return FaultPlan(
            f"{params.function} sleeps {params.seconds:g} s before doing its work",
            apply=[slowed_definition(original, language, params.seconds)],
            revert=[original],
            objects=[params.function],
        )


class DropIndexParams(_Params):
    index: str = Field(default="public.assignments_class_idx", description="schema.index")
    pad_rows: int = Field(
        default=200_000,
        ge=0,
        le=5_000_000,
        description="Rows added to the index's table first (drill database only), so that "
        "the missing index shows: a small table is scanned fast with or without it.",
    )
    pad_sql: str | None = Field(
        default=None,
        description="INSERT ... SELECT ... generate_series(1, {rows}) ... '{marker}' ...; "
        "default: {groups} classes named with the marker, {per_group} assignments each.",
    )
    unpad_sql: str | None = Field(
        default=None, description="The DELETE of exactly the padded rows (uses '{marker}')."
    )


# Production's shape: ~100 assignments per class over many classes (each marked), so the
# planner's estimate for "one class's assignments" is ~100 rows with or without a generic
# plan (rows in one huge class would make a prepared statement's generic plan a sequential
# scan even with the index, depending on ANALYZE's random sample).
PAD_ASSIGNMENTS = (
    "insert into public.classes (school_id, teacher_id, name, subject) "
    "select c.school_id, c.teacher_id, '{marker}', 'padding' "
    "from (select * from public.classes order by id desc limit 1) c, "
    "generate_series(1, {groups}); "
    "insert into public.assignments (class_id, title, published) "
    "select p.id, '{marker}', false from public.classes p, generate_series(1, {per_group}) "
    "where p.name = '{marker}'"
)
UNPAD_ASSIGNMENTS = (
    "delete from public.assignments where title = '{marker}'; "
    "delete from public.classes where name = '{marker}'"
)
PER_GROUP = 100


def if_not_exists(indexdef: str, *, concurrently: bool = False) -> str:
    """``pg_get_indexdef``'s text made idempotent (the remedy may have re-created it)."""
    head, sep, rest = indexdef.partition(" INDEX ")
    if not sep:
        raise FaultError(f"not an index definition: {indexdef[:80]}")
    return f"{head} INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS {rest}"


@FAULTS.register("drop_index")
class DropIndex(Fault):
    """The index a hot query uses, dropped (a migration that "cleaned up unused indexes"),
    on a table padded with rows so that the sequential scan costs what it costs in
    production. The undo is the index's own ``pg_get_indexdef`` and the DELETE of exactly
    the padded rows (titled with the run's marker), both written down first."""

    Params = DropIndexParams

    def plan(self, params: DropIndexParams, ctx: FaultContext) -> FaultPlan:
        rt = _runtime(ctx)
        conn = rt.admin()
        row = conn.execute(
            "select pg_get_indexdef(i.indexrelid), i.indrelid::regclass::text, "
            "i.indisunique or i.indisprimary or exists (select 1 from pg_constraint c "
            "where c.conindid = i.indexrelid) from pg_index i where i.indexrelid = "
            "to_regclass(%s)",
            (params.index,),
        ).fetchone()
        if row is None:
            raise FaultError(f"no index {params.index}: name one as schema.index")
        indexdef, table, constrained = str(row[0]), str(row[1]), bool(row[2])
        if constrained:
            raise FaultError(
                f"{params.index} backs a constraint (unique, primary key): drop a plain index"
            )
        marker = f"rlsguard gameday padding {rt.run_id}"
        groups = max(1, -(-params.pad_rows // PER_GROUP))
        pad = (params.pad_sql or PAD_ASSIGNMENTS).format(
            rows=params.pad_rows, marker=marker, groups=groups, per_group=PER_GROUP
        )
        unpad = (params.unpad_sql or UNPAD_ASSIGNMENTS).format(marker=marker)
        rt.state[f"indexdef:{params.index}"] = indexdef  # for the fix
        drop = f"DROP INDEX {qualified(params.index)}"

        def prepare() -> dict[str, Any]:
            """The production-sized table, index still there: the steady state's stage."""
            admin = rt.admin()
            with admin.transaction():
                admin.execute(pad)
            admin.execute(f"ANALYZE {table}")
            return {"table": table, "padded_rows": params.pad_rows}

        def inject() -> dict[str, Any]:
            admin = rt.admin()
            with admin.transaction():
                admin.execute(drop)
            return {"index": params.index, "table": table, "padded_rows": params.pad_rows}

        return FaultPlan(
            f"index {params.index} dropped on {table}"
            + (f" (padded with {params.pad_rows} rows)" if params.pad_rows else ""),
            revert=[if_not_exists(indexdef), *([unpad] if params.pad_rows else [])],
            objects=[params.index, table],
            inject=inject,  # the ledger's undo runs in every case (no in-process release)
            prepare=prepare if params.pad_rows else None,
        )


class LeakParams(_Params):
    connections: int | None = Field(default=None, description="Default: the pool's max size.")


@FAULTS.register("leak_pool")
class LeakPool(Fault):
    """The app checks connections out of its pool and never returns them (a handler that
    forgets to release on an error path): requests wait, then get 503."""

    Params = LeakParams

    def plan(self, params: LeakParams, ctx: FaultContext) -> FaultPlan:
        rt = _runtime(ctx)
        if rt.rig is None:
            raise FaultError("leak_pool needs the reference app: add `app:` to the scenario")
        rig = rt.rig
        n = params.connections or rig.app.settings.pool_max

        def inject() -> dict[str, Any]:
            done = rig.app.admin("/_chaos/leak", n=n)
            server = rig.app.server
            return {
                "leaked": done["leaked"],
                "pool": done["pool"],
                "processes": [{"kind": "app", "pid": server.pid}] if server else [],
            }

        def release(admin: Any) -> dict[str, Any]:
            if not rig.app.server or not rig.app.server.is_running:
                return {"reset": False}
            return {"reset": True, **rig.app.admin("/_admin/pool/reset")}

        return FaultPlan(
            f"{n} pool checkouts in the app never returned",
            revert=[],  # the app process is the run's: it ends with it
            objects=["app pool"],
            inject=inject,
            release=release,
        )


class BouncerParams(_Params):
    how: Literal["kill", "freeze"] = Field(
        default="kill", description="kill: SIGKILL; freeze: SIGSTOP (a hung pooler)."
    )


@FAULTS.register("pgbouncer_down")
class PgBouncerDown(Fault):
    """The pooler in front of Postgres killed (SIGKILL) or hung (SIGSTOP): the app's
    connections fail or hang, the database itself is fine."""

    Params = BouncerParams

    def plan(self, params: BouncerParams, ctx: FaultContext) -> FaultPlan:
        rt = _runtime(ctx)
        bouncer = rt.rig.bouncer if rt.rig is not None else None
        if bouncer is None:
            raise FaultError(
                "no PgBouncer runs in front of the app (set app.pooler: pgbouncer; the "
                "binary must be installed: rlsguard doctor)"
            )

        def inject() -> dict[str, Any]:
            pid = bouncer.pid
            start = _start_time(pid)
            if params.how == "kill":
                bouncer.kill()
            else:
                bouncer.freeze()
            return {
                "processes": [{"kind": "pgbouncer", "pid": pid, "start": start, "how": params.how}]
            }

        def release(admin: Any) -> dict[str, Any]:
            if bouncer.state.value == "frozen":
                bouncer.thaw()
                return {"thawed": True}
            if not bouncer.is_running:
                bouncer.restart()
                return {"restarted": True}
            return {}

        return FaultPlan(
            f"pgbouncer {'killed (SIGKILL)' if params.how == 'kill' else 'frozen (SIGSTOP)'}",
            revert=[],  # the pooler is the run's: it ends (or is thawed) with it
            objects=[bouncer.name],
            inject=inject,
            release=release,
        )


class PoolerHoldParams(_Params):
    sessions: int | None = Field(
        default=None, ge=1, le=100, description="Default: PgBouncer's pool size for the app."
    )


@FAULTS.register("hold_pooler")
class HoldPooler(Fault):
    """Clients of PgBouncer that open a transaction and sit in it (a worker that forgot to
    commit): in transaction mode each pins one server connection, so once the pool is
    taken every other client queues in PgBouncer (``cl_waiting``) while the database shows
    only a few idle transactions. ``RECONNECT`` does not help (it waits for the server
    connections to be released); ending the idle transactions does."""

    Params = PoolerHoldParams

    def plan(self, params: PoolerHoldParams, ctx: FaultContext) -> FaultPlan:
        rt = _runtime(ctx)
        bouncer = rt.rig.bouncer if rt.rig is not None else None
        if bouncer is None:
            raise FaultError(
                "no PgBouncer runs in front of the app (set app.pooler: pgbouncer; the "
                "binary must be installed: rlsguard doctor)"
            )
        name = holder_name(rt.run_id, "pooler-hold")
        n = params.sessions or int(bouncer.pool_size)
        conninfo = bouncer.conninfo(rt.target.dbname, "authenticator")

        def inject() -> dict[str, Any]:
            holders = [open_transaction(conninfo, name, "SELECT 1") for _ in range(n)]
            holder = holders[0]
            for more in holders[1:]:
                holder.conns.extend(more.conns)
            rt.state["pooler-hold"] = holder
            return {"sessions": n, "pool_size": bouncer.pool_size}

        def release(admin: Any) -> dict[str, Any]:
            holder = rt.state.pop("pooler-hold", None)
            return {"ended": holder.release(admin) if holder else 0}

        return FaultPlan(
            f"{n} PgBouncer client(s) idle in transaction pin its {bouncer.pool_size} server "
            "connection(s)",
            revert=[terminate_sql(name)],
            objects=[bouncer.name],
            inject=inject,
            release=release,
        )


class CrashParams(_Params):
    signal: Literal["SIGKILL"] = "SIGKILL"


@FAULTS.register("crash_server")
class CrashServer(Fault):
    """``kill -9`` of the postmaster under load. Only a server rlsguard started."""

    Params = CrashParams

    def plan(self, params: CrashParams, ctx: FaultContext) -> FaultPlan:
        rt = _runtime(ctx)
        server = rt.server
        if server is None or not getattr(server, "owned", False) or rt.target.kind != "local":
            raise DestructiveActionRefused(
                f"refusing to kill the server of {rt.target.name}: rlsguard did not start it. "
                "Crash drills run on a private local cluster only."
            )

        def inject() -> dict[str, Any]:
            pid = server.pid
            start = _start_time(pid)
            rt.state["crashed_at"] = time.perf_counter()
            server.kill()
            rt.state["crashed_pid"] = pid
            return {
                "postmaster_pid": pid,
                "processes": [{"kind": "postmaster", "pid": pid, "start": start}],
            }

        def release(admin: Any) -> dict[str, Any]:
            if server.is_running:
                return {"restarted": False}
            server.restart()
            rt.server_restarted()
            return {"restarted": True}

        return FaultPlan(
            f"postmaster of {rt.target.name} killed with {params.signal}",
            revert=[],  # the restart is in-process; an owned cluster dies with its run
            objects=[rt.target.name],
            inject=inject,
            release=release,
            disconnects=True,
        )


def _start_time(pid: int | None) -> int | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22): a pid
    and its start time name one process, even after the pid is reused."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None
