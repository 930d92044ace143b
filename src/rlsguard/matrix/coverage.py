"""What an access matrix does not say: personas, tables, operations and cells left untested.

A file that forgets a table must not look like a table that passed, so every
run lists what it did not check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rlsguard.matrix.model import CHANGES, OPERATIONS, MatrixSpec


@dataclass
class Untested:
    """Gaps between the project (personas, exposed tables) and the matrix file."""

    personas: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    operations: list[tuple[str, str]] = field(default_factory=list)
    cells: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.personas or self.tables or self.operations or self.cells)

    def lines(self) -> list[str]:
        """Human-readable lines, one per gap."""
        out = []
        if self.personas:
            out.append(f"personas not in personas: {', '.join(self.personas)}")
        if self.tables:
            out.append(f"tables not in tables: {', '.join(self.tables)}")
        by_table: dict[str, list[str]] = {}
        for table, operation in self.operations:
            by_table.setdefault(table, []).append(operation)
        out.extend(f"{t}: no {', '.join(ops)}" for t, ops in by_table.items())
        out.extend(f"{t} {op}: not for {', '.join(ps)}" for t, op, ps in self.cells)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "personas": self.personas,
            "tables": self.tables,
            "operations": [list(o) for o in self.operations],
            "cells": [[t, o, list(p)] for t, o, p in self.cells],
        }


def untested(
    spec: MatrixSpec, project_personas: Iterable[str], exposed_tables: Iterable[str] | None
) -> Untested:
    """The gaps; ``exposed_tables`` None means the tables are unknown (no database)."""
    listed = list(spec.personas)
    gaps = Untested()
    gaps.personas = [p for p in project_personas if p not in listed]
    if exposed_tables is not None:
        gaps.tables = [t for t in exposed_tables if t not in spec.tables]
    for table, tspec in spec.tables.items():
        for operation in OPERATIONS:
            if operation == "insert":
                entries = tspec.insert.accept if tspec.insert is not None else None
            else:
                entries = getattr(tspec, operation)
            if entries is None:
                gaps.operations.append((table, operation))
                continue
            missing = [p for p in listed if p not in entries]
            if missing:
                gaps.cells.append((table, operation, missing))
        # changes: is optional (not every table has a WITH CHECK worth probing), but once a
        # table has it, a persona it leaves out is a gap like any other.
        if tspec.changes is not None:
            missing = [p for p in listed if p not in tspec.changes.accept]
            if missing:
                gaps.cells.append((table, CHANGES, missing))
    return gaps
