"""The oracle: the exact rows a persona may touch, computed with RLS bypassed.

An expectation is ``all``, ``none``, a predicate or a key list. The oracle
turns it (and the rows a ``changes:`` candidate applies to) into one statement
run as the superuser (who bypasses RLS), with the persona's parameters
substituted, so the answer depends only on the data and the file, never on
the policies under test. Predicates run with the API
search path (``public, extensions``), as the policies do, but without any
request claims: ``auth.uid()`` would be NULL there, which is why the loader
rejects it in favour of ``:uid``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rlsguard.catalog.tables import TableInfo
from rlsguard.identity.session import Identity
from rlsguard.matrix import params, statements
from rlsguard.matrix.executor import Outcome, Statement
from rlsguard.matrix.load import Expectation
from rlsguard.matrix.model import Candidate, Change

Key = tuple[str | None, ...]


def parameter(identity: Identity, name: str) -> str | None:
    """The text value of parameter ``name`` for this identity (None: SQL NULL)."""
    return params.as_text(params.lookup(name, identity.role, identity.claims))


def literal_for(identity: Identity) -> Callable[[str], str]:
    """Parameter name -> the SQL literal that replaces it, for this identity."""
    return lambda name: params.sql_literal(parameter(identity, name))


def parameters_used(identity: Identity, texts: Sequence[str]) -> dict[str, str | None]:
    """The parameters appearing in ``texts`` and their values, for failure reports."""
    names = dict.fromkeys(ref.name for text in texts for ref in params.find_params(text))
    return {name: parameter(identity, name) for name in names}


def expected_statement(
    table: TableInfo, key: Sequence[str], expectation: Expectation, identity: Identity
) -> Statement | None:
    """The superuser statement answering an expectation; None for ``none`` (no query needed)."""
    if expectation.kind == "none":
        return None
    if expectation.kind == "all":
        return Statement(statements.rows(table, key))
    if expectation.kind == "keys":
        return Statement(statements.normalized_keys(table, key, expectation.keys))
    assert expectation.where is not None
    predicate = params.substitute(expectation.where, literal_for(identity))
    return Statement(statements.rows(table, key, predicate))


def keys_of(outcome: Outcome) -> frozenset[Key]:
    return frozenset(outcome.rows or ())


def candidate_values(candidate: Candidate | Change, identity: Identity) -> dict[str, str]:
    """Column -> SQL expression text for one candidate row (or change) as one identity."""
    literal = literal_for(identity)
    values: dict[str, str] = {}
    for column, value in _data(candidate).items():
        name = params.whole_param(value)
        if name is not None:
            values[column] = literal(name)
        else:
            values[column] = params.sql_literal(params.as_text(value))
    for column, expression in candidate.sql.items():
        values[column] = "(" + params.substitute(expression, literal) + ")"
    return values


def candidate_texts(candidate: Candidate | Change) -> list[str]:
    """Texts of a candidate that may hold parameters (for :func:`parameters_used`)."""
    texts: list[Any] = [v for v in _data(candidate).values() if params.whole_param(v)]
    if isinstance(candidate, Change) and candidate.where is not None:
        texts.append(candidate.where)
    return [*texts, *candidate.sql.values()]


def _data(candidate: Candidate | Change) -> dict[str, Any]:
    return candidate.set_ if isinstance(candidate, Change) else candidate.values


def change_target(
    table: TableInfo,
    key: Sequence[str],
    rows: Expectation,
    change: Change,
    identity: Identity,
) -> Statement | None:
    """The superuser statement for the rows a change applies to; None when there are none.

    ``rows`` is the persona's update expectation (the rows it may update); the change's
    ``where`` narrows them.
    """
    if rows.kind == "none":
        return None
    literal = literal_for(identity)
    predicates: list[str] = []
    if rows.kind == "where" and rows.where is not None:
        predicates.append(params.substitute(rows.where, literal))
    elif rows.kind == "keys":
        predicates.append(statements.key_in(table, key, rows.keys))
    if change.where is not None:
        predicates.append(params.substitute(change.where, literal))
    where = " and ".join(f"({p})" for p in predicates) or None
    return Statement(statements.rows(table, key, where))
