"""Section-2 detectors judge observations on the injected clock; no server, no sleeping."""

from __future__ import annotations

import pytest

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
    PoolerWaiting,
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


def stats(
    calls: int, total_ms: float, query: str = "select public.class_average($1)", blocks: int = 0
) -> dict:
    return {
        "q1": {
            "queryid": "q1",
            "query": query,
            "calls": calls,
            "total_ms": total_ms,
            "max_ms": total_ms,
            "blocks": blocks,
        }
    }


def test_statement_stats_judge_every_call_since_the_steady_state() -> None:
    rule = StatementStats({"min_ms": 300})
    rule.calibrate(stats(100, 1000.0))  # 10 ms a call before the fault
    # 2 calls since: 800 ms in all -> 400 ms each (the lifetime mean is only ~17 ms)
    firing = rule.check(Observation(1, statements=stats(102, 1800.0)))
    assert firing is not None
    assert "class_average" in firing.message
    (slow,) = firing.data["statements"]
    assert (slow["calls"], slow["mean_ms"], slow["steady_mean_ms"]) == (2, 400.0, 10.0)
    assert slow["why"] == ["mean 400 ms"]
    # cumulative: a later tick with no new call still holds the evidence
    assert rule.check(Observation(2, statements=stats(102, 1800.0))) is not None


def test_statement_stats_are_not_diluted_by_a_quiet_tick() -> None:
    """Per-tick deltas could miss a slow call that finished between two looks alongside
    fast ones; the counters since the steady state cannot."""
    rule = StatementStats({"min_ms": 300})
    rule.calibrate(stats(100, 1000.0))
    assert rule.check(Observation(1, statements=stats(101, 1010.0))) is None  # one fast call
    firing = rule.check(Observation(2, statements=stats(103, 2010.0)))  # then 2 x 500 ms
    assert firing is not None
    assert firing.data["statements"][0]["calls"] == 3


def test_statement_stats_by_buffers_ignore_the_machines_speed() -> None:
    """A lost index: the same statement touches 500x the buffers per call, however fast or
    slow the machine runs it."""
    rule = StatementStats({"min_ms": None, "blocks_ratio": 20, "min_blocks": 200})
    start = stats(50, 40.0, "select * from assignments where class_id = $1", blocks=400)
    end = stats(60, 44.0, "select * from assignments where class_id = $1", blocks=480)
    rule.calibrate(end, start)  # 10 steady calls: 8 buffers each
    same = stats(70, 48.0, "select * from assignments where class_id = $1", blocks=560)
    assert rule.check(Observation(1, statements=same)) is None
    heavy = stats(72, 52.0, "select * from assignments where class_id = $1", blocks=8570)
    firing = rule.check(Observation(2, statements=heavy))
    assert firing is not None  # 8090 buffers over 12 calls since: 674 a call, 84x
    (slow,) = firing.data["statements"]
    assert slow["steady_blocks_per_call"] == 8.0
    assert "buffers a call" in slow["why"][0]
    assert "mean" not in " ".join(slow["why"])  # 0.7 ms a call: not slow by time


def test_statement_stats_by_ratio_compare_with_the_statements_own_steady_mean() -> None:
    rule = StatementStats({"min_ms": None, "ratio": 10, "floor_ms": 5})
    rule.calibrate(stats(20, 10.0), stats(10, 5.0))  # 0.5 ms a call in the steady window
    assert rule.check(Observation(1, statements=stats(21, 14.0))) is None  # 4 ms: floor
    firing = rule.check(Observation(2, statements=stats(22, 40.0)))  # 15 ms a call: 30x
    assert firing is not None
    assert "30x the steady state's" in firing.message


def test_statement_stats_need_a_baseline() -> None:
    rule = StatementStats({"min_ms": 300})
    assert rule.check(Observation(0, statements=stats(1, 5000.0))) is None  # becomes the base
    assert rule.check(Observation(1, statements=stats(2, 10000.0))) is not None
    assert not StatementStats().available(Observation(0))  # extension missing: unavailable


def test_lock_waits_are_read_from_the_log_when_no_sample_catches_one() -> None:
    """Requests that give up at lock_timeout can all fall between two samples of
    pg_stat_activity; log_lock_waits wrote each of them down."""
    rule = LockWaits({"dbname": "app"})
    wait = LogRecord(
        "LOG",
        "process 4242 still waiting for AccessShareLock on relation 16863 of database 17081 "
        "after 50.118 ms",
        "00000",
        detail="Process holding the lock: 4100. Wait queue: 4242.",
        dbname="app",
    )
    other_db = LogRecord(wait.severity, wait.message, "00000", detail=wait.detail, dbname="x")
    assert rule.check(Observation(0, activity=activity(3), serverlog=[other_db])) is None
    firing = rule.check(Observation(1, activity=activity(3), serverlog=[wait]))
    assert firing is not None
    assert firing.data["source"] == "log_lock_waits"
    assert firing.data["blockers"] == [4100]
    assert "held by pid(s) 4100" in firing.message
    # a waiter seen now is named by pg_blocking_pids
    now = LockWaits().check(
        Observation(2, activity=activity(3, waiting=[{"pid": 9, "blocked_by": [8]}]))
    )
    assert now is not None
    assert now.data["source"] == "pg_blocking_pids"


