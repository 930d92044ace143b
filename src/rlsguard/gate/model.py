"""The ``rlsguard gate --json`` document, as pydantic models: its shape is a public interface.

CI scripts read it (the verdict, why it blocks, the access changes), so the JSON Schema
generated from these models is committed as ``docs/gate.schema.json`` (``python -m
rlsguard.gate.model`` prints it) and a test keeps the two equal. Field descriptions are that
schema's documentation. ``schema_version`` changes only when a field changes meaning or goes
away; new fields may appear at any time.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rlsguard.journal.model import StepStatus

SCHEMA_ID = "https://rlsguard.dev/schemas/gate.schema.json"
SCHEMA_VERSION = 1

Verdict = Literal["pass", "blocked", "error"]
Grade = Literal["widens", "narrows", "neutral"]
Level = Literal["error", "warn", "info"]
KeyValue = list[str | None]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceDoc(_Model):
    """One side of the comparison."""

    spec: str = Field(description="As given on the command line: a git ref or a folder.")
    label: str = Field(description="As reports show it, e.g. 'origin/main:supabase'.")
    kind: Literal["git", "directory"] = Field(description="What the spec named.")
    commit: str | None = Field(description="The commit a git ref resolved to (else null).")


class StepDoc(_Model):
    """One step of the pipeline."""

    name: Literal["build", "policy", "audit", "matrix", "access", "rollback"]
    title: str
    status: StepStatus = Field(
        description="passed; failed (it makes the gate block); skipped; error (the gate "
        "could not run it: exit 2)."
    )
    seconds: float
    detail: str = Field(description="One line: what the step found.")


class PolicyChangeDoc(_Model):
    """One graded change of the security surface (as ``rlsguard diff --format json``)."""

    grade: Grade
    kind: str = Field(description="e.g. policy.added, policy.using, table.rls, table.grants.")
    object: str = Field(description="The table, view, function, schema or role.")
    path: list[str] = Field(description="Where the value lives in the snapshot document.")
    message: str = Field(description="One sentence a reviewer understands.")
    before: Any = Field(description="The value on base (any JSON).")
    after: Any = Field(description="The value on head (any JSON).")


class PolicyDoc(_Model):
    """The graded policy diff from base to head."""

    base: str
    head: str
    counts: dict[str, int] = Field(description="Changes per grade: widens, narrows, neutral.")
    changes: list[PolicyChangeDoc]


class LocationDoc(_Model):
    file: str = Field(description="Migration file, relative to the repository root.")
    line: int | None


class FindingDoc(_Model):
    """A lint or probe finding on head."""

    rule: str
    level: Level
    category: Literal["security", "performance"]
    object: str
    message: str
    remediation: str
    location: LocationDoc | None
    check: Literal["lint", "probe"]
    waived: str | None = Field(description="The waiver's reason when the finding is waived.")
    new: bool = Field(description="Not on base (same check, rule and object): this change made it.")
    blocking: bool = Field(description="New, unwaived and at or above --fail-on.")


class MatrixCellDoc(_Model):
    """One cell of the project's access matrix, checked on head."""

    id: str = Field(description="persona-schema.table-operation, as the pytest item id.")
    persona: str
    table: str
    operation: Literal["select", "insert", "update", "changes", "delete"]
    status: Literal["pass", "fail", "error"]
    kinds: list[str] = Field(
        description="Why it fails: problem, error, grant, unexpected, missing."
    )
    summary: str
    unexpected: list[KeyValue] = Field(description="Keys touched that the oracle does not allow.")
    missing: list[KeyValue] = Field(description="Keys the oracle allows that were not touched.")
    candidates: list[str] = Field(
        description="Insert candidates and changes that went wrong: 'label: outcome (expected)'."
    )


class MatrixDoc(_Model):
    """The project's access matrix on head."""

    file: str
    ok: bool
    cells: int
    failed: list[MatrixCellDoc] = Field(description="The failing cells (passing ones are counted).")
    untested: list[str] = Field(description="What the file does not check.")


class AccessSideDoc(_Model):
    """What a persona's request did on one side."""

    state: Literal["rows", "denied", "error", "unavailable"] = Field(
        description="rows (keys below); denied (42501 permission denied: a missing grant); "
        "error (the request failed otherwise); unavailable (persona or table missing there)."
    )
    count: int
    keys: list[KeyValue] = Field(
        description="Row keys (key columns as text), or [candidate name] for insert/changes."
    )
    reason: str | None


