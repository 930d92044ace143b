"""Every error rlsguard raises on purpose, and every warning it gives, lives here.

Messages say what went wrong *and* what to do next, so the CLI and the pytest
plugin can print them as they are, without a traceback. Catch
:class:`RlsguardError` to catch them all::

    RlsguardError
    ├── ConfigError                 a config file is invalid (file, key, reason)
    │   ├── MatrixError             a matrix file is invalid (every problem, with lines)
    │   └── ScenarioError           a game-day scenario file is invalid (every problem)
    ├── InvalidArgument             a value passed to rlsguard's API (also a ValueError)
    │   └── SqlNormalizationError   text that is not one SQL expression
    ├── MisuseError                 an API used in the wrong state (also a RuntimeError)
    ├── UnknownCell                 a matrix cell id not in the results (also a KeyError)
    ├── InternalError               an invariant broke: a bug to report (also a RuntimeError)
    ├── BackendUnavailable          a backend cannot be used on this machine
    ├── ServerError                 a supervised server failed to start, stop or get ready
    ├── WaitTimeout                 what a test waited for did not come (also a TimeoutError)
    ├── DestructiveActionRefused    a destructive verb aimed at what rlsguard did not create
    ├── BootstrapError              the Supabase bootstrap could not be applied
    ├── MigrationError              a migration or seed statement failed (file, line, column)
    │   └── ExtensionUnavailable    a migration needs an extension this server lacks
    ├── MigrationNotRecorded        a migration's history row or a seed's record went missing
    ├── UserCreationError           GoTrue's "Database error saving new user"
    ├── InputFileError              a project file cannot be read (missing, no permission, ...)
    ├── CacheError                  the template cache cannot be written or read
    ├── NothingChecked              a check ran but checked nothing (see --allow-empty)
    ├── PgtapUnavailable            the server's pgTAP was asked for and this server lacks it
    ├── TestFileError               a pgTAP test file cannot run as written (file, line, why)
    ├── PersonaError                a persona names no user, or an unknown one
    ├── SourceError                 a --base/--head/--to that names no snapshot/folder/commit
    ├── GateError                   the gate cannot run (exit 2)
    ├── FaultError                  a game-day fault cannot be planned on this target
    ├── DrillAborted                a drill could not run (no steady state before the fault)
    ├── MailerError                 the auth service could not hand a message to the mail server
    ├── Unsupported                 no generic value for a column (the probe skips the table)
    ├── CellFailed                  a matrix cell's rows differ from the expectation
    ├── PgtapFailed                 a pgTAP file's TAP says it failed
    ├── IsolationBreak              a data state breaks the isolation property (an AssertionError)
    ├── SnapshotDrift               the live surface differs from the approved snapshot
    └── Relayed                     a failure a running dev server already explained

    RlsguardWarning (a UserWarning) shown as one line: where in your files, what, what to do
    ├── ConfigWarning               a configuration was found but not used
    ├── SupabaseProjectWarning      something in supabase/ is skipped or differs
    ├── FidelityWarning             this database differs from hosted Supabase
    │   └── StandInWarning          a missing extension was replaced by a stand-in
    └── CacheFullWarning            the template cache's disk is full: the run goes on uncached

Emit warnings with :func:`warn`: it points the warning at the user's file (never at
rlsguard's own source line), and :func:`format_warning` prints it as one line.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

_STATEMENT_LINES = 8


class RlsguardError(Exception):
    """Base class: an error the user can act on."""


class ConfigError(RlsguardError):
    """A configuration file is invalid; names the file, the dotted key and the reason."""

    def __init__(self, path: str, key: str, reason: str) -> None:
        self.path = path
        self.key = key
        self.reason = reason
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a matrix file."""

    file: str
    key: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.reason}" if self.key else f"{where}: {self.reason}"


class MatrixError(ConfigError):
    """A matrix file is invalid; lists every problem found (file, line, dotted key, reason)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise InternalError("a MatrixError needs at least one problem")
        self.problems = list(problems)
        first = self.problems[0]
        super().__init__(first.file, first.key, first.reason)
        self.line = first.line
        self.args = ("\n".join(str(p) for p in self.problems),)


class ScenarioError(ConfigError):
    """A game-day scenario file is invalid; lists every problem (file, line, dotted key, reason)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        super().__init__(first.file, first.key, first.reason)
        self.args = ("\n".join(str(p) for p in self.problems),)


class InvalidArgument(RlsguardError, ValueError):
    """A value given to rlsguard's Python API is not one it accepts; the message lists those."""


class SqlNormalizationError(InvalidArgument):
    """Text that is not one SQL expression (or not SQL at all)."""


class MisuseError(RlsguardError, RuntimeError):
    """An API was used in the wrong state or order; the message says the right way."""


class UnknownCell(RlsguardError, KeyError):
    """A matrix cell id that is not among the results (``results["id"]``)."""


class InternalError(RlsguardError, RuntimeError):
    """An invariant of rlsguard broke: a bug. The message says what; please report it."""


class BackendUnavailable(RlsguardError):
    """A backend (server binaries, Docker engine, DSN) cannot be used on this machine."""


class ServerError(RlsguardError):
    """A supervised server failed to start, stop or become ready."""


class WaitTimeout(RlsguardError, TimeoutError):
    """What a test waited for (e.g. mail at the SMTP sink) did not arrive in time."""


class DestructiveActionRefused(RlsguardError):
    """A destructive verb was aimed at a server rlsguard did not start."""


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

    def __init__(self, *, extension: str, **kwargs: Any) -> None:
        self.extension = extension
        super().__init__(**kwargs)


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


