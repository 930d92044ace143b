"""A pgTAP test file as statements that know their line, and what each one is.

Test files are written for ``psql`` (``supabase test db`` runs them through ``pg_prove``): they
open with ``BEGIN``, close with ``ROLLBACK``, may hold psql settings (``\\set``, ``\\pset``)
and create the extensions they use. The runner owns the transaction, so the file's own
transaction control is noted and skipped; psql display settings are blanked (line numbers
stay); any other backslash command is refused with its line, since only psql runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pglast import ast
from pglast.enums import ObjectType, TransactionStmtKind

from rlsguard.errors import RlsguardError
from rlsguard.supabase.statements import Statement, split

PGTAP = "pgtap"
TEST_HELPERS = frozenset({"basejump-supabase_test_helpers", "supabase_test_helpers"})
# psql commands that only change how psql prints: harmless to skip.
_DISPLAY_COMMANDS = frozenset(
    {"set", "unset", "pset", "echo", "qecho", "timing", "t", "a", "x", "o", "encoding"}
)
_META = re.compile(r"^[ \t]*\\([A-Za-z!?]+)")

Kind = Literal[
    "sql", "transaction", "create_pgtap", "create_helpers", "create_extension", "drop_extension"
]


class TestFileError(RlsguardError):
    """A test file rlsguard cannot run as written (it names the file, the line and why)."""

    __test__ = False


@dataclass(frozen=True)
class FileStatement:
    """One statement of a test file and how the runner treats it."""

    statement: Statement
    kind: Kind
    extension: str | None = None

    @property
    def line(self) -> int:
        return self.statement.line

    @property
    def text(self) -> str:
        return self.statement.text


def read_test_file(path: Path) -> list[FileStatement]:
    """The file's statements, classified; psql display commands removed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TestFileError(f"{path}: cannot read the test file: {exc}") from exc
    return classify(strip_psql(text, path))


def strip_psql(text: str, path: Path | str = "<sql>") -> str:
    """Blank out psql's display commands (keeping line numbers); refuse the others."""
    out = []
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        match = _META.match(line)
        if match is None:
            out.append(line)
            continue
        command = match.group(1)
        if command == "q":  # psql stops reading the file here
            out.append("\n" * (text.count("\n") - sum(part.count("\n") for part in out)))
            break
        if command not in _DISPLAY_COMMANDS:
            raise TestFileError(
                f"{path}:{number}: the psql command \\{command} cannot run outside psql; "
                "rlsguard runs the SQL of test files itself. Inline what it does, or remove it."
            )
        out.append("\n" if line.endswith("\n") else "")
    return "".join(out)


def classify(text: str) -> list[FileStatement]:
    statements, _ = split(text)
    return [FileStatement(s, *_kind(s.node)) for s in statements]


def _kind(node: object) -> tuple[Kind, str | None]:
    if isinstance(node, ast.TransactionStmt) and node.kind in (
        TransactionStmtKind.TRANS_STMT_BEGIN,
        TransactionStmtKind.TRANS_STMT_START,
        TransactionStmtKind.TRANS_STMT_COMMIT,
        TransactionStmtKind.TRANS_STMT_ROLLBACK,
    ):
        return "transaction", None
    if isinstance(node, ast.CreateExtensionStmt):
        if node.extname == PGTAP:
            return "create_pgtap", PGTAP
        if node.extname in TEST_HELPERS:
            return "create_helpers", node.extname
        return "create_extension", node.extname
    if isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_EXTENSION:
        names = {getattr(obj, "sval", None) or str(obj) for obj in node.objects or ()}
        if names and names <= {PGTAP, *TEST_HELPERS}:
            return "drop_extension", ", ".join(sorted(names))
    return "sql", None
