"""What a database drill reads from the server each tick: ``pg_stat_activity`` against the
connection limits (the runbook's query, per database and per state), idle transactions and
lock waits with their ages. It queries; the detectors judge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg.sql
from psycopg.rows import dict_row

RUNBOOK_QUERY = "SELECT datname, count(*) FROM pg_stat_activity GROUP BY datname;"


@dataclass
class Activity:
    max_connections: int
    superuser_reserved: int
    clients: int  # client backends, the observer excluded
    by_database: dict[str, int] = field(default_factory=dict)  # the runbook's query
    by_state: dict[str, int] = field(default_factory=dict)  # "db/state" -> count
    idle_in_transaction: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)  # waiting on a lock
    active: list[dict[str, Any]] = field(default_factory=list)  # running queries with ages

    @property
    def saturation(self) -> float:
        return self.clients / self.max_connections if self.max_connections else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_connections": self.max_connections,
            "superuser_reserved": self.superuser_reserved,
            "clients": self.clients,
            "saturation": round(self.saturation, 3),
            "by_database": self.by_database,
            "by_state": self.by_state,
        }


def activity(conn: psycopg.Connection[Any]) -> Activity:
    """One round trip per question; ages measured by the server (``now()`` is the
    transaction's, so ``clock_timestamp()``)."""
    limits = dict(
        conn.execute(
            "select name, setting::int from pg_settings "
            "where name in ('max_connections', 'superuser_reserved_connections')"
        ).fetchall()
    )
    cur = conn.cursor(row_factory=dict_row)
    rows = cur.execute(
        "select pid, coalesce(datname, '') as datname, coalesce(state, '') as state, "
        "application_name, usename, wait_event_type, left(query, 200) as query, "
        "extract(epoch from clock_timestamp() - state_change)::float8 as state_age_s, "
        "extract(epoch from clock_timestamp() - xact_start)::float8 as xact_age_s, "
        "extract(epoch from clock_timestamp() - query_start)::float8 as query_age_s, "
        "extract(epoch from state_change)::float8 as state_since, "
        "extract(epoch from query_start)::float8 as query_since, "
        "pg_blocking_pids(pid) as blocked_by "
        "from pg_stat_activity where backend_type = 'client backend' "
        "and pid <> pg_backend_pid()"
    ).fetchall()
    out = Activity(
        limits.get("max_connections", 0), limits.get("superuser_reserved_connections", 0), len(rows)
    )
    for r in rows:
        out.by_database[r["datname"]] = out.by_database.get(r["datname"], 0) + 1
        key = f"{r['datname']}/{r['state'] or 'unknown'}"
        out.by_state[key] = out.by_state.get(key, 0) + 1
        brief = {
            k: r[k] for k in ("pid", "datname", "state", "application_name", "usename", "query")
        }
        # "since" (server epoch) names one state or query of one backend: the detectors
        # also age it on the drill's clock, from the tick that first saw it.
        if r["state"].startswith("idle in transaction"):
            out.idle_in_transaction.append(
                {**brief, "age_s": r["state_age_s"] or 0.0, "since": r["state_since"]}
            )
        if r["blocked_by"]:
            out.waiting.append(
                {
                    **brief,
                    "age_s": r["query_age_s"] or 0.0,
                    "since": r["query_since"],
                    "blocked_by": list(r["blocked_by"]),
                }
            )
        if r["state"] == "active":
            out.active.append(
                {**brief, "age_s": r["query_age_s"] or 0.0, "since": r["query_since"]}
            )
    return out


STATEMENTS_QUERY = (
    "select s.userid::text || ':' || s.queryid::text as queryid, left(s.query, 300) as query, "
    "s.calls, s.total_exec_time::float8 as total_ms, s.max_exec_time::float8 as max_ms, "
    "(s.shared_blks_hit + s.shared_blks_read)::bigint as blocks "
    "from {schema}.pg_stat_statements s "
    "where s.queryid is not null "
    "and s.dbid = (select oid from pg_database where datname = current_database())"
)
NOT_MINE = " and s.userid <> (select oid from pg_roles where rolname = current_user)"


def statements(
    conn: psycopg.Connection[Any], *, create: bool = False, others_only: bool = False
) -> dict[str, Any] | None:
    """Per-statement counters from ``pg_stat_statements`` for this database only, keyed by
    user and queryid (a queryid alone is the same text in every database of the cluster, so
    another drill's rows would hide this one's); None when the extension is not there or
    not preloaded (then its detector is *unavailable*, not missing). ``create``: install it
    in this database - only on a cluster the run owns. ``others_only``: leave out the
    caller's own statements (a drill's fault setup is not the system's workload)."""
    try:
        schema = _statements_schema(conn)
        if schema is None and create:
            with conn.transaction():
                conn.execute("create extension if not exists pg_stat_statements")
            schema = _statements_schema(conn)
        if schema is None:
            return None
        text = STATEMENTS_QUERY + (NOT_MINE if others_only else "")
        query = psycopg.sql.SQL(text.replace("{schema}", "{}")).format(
            psycopg.sql.Identifier(schema)
        )
        with conn.transaction():
            rows = conn.cursor(row_factory=dict_row).execute(query).fetchall()
    except psycopg.Error:
        # Not preloaded ("must be loaded via shared_preload_libraries"), not installable, or
        # a server older than 13 (mean_time, not mean_exec_time): unavailable.
        return None
    return {r["queryid"]: r for r in rows}


def _statements_schema(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute(
        "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace "
        "where e.extname = 'pg_stat_statements'"
    ).fetchone()
    return str(row[0]) if row else None