class InputFileError(RlsguardError):
    """A file of the user's project cannot be read (missing, dangling link, no permission,
    not UTF-8); names the file and what to do."""

    def __init__(self, path: str, reason: str, fix: str) -> None:
        self.path = path
        super().__init__(f"{path}: {reason}. {fix}")


class CacheError(RlsguardError):
    """The template cache cannot be written or read (full disk, no permission)."""


class NothingChecked(RlsguardError):
    """A check ran but checked nothing (no attempts, no cells, no persona resolved).

    A security check that checked nothing must not look like a pass; the
    command's ``--allow-empty`` says the user accepts it.
    """


class PgtapUnavailable(RlsguardError):
    """The server's pgTAP was asked for and this server does not ship it."""


class TestFileError(RlsguardError):
    """A pgTAP test file rlsguard cannot run as written (it names the file, the line and why)."""

    __test__ = False


class PersonaError(RlsguardError):
    """A persona cannot be resolved (unknown name, or a user that does not exist)."""


class SourceError(RlsguardError):
    """A --base/--head/--to value that names no snapshot, folder or commit."""


class GateError(RlsguardError):
    """The gate cannot run (exit 2): a bad ref, a broken migration, an invalid matrix..."""


class FaultError(RlsguardError):
    """A game-day fault cannot be planned on this target (a table or policy the baseline lacks)."""


class DrillAborted(RlsguardError):
    """A drill could not run (the steady state did not hold before the fault, ...)."""


class MailerError(RlsguardError):
    """The reference auth service could not hand a message to the mail server.

    ``permanent`` for a 5xx answer (a bounce): the outbox does not try that message again.
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Unsupported(RlsguardError):
    """No generic value for this column's type (the probe skips the table and says why)."""


class _Summarised(Protocol):
    def summary(self) -> str: ...


class CellFailed(RlsguardError):
    """A cell's rows differ from the expectation (or the cell could not be checked)."""

    def __init__(self, result: _Summarised) -> None:
        super().__init__(result.summary())
        self.result: Any = result


class _FileResult(Protocol):
    @property
    def path(self) -> Path: ...


class PgtapFailed(RlsguardError):
    """A pgTAP file's TAP says it failed (or a statement stopped it); ``result`` says how."""

    def __init__(self, result: _FileResult) -> None:
        super().__init__(f"{result.path.name}: failed")
        self.result: Any = result


class IsolationBreak(RlsguardError, AssertionError):
    """A data state on which a persona reaches rows the oracle does not allow (or loses some).

    An ``AssertionError`` too, so hypothesis and pytest report (and shrink) it as a failure.
    """


class _Changes(Protocol):
    @property
    def changes(self) -> Sequence[object]: ...


class SnapshotDrift(RlsguardError):
    """The live surface differs from the approved snapshot; ``command`` re-approves it."""

    def __init__(self, diff: _Changes, command: str) -> None:
        super().__init__(f"{len(diff.changes)} change(s)")
        self.diff: Any = diff
        self.command = command


# --- warnings ------------------------------------------------------------------------


class RlsguardWarning(UserWarning):
    """Base class: something the user may want to fix, printed as one line."""


class ConfigWarning(RlsguardWarning):
    """A configuration was found but not used (e.g. shadowed by ``rlsguard.toml``)."""


class SupabaseProjectWarning(RlsguardWarning):
    """Something in the ``supabase/`` folder is skipped or differs from what the CLI does."""


class FidelityWarning(RlsguardWarning):
    """This database will behave differently from hosted Supabase in the way the message says."""


class StandInWarning(FidelityWarning):
    """An extension was replaced by a stand-in: the project opted in, but it should know."""


class CacheFullWarning(RlsguardWarning):
    """The disk under the template cache is full: the run goes on uncached."""


_NOWHERE = "<rlsguard>"
_registry: dict[Any, Any] = {}  # warn once per message, as warnings.warn does per call site


def warn(
    message: str,
    category: type[RlsguardWarning],
    *,
    file: str | os.PathLike[str] | None = None,
    line: int | None = None,
) -> None:
    """Warn about the user's ``file`` (and ``line``), never about rlsguard's own source.

    Filters (``-W error::rlsguard.errors.ConfigWarning``, ``pytest.warns``) work as usual.
    """
    warnings.warn_explicit(
        message,
        category,
        filename=os.fspath(file) if file is not None else _NOWHERE,
        lineno=line or 0,
        module="rlsguard",
        registry=_registry,
    )


def format_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """One line per rlsguard warning: ``file:line: warning: message``; others as Python does."""
    if not issubclass(category, RlsguardWarning):
        return _python_format(message, category, filename, lineno, line)
    text = " ".join(str(message).split())
    if filename == _NOWHERE:
        return f"warning: {text}\n"
    shown = _relative(filename)
    where = f"{shown}:{lineno}" if lineno else shown
    return f"{where}: warning: {text}\n"


_python_format = warnings.formatwarning


def _relative(filename: str) -> str:
    try:
        path = Path(filename)
        return path.relative_to(Path.cwd()).as_posix() if path.is_absolute() else filename
    except ValueError:
        return filename


def install_warning_format() -> None:
    """Print rlsguard warnings as one line (the CLI and the pytest plugin call this)."""
    warnings.formatwarning = format_warning  # type: ignore[assignment]


def uninstall_warning_format() -> None:
    if warnings.formatwarning is format_warning:  # type: ignore[comparison-overlap]
        warnings.formatwarning = _python_format


class Relayed(RlsguardError):
    """A failure a running ``rlsguard dev`` already judged and explained (a cell's rows, a
    matrix that cannot be loaded): shown as the server wrote it, so the output is the same
    with and without the server."""
