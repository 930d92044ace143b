"""Plain-text explanations of matrix results (pytest failures, the CLI, logs).

A failing cell says what differs (unexpected and missing rows, each with its
key and label columns), what the file expected (the predicate and the
persona's parameter values), and what the database did (the policies that
apply to the role and command, RLS status, privileges). Reports only read
results; everything was gathered by the checker.
"""

from __future__ import annotations

from collections.abc import Iterable

from rlsguard.catalog.tables import Policy
from rlsguard.matrix.coverage import Untested
from rlsguard.matrix.results import (
    MAX_ROWS_SHOWN,
    CandidateResult,
    CellResult,
    FailureContext,
    Key,
    MatrixRun,
    sort_key,
)

# Which policy commands matter for each operation (UPDATE and DELETE read the
# rows back with RETURNING, so SELECT policies filter them too).
RELEVANT_COMMANDS = {
    "select": ("SELECT", "ALL"),
    "insert": ("INSERT", "ALL"),
    "update": ("UPDATE", "SELECT", "ALL"),
    "changes": ("UPDATE", "SELECT", "ALL"),
    "delete": ("DELETE", "SELECT", "ALL"),
}
_OUTCOMES = {
    "accepted": "ACCEPTED",
    "skipped": "not inserted (a trigger returned NULL)",
    "unchanged": "no row changed",
    "rls": "rejected by RLS",
    "grant": "rejected by a missing grant",
    "error": "failed",
}


def headline(result: CellResult) -> str:
    cell = result.cell
    operation = "UPDATE (changes)" if cell.operation == "changes" else cell.operation.upper()
    return f"{cell.persona}: {operation} on {cell.table}: {result.summary()}"


def explain(result: CellResult) -> str:
    """The full explanation of one cell (also fine for a passing one)."""
    if result.problem is not None:
        return f"{result.problem}\n"
    lines = [headline(result)]
    where = f"{result.file}:{result.line}" if result.line else result.file
    lines.append(f"  file: {where} ({result.cell.key})")
    lines.extend(_expected(result))
    if result.cell.operation in ("insert", "changes"):
        lines.extend(_candidates(result.candidates))
    else:
        lines.extend(_rows_section(result))
    if result.context is not None:
        lines.extend(_context(result, result.context))
    return "\n".join(lines) + "\n"


def _expected(result: CellResult) -> list[str]:
    expectation = result.expectation
    if expectation is None:
        return []
    if expectation.kind == "accept":
        accepted = [c.label for c in result.candidates if c.expected]
        out = [f"  expected: accept {', '.join(accepted) or 'none'}; reject the rest"]
    elif expectation.kind == "where":
        out = [f"  expected: rows where {expectation.where}"]
    elif expectation.kind == "keys":
        out = [f"  expected: the {len(expectation.keys)} listed key(s)"]
    else:
        out = [f"  expected: {expectation.kind}"]
    if result.parameters:
        values = ", ".join(f":{k} = {_value(v)}" for k, v in result.parameters.items())
        out.append(f"    with {values}")
    return out


def _value(value: str | None) -> str:
    return "NULL" if value is None else repr(value)


def _rows_section(result: CellResult) -> list[str]:
    out: list[str] = []
    labels = result.context.labels if result.context else {}
    columns = result.context.key_columns if result.context else []
    label_columns = result.context.label_columns if result.context else []
    denied = result.denied
    if denied is not None and denied.denial == "grant":
        out.append(f"  denied by a missing grant: {denied.message} ({denied.sqlstate})")
    elif denied is not None:
        out.append(f"  the statement failed: {denied.message} ({denied.sqlstate})")
    if result.fell_back is not None:
        out.append(
            f"  the statement as a whole failed ({result.fell_back.message}, "
            f"{result.fell_back.sqlstate}), so each row was tried alone"
        )
    for error in result.row_errors[:MAX_ROWS_SHOWN]:
        out.append(f"    {_row(error.key, columns, [], {})}: {error.message} ({error.sqlstate})")
    what = "visible" if result.cell.operation == "select" else "affected"
    for title, rows in (
        (f"unexpected rows ({what} under RLS, not allowed by the oracle)", result.unexpected),
        (f"missing rows (allowed by the oracle, not {what} under RLS)", result.missing),
    ):
        if not rows:
            continue
        out.append(f"  {title}: {len(rows)}")
        ordered = sorted(rows, key=sort_key)
        for key in ordered[:MAX_ROWS_SHOWN]:
            out.append(f"    {_row(key, columns, label_columns, labels.get(key, {}))}")
        if len(ordered) > MAX_ROWS_SHOWN:
            out.append(f"    ... and {len(ordered) - MAX_ROWS_SHOWN} more")
    return out


