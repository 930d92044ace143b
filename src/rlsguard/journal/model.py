"""The run journal document: the versioned JSON every run with steps writes.

The gate records its pipeline steps in it; game-day drills record steps *and* a timeline of
events (fault injected, first symptom, each detector firing, incident declared, remediation,
steady state regained). Its JSON Schema is committed as ``docs/journal.schema.json``
(``python -m rlsguard.journal.model`` prints it) and a test keeps the two equal.
``schema_version`` changes only when a field changes meaning or goes away.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_ID = "https://rlsguard.dev/schemas/journal.schema.json"
SCHEMA_VERSION = 1

StepStatus = Literal["passed", "failed", "skipped", "error", "interrupted"]
STEP_STATUSES: tuple[StepStatus, ...] = ("passed", "failed", "skipped", "error", "interrupted")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepDoc(_Model):
    """One step of the run."""

    name: str
    title: str
    status: StepStatus = Field(
        description="passed; failed (the run's verdict fails); skipped; error (could not run); "
        "interrupted (Ctrl-C while it ran)."
    )
    started: float = Field(description="Seconds since the run started (the run's clock).")
    seconds: float = Field(description="How long the step took.")
    detail: str = Field(description="One line: what the step found.")


class EventDoc(_Model):
    """One moment of the timeline."""

    t: float = Field(description="Seconds since the run started (the run's clock).")
    at: str = Field(description="The same moment in UTC, ISO 8601.")
    kind: str = Field(
        description="e.g. fault.injected, symptom, detector.fired, incident.declared, "
        "remediation.step, steady_state.regained, fault.reverted."
    )
    message: str
    data: dict[str, Any] = Field(description="Machine-readable details of the event.")


class JournalDocument(_Model):
    """Everything a run did, in order."""

    model_config = ConfigDict(
        extra="forbid",
        title="rlsguard run journal",
        json_schema_extra={"$id": SCHEMA_ID},
    )

    schema_version: Literal[1] = Field(description="Version of this document's shape.")
    tool: Literal["rlsguard"]
    version: str = Field(description="rlsguard's version.")
    kind: str = Field(description="What ran: gate, gameday, ...")
    name: str = Field(description="The run's name, e.g. the drill's scenario.")
    started_at: str = Field(description="When the run started, UTC ISO 8601.")
    seconds: float = Field(description="Duration of the whole run.")
    outcome: str = Field(description="The run's verdict in one word (pass, fail, error, ...).")
    steps: list[StepDoc]
    events: list[EventDoc]
    summary: dict[str, Any] = Field(
        description="Figures computed from the timeline (e.g. time to detect and to recover)."
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a journal document."""
    schema = JournalDocument.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def json_schema_text() -> str:
    """The schema as committed at ``docs/journal.schema.json``."""
    return json.dumps(json_schema(), indent=2) + "\n"


if __name__ == "__main__":
    print(json_schema_text(), end="")
