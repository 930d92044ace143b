"""Predict "infinite recursion detected in policy" (42P17) from the policy graph.

When Postgres expands a table's policies, a subquery in them that reads a table with row
level security gets that table's SELECT policies, and so on; meeting a table whose policies
are already being expanded raises 42P17 on every query of it. So a policy of T that reads T,
or reads U whose SELECT policies read T, breaks T. Calls of SECURITY INVOKER SQL functions
count as reads of what their bodies read (at run time they recurse the same way, ending in a
stack overflow); a SECURITY DEFINER function, or a view that runs as its owner, breaks the
chain, which is the usual fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rlsguard.audit.findings import Finding
from rlsguard.audit.rules.base import LintContext, rule
from rlsguard.policy.catalog import Policy


@dataclass(frozen=True)
class Edge:
    """Evaluating a policy of ``source`` reads ``target`` (``via`` says how)."""

    source: str
    target: str
    policy: Policy
    via: str  # "" (directly), "view v", "function f()"

    @property
    def on_read(self) -> bool:
        """Whether the policy applies when the table is read (by another policy's subquery)."""
        return self.policy.command in ("SELECT", "ALL")


def _reads(ctx: LintContext, policy: Policy) -> Iterator[tuple[str, str]]:
    """(relation, via) read with the requester's rights while evaluating ``policy``."""
    functions: set[str] = set()
    for _, analysis in ctx.expressions(policy):
        for relation in analysis.relations:
            yield from _through_views(ctx, relation, "")
        functions |= analysis.functions
    for name, function, facts in ctx.invoker_closure(functions):
        if function.security_definer:
            continue
        for relation in facts.relations:
            yield from _through_views(ctx, relation, f"function {name}()")


def _through_views(
    ctx: LintContext, relation: str, via: str, depth: int = 0
) -> Iterator[tuple[str, str]]:
    view = ctx.catalog.view(relation)
    if view is None:
        yield relation, via
        return
    if view.kind != "view" or not view.security_invoker or depth > 8:
        return  # runs as its owner (or holds its own rows): policies below are not ours
    for inner in view.reads:
        yield from _through_views(ctx, inner, via or f"view {relation}", depth + 1)


def policy_graph(ctx: LintContext) -> tuple[list[Edge], list[Edge]]:
    """Edges from every policy, and the subset from policies applied when a table is read."""
    rls = {t.qualified for t in ctx.rls_tables if t.rls_enabled}
    every: list[Edge] = []
    for table in ctx.rls_tables:
        if table.qualified not in rls:
            continue
        for policy in table.policies:
            for target, via in dict.fromkeys(_reads(ctx, policy)):
                if target in rls:
                    every.append(Edge(table.qualified, target, policy, via))
    return every, [e for e in every if e.on_read]


def _describe(path: list[Edge]) -> str:
    steps = []
    for edge in path:
        how = f" through {edge.via}" if edge.via else ""
        steps.append(f"{edge.source} (policy {edge.policy.name}) reads {edge.target}{how}")
    return "; ".join(steps)


@rule(
    "policy_recursion",
    level="error",
    category="security",
    title="Policies that read each other's tables (42P17 at run time)",
    description="A policy that reads its own table, or a table whose SELECT policies read it "
    "back, makes Postgres raise 'infinite recursion detected in policy' on every query of "
    "the table.",
    remediation="Read the other table through a SECURITY DEFINER function owned by a role that "
    "bypasses RLS (with `set search_path = ''`) in a schema the API does not expose, so the "
    "check does not run the other table's policies (the finding names the tables).",
)
def policy_recursion(ctx: LintContext) -> Iterator[Finding]:
    every, reading = policy_graph(ctx)
    onward: dict[str, list[Edge]] = {}
    for edge in reading:
        onward.setdefault(edge.source, []).append(edge)
    reported: set[str] = set()  # every table on a cycle breaks: one finding for each
    for first in every:
        if first.source in reported:
            continue
        path = _back_to(first, onward)
        if path is None:
            continue
        reported.add(first.source)
        cycle = {e.source for e in path}
        yield ctx.finding(
            first.source,
            f"querying {first.source} recurses: {_describe(path)}. Postgres raises 42P17 "
            "(infinite recursion detected in policy).",
            location=ctx.location(first.policy),
            remediation=_break_fix(ctx, first),
            tables=sorted(cycle),
            policy=first.policy.name,
        )


def _break_fix(ctx: LintContext, first: Edge) -> str:
    """How to break the cycle, in the project's names."""
    private = sorted(s.name for s in ctx.catalog.schemas if not s.exposed and not s.supabase)
    where = (
        f"a schema the API does not expose (such as {private[0]})"
        if private
        else ("a schema the API does not expose (create one, e.g. `create schema app_private`)")
    )
    return (
        f"In {first.policy.name}, read {first.target} through a SECURITY DEFINER function in "
        f"{where}, owned by a role that bypasses RLS and with `set search_path = ''`, so the "
        f"check of {first.source} does not run the policies of {first.target}."
    )


def _back_to(first: Edge, onward: dict[str, list[Edge]]) -> list[Edge] | None:
    """The shortest path from ``first`` back to its source over read edges."""
    start = first.source
    frontier: list[list[Edge]] = [[first]]
    seen = {first.target}
    while frontier:
        following: list[list[Edge]] = []
        for path in frontier:
            here = path[-1].target
            if here == start:
                return path
            for edge in onward.get(here, ()):
                if edge.target == start:
                    return [*path, edge]
                if edge.target not in seen:
                    seen.add(edge.target)
                    following.append([*path, edge])
        frontier = following
    return None