def _row(
    key: Key, columns: list[str], label_columns: list[str], labels: dict[str, str | None]
) -> str:
    names = columns or [f"key{i}" for i in range(len(key))]
    parts = [f"{n}={v}" for n, v in zip(names, key, strict=False)]
    parts.extend(f"{n}={_value(labels.get(n))}" for n in label_columns if n in labels)
    return "  ".join(parts)


def _candidates(candidates: Iterable[CandidateResult]) -> list[str]:
    out = []
    for candidate in candidates:
        values = "{" + ", ".join(f"{k}: {v}" for k, v in candidate.values.items()) + "}"
        want = "accepted" if candidate.expected else "rejected"
        got = _OUTCOMES.get(candidate.outcome, candidate.outcome)
        mark = "ok  " if candidate.ok else "FAIL"
        if candidate.target is None:
            what = f"candidate {candidate.label} {values}"
        else:
            what = f"change {candidate.label} set {values} on {candidate.target} row(s)"
        line = f"  {mark} {what}: expected {want}, got {got}"
        if candidate.message and candidate.outcome != "accepted":
            line += f": {candidate.message} ({candidate.sqlstate})"
        elif candidate.outcome == "accepted" and candidate.target is not None:
            line += f" ({len(candidate.changed)} row(s) changed)"
        elif candidate.target == 0:
            line += " (the persona may update no row it applies to)"
        out.append(line)
    return out


def _context(result: CellResult, context: FailureContext) -> list[str]:
    out: list[str] = []
    table, role = result.cell.table, context.role
    privileges = context.privileges
    bypass = privileges is not None and privileges.bypass_rls
    commands = RELEVANT_COMMANDS[result.cell.operation]
    applying = [p for p in context.policies if p.applies and p.command in commands]
    others = [p for p in context.policies if not p.applies and p.command in commands]
    if bypass:
        status = f"not applied: {role} bypasses RLS (BYPASSRLS), only grants count"
    elif not context.rls:
        status = "not applied: RLS is DISABLED on the table, only grants count"
    else:
        status = "RLS enabled" + (", forced" if context.force_rls else "")
    out.append(f"  policies on {table} for {role}, {'/'.join(commands[:-1])} ({status}):")
    command = commands[0]
    if context.rls and not bypass and not any(p.command in (command, "ALL") for p in applying):
        out.append(f"    no {command} policy applies to {role}: RLS lets no row through")
    for policy in applying:
        out.extend(_policy(policy))
    if others:
        names = ", ".join(f"{p.name!r} (TO {', '.join(p.roles)})" for p in others)
        out.append(f"    not for {role}: {names}")
    if privileges is not None:
        granted = [
            name
            for name, has in (
                ("SELECT", privileges.select),
                ("INSERT", privileges.insert),
                ("UPDATE", privileges.update),
                ("DELETE", privileges.delete),
            )
            if has
        ]
        out.append(f"  privileges of {role} on {table}: {', '.join(granted) or 'none'}")
    return out


def _policy(policy: Policy) -> list[str]:
    kind = "PERMISSIVE" if policy.permissive else "RESTRICTIVE"
    out = [f"    {policy.name!r} {kind} {policy.command} TO {', '.join(policy.roles)}"]
    if policy.using is not None:
        out.append(f"        USING ({policy.using})")
    if policy.with_check is not None:
        out.append(f"        WITH CHECK ({policy.with_check})")
    elif policy.command in ("UPDATE", "ALL", "INSERT") and policy.using is not None:
        out.append("        no WITH CHECK (USING checks the new row)")
    return out


def untested_lines(untested: Untested) -> list[str]:
    return [f"untested: {line}" for line in untested.lines()]


def summary(run: MatrixRun) -> str:
    """A few lines for the end of a run: counts, failures by cell, what was not checked."""
    total = len(run.results)
    failed = run.failed
    lines = [
        f"{run.matrix.file}: {total} cell(s) checked, {len(failed)} failed "
        f"({run.statements} statements, {run.round_trips} round trip(s), {run.seconds:.3f}s)"
    ]
    lines.extend(f"  FAIL {r.cell.id}: {', '.join(r.kinds)}" for r in failed)
    lines.extend(untested_lines(run.untested))
    return "\n".join(lines)
