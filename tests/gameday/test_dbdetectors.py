"""Section-2 detectors judge observations on the injected clock; no server, no sleeping."""

from __future__ import annotations

from rlsguard.clock import ManualClock
from rlsguard.gameday.dbdetectors import (
    AppErrors,
    AppLatency,
    Connections,
    Health,
    IdleTransactions,
    LockWaits,
    LongQueries,
    PgErrors,
    SlowStatements,
    StatementStats,
)
from rlsguard.gameday.dbprobes import Activity
from rlsguard.gameday.detectors import Observation
from rlsguard.refapp.users import Window
from rlsguard.stack.pglog import LogRecord


def activity(clients: int, **more: object) -> Activity:
    return Activity(100, 3, clients, **more)  # type: ignore[arg-type]


def test_saturation_fires_at_the_ratio_and_not_below() -> None:
    rule = Connections({"ratio": 0.8})
    assert rule.check(Observation(0, activity=activity(79))) is None
    firing = rule.check(Observation(0, activity=activity(97, by_database={"app": 97})))
    assert firing is not None
    assert "97 of 100" in firing.message
    assert firing.data["by_database"] == {"app": 97}


def test_idle_transactions_fire_on_age_only() -> None:
    young = {"pid": 7, "datname": "app", "age_s": 0.1}
    old = {"pid": 8, "datname": "app", "age_s": 3.0}
    rule = IdleTransactions({"min_age_s": 0.5})
    assert rule.check(Observation(0, activity=activity(2, idle_in_transaction=[young]))) is None
    firing = rule.check(Observation(0, activity=activity(2, idle_in_transaction=[young, old])))
    assert firing is not None
    assert "pid 8" in firing.message
    assert firing.data["sessions"] == [old]


def test_lock_waits_name_the_blockers() -> None:
    waiting = [{"pid": 9, "blocked_by": [8]}, {"pid": 10, "blocked_by": [8]}]
    firing = LockWaits().check(Observation(0, activity=activity(3, waiting=waiting)))
    assert firing is not None
    assert firing.data["blockers"] == [8]
    assert LockWaits().check(Observation(0, activity=activity(3))) is None


def test_long_queries_use_the_threshold() -> None:
    q = {"pid": 1, "age_s": 0.9, "query": "select pg_sleep(10)"}
    assert (
        LongQueries({"min_age_s": 1.0}).check(Observation(0, activity=activity(1, active=[q])))
        is None
    )
    assert LongQueries({"min_age_s": 0.5}).check(Observation(0, activity=activity(1, active=[q])))


def refused(n: int, code: str = "53300") -> list[LogRecord]:
    return [LogRecord("FATAL", "sorry, too many clients already", code) for _ in range(n)]


def test_error_codes_count_in_a_window_of_the_clock() -> None:
    clock = ManualClock()
    rule = PgErrors({"codes": ["53300"], "window_s": 5, "threshold": 3})
    assert rule.check(Observation(clock.now(), serverlog=refused(2))) is None
    clock.advance(5)  # the first two leave the window
    assert rule.check(Observation(clock.now(), serverlog=refused(2))) is None
    clock.advance(1)
    firing = rule.check(Observation(clock.now(), serverlog=refused(1)))
    assert firing is not None
    assert firing.data["counts"] == {"53300": 3}
    assert "too_many_connections" in firing.message


def test_other_codes_and_levels_do_not_count() -> None:
    rule = PgErrors({"codes": ["57014"], "threshold": 1})
    noise = [*refused(5), LogRecord("LOG", "canceling statement", "57014")]
    assert rule.check(Observation(0, serverlog=noise)) is None


def test_slow_statements_read_duration_lines() -> None:
    rule = SlowStatements({"min_ms": 300})
    fast = LogRecord("LOG", "duration: 12.5 ms  statement: select 1")
    slow = LogRecord("LOG", "duration: 412.0 ms  execute <unnamed>: select class_average($1)")
    assert rule.check(Observation(0, serverlog=[fast])) is None
    firing = rule.check(Observation(1, serverlog=[fast, slow]))
    assert firing is not None
    assert "412.0 ms" in firing.message


def window(requests: int, errors: int, p95: float | None = 20.0) -> Window:
    by_status = {200: requests - errors} if errors == 0 else {200: requests - errors, 503: errors}
    return Window(0, 1, requests, errors, by_status, p95)


def test_app_errors_need_requests_and_the_ratio() -> None:
    rule = AppErrors({"ratio": 0.2})
    assert rule.check(Observation(0, app=window(0, 0))) is None
    assert rule.check(Observation(0, app=window(10, 1))) is None
    firing = rule.check(Observation(0, app=window(10, 3)))
    assert firing is not None
    assert "3 x 503" in firing.message


def test_app_latency_fires_on_p95() -> None:
    assert AppLatency({"p95_ms": 300}).check(Observation(0, app=window(10, 0, 250.0))) is None
    assert AppLatency({"p95_ms": 300}).check(Observation(0, app=window(10, 0, 450.0)))


def test_health_separates_the_database_from_the_pool() -> None:
    ok = {"status": 200, "database": {"ok": True}, "pool": {"saturation": 0.25}}
    assert Health().check(Observation(0, health=ok)) is None
    pool = {
        "status": 503,
        "database": {"ok": True},
        "pool": {"saturation": 1.0, "in_use": 4, "max": 4},
    }
    firing = Health().check(Observation(0, health=pool))
    assert firing is not None
    assert "pool saturated" in firing.message
    assert "database" not in firing.message.split(":", 1)[1]
    down = {"status": 503, "database": {"ok": False, "sqlstate": "53300", "error": "x"}, "pool": {}}
    firing = Health().check(Observation(0, health=down))
    assert firing is not None
    assert "database unreachable (53300" in firing.message


def stats(calls: int, total_ms: float, query: str = "select public.class_average($1)") -> dict:
    return {
        "q1": {
            "queryid": "q1",
            "query": query,
            "calls": calls,
            "total_ms": total_ms,
            "max_ms": total_ms,
        }
    }


def test_statement_stats_judge_the_calls_since_the_last_look() -> None:
    rule = StatementStats({"min_ms": 300})
    rule.calibrate(stats(100, 1000.0))  # 10 ms a call before the fault
    # 2 calls since: 800 ms in all -> 400 ms each (the lifetime mean is only ~17 ms)
    firing = rule.check(Observation(1, statements=stats(102, 1800.0)))
    assert firing is not None
    assert "class_average" in firing.message
    assert firing.data["statements"][0] == {
        "queryid": "q1",
        "query": "select public.class_average($1)",
        "calls": 2,
        "mean_ms": 400.0,
        "max_ms": 1800.0,
    }
    # not run since: no verdict from old counters
    assert rule.check(Observation(2, statements=stats(102, 1800.0))) is None
    # fast again
    assert rule.check(Observation(3, statements=stats(112, 1900.0))) is None


def test_statement_stats_need_a_baseline() -> None:
    rule = StatementStats({"min_ms": 300})
    assert rule.check(Observation(0, statements=stats(1, 5000.0))) is None  # becomes the base
    assert rule.check(Observation(1, statements=stats(2, 10000.0))) is not None
    assert not StatementStats().available(Observation(0))  # extension missing: unavailable
