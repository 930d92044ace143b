"""One chaos item per scenario of fixtures/gameday, on a private cluster of this module.

Each drill runs on the manual clock (sleeping advances it), so budgets are asserted in ticks;
wall-clock TTD/TTR are the benchmark's business (bench/bench_gameday.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlsguard.clock import ManualClock
from rlsguard.config import load_config
from rlsguard.gameday.drill import Drill, DrillResult, Platform
from rlsguard.gameday.ledger import FileLedger
from rlsguard.gameday.report import postmortem, resolved_message, summary_doc
from rlsguard.gameday.run import platform_for
from rlsguard.gameday.scenario import load_scenario
from rlsguard.gameday.target import local_cluster, local_database
from rlsguard.stack.pgbouncer import discover_pgbouncer

ROOT = Path(__file__).parents[2]
SCENARIOS = sorted((ROOT / "fixtures" / "gameday").glob("*.yaml"))
# In the default run: the silent deny (only canaries and drift see it) and the revoked grant
# (the one the log rule sees). `pytest -m chaos` runs every scenario.
# redis-killed: the auth rig (Redis, SMTP, the auth service, synthetic sign-ins) end to end.
DEFAULT_RUN = {"using-false", "revoke-grant", "idle-in-transaction", "redis-killed"}


def _marks(stem: str) -> list[pytest.MarkDecorator]:
    return [] if stem in DEFAULT_RUN else [pytest.mark.slow]


PARAMS = [pytest.param(p, id=p.stem, marks=_marks(p.stem)) for p in SCENARIOS]

pytestmark = pytest.mark.chaos


@pytest.fixture(scope="module")
def private() -> Iterator[tuple[Any, Platform]]:
    """A cluster of this module's own, from the cached template (never the shared one)."""
    config = load_config(ROOT)
    with local_cluster(config) as engine:
        yield engine, platform_for(engine, config)


_RESULTS: dict[Path, tuple[DrillResult, Path]] = {}


def drill(private: tuple[Any, Platform], path: Path, tmp_path: Path) -> tuple[DrillResult, Path]:
    """The drill's result and its artifacts folder (a scenario runs once per worker)."""
    if path in _RESULTS:
        return _RESULTS[path]
    if path.stem.startswith("pgbouncer-") and discover_pgbouncer() is None:
        pytest.skip("pgbouncer is not installed (rlsguard doctor; apt-get install pgbouncer)")
    engine, platform = private
    clock = ManualClock()
    scenario = load_scenario(path)
    with local_database(engine, f"chaos_{scenario.name.replace('-', '_')}") as target:
        result = Drill(
            scenario,
            target,
            platform,
            ledger_file=tmp_path / "ledger.jsonl",
            clock=clock,
            sleep=clock.advance,
            artifacts=tmp_path / "artifacts",
        ).run()
    _RESULTS[path] = (result, tmp_path / "artifacts")
    return _RESULTS[path]


@pytest.mark.parametrize("path", PARAMS)
def test_drill(private: tuple[Any, Platform], path: Path, tmp_path: Path) -> None:
    result, _ = drill(private, path, tmp_path)
    spec = result.scenario.spec
    assert result.error is None
    # detected within budget, by every expected detector; the known gaps stayed silent
    fired = {n: f.message for n, f in result.fired.items()}
    assert result.detected, fired
    assert result.missing == [], fired
    assert result.ticks_to_detect is not None
    assert result.ticks_to_detect <= spec.budgets.detect_ticks
    assert result.gaps == spec.detection.silent
    assert result.surprises == []
    # recovered within budget; nothing lost, nothing left
    assert result.recovered
    assert result.ticks_to_recover is not None
    assert result.ticks_to_recover <= spec.budgets.recover_ticks
    assert result.data_ok, result.data_changes
    assert result.residue is not None
    assert result.residue.clean, result.residue.lines()
    assert result.ok
    assert FileLedger(tmp_path / "ledger.jsonl").outstanding() == []
    # the journal's order, and TTD/TTR computed from it (on the manual clock)
    j = result.journal
    kinds = [e.kind for e in j.events]
    order = ["fault.injected", "incident.declared", "remediation.step", "steady_state.regained"]
    assert [kinds.index(k) for k in order] == sorted(kinds.index(k) for k in order)
    injected, declared = j.first("fault.injected"), j.first("incident.declared")
    regained = j.first("steady_state.regained")
    assert injected is not None
    assert declared is not None
    assert regained is not None
    assert j.summary["ttd_s"] == round(declared.t - injected.t, 6)
    assert j.summary["ttr_s"] == round(regained.t - injected.t, 6)
    assert j.summary["ttd_s"] <= spec.budgets.detect_ticks * spec.budgets.tick_s
    # the post-mortem is the journal's: every event on its timeline, in order
    text = postmortem(result)
    positions = [text.index(f"`{e.kind}` {e.message}") for e in j.events]
    assert positions == sorted(positions)
    assert spec.root_cause in resolved_message(result)


