"""Section-2 faults that can be judged without a server: texts, definitions, refusals."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from rlsguard.errors import DestructiveActionRefused
from rlsguard.gameday.dbfaults import (
    CrashParams,
    CrashServer,
    HoldPooler,
    PoolerHoldParams,
    if_not_exists,
    refusal_message,
    slowed_definition,
)
from rlsguard.gameday.faults import FaultContext, FaultError
from rlsguard.gameday.holders import refused_code, refused_message, terminate_sql
from rlsguard.gameday.rig import Runtime
from rlsguard.gameday.scenario import load_scenarios
from rlsguard.gameday.target import Target
from rlsguard.policy.snapshot import Snapshot

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(
    ("major", "su", "reserved", "text"),
    [
        (
            15,
            3,
            0,
            "remaining connection slots are reserved for non-replication superuser connections",
        ),
        (
            16,
            3,
            0,
            "remaining connection slots are reserved for roles with the SUPERUSER attribute",
        ),
        (17, 3, 2, 'privileges of the "pg_use_reserved_connections" role'),
        (16, 0, 0, "sorry, too many clients already"),
    ],
)
def test_the_53300_text_follows_the_version(major: int, su: int, reserved: int, text: str) -> None:
    assert text in refusal_message(major, su, reserved)


def test_a_refused_connection_is_recognised_by_its_text() -> None:
    exc = psycopg.OperationalError(
        'connection failed: connection to server on socket "/x" failed: FATAL:  '
        "remaining connection slots are reserved for non-replication superuser connections"
    )
    assert refused_code(exc) == "53300"
    assert refused_message(exc).startswith("remaining connection slots")
    assert refused_code(psycopg.OperationalError("connection refused")) is None


def test_the_undo_ends_only_the_named_sessions() -> None:
    sql = terminate_sql("rlsguard-chaos:abc:hold")
    assert "application_name = 'rlsguard-chaos:abc:hold'" in sql
    assert "like" not in sql.lower()


SQL_DEF = """CREATE OR REPLACE FUNCTION public.f(p uuid)
 RETURNS numeric
 LANGUAGE sql
AS $function$
  select 1
$function$
"""


def test_a_sql_function_sleeps_first_and_keeps_its_result() -> None:
    out = slowed_definition(SQL_DEF, "sql", 0.5)
    body = out.split("AS $function$", 1)[1]
    assert body.index("pg_catalog.pg_sleep(0.5);") < body.index("select 1")
    assert out.startswith("CREATE OR REPLACE FUNCTION public.f(p uuid)")


def test_a_plpgsql_function_sleeps_after_begin() -> None:
    text = SQL_DEF.replace("sql", "plpgsql").replace("select 1", "BEGIN RETURN 1; END")
    out = slowed_definition(text, "plpgsql", 2)
    assert "BEGIN\n  PERFORM pg_catalog.pg_sleep(2); RETURN 1;" in out


def test_other_languages_are_refused() -> None:
    with pytest.raises(FaultError, match="cannot be slowed"):
        slowed_definition(SQL_DEF, "c", 1)


def test_a_crash_is_refused_on_a_server_rlsguard_did_not_start() -> None:
    target = Target("db.example:5432/app", "dsn", "app", "host=db.example", destructive=True)
    runtime = Runtime(target, "run1", admin=lambda: None)  # type: ignore[arg-type,return-value]
    ctx = FaultContext(Snapshot({}, "b"), "app", ROOT, runtime=runtime)
    with pytest.raises(DestructiveActionRefused, match="did not start it"):
        CrashServer().plan(CrashParams(), ctx)


def test_holding_the_poolers_pool_needs_a_pgbouncer() -> None:
    target = Target("local", "local", "app", "host=/tmp", destructive=True)
    runtime = Runtime(target, "run1", admin=lambda: None)  # type: ignore[arg-type,return-value]
    ctx = FaultContext(Snapshot({}, "b"), "app", ROOT, runtime=runtime)
    with pytest.raises(FaultError, match="no PgBouncer runs in front of the app"):
        HoldPooler().plan(PoolerHoldParams(), ctx)


def test_every_section_2_fault_has_a_scenario() -> None:
    scenarios = load_scenarios([ROOT / "fixtures" / "gameday"])
    kinds = {s.spec.fault.kind for s in scenarios if s.spec.app is not None}
    assert kinds == {
        "hold_connections", "leak_pool", "idle_in_transaction", "long_transaction",
        "slow_function", "drop_index", "crash_server", "pgbouncer_down", "hold_pooler",
    }  # fmt: skip
    names = {s.name for s in scenarios}
    assert {
        "connection-exhaustion",
        "pool-leak",
        "idle-in-transaction",
        "long-transaction",
        "slow-function",
        "missing-index",
        "statement-timeout",
        "server-crash",
        "pgbouncer-pool-exhausted",
    } <= names


def test_database_drills_are_skipped_on_a_dsn_target(tmp_path: Path) -> None:
    from rlsguard.config import load_config
    from rlsguard.gameday.run import GameDay, run_gameday
    from rlsguard.gameday.scenario import load_scenario

    skipped: list[tuple[str, str]] = []
    day = GameDay(
        load_config(ROOT),
        [load_scenario(ROOT / "fixtures" / "gameday" / "pool-leak.yaml")],
        dsn="host=127.0.0.1 port=1 dbname=app",
        target_name="127.0.0.1:1/app",
        ledger=tmp_path / "l.jsonl",
        on_skip=lambda s, why: skipped.append((s.name, why)),
    )
    assert run_gameday(day) == []
    assert skipped == [("pool-leak", skipped[0][1])]
    assert "without --dsn" in skipped[0][1]


def test_the_index_undo_is_its_own_definition_made_idempotent() -> None:
    indexdef = "CREATE INDEX assignments_class_idx ON public.assignments USING btree (class_id)"
    assert if_not_exists(indexdef) == (
        "CREATE INDEX IF NOT EXISTS assignments_class_idx ON public.assignments "
        "USING btree (class_id)"
    )
    assert if_not_exists(indexdef, concurrently=True).startswith(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS assignments_class_idx"
    )
    unique = "CREATE UNIQUE INDEX u ON public.t USING btree (a)"
    assert (
        if_not_exists(unique) == "CREATE UNIQUE INDEX IF NOT EXISTS u ON public.t USING btree (a)"
    )
    with pytest.raises(FaultError):
        if_not_exists("ALTER TABLE t ADD COLUMN c int")
