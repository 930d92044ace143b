"""Mutants that cannot change what anyone reaches, and mutants the project waived.

Detected only where it is cheap and certain: the same normalised SQL; an operand that another
operand repeats (found while generating); a grant or revoke that changes nothing because the
role keeps the privilege through ``PUBLIC`` or a role it belongs to; a grant or revoke on a
table whose RLS admits no row to that role for that command anyway (no policy applies), so
only the kind of refusal changes. Everything else is judged by running the checks; what the
checks cannot see and the project accepts is waived in ``[mutate] waivers`` with a reason.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rlsguard.catalog.sqlnorm import normalize_statements
from rlsguard.catalog.surface import Catalog, Table
from rlsguard.mutate.model import Mutant
from rlsguard.mutate.operators import implied_by, operand_keys, requires_uid, row_independent


@dataclass(frozen=True)
class WaiverRule:
    """``mutant``: an id or a glob over ids (``public.users.*/to_anon``); ``reason``: shown."""

    mutant: str
    reason: str


@functools.lru_cache(maxsize=256)
def _normalized(sql: str) -> Any:
    """(Every mutant of a policy shares its ``before``: normalised once.)"""
    return normalize_statements(sql)


def _same_sql(mutant: Mutant) -> str:
    if not mutant.after or not mutant.before or mutant.kind != "policy":
        return ""
    try:
        same = _normalized(mutant.before) == normalize_statements(mutant.after)
    except Exception:
        return ""
    return "the mutant normalises to the original SQL" if same else ""


def _inherited(table: Table, role: str, privilege: str, catalog: Catalog) -> str:
    holders = {"public"}
    for r in catalog.roles:
        if r.name == role:
            holders.update(r.member_of)
    for grant in table.grants:
        if grant.privilege == privilege and grant.grantee.lower() in holders:
            return f"{role} keeps {privilege} through {grant.grantee}"
    return ""


def _no_policy_admits(table: Table, role: str, privilege: str) -> str:
    if not table.rls_enabled:
        return ""
    for policy in table.policies:
        if policy.permissive and policy.command in (privilege, "ALL") and policy.applies_to(role):
            return ""
    return (
        f"RLS is on and no permissive {privilege} policy applies to {role}: it reaches no row "
        "either way, only the kind of refusal changes"
    )


def _widened_to_nobody(mutant: Mutant, catalog: Catalog) -> str:
    """A policy's TO widened to roles that hold no privilege for its command on the table:
    the policy reaches no one new (``service_role`` bypasses RLS either way)."""
    table_name, _, name = mutant.object.rpartition(".")
    table = catalog.table(table_name)
    policy = next((p for p in table.policies if p.name == name), None) if table else None
    if table is None or policy is None:
        return ""
    new = [r for r in ("anon", "authenticated") if not policy.applies_to(r)]
    if mutant.operator == "to_anon":
        new = [r for r in new if r == "anon"]
    clauses = [c for c in (policy.using_raw, policy.with_check_raw) if c]
    if clauses and all(requires_uid(c) for c in clauses):
        return (
            "every row it admits needs a comparison with auth.uid(), which is NULL for anon "
            "(and service_role bypasses RLS): nobody new is reached"
        )
    needed = {"ALL": {"SELECT", "INSERT", "UPDATE", "DELETE"}}.get(policy.command, {policy.command})
    if any(needed & table.effective.get(role, frozenset()) for role in new):
        return ""
    who = " and ".join(new) or "no API role"
    return (
        f"{who} hold(s) no {policy.command} privilege on {table.qualified}: nobody new is reached"
    )


_MASKED = {
    "using:drop_conjunct": ("UPDATE", "DELETE"),
    "using:uid_always_true": ("UPDATE", "DELETE"),
    "with_check:drop_conjunct": ("UPDATE",),
    "with_check:uid_always_true": ("UPDATE",),
}


def _mutated_clause(mutant: Mutant) -> str | None:
    """The mutated USING (``using:*``) or WITH CHECK of a policy mutant's CREATE POLICY."""
    from pglast import ast, parse_sql

    try:
        (raw,) = parse_sql(mutant.after)
    except Exception:
        return None
    stmt = raw.stmt
    if not isinstance(stmt, ast.CreatePolicyStmt):
        return None
    node = stmt.qual if mutant.operator.startswith("using:") else stmt.with_check
    if node is None:
        return None
    from rlsguard.catalog.sqlnorm import deparse

    return str(deparse(node))


