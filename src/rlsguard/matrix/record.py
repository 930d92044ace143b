"""``rlsguard matrix record``: a starter matrix written from what the database does today.

For every persona (that resolves), every exposed table and SELECT, UPDATE and
DELETE, the recorder runs the same requests as the checker and writes what
they touched: ``all`` (every row), ``none``, or an explicit ``{keys: [...]}``
list. Every entry carries a ``# recorded`` comment and the file starts with a
review notice: recorded behaviour is a baseline, not a specification. Teams
then tighten key lists into predicates (``owner_id = :uid``) that stay right
when the data changes, and add ``insert:`` candidates and ``changes:``, which
cannot be guessed from existing rows. Checking the recorded file on the same
database passes by construction.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rlsguard.catalog import tables as catalog
from rlsguard.database import Database
from rlsguard.errors import RlsguardError
from rlsguard.matrix.check import Checker
from rlsguard.matrix.load import Cell, Matrix
from rlsguard.matrix.model import ROW_OPERATIONS, MatrixSpec
from rlsguard.matrix.results import CellResult, Key, sort_key

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_INTEGER_TYPES = ("smallint", "integer", "bigint")


@dataclass
class Recording:
    """What was recorded, before it is written out."""

    personas: list[str]
    tables: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)  # per table, or "" for the file
    keys: dict[str, list[str]] = field(default_factory=dict)


def record(
    db: Database,
    *,
    personas: Sequence[str] | None = None,
    tables: Sequence[str] | None = None,
    schemas: Sequence[str] = ("public",),
) -> Recording:
    """Observe every persona x table x SELECT/UPDATE/DELETE; nothing is changed."""
    wanted = list(personas) if personas is not None else _persona_order(db.personas.names)
    usable: list[str] = []
    notes: dict[str, list[str]] = {"": []}
    for name in wanted:
        try:
            db.personas.resolve(db.conn, name)
            usable.append(name)
        except RlsguardError as exc:
            notes[""].append(f"{name}: not recorded: {exc}")
    if not usable:
        raise RlsguardError("no persona could be resolved, so there is nothing to record")
    names = list(tables) if tables is not None else catalog.exposed_tables(db.conn, schemas)
    roles = {db.personas.resolve(db.conn, p).role for p in usable}
    infos = catalog.describe_tables(db.conn, names, roles)
    recording = Recording(usable, notes=notes)
    spec: dict[str, Any] = {"personas": usable, "tables": {}}
    for name in names:
        info = infos.get(name)
        if info is None:
            notes[""].append(f"{name}: not recorded: no such table")
            continue
        if not info.primary_key:
            notes[""].append(f"{name}: not recorded: no primary key (write key: by hand)")
            continue
        recording.keys[name] = list(info.primary_key)
        spec["tables"][name] = {op: dict.fromkeys(usable, "all") for op in ROW_OPERATIONS}
    if not spec["tables"]:
        return recording
    matrix = Matrix(MatrixSpec.model_validate(spec))
    run = Checker(db, matrix, schemas=schemas, context=False).run()
    for name in spec["tables"]:
        info = infos[name]
        assert info is not None
        entries: dict[str, dict[str, Any]] = {}
        for operation in ROW_OPERATIONS:
            found: dict[str, Any] = {}
            for persona in usable:
                result = run.results[Cell(persona, name, operation)]
                value = _observed(result, info)
                if isinstance(value, str) and value.startswith("#"):
                    recording.notes.setdefault(name, []).append(
                        f"{operation} as {persona}: not recorded: {value[1:].strip()}"
                    )
                    continue
                found[persona] = value
            entries[operation] = found
        recording.tables[name] = entries
    return recording


def _persona_order(names: Sequence[str]) -> list[str]:
    """anon first, service_role last, the project's personas in between (as declared)."""
    middle = [n for n in names if n not in ("anon", "service_role")]
    return [n for n in ("anon", *middle, "service_role") if n in names]


def _observed(result: CellResult, info: catalog.TableInfo) -> Any:
    """``"all"``, ``"none"``, ``(keys, total)``, or ``"# why not"``."""
    if result.problem is not None:
        return f"# {result.problem.reason}"
    if result.denied is not None and result.denied.denial != "grant":
        return f"# {result.denied.message} ({result.denied.sqlstate})"
    if result.row_errors:
        error = result.row_errors[0]
        return f"# {error.message} ({error.sqlstate})"
    actual = result.actual or frozenset()
    every = result.expected or frozenset()
    if not actual:
        return "none"
    if actual == every:
        return "all"
    keys = sorted(actual, key=sort_key)
    return ([_key_value(k, info) for k in keys], len(every))


def _key_value(key: Key, info: catalog.TableInfo) -> Any:
    values = [
        int(v) if v is not None and info.columns[c].type in _INTEGER_TYPES else v
        for c, v in zip(info.primary_key, key, strict=True)
    ]
    return values[0] if len(values) == 1 else values


def render(recording: Recording, *, source: str = "") -> str:
    """The recording as a matrix file, comments included."""
    today = dt.date.today().isoformat()
    lines = [
        f"# Access matrix recorded by `rlsguard matrix record`{f' from {source}' if source else ''}"
        f" on {today}.",
        "# REVIEW EVERY ENTRY: this is what the policies do today, not necessarily what they",
        "# should do. Turn key lists into predicates (e.g. owner_id = :uid) so the file stays",
        "# right when the data changes, and add insert: candidates and changes: (updates that",
        '# change a row, to probe WITH CHECK) per table (see README, "Access matrix").',
        '# Entries marked "# recorded" have not been reviewed yet.',
    ]
    lines.extend(f"# {note}" for note in recording.notes.get("", []))
    lines.append("version: 1")
    lines.append(f"personas: [{', '.join(recording.personas)}]")
    if not recording.tables:
        lines.append("tables: {}")
        return "\n".join(lines) + "\n"
    lines.append("tables:")
    for table, entries in recording.tables.items():
        lines.append(f"  {_key(table)}:")
        lines.extend(f"    # {note}" for note in recording.notes.get(table, []))
        for operation in ROW_OPERATIONS:
            found = entries.get(operation, {})
            if not found:
                continue
            lines.append(f"    {operation}:")
            for persona, value in found.items():
                lines.append(f"      {persona}: {_entry(value)}")
        lines.append("    # insert: not recorded; add candidates: and accept: by hand")
    return "\n".join(lines) + "\n"


def _entry(value: Any) -> str:
    if isinstance(value, str):
        return f"{value}  # recorded"
    keys, total = value
    listed = ", ".join(json.dumps(k) for k in keys)
    return f"{{keys: [{listed}]}}  # recorded: {len(keys)} of {total} rows"


def _key(name: str) -> str:
    return name if _PLAIN_KEY.match(name) else json.dumps(name)
