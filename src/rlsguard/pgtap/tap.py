"""TAP (Test Anything Protocol) as pgTAP prints it, parsed into a verdict.

pgTAP returns its output as text rows: ``1..N``, ``ok N - desc``, ``not ok N - desc`` with
``# TODO why`` or ``# SKIP why`` directives, and ``# ...`` diagnostics (the failure message,
``have:``/``want:``, ``Looks like you failed ...``). Each line here remembers the SQL line
of the statement that printed it, so an assertion can be reported where it is written.

The verdict follows TAP::Harness (what ``pg_prove`` uses): a file passes when it has a plan,
ran as many tests as planned, numbered in order, and every test passed or is a TODO.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_PLAN = re.compile(r"^1\.\.(\d+)(?:\s*#\s*(?:SKIP|skip)\S*\s*(.*))?$")
_TEST = re.compile(r"^(not )?ok\b\s*(\d+)?\s*(?:-\s*)?(.*)$")
_DIRECTIVE = re.compile(r"\s+#\s*(TODO|SKIP)\b\s*(.*)$", re.IGNORECASE)
_BAIL = re.compile(r"^Bail out!\s*(.*)$")


@dataclass
class Assertion:
    """One ``ok``/``not ok`` line and the diagnostics printed after it."""

    number: int
    ok: bool
    description: str
    line: int | None = None  # of the SQL statement that printed it
    directive: str | None = None  # "TODO" or "SKIP"
    reason: str = ""
    diagnostics: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """A failing TODO does not fail the file (TAP's rule)."""
        return self.ok or self.directive == "TODO"

    @property
    def tap(self) -> str:
        head = f"{'ok' if self.ok else 'not ok'} {self.number}"
        if self.description:
            head += f" - {self.description}"
        if self.directive:
            head += f" # {self.directive}" + (f" {self.reason}" if self.reason else "")
        return "\n".join([head, *self.diagnostics])

    def got_expected(self) -> tuple[str | None, str | None]:
        """The ``have:``/``want:`` (or ``caught:``/``wanted:``) diagnostics, when printed."""
        got = expected = None
        for text in self.diagnostics:
            body = text.lstrip("#").strip()
            for key in ("have:", "caught:"):
                if body.startswith(key) and got is None:
                    got = body[len(key) :].strip()
            for key in ("want:", "wanted:"):
                if body.startswith(key) and expected is None:
                    expected = body[len(key) :].strip()
        return got, expected


@dataclass
class TapStream:
    """Everything a file printed, parsed."""

    planned: int | None = None
    plan_line: int | None = None
    skip_all: str | None = None
    assertions: list[Assertion] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)  # not attached to an assertion
    bailed: str | None = None
    lines: list[tuple[int | None, str]] = field(default_factory=list)

    @property
    def failed(self) -> list[Assertion]:
        return [a for a in self.assertions if not a.passed]

    def problems(self) -> list[str]:
        """Why the file fails as a whole (empty: it passes), in TAP::Harness' words."""
        out: list[str] = []
        if self.bailed is not None:
            out.append(f"Bail out! {self.bailed}".rstrip())
        if self.skip_all is not None:
            return out
        if self.planned is None:
            out.append("No plan found in TAP output")
        elif self.planned != len(self.assertions):
            out.append(
                f"Bad plan.  You planned {self.planned} tests but ran {len(self.assertions)}."
            )
        for index, assertion in enumerate(self.assertions, 1):
            if assertion.number != index:
                out.append(
                    f"Tests out of sequence: found test {assertion.number}, expected {index}"
                )
                break
        failed = self.failed
        if failed:
            numbers = ", ".join(str(a.number) for a in failed)
            out.append(f"Failed {len(failed)}/{len(self.assertions)} subtests (tests {numbers})")
        return out

    @property
    def passed(self) -> bool:
        return not self.problems()

    def tap_lines(self) -> list[str]:
        """The TAP lines only (a SELECT's own output, e.g. a user id, left out)."""
        return [text for _, text in self.lines if _is_tap(text)]

    def text(self) -> str:
        return "\n".join(self.tap_lines())


def parse(lines: Iterable[tuple[int | None, str]]) -> TapStream:
    """Parse ``(sql_line, text)`` pairs; ``text`` may hold several TAP lines."""
    stream = TapStream()
    current: Assertion | None = None
    for sql_line, chunk in lines:
        for raw in chunk.splitlines():
            stream.lines.append((sql_line, raw))
            text = raw.rstrip()
            if match := _PLAN.match(text):
                stream.planned = int(match.group(1))
                stream.plan_line = sql_line
                if stream.planned == 0 and match.group(2) is not None:
                    stream.skip_all = match.group(2)
                continue
            if match := _TEST.match(text):
                number = int(match.group(2)) if match.group(2) else len(stream.assertions) + 1
                description, directive, reason = match.group(3), None, ""
                if found := _DIRECTIVE.search(" " + description):
                    directive, reason = found.group(1).upper(), found.group(2).strip()
                    description = (" " + description)[: found.start()].strip()
                current = Assertion(
                    number, match.group(1) is None, description, sql_line, directive, reason
                )
                stream.assertions.append(current)
                continue
            if match := _BAIL.match(text):
                stream.bailed = match.group(1)
                continue
            if text.startswith("#"):
                if current is not None and not _is_summary(text):
                    current.diagnostics.append(text)
                else:
                    stream.diagnostics.append(text)
            # Anything else (a SELECT's own output) is not TAP: TAP::Harness ignores it too.
    return stream


def _is_tap(text: str) -> bool:
    text = text.rstrip()
    return bool(text.startswith("#") or _PLAN.match(text) or _TEST.match(text) or _BAIL.match(text))


def _is_summary(text: str) -> bool:
    body = text.lstrip("#").strip()
    return body.startswith("Looks like you ")
