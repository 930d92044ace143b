"""Split a SQL file into statements that know where they are (line, column, offset).

The Supabase CLI sends a file as one batch of statements; so do we, and when one fails we must
say where it is in the file. pglast's parser splits exactly (``BEGIN ATOMIC`` bodies, dollar
quotes, comments); when the file does not parse, its scanner splits on top-level semicolons so
the server can report the syntax error itself, at its own position.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Statement:
    """One statement of a file; ``offset`` is its first character in the file (0-based)."""

    text: str
    offset: int
    line: int
    column: int
    node: Any = None  # the parsed statement, None when the file did not parse

    def location(self, position: int) -> int:
        """File offset of a 1-based character position inside the statement (Postgres' cursor)."""
        return self.offset + max(position, 1) - 1

    @property
    def kind(self) -> str:
        return type(self.node).__name__ if self.node is not None else "unparsed"


class LineIndex:
    """Offsets to 1-based (line, column) in one text."""

    def __init__(self, text: str) -> None:
        self._starts = [0]
        self._starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset) - 1
        return line + 1, offset - self._starts[line] + 1


def split(text: str) -> tuple[list[Statement], str | None]:
    """The statements of ``text``, and pglast's parse error when it had to fall back."""
    import pglast  # on first use: commands that find their template cached never parse SQL
    from pglast import parser

    index = LineIndex(text)
    nodes: list[Any]
    try:
        pieces = [
            (sl.start, sl.stop) for sl in pglast.split(text, with_parser=True, only_slices=True)
        ]
        nodes = [raw.stmt for raw in pglast.parse_sql(text)]
        parse_error = None
    except parser.ParseError as exc:
        pieces = _scan_split(text)
        nodes = []
        parse_error = str(exc)
    if len(nodes) != len(pieces):
        nodes = [None] * len(pieces)
    out = []
    for (start, stop), node in zip(pieces, nodes, strict=True):
        body = text[start:stop].strip()
        if not body:
            continue
        start += len(text[start:stop]) - len(text[start:stop].lstrip())
        line, column = index.position(start)
        out.append(Statement(body, start, line, column, node))
    return out, parse_error


def _scan_split(text: str) -> list[tuple[int, int]]:
    """Statement spans from the scanner alone: split at top-level semicolons, comments skipped.

    Used only for files the parser rejects, so the server gets to report the syntax error; a
    ``BEGIN ATOMIC ... END`` body (where semicolons do not end the statement) is kept whole.
    """
    from pglast import parser

    try:
        tokens = parser.scan(text)
    except parser.ParseError:
        return [(0, len(text))]
    spans: list[tuple[int, int]] = []
    first: int | None = None
    last_end = 0
    depth = 0
    previous = ""
    for token in tokens:
        name = token.name
        if name in ("SQL_COMMENT", "C_COMMENT"):
            continue
        if name == "ASCII_59" and depth == 0:
            if first is not None:
                spans.append((first, token.start))
            first = None
        else:
            last_end = token.end + 1
            if first is None:
                first = token.start
            if (name == "ATOMIC" and previous == "BEGIN_P") or (depth and name == "CASE"):
                depth += 1
            elif depth and name == "END_P":
                depth -= 1
        previous = name
    if first is not None:
        spans.append((first, last_end))
    return spans