def test_ages_grow_on_the_drills_clock_too() -> None:
    """A session seen at one tick and still there at the next is older by the ticks, even
    when the machine ran them faster than the clock says (a test's manual clock)."""
    clock = ManualClock()
    rule = LongQueries({"min_age_s": 0.5})
    q = {"pid": 1, "age_s": 0.01, "since": 1000.0, "query": "select pg_sleep(3600)"}
    assert rule.check(Observation(clock.now(), activity=activity(1, active=[q]))) is None
    clock.advance(0.3)
    assert rule.check(Observation(clock.now(), activity=activity(1, active=[q]))) is None
    clock.advance(0.3)
    firing = rule.check(Observation(clock.now(), activity=activity(1, active=[q])))
    assert firing is not None
    assert firing.data["queries"][0]["age_s"] == pytest.approx(0.6)
    # another query on the same backend starts young again
    fresh = {**q, "since": 1001.0}
    assert rule.check(Observation(clock.now(), activity=activity(1, active=[fresh]))) is None
    idle = IdleTransactions({"min_age_s": 0.2})
    tx = {"pid": 5, "age_s": 0.0, "since": 7.0, "datname": "app"}
    assert (
        idle.check(Observation(clock.now(), activity=activity(1, idle_in_transaction=[tx]))) is None
    )
    clock.advance(0.3)
    assert idle.check(Observation(clock.now(), activity=activity(1, idle_in_transaction=[tx])))


def test_slow_statements_by_ratio_compare_each_statement_with_its_steady_median() -> None:
    rule = SlowStatements({"min_ms": None, "ratio": 10, "floor_ms": 5, "threshold": 2})

    def line(ms: float, name: str = "_pg3_2", q: str = "select * from a where c = $1") -> LogRecord:
        return LogRecord("LOG", f"duration: {ms} ms  execute {name}: {q}")

    rule.calibrate(
        [line(0.4), line(0.5, "_pg3_7"), line(0.6), line(3.0, q="select 1"),
         LogRecord("LOG", "duration: 0.1 ms  parse <unnamed>: select * from a where c = $1")]
    )  # fmt: skip
    assert rule.steady == {"select * from a where c = $1": 0.5, "select 1": 3.0}
    # 4 ms: over 10x but under the floor; 20 ms of "select 1": under 10x its own median
    assert rule.check(Observation(0, serverlog=[line(4.0), line(20.0, q="select 1")])) is None
    firing = rule.check(Observation(1, serverlog=[line(26.5, "_pg3_9"), line(31.0)]))
    assert firing is not None
    assert "10x their steady-state median" in firing.message
    assert "31.0 ms" in firing.message


def paths(**latencies: list[float]) -> Window:
    by_path = {f"/rest/v1/{k}": v for k, v in latencies.items()}
    n = sum(len(v) for v in by_path.values())
    return Window(
        0, 1, n, 0, {200: n}, max((x for v in by_path.values() for x in v), default=None), by_path
    )


def test_app_latency_by_ratio_compares_each_endpoint_with_its_steady_median() -> None:
    rule = AppLatency({"ratio": 2, "p95_ms": 10})
    # a scheduling hiccup in the steady state (40 ms) does not move the median
    rule.calibrate(paths(classes=[4.0, 5.0, 40.0], assignments=[5.0, 6.0, 6.0]))
    assert rule.steady == {"/rest/v1/classes": 5.0, "/rest/v1/assignments": 6.0}
    # one slow answer is not a median yet; nor is a hiccup on a fast endpoint
    assert rule.check(Observation(0, app=paths(classes=[45.0], assignments=[30.0]))) is None
    assert rule.check(Observation(1, app=paths(classes=[5.0], assignments=[33.0]))) is None
    firing = rule.check(Observation(2, app=paths(classes=[5.0], assignments=[36.0])))
    assert firing is not None  # assignments: median of [30, 33, 36] = 33 ms, 5.5x
    assert "/rest/v1/assignments answers in 33 ms" in firing.message
    assert "5.5x the steady state's 6 ms" in firing.message
    assert [e["path"] for e in firing.data["endpoints"]] == ["/rest/v1/assignments"]
    fast = AppLatency({"ratio": 2, "p95_ms": 10})
    fast.calibrate(paths(assignments=[1.0, 1.0]))  # the floor holds on a very fast machine
    assert fast.check(Observation(0, app=paths(assignments=[4.0, 4.0, 4.0]))) is None


def test_pooler_waiting_reads_show_pools_for_the_drills_database() -> None:
    def pool(db: str, waiting: int, maxwait: int = 0) -> dict:
        return {
            "database": db, "user": "authenticator", "cl_active": 4, "cl_waiting": waiting,
            "sv_active": 4, "sv_idle": 0, "maxwait": maxwait, "maxwait_us": 500000,
            "pool_mode": "transaction",
        }  # fmt: skip

    rule = PoolerWaiting({"dbname": "app"})
    assert rule.check(Observation(0, pooler=[pool("app", 0), pool("other", 3)])) is None
    assert rule.check(Observation(0, pooler=[pool("pgbouncer", 2)])) is None  # the console
    firing = rule.check(Observation(1, pooler=[pool("app", 2, maxwait=1), pool("other", 3)]))
    assert firing is not None
    assert firing.data["waiting"] == 2
    assert "2 client(s) waiting in PgBouncer" in firing.message
    assert "longest wait 1.5 s" in firing.message
    assert not PoolerWaiting().available(Observation(0))  # no PgBouncer: unavailable
