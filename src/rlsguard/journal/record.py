"""Recording a run: steps as they start and end, events on a timeline, one clock for both.

The recorder never decides anything: runs (the gate, a drill) tell it what happened and
when, and reports are rendered from the document it produces.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from rlsguard.clock import SYSTEM_CLOCK, Clock
from rlsguard.journal.model import SCHEMA_VERSION, EventDoc, JournalDocument, StepDoc, StepStatus


@dataclass
class Step:
    """One step's outcome, for progress, summaries and JUnit files."""

    name: str
    title: str
    status: StepStatus
    seconds: float = 0.0
    detail: str = ""
    started: float = 0.0


@dataclass(frozen=True)
class Event:
    """One moment of the timeline: ``t`` seconds after the run started."""

    t: float
    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


class Reporter(Protocol):
    """Told when each step starts and ends (CLIs draw live progress with it)."""

    def started(self, name: str, title: str) -> None: ...

    def finished(self, step: Step) -> None: ...


class Silent:
    """A reporter that shows nothing."""

    def started(self, name: str, title: str) -> None:
        pass

    def finished(self, step: Step) -> None:
        pass


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


class Journal:
    """The steps and events of one run, timed by ``clock`` (a ManualClock in tests)."""

    def __init__(
        self,
        kind: str,
        name: str = "",
        *,
        clock: Clock = SYSTEM_CLOCK,
        reporter: Reporter | None = None,
        steps: list[Step] | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.clock = clock
        self.reporter: Reporter = reporter or Silent()
        self.origin = clock.now()
        self.steps: list[Step] = steps if steps is not None else []
        self.events: list[Event] = []
        self.summary: dict[str, Any] = {}
        self.outcome = ""
        self.ended: float | None = None

    def elapsed(self) -> float:
        return self.clock.now() - self.origin

    # -- steps ------------------------------------------------------------------------
    @contextmanager
    def step(self, name: str, title: str) -> Iterator[Step]:
        """Time a step; an exception marks it ``error`` (first line as detail; a step already
        marked ``failed`` stays failed), a Ctrl-C ``interrupted``; either propagates."""
        started = self.clock.now()
        self.reporter.started(name, title)
        step = Step(name, title, "passed", started=started - self.origin)
        try:
            yield step
        except KeyboardInterrupt:  # Ctrl-C: not a pass, not the step's error either
            step.status, step.detail = "interrupted", "interrupted (Ctrl-C)"
            raise
        except BaseException as exc:
            if step.status == "passed":
                step.status = "error"
            step.detail = step.detail or (str(exc).splitlines() or [type(exc).__name__])[0]
            raise
        finally:
            step.seconds = self.clock.now() - started
            self.steps.append(step)
            self.reporter.finished(step)

    def skip(self, name: str, title: str, why: str) -> Step:
        step = Step(name, title, "skipped", 0.0, why, started=self.elapsed())
        self.reporter.started(name, title)
        self.steps.append(step)
        self.reporter.finished(step)
        return step

    def find(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    # -- events -----------------------------------------------------------------------
    def event(self, kind: str, message: str, /, **data: Any) -> Event:
        event = Event(self.elapsed(), kind, message, data)
        self.events.append(event)
        return event

    def first(self, kind: str) -> Event | None:
        return next((e for e in self.events if e.kind == kind), None)

    def end(self, outcome: str) -> None:
        self.outcome = outcome
        self.ended = self.clock.now()

    # -- the document -----------------------------------------------------------------
    def document(self) -> JournalDocument:
        from rlsguard import __version__

        end = self.ended if self.ended is not None else self.clock.now()
        return JournalDocument(
            schema_version=SCHEMA_VERSION,
            tool="rlsguard",
            version=__version__,
            kind=self.kind,
            name=self.name,
            started_at=_iso(self.origin),
            seconds=round(end - self.origin, 6),
            outcome=self.outcome,
            steps=[
                StepDoc(
                    name=s.name,
                    title=s.title,
                    status=s.status,
                    started=round(s.started, 6),
                    seconds=round(s.seconds, 6),
                    detail=s.detail,
                )
                for s in self.steps
            ],
            events=[
                EventDoc(
                    t=round(e.t, 6),
                    at=_iso(self.origin + e.t),
                    kind=e.kind,
                    message=e.message,
                    data=e.data,
                )
                for e in self.events
            ],
            summary=self.summary,
        )

    def dumps(self) -> str:
        return self.document().model_dump_json(indent=2) + "\n"
