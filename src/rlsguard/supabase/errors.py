"""Errors of the Supabase layer, each printable as it is: where, what, and what to do next."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rlsguard.errors import RlsguardError

_STATEMENT_LINES = 8


class FidelityWarning(UserWarning):
    """This database will behave differently from hosted Supabase in the way the message says."""


class BootstrapError(RlsguardError):
    """The Supabase bootstrap could not be applied (nothing of it was, it is one transaction)."""


@dataclass(frozen=True)
class SqlProblem:
    """What Postgres said about a failing statement (the fields of its error report)."""

    message: str
    sqlstate: str | None = None
    detail: str | None = None
    hint: str | None = None
    context: str | None = None


class MigrationError(RlsguardError):
    """A migration or seed statement failed; names the file, line, column and statement.

    ``committed_before`` is set when the file itself ran ``COMMIT`` before the failing
    statement: the Supabase CLI leaves that part applied, and so do we.
    """

    def __init__(
        self,
        *,
        file: Path,
        display_path: str,
        line: int,
        column: int,
        statement: str,
        problem: SqlProblem,
        error_line: int | None = None,
        error_column: int | None = None,
        kind: str = "migration",
        committed_before: int | None = None,
        advice: str | None = None,
    ) -> None:
        self.file = file
        self.display_path = display_path
        self.line = line
        self.column = column
        self.statement = statement
        self.problem = problem
        self.error_line = error_line
        self.error_column = error_column
        self.kind = kind
        self.committed_before = committed_before
        self.advice = advice
        super().__init__(self._render())

    # Flat accessors, so callers need not know about SqlProblem.
    @property
    def message(self) -> str:
        return self.problem.message

    @property
    def sqlstate(self) -> str | None:
        return self.problem.sqlstate

    @property
    def detail(self) -> str | None:
        return self.problem.detail

    @property
    def hint(self) -> str | None:
        return self.problem.hint

    def _render(self) -> str:
        p = self.problem
        line = self.error_line or self.line
        column = self.error_column or self.column
        code = f" {p.sqlstate}" if p.sqlstate else ""
        out = [f"{self.display_path}:{line}:{column}: {self.kind} failed: ERROR{code}: {p.message}"]
        out.append(f"  statement at line {self.line}:")
        out.extend(_excerpt(self.statement, self.line, self.error_line, self.error_column))
        for label, value in (("detail", p.detail), ("hint", p.hint), ("context", p.context)):
            if value:
                first, *rest = value.splitlines()
                out.append(f"  {label}: {first}")
                out.extend(f"    {more}" for more in rest)
        if self.advice:
            out.append(f"  rlsguard: {self.advice}")
        if self.committed_before is not None:
            out.append(
                f"  The file's own COMMIT at line {self.committed_before} had already committed "
                "the statements before it (as with the Supabase CLI); the rest was rolled back."
            )
        else:
            out.append("  Nothing of this file was applied: it runs in one transaction.")
        return "\n".join(out)


class MigrationNotRecorded(RlsguardError):
    """After applying, a migration's history row or a seed's record is missing.

    Something in the files ended the batch's transaction in a way that lost
    work silently; a template built from it would check empty tables.
    """


def _excerpt(
    statement: str, first_line: int, error_line: int | None, error_column: int | None
) -> list[str]:
    """The statement trimmed to a few lines around the error, with a caret under it."""
    lines = statement.splitlines() or [""]
    focus = (error_line - first_line) if error_line is not None else 0
    focus = min(max(focus, 0), len(lines) - 1)
    start = max(0, min(focus - _STATEMENT_LINES // 2, len(lines) - _STATEMENT_LINES))
    shown = lines[start : start + _STATEMENT_LINES]
    width = len(str(first_line + start + len(shown)))
    out: list[str] = []
    if start > 0:
        out.append(f"    {'':>{width}}   ...")
    for offset, text in enumerate(shown):
        number = first_line + start + offset
        out.append(f"    {number:>{width}} | {text}")
        if error_line is not None and number == error_line and error_column:
            out.append(f"    {'':>{width}} | {' ' * (error_column - 1)}^")
    if start + len(shown) < len(lines):
        out.append(f"    {'':>{width}}   ...")
    return out


class ExtensionUnavailable(MigrationError):
    """A migration creates an extension this server does not have."""

    def __init__(self, *, extension: str, **kwargs: object) -> None:
        self.extension = extension
        super().__init__(**kwargs)  # type: ignore[arg-type]


def _trigger_hint(problem: SqlProblem) -> str:
    """What to fix in a signup trigger, by what actually failed (not always its rights)."""
    state = problem.sqlstate or ""
    if state in ("42P01", "42501", "42883", "3F000"):  # not found / not allowed as the caller
        return (
            "GoTrue inserts as supabase_auth_admin with search_path=auth: the trigger function "
            "must be SECURITY DEFINER and name its tables with their schema."
        )
    if state == "23502":
        return (
            "It left a NOT NULL column empty: a value it reads from raw_user_meta_data was "
            "not sent at sign-up (send it in the user metadata, or give the column a default)."
        )
    if state.startswith("23"):
        return "It wrote a row a constraint refuses: fix the values the trigger derives."
    return "Fix the trigger function named in the context above."


class UserCreationError(RlsguardError):
    """GoTrue's "Database error saving new user": the auth.users insert (or a trigger) failed."""

    def __init__(self, email: str | None, problem: SqlProblem) -> None:
        self.email = email
        self.problem = problem
        who = f" {email!r}" if email else ""
        lines = [
            f"Database error saving new user{who}: "
            f"ERROR {problem.sqlstate or '?????'}: {problem.message}"
        ]
        for label, value in (
            ("detail", problem.detail),
            ("hint", problem.hint),
            ("context", problem.context),
        ):
            if value:
                lines.append(f"  {label}: {value}")
        if problem.context and "function" in problem.context:
            lines.append(f"  A trigger on auth.users failed. {_trigger_hint(problem)}")
        super().__init__("\n".join(lines))

    @property
    def sqlstate(self) -> str | None:
        return self.problem.sqlstate