class AccessChangeDoc(_Model):
    """One persona x table x operation whose access differs between base and head."""

    persona: str
    table: str
    operation: Literal["select", "insert", "update", "changes", "delete"]
    grade: Grade = Field(
        description="widens: rows (or candidates) gained; narrows: only lost, or now refused."
    )
    covered: bool = Field(description="A passing matrix cell on head expects exactly this.")
    by_count: bool = Field(description="The two seeds share no keys: compared by row count.")
    key_columns: list[str]
    before: AccessSideDoc
    after: AccessSideDoc
    gained: list[KeyValue] = Field(description="Keys present on both sides, reached only on head.")
    lost: list[KeyValue] = Field(description="Keys present on both sides, reached only on base.")
    line: str = Field(description="The change in one line, as the summary prints it.")


class AccessDoc(_Model):
    """The behavioural access diff."""

    base: str
    head: str
    personas: list[str]
    persona_source: Literal["project", "seed"] = Field(
        description="project: [personas.*] of the config; seed: anon, a signed-in stranger, "
        "users from the seed and service_role."
    )
    tables: list[str] = Field(description="Tables present on both sides (compared).")
    cells: int = Field(description="persona x table x operation cells compared.")
    counts: dict[str, int] = Field(description="widens, narrows, neutral, uncovered, lockouts.")
    changes: list[AccessChangeDoc]
    tables_added: list[str]
    tables_dropped: list[str]
    notes: list[str]


class RollbackUnitDoc(_Model):
    object: str
    action: str
    sql: list[str]


class RollbackSkippedDoc(_Model):
    object: str
    kind: Literal["cannot", "left alone"]
    reason: str


class RollbackDoc(_Model):
    """The rollback dry-run: head + the generated migration must give base's surface."""

    needed: bool = Field(description="False when head's surface already equals base's.")
    restored: bool = Field(
        description="Head + rollback equals base's snapshot exactly (objects the change "
        "created make it false without blocking: see left_alone)."
    )
    idempotent: bool
    filename: str
    units: list[RollbackUnitDoc]
    skipped: list[RollbackSkippedDoc] = Field(description="What SQL cannot restore, and why.")
    residual: list[str] = Field(description="Differences left after the rollback.")
    problems: list[str] = Field(
        description="What it cannot put back of the base (blocks the gate): a dropped table, "
        "a changed function body, an unexplained difference."
    )
    left_alone: list[str] = Field(
        description="Objects the change created, which a rollback leaves to a person."
    )
    error: str | None = Field(description="Why the generated migration did not apply.")
    command: str = Field(description="What a responder runs to roll the merge back.")
    sql: str | None


class GateDocument(_Model):
    """Everything ``rlsguard gate`` found, for machines (``--json``)."""

    model_config = ConfigDict(
        extra="forbid",
        title="rlsguard gate report",
        json_schema_extra={"$id": SCHEMA_ID},
    )

    schema_version: Literal[1] = Field(description="Version of this document's shape.")
    tool: Literal["rlsguard"]
    version: str = Field(description="rlsguard's version.")
    verdict: Verdict = Field(description="pass (exit 0), blocked (exit 1), error (exit 2).")
    exit_code: Literal[0, 1, 2]
    reasons: list[str] = Field(description="Why the gate blocks, one sentence each.")
    error: str | None = Field(description="Why the gate could not run (verdict error).")
    fail_on: Literal["error", "warn", "info", "none"]
    supabase_dir: str | None
    base: SourceDoc | None
    head: SourceDoc | None
    seconds: float = Field(description="Wall time of the whole gate.")
    steps: list[StepDoc]
    policy: PolicyDoc | None
    findings: list[FindingDoc]
    matrix: MatrixDoc | None = Field(description="Null when the project has no matrix.")
    access: AccessDoc | None
    rollback: RollbackDoc | None


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the ``--json`` document."""
    schema = GateDocument.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def json_schema_text() -> str:
    """The schema as committed at ``docs/gate.schema.json``."""
    return json.dumps(json_schema(), indent=2) + "\n"


if __name__ == "__main__":
    print(json_schema_text(), end="")