def _masked_by_select(mutant: Mutant, catalog: Catalog) -> str:
    """A condition taken out of an UPDATE or DELETE policy that every SELECT policy of its
    roles requires anyway. An API write filters on a column and returns rows, and then
    Postgres applies the SELECT policies to the row it reaches (and, for UPDATE, to the new
    row): no row without the condition is ever reached, with or without the mutant."""
    commands = _MASKED.get(mutant.operator)
    if not commands or not mutant.dropped:
        return ""
    table_name, _, name = mutant.object.rpartition(".")
    table = catalog.table(table_name)
    policy = next((p for p in table.policies if p.name == name), None) if table else None
    if table is None or policy is None or policy.command not in commands:
        return ""
    if not table.rls_enabled:
        return ""
    # What the mutated clause still requires (read from the mutant's SQL): rows it cannot
    # admit need no SELECT policy to hide them.
    clause = _mutated_clause(mutant)
    roles = [r for r in ("anon", "authenticated") if policy.applies_to(r)]
    for role in roles:
        shown = [
            p
            for p in table.policies
            if p.permissive and p.command in ("SELECT", "ALL") and p.applies_to(role)
        ]
        if not all(implied_by(mutant.dropped, p.using_raw, clause) for p in shown):
            return ""
    if not roles:
        return ""
    return (
        f"every SELECT policy for {', '.join(roles)} that can show a row this policy admits "
        f"requires {mutant.dropped}; an API "
        f"{policy.command.lower()} filters and returns rows, so those policies apply to the "
        "rows it reaches" + (" and writes" if policy.command == "UPDATE" else "")
    )


def _still_checked(mutant: Mutant, catalog: Catalog) -> str:
    """A USING conjunct that reads no column, taken out of the only UPDATE policy of its
    roles while its WITH CHECK still requires it: for a user it is false for, every new row
    fails the one WITH CHECK there is, so the update is refused either way."""
    if mutant.operator != "using:drop_conjunct" or not row_independent(mutant.dropped):
        return ""
    table_name, _, name = mutant.object.rpartition(".")
    table = catalog.table(table_name)
    policy = next((p for p in table.policies if p.name == name), None) if table else None
    if table is None or policy is None or policy.command != "UPDATE":
        return ""
    if not policy.with_check_raw or not (
        operand_keys(mutant.dropped) <= operand_keys(policy.with_check_raw)
    ):
        return ""
    others = [
        p
        for p in table.policies
        if p is not policy
        and p.permissive
        and p.command in ("UPDATE", "ALL")
        and any(p.applies_to(r) for r in policy.roles)
    ]
    if others:
        return ""
    return (
        f"{mutant.dropped} reads no column and the WITH CHECK of the table's only UPDATE "
        "policy still requires it: whoever it excludes cannot write any new row"
    )


def equivalent(mutant: Mutant, catalog: Catalog) -> str:
    """Why ``mutant`` cannot change access ("" when it may)."""
    if mutant.equivalent:
        return mutant.equivalent
    same = _same_sql(mutant)
    if same:
        return same
    if mutant.operator in ("to_public", "to_anon"):
        return _widened_to_nobody(mutant, catalog)
    if mutant.operator in _MASKED:
        return _masked_by_select(mutant, catalog) or _still_checked(mutant, catalog)
    if mutant.kind == "grant" and mutant.operator in ("revoke_table", "grant_table"):
        table = catalog.table(mutant.object)
        _, _, spec = mutant.id.partition("/")
        _, role, privilege = spec.split(":")
        if table is None:
            return ""
        if mutant.operator == "revoke_table":
            inherited = _inherited(table, role, privilege, catalog)
            if inherited:
                return inherited
        return _no_policy_admits(table, role, privilege)
    return ""


def waiver_for(mutant: Mutant, waivers: Sequence[WaiverRule]) -> WaiverRule | None:
    for waiver in waivers:
        if fnmatch.fnmatchcase(mutant.id, waiver.mutant):
            return waiver
    return None


def unused_waivers(mutants: Sequence[Mutant], waivers: Sequence[WaiverRule]) -> list[WaiverRule]:
    """Waivers that match no mutant: reported, so none outlives its reason."""
    return [w for w in waivers if not any(fnmatch.fnmatchcase(m.id, w.mutant) for m in mutants)]
