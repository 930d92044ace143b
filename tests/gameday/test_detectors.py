"""Detectors judge observations on the injected clock: "fires within K ticks", no sleeping."""

from __future__ import annotations

from rlsguard.clock import ManualClock
from rlsguard.gameday.detectors import AuthErrors, Canary, Drift, Observation, PgLogRate
from rlsguard.gameday.probes import AuthAttempt, CanaryFailure, CanaryRun
from rlsguard.policy.diff import Change
from rlsguard.stack.pglog import LogRecord


def denied(n: int, db: str = "app") -> list[LogRecord]:
    return [
        LogRecord("ERROR", "permission denied for table classes", "42501", dbname=db)
        for _ in range(n)
    ]


def test_the_log_rule_fires_on_11_errors_in_the_window_and_not_on_10() -> None:
    clock = ManualClock()
    rule = PgLogRate({"window_s": 60, "threshold": 10})
    assert rule.check(Observation(clock.now(), log=denied(10))) is None
    clock.advance(59)
    firing = rule.check(Observation(clock.now(), log=denied(1)))
    assert firing is not None
    assert firing.data["count"] == 11


def test_errors_leave_the_sliding_window() -> None:
    clock = ManualClock()
    rule = PgLogRate({"window_s": 5, "threshold": 10})
    assert rule.check(Observation(clock.now(), log=denied(10))) is None
    clock.advance(5)  # the first ten are now outside the window
    assert rule.check(Observation(clock.now(), log=denied(10))) is None


def test_only_the_excess_over_the_steady_state_counts() -> None:
    clock = ManualClock()
    rule = PgLogRate({"window_s": 5, "threshold": 10})
    rule.calibrate(denied(8))  # healthy traffic: eight refusals each round
    for _ in range(3):
        assert rule.check(Observation(clock.now(), log=denied(8))) is None
        clock.advance(1)
    fired_at = None
    for tick in range(1, 10):
        if rule.check(Observation(clock.now(), log=denied(12))):  # 4 more per round
            fired_at = tick
            break
        clock.advance(1)
    assert fired_at == 3  # 4 + 4 + 4 > 10: within 3 ticks


def test_other_databases_and_other_errors_do_not_count() -> None:
    rule = PgLogRate({"window_s": 5, "threshold": 0, "dbname": "app"})
    other = [LogRecord("ERROR", "deadlock detected", "40P01", dbname="app")]
    assert rule.check(Observation(0, log=denied(3, db="elsewhere") + other)) is None
    assert rule.check(Observation(0, log=denied(1))) is not None


def test_the_canary_names_personas_tables_and_kinds() -> None:
    run = CanaryRun(
        10,
        (CanaryFailure("student-public.classes-select", "student", "public.classes", "select",
                       ("missing",), "0 of 2 rows"),),
    )  # fmt: skip
    firing = Canary().check(Observation(0, canaries=run))
    assert firing is not None
    assert firing.data["personas"] == ["student"]
    assert "1 of 10 canary requests fail (missing) for student on public.classes" in firing.message
    assert Canary().check(Observation(0, canaries=CanaryRun(10, ()))) is None


def test_drift_names_the_change_and_its_culprit() -> None:
    change = Change("narrows", "policy.using", "public.classes", ("tables",), "USING changed")
    obs = Observation(0, drift=[change], blame={"public.classes": "migration 2026"})
    firing = Drift().check(obs)
    assert firing is not None
    assert firing.message.endswith("USING changed (migration 2026)")
    assert Drift().check(Observation(0, drift=[])) is None


def test_auth_errors_fire_on_any_rejected_token_by_default() -> None:
    ok = [AuthAttempt("student", True), AuthAttempt("teacher", True)]
    assert AuthErrors().check(Observation(0, auth=ok)) is None
    bad = [*ok, AuthAttempt("admin", False, "JWT rejected: Signature verification failed")]
    firing = AuthErrors().check(Observation(0, auth=bad))
    assert firing is not None
    assert firing.data["personas"] == ["admin"]
    assert AuthErrors({"max_error_ratio": 0.5}).check(Observation(0, auth=bad)) is None
