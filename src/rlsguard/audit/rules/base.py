"""What a lint rule is, and the context every rule reads: catalog, analysed policies, locations.

A rule is a function from a :class:`LintContext` to findings, registered with :func:`rule`
together with its id, default level, category and the text reports show (title, why it
matters, what to do). Rules never query the database: everything comes from the catalog read
once by :func:`rlsguard.policy.catalog.read_catalog` (plus the public Storage buckets), so the
whole rule set runs in milliseconds and on a snapshot of the surface as well as on a live one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlsguard.audit.exprs import Analysis, BodyFacts, analyse, analyse_body
from rlsguard.audit.findings import Category, Finding, Level, Location
from rlsguard.audit.locate import Locator
from rlsguard.policy.catalog import Catalog, Function, Policy, Table

CLIENT_ROLES = ("anon", "authenticated")  # who a Data API request can be without a secret key
DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
COMMAND_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "SELECT": ("SELECT",),
    "INSERT": ("INSERT",),
    "UPDATE": ("UPDATE",),
    "DELETE": ("DELETE",),
    "ALL": DML,
}

Check = Callable[["LintContext"], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    """One lint rule and the words reports use for it."""

    id: str
    level: Level
    category: Category
    title: str
    description: str
    remediation: str
    origin: str  # "splinter 0013" for parity rules, "rlsguard" for the others
    check: Check = field(repr=False, compare=False)


RULES: dict[str, Rule] = {}


def rule(
    id: str,
    *,
    level: Level,
    category: Category,
    title: str,
    description: str,
    remediation: str,
    origin: str = "rlsguard",
) -> Callable[[Check], Check]:
    """Register a rule (decorator)."""

    def register(check: Check) -> Check:
        if id in RULES:
            raise ValueError(f"rule {id!r} is registered twice")
        RULES[id] = Rule(id, level, category, title, description, remediation, origin, check)
        return check

    return register


@dataclass(frozen=True)
class Trigger:
    """A BEFORE UPDATE row trigger (``pg_trigger``) and the function it runs."""

    table: str  # schema.name
    name: str
    function: str  # schema.name
    language: str
    body: str
    when: str | None = None  # the WHEN condition, without parentheses


@dataclass(frozen=True)
class Bucket:
    """A Storage bucket (rows of ``storage.buckets``)."""

    id: str
    public: bool


class LintContext:
    """The catalog and the derived facts rules share; everything derived is computed once."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        locator: Locator | None = None,
        buckets: Iterable[Bucket] = (),
        triggers: Iterable[Trigger] | None = None,
        comments: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        self.catalog = catalog
        self.locator = locator or Locator()
        self.buckets = tuple(buckets)
        # None: not read (a catalog snapshot); rules that need them then say they could not tell.
        self.triggers: tuple[Trigger, ...] | None = (
            tuple(triggers) if triggers is not None else None
        )
        self.comments: Mapping[tuple[str, str], str] = comments or {}
        self.current: Rule | None = None

    # -- findings ------------------------------------------------------------------------
    def finding(
        self,
        object: str,
        message: str,
        *,
        location: Location | None = None,
        level: Level | None = None,
        remediation: str | None = None,
        **details: Any,
    ) -> Finding:
        """A finding of the rule being run, with its defaults."""
        assert self.current is not None, "findings are made inside a rule"
        current = self.current
        return Finding(
            rule=current.id,
            level=level or current.level,
            category=current.category,
            object=object,
            message=message,
            remediation=remediation or current.remediation,
            location=location,
            details=details,
        )

    # -- tables and privileges -------------------------------------------------------------
    @property
    def rls_tables(self) -> Iterator[Table]:
        return (t for t in self.catalog.tables if t.kind != "foreign table")

    def client_privileges(self, table: Any, role: str) -> frozenset[str]:
        """Table-level privileges ``role`` holds, memberships and PUBLIC included."""
        return frozenset(table.effective.get(role, frozenset()))

    def reachable_by(self, table: Any, privileges: Iterable[str] = DML) -> list[str]:
        """Client roles holding any of ``privileges`` on ``table`` (table or column level)."""
        wanted = set(privileges)
        out = []
        for role in CLIENT_ROLES:
            if (
                self.client_privileges(table, role) & wanted
                or self.column_privileges(table, role) & wanted
            ):
                out.append(role)
        return out

    def column_privileges(self, table: Any, role: str) -> frozenset[str]:
        found = set()
        for column in table.columns:
            for grant in column.grants:
                if grant.grantee in (role, "PUBLIC"):
                    found.add(grant.privilege)
        return frozenset(found)

    def columns_with(self, table: Table, role: str, privilege: str) -> frozenset[str]:
        """Columns ``role`` may read (SELECT) or write (UPDATE, INSERT)."""
        if privilege in self.client_privileges(table, role):
            return frozenset(c.name for c in table.columns)
        return frozenset(
            c.name
            for c in table.columns
            if any(g.grantee in (role, "PUBLIC") and g.privilege == privilege for g in c.grants)
        )

    @staticmethod
    def policy_roles(policy: Policy) -> tuple[str, ...]:
        """Client roles a policy applies to (``public`` means both)."""
        return tuple(r for r in CLIENT_ROLES if policy.applies_to(r))

    # -- expressions ---------------------------------------------------------------------------
    def using(self, policy: Policy) -> Analysis:
        return self._analyse(policy, policy.using_raw)

    def with_check(self, policy: Policy) -> Analysis | None:
        if policy.with_check_raw is None:
            return None
        return self._analyse(policy, policy.with_check_raw)

    def expressions(self, policy: Policy) -> list[tuple[str, Analysis]]:
        """``("USING", a)`` and ``("WITH CHECK", a)`` for the clauses the policy has."""
        out = []
        if policy.using_raw is not None:
            out.append(("USING", self.using(policy)))
        checked = self.with_check(policy)
        if checked is not None:
            out.append(("WITH CHECK", checked))
        return out

    @staticmethod
    def missing_clauses(policy: Policy) -> list[str]:
        """Clauses whose absence makes Postgres admit no row through this policy.

        A policy with no USING admits no existing row for SELECT, UPDATE and DELETE (it adds
        no qual, and no qual is a deny); one with neither WITH CHECK nor USING admits no new
        row for INSERT or UPDATE (measured on PostgreSQL 15: `0 rows` and `new row violates
        row-level security policy`).
        """
        out = []
        if policy.using_raw is None and policy.command in ("SELECT", "UPDATE", "DELETE", "ALL"):
            out.append("USING")
        if (
            policy.using_raw is None
            and policy.with_check_raw is None
            and policy.command in ("INSERT", "UPDATE", "ALL")
        ):
            out.append("WITH CHECK")
        return out

    def effective_check(self, policy: Policy) -> Analysis:
        """What new rows are checked against: WITH CHECK, else USING (Postgres reuses it)."""
        checked = self.with_check(policy)
        return checked if checked is not None else self.using(policy)

    def _analyse(self, policy: Policy, text: str | None) -> Analysis:
        table = self.catalog.table(policy.qualified_table)
        columns = frozenset(c.name for c in table.columns) if table else frozenset()
        return analyse(text, policy.table, columns)

    def location(self, policy: Policy) -> Location | None:
        return self.locator.policy(policy.qualified_table, policy.name)

    def update_triggers(self, table: Table) -> list[Trigger]:
        return [t for t in self.triggers or () if t.table == table.qualified]

    # -- functions -----------------------------------------------------------------------------
    @functools.cached_property
    def functions_by_name(self) -> dict[str, list[Function]]:
        out: dict[str, list[Function]] = {}
        for function in self.catalog.functions:
            out.setdefault(f"{function.schema}.{function.name}", []).append(function)
        return out

    def body(self, function: Function) -> BodyFacts:
        return analyse_body(function.body_raw, function.language)

    def invoker_closure(self, names: Iterable[str]) -> Iterator[tuple[str, Function, BodyFacts]]:
        """Functions reached from ``names`` through calls, stopping at SECURITY DEFINER ones.

        Yields ``(name, function, facts)`` for every function whose body runs with the
        caller's rights (definer functions are yielded too, but not followed).
        """
        seen: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for function in self.functions_by_name.get(name, ()):
                facts = self.body(function)
                yield name, function, facts
                if not function.security_definer:
                    todo.extend(facts.functions)


def table_label(table: Any) -> str:
    return f"{table.schema}.{table.name}"
