from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlsguard.clock import ManualClock
from rlsguard.journal import Journal, JournalDocument, Step
from rlsguard.journal.model import json_schema_text

DOCS = Path(__file__).parents[2] / "docs"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def started(self, name: str, title: str) -> None:
        self.calls.append(("started", name))

    def finished(self, step: Step) -> None:
        self.calls.append(("finished", f"{step.name}:{step.status}"))


def test_the_committed_schema_is_the_models() -> None:
    assert (DOCS / "journal.schema.json").read_text(encoding="utf-8") == json_schema_text()


def test_steps_and_events_are_timed_by_the_injected_clock() -> None:
    clock = ManualClock(1_800_000_000.0)
    reporter = Recorder()
    journal = Journal("gameday", "drop-policy", clock=clock, reporter=reporter)
    with journal.step("inject", "inject the fault") as step:
        clock.advance(0.5)
        journal.event("fault.injected", "dropped classes_select", table="public.classes")
        step.detail = "one policy dropped"
    clock.advance(2)
    journal.event("detector.fired", "canary failed")
    journal.skip("remediate", "remediation", "nothing to do")
    journal.end("pass")

    doc = journal.document()
    assert [s.name for s in doc.steps] == ["inject", "remediate"]
    assert doc.steps[0].seconds == 0.5
    assert doc.steps[1].status == "skipped"
    assert [(e.kind, e.t) for e in doc.events] == [("fault.injected", 0.5), ("detector.fired", 2.5)]
    assert doc.events[0].data == {"table": "public.classes"}
    assert doc.events[1].at == "2027-01-15T08:00:02.500+00:00"
    assert doc.seconds == 2.5
    assert reporter.calls == [
        ("started", "inject"),
        ("finished", "inject:passed"),
        ("started", "remediate"),
        ("finished", "remediate:skipped"),
    ]
    again = JournalDocument.model_validate(json.loads(journal.dumps()))
    assert again == doc


def test_a_step_that_raises_is_recorded_as_error_and_the_error_propagates() -> None:
    clock = ManualClock()
    journal = Journal("gate", clock=clock)

    def build() -> None:
        with journal.step("build", "build"):
            clock.advance(1)
            raise RuntimeError("the server did not start\nsecond line")

    with pytest.raises(RuntimeError):
        build()
    (step,) = journal.steps
    assert (step.status, step.detail, step.seconds) == ("error", "the server did not start", 1)


def test_a_step_marked_failed_stays_failed_when_it_raises() -> None:
    journal = Journal("gameday", clock=ManualClock())

    def steady() -> None:
        with journal.step("steady", "steady state") as step:
            step.status = "failed"
            step.detail = "a canary fails"
            raise ValueError("the steady state does not hold")

    with pytest.raises(ValueError, match="does not hold"):
        steady()
    assert (journal.steps[0].status, journal.steps[0].detail) == ("failed", "a canary fails")