def test_the_silent_deny_is_reported_as_a_detection_gap(
    private: tuple[Any, Platform], tmp_path: Path
) -> None:
    result, artifacts = drill(private, ROOT / "fixtures" / "gameday" / "using-false.yaml", tmp_path)
    doc = summary_doc([result])
    assert any(
        "raises no error, so log-based alerting" in g and "never fires" in g and "canary" in g
        for g in doc["detection_gaps"]
    )
    assert "log-detection-blind-to-silent-deny" in doc["defects"]
    # the rollback is named to sort after every migration (the runbook's does not)
    (step,) = [s for s in result.remedy_steps if s.get("filename")]
    versions = [*private[1].project_versions, step["sorts_after"]]
    assert step["filename"].split("_")[0] > max(versions)
    assert (artifacts / step["filename"]).read_text().count("CREATE POLICY") == 1


def test_a_steady_state_that_does_not_hold_stops_the_drill_before_any_fault(
    private: tuple[Any, Platform], tmp_path: Path
) -> None:
    engine, platform = private
    scenario = load_scenario(ROOT / "fixtures" / "gameday" / "using-true.yaml")
    with local_database(engine, "chaos_not_steady") as target:
        with target.connect() as conn:  # already broken before the drill
            conn.execute("alter table public.submissions disable row level security")
        clock = ManualClock()
        result = Drill(
            scenario, target, platform, ledger_file=tmp_path / "l.jsonl", clock=clock,
            sleep=clock.advance,
        ).run()  # fmt: skip
        with target.connect() as conn:
            rls = conn.execute(
                "select relrowsecurity from pg_class where oid = 'public.submissions'::regclass"
            ).fetchone()
            still = conn.execute(
                "select count(*) from pg_policies where policyname = 'staff_notes_select_admin' "
                "and qual <> 'true'"
            ).fetchone()
    assert result.error is not None
    assert "steady state does not hold before the fault" in result.error
    assert not result.ok
    assert result.journal.first("fault.injected") is None
    assert not (tmp_path / "l.jsonl").exists()  # nothing was ledgered: nothing was injected
    assert rls == (False,)  # the drill did not "fix" what it did not break
    assert still == (1,)


def test_the_report_says_what_the_runbooks_kill_query_would_have_missed(
    private: tuple[Any, Platform], tmp_path: Path
) -> None:
    result, _ = drill(private, ROOT / "fixtures" / "gameday" / "idle-in-transaction.yaml", tmp_path)
    (step,) = [s for s in result.remedy_steps if "runbook_missed" in s]
    assert step["runbook_would_end"] == 0
    assert step["ended"] >= 1
    assert any(k.endswith("/idle in transaction") for k in step["runbook_missed"])
    assert "kill-idle-misses-idle-in-transaction" in summary_doc([result])["defects"]
    # what the users saw, from the journal: 504s (lock timeout) in the app's own log too
    assert result.app["errors"] >= 1
    assert result.app["log_errors"].get("lock_timeout", 0) >= 1
    text = postmortem(result)
    assert "## What the app's users saw" in text
    series = result.journal.first("app.timeline")
    assert series is not None
    assert any(p["errors"] for p in series.data["series"])


@pytest.mark.slow
def test_pg_stat_statements_names_the_slow_function_or_says_unavailable(
    private: tuple[Any, Platform], tmp_path: Path
) -> None:
    result, _ = drill(private, ROOT / "fixtures" / "gameday" / "slow-function.yaml", tmp_path)
    engine, _ = private
    server = getattr(engine.prepared, "server", None)
    if server is None or "pg_stat_statements" not in server.binaries.available_extensions():
        assert "pg_stat_statements" in result.unavailable
        return
    assert "pg_stat_statements" not in result.unavailable
    firing = result.fired["pg_stat_statements"]
    assert "class_average" in firing.message
    assert firing.data["statements"][0]["mean_ms"] >= 300
