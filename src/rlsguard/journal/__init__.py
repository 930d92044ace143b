"""The run journal: steps, statuses, timings, events and their live reporter, in one place.

Every run that has steps (the gate, game-day drills) records them with :class:`Journal` and
writes the versioned :class:`JournalDocument` (schema in ``docs/journal.schema.json``).
"""

from rlsguard.journal.model import (
    SCHEMA_VERSION,
    STEP_STATUSES,
    EventDoc,
    JournalDocument,
    StepDoc,
    StepStatus,
)
from rlsguard.journal.record import Event, Journal, Reporter, Silent, Step

__all__ = [
    "SCHEMA_VERSION",
    "STEP_STATUSES",
    "Event",
    "EventDoc",
    "Journal",
    "JournalDocument",
    "Reporter",
    "Silent",
    "Step",
    "StepDoc",
    "StepStatus",
]
