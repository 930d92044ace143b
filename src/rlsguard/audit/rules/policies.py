"""Rules that read policy expressions: what a predicate admits, whom, and how fast.

Each expression is analysed once from its syntax tree (:mod:`rlsguard.audit.exprs`). The
first group matches splinter's expression lints (its ids and levels) without its text-pattern
blind spots: a policy with one wrapped and one unwrapped ``auth.uid()`` is found, and so is
``user_metadata`` read through a ``raw_user_meta_data`` subquery or a helper function. The
second group finds what splinter does not look for.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

from rlsguard.audit.exprs import (
    PRIVILEGE_FLAG_COLUMNS,
    Analysis,
    is_privilege_literal,
    pinned_columns,
)
from rlsguard.audit.findings import Finding
from rlsguard.audit.plpgsql import ROLE_TABLE, trigger_facts, when_change_tests
from rlsguard.audit.rules.base import (
    CLIENT_ROLES,
    COMMAND_PRIVILEGES,
    DML,
    LintContext,
    rule,
    table_label,
)
from rlsguard.audit.rules.surface import credential_reason, is_sensitive_column
from rlsguard.catalog.surface import SUPABASE_SCHEMAS, Policy, Table

_MULTIPLE_PERMISSIVE_ROLES = ("anon", "authenticated", "authenticator", "dashboard_user")


def _who(roles: tuple[str, ...] | list[str]) -> str:
    return " and ".join(roles) if roles else "nobody"


# -- splinter parity ----------------------------------------------------------------------------


@rule(
    "auth_rls_initplan",
    level="warn",
    category="performance",
    title="Auth function evaluated for every row",
    description="`auth.uid()`, `auth.jwt()`, `auth.role()`, `auth.email()` and "
    "`current_setting()` called directly in a policy are re-evaluated for each row; wrapped in "
    "a scalar subquery they run once per statement (an InitPlan).",
    remediation="Write `(select auth.uid())` instead of `auth.uid()` (the same for the other "
    "functions), at every call site of the policy.",
    origin="splinter 0003",
)
def auth_rls_initplan(ctx: LintContext) -> Iterator[Finding]:
    for policy in ctx.catalog.policies:
        for clause, analysis in ctx.expressions(policy):
            unwrapped = analysis.unwrapped_calls
            if not unwrapped:
                continue
            calls = ", ".join(dict.fromkeys(c.text for c in unwrapped))
            mixed = (
                " (other call sites of the same policy are wrapped)"
                if (analysis.wrapped_calls)
                else ""
            )
            yield ctx.finding(
                policy.qualified_table,
                f"policy {policy.name} calls {calls} in its {clause} clause without a "
                f"`(select ...)` wrapper{mixed}: evaluated once per row.",
                location=ctx.location(policy),
                policy=policy.name,
                clause=clause,
            )


@rule(
    "multiple_permissive_policies",
    level="warn",
    category="performance",
    title="Several permissive policies for one role and action",
    description="Every permissive policy that applies is evaluated for every row; several for "
    "the same role and action cost more than one policy with their conditions OR-ed.",
    remediation="Merge the policies into one with OR-ed conditions (mind that merging must not "
    "widen another action), or waive the finding with a reason.",
    origin="splinter 0006",
)
def multiple_permissive_policies(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        for policy in table.policies:
            if not policy.permissive:
                continue
            for action in COMMAND_PRIVILEGES[policy.command]:
                for role in _MULTIPLE_PERMISSIVE_ROLES:
                    if policy.applies_to(role):
                        groups[(role, action)].append(policy.name)
        parts = [
            f"{role} {action.lower()}: {', '.join(sorted(names))}"
            for (role, action), names in sorted(groups.items())
            if len(names) > 1
        ]
        if parts:
            involved = {n for names in groups.values() if len(names) > 1 for n in names}
            located = [
                loc
                for p in table.policies
                if p.name in involved and (loc := ctx.location(p)) is not None
            ]
            yield ctx.finding(
                table_label(table),
                f"{table_label(table)} has several permissive policies per role and action "
                f"({'; '.join(parts)}).",
                location=ctx.locator.latest(located) or ctx.locator.relation(table.qualified),
            )


@rule(
    "rls_references_user_metadata",
    level="error",
    category="security",
    title="Policy trusts user_metadata",
    description="`user_metadata` (`raw_user_meta_data` in auth.users) is set by the user at "
    "sign-up and editable by them afterwards; a policy that reads it lets users grant "
    "themselves access.",
    remediation="Keep roles and tenants in a table users cannot write (or in `app_metadata`, "
    "which only the service role sets) and read them from there.",
    origin="splinter 0015",
)
def rls_references_user_metadata(ctx: LintContext) -> Iterator[Finding]:
    for policy in ctx.catalog.policies:
        reasons: list[str] = []
        called: set[str] = set()
        for clause, analysis in ctx.expressions(policy):
            reasons.extend(f"{clause} {how}" for how in analysis.metadata_reads)
            called |= analysis.functions
        for name, _function, facts in ctx.invoker_closure(called):
            reasons.extend(f"through {name}(), which {how}" for how in facts.metadata_reads)
        if reasons:
            yield ctx.finding(
                policy.qualified_table,
                f"policy {policy.name} decides access from user-editable metadata: "
                f"{'; '.join(dict.fromkeys(reasons))}.",
                location=ctx.location(policy),
                policy=policy.name,
            )


def _admits_all(analysis: Analysis) -> bool:
    """True for every row, or for every row once the requester is signed in: to the
    ``authenticated`` role ``auth.uid() is not null`` is as good as ``true``."""
    return analysis.always_true or analysis.signed_in_true


def _signed_in_words(ctx: LintContext, policy: Policy) -> str:
    """Say so when a clause is only true because a user is signed in (not literally true)."""
    if any(a.signed_in_true for _, a in ctx.expressions(policy)):
        return (
            " (it only tests that a user is signed in: every signed-in user passes it for "
            "every row, other users' rows included)"
        )
    return ""


def _truth_word(ctx: LintContext, policy: Policy) -> str:
    if any(a.signed_in_true for _, a in ctx.expressions(policy)):
        return "a signed-in-only"
    return "an always-true"


def _true_clauses(ctx: LintContext, policy: Policy) -> list[str]:
    """The clauses of a write policy that admit every row (splinter 0024's cases).

    A missing clause is not a true one: without USING an UPDATE or DELETE policy admits no
    row, and an INSERT policy without WITH CHECK admits no new row (see
    :meth:`LintContext.missing_clauses`); ``rls_policy_always_false`` reports those.
    """
    clauses: list[str] = []
    using = ctx.using(policy) if policy.using_raw is not None else None
    if using is None and policy.command in ("UPDATE", "ALL"):
        return clauses  # no existing row is admitted, so no new row is written
    if policy.command in ("UPDATE", "DELETE", "ALL") and using is not None and _admits_all(using):
        clauses.append("USING")
    if policy.command in ("INSERT", "UPDATE", "ALL"):
        checked = ctx.with_check(policy)
        if checked is not None and _admits_all(checked):
            clauses.append("WITH CHECK")
        elif (
            checked is None
            and policy.command == "INSERT"
            and using is not None
            and _admits_all(using)
        ):
            clauses.append("USING (used as the check)")
    return clauses


@rule(
    "rls_policy_always_true",
    level="warn",
    category="security",
    title="Permissive policy that admits every row",
    description="A permissive policy whose condition is always true (`true`, `1 = 1`) lets its "
    "roles write every row; a SELECT one next to narrower SELECT policies makes them pointless, "
    "since permissive policies are OR-ed.",
    remediation="Replace the condition with one that names whose rows these are (as "
    "`owner_id = (select auth.uid())`), or drop the policy.",
    origin="splinter 0024",
)
def rls_policy_always_true(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        for policy in table.policies:
            roles = ctx.policy_roles(policy)
            if not policy.permissive or not roles:
                continue
            clauses = _true_clauses(ctx, policy)
            if clauses:
                yield ctx.finding(
                    table_label(table),
                    f"policy {policy.name} ({policy.command}, {_who(roles)}) has "
                    f"{_truth_word(ctx, policy)} {' and '.join(clauses)}: it admits every row "
                    f"of {table_label(table)}"
                    f"{_signed_in_words(ctx, policy)}.",
                    location=ctx.location(policy),
                    remediation=_scope_fix(ctx, table, policy),
                    policy=policy.name,
                )
            elif (
                policy.command in ("SELECT", "ALL")
                and policy.using_raw is not None
                and _admits_all(ctx.using(policy))
            ):
                shadowed = [
                    other.name
                    for other in table.policies
                    if other is not policy
                    and other.permissive
                    and other.command in ("SELECT", "ALL")
                    and set(ctx.policy_roles(other)) & set(roles)
                    and not _admits_all(ctx.using(other))
                    and other.using_raw is not None
                ]
                if shadowed:
                    yield ctx.finding(
                        table_label(table),
                        f"policy {policy.name} lets {_who(roles)} read every row of "
                        f"{table_label(table)}, which makes the narrower SELECT policies "
                        f"{', '.join(shadowed)} pointless (permissive policies are OR-ed).",
                        location=ctx.location(policy),
                        remediation=f"Drop {policy.name}, or merge what it was for into "
                        f"{', '.join(shadowed)}; if {table_label(table)} is meant to be public, "
                        "drop the narrower policies instead.",
                        policy=policy.name,
                        shadowed=shadowed,
                    )


_OWNER_NAMES = ("user_id", "owner_id", "author_id", "created_by", "profile_id", "member_id")


def _owner_column(ctx: LintContext, table: Table) -> str | None:
    """The column that says whose a row is: one the table's policies compare with
    ``auth.uid()``, else a uuid column with an owner-like name."""
    _, owner = _read_columns(ctx, table)
    if owner:
        return sorted(owner)[0]
    uuid_columns = {c.name for c in table.columns if c.type == "uuid"}
    return next((n for n in _OWNER_NAMES if n in uuid_columns), None)


def _scope_fix(ctx: LintContext, table: Table, policy: Policy) -> str:
    """Scope an always-true policy with the table's own owner column when it has one."""
    column = _owner_column(ctx, table)
    label = table_label(table)
    if column is None:
        return (
            f"Replace the condition of {policy.name} with one that names whose rows of {label} "
            "these are (a column compared with `(select auth.uid())`, or a tenant the "
            "requester belongs to), or drop the policy."
        )
    clause = "with check" if policy.command == "INSERT" else "using"
    return (
        f"Scope {policy.name} to the requester's rows: `alter policy {policy.name} on {label} "
        f"{clause} ({column} = (select auth.uid()))`, or drop the policy."
    )


# -- beyond splinter ------------------------------------------------------------------------------


@rule(
    "row_role_confusion",
    level="error",
    category="security",
    title="Policy tests the row's role instead of the requester's",
    description="A predicate such as `role = 'admin'` compares a column of the row being "
    "checked with a privilege; every requester then passes for the rows whose role is "
    "'admin', and may give their own row that role when they can update it.",
    remediation="Test the requester: read their role from a table they cannot write, through a "
    "SECURITY DEFINER helper keyed by `(select auth.uid())`, e.g. "
    "`(select <schema>.<role helper>()) = 'admin'` (the finding names the project's own).",
)
def row_role_confusion(ctx: LintContext) -> Iterator[Finding]:
    for policy in ctx.catalog.policies:
        tests = []
        for clause, analysis in ctx.expressions(policy):
            tests.extend((clause, column, literal) for column, literal in analysis.row_role_tests)
        if not tests:
            continue
        described = "; ".join(
            f"{clause} compares the row's {column} with {literal!r}"
            for clause, column, literal in dict.fromkeys(tests)
        )
        yield ctx.finding(
            policy.qualified_table,
            f"policy {policy.name}: {described}. That tests the row being read or written, not "
            "the requester: any requester passes for such rows.",
            location=ctx.location(policy),
            policy=policy.name,
            remediation=_requester_remediation(ctx),
            columns=sorted({column for _, column, _ in tests}),
        )


def _requester_remediation(ctx: LintContext) -> str:
    """Point at the project's own role helper or role table when it has one."""
    helpers = sorted(
        f"{f.schema}.{f.name}"
        for f in ctx.catalog.functions
        if f.security_definer
        and f.schema not in SUPABASE_SCHEMAS
        and _ROLE_HELPER.search(f.name)
        and f.result not in ("trigger", "event_trigger")
    )
    tables = sorted(
        t.qualified
        for t in ctx.catalog.tables
        if t.schema not in SUPABASE_SCHEMAS and ROLE_TABLE.search(t.name)
    )
    if helpers:
        return (
            "Test the requester, not the row: call the project's helper, e.g. "
            f"`(select {helpers[0]}(...))`, which reads roles keyed by `(select auth.uid())`."
        )
    where = f"from {tables[0]}" if tables else "from a table users cannot write"
    return (
        "Test the requester, not the row: read their role "
        f"{where} through a SECURITY DEFINER helper keyed by `(select auth.uid())` "
        "(with `set search_path = ''`), and compare that with the literal."
    )


_ROLE_HELPER = re.compile(r"role|admin|member|permission", re.I)


def _read_columns(ctx: LintContext, table: Table) -> tuple[set[str], set[str]]:
    """Columns the table's policies read, and those compared with ``auth.uid()``."""
    read: set[str] = set()
    owner: set[str] = set()
    for policy in table.policies:
        for _, analysis in ctx.expressions(policy):
            read |= analysis.columns
            owner |= analysis.uid_columns
    return read, owner


@rule(
    "update_policy_without_with_check",
    level="error",
    category="security",
    title="UPDATE policy lets callers rewrite columns other policies trust",
    description="Without WITH CHECK, Postgres checks the new row against USING: columns USING "
    "reads are pinned to values it admits. A column USING does not read, which other "
    "policies read (tenant, role, owner), that the caller may update and no BEFORE UPDATE "
    "trigger protects, can be rewritten: the caller moves their own row into another tenant "
    "or role.",
    remediation="Add a WITH CHECK that constrains the columns, revoke UPDATE on them, or "
    "refuse their change in a BEFORE UPDATE trigger.",
)
def update_policy_without_with_check(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        if not table.rls_enabled:
            continue
        read, owner = _read_columns(ctx, table)
        guards = _trigger_guards(ctx, table)
        for policy in table.policies:
            if (
                policy.command not in ("UPDATE", "ALL")
                or not policy.permissive
                or policy.with_check_raw is not None
                or policy.using_raw is None  # admits no row: rls_policy_always_false
            ):
                continue
            using = ctx.using(policy)
            if using.always_false:
                continue
            table_columns = frozenset(c.name for c in table.columns)
            pinned = pinned_columns(policy.using_raw, policy.table, table_columns)
            updatable: set[str] = set()
            updaters = []
            for role in ctx.policy_roles(policy):
                if role == "anon" and using.anon_null:
                    continue  # USING is NULL without auth.uid(): anon updates no row at all
                columns = ctx.columns_with(table, role, "UPDATE")
                if columns & (read - pinned):
                    updaters.append(role)
                updatable |= columns
            candidates = (read - pinned) & updatable
            exposed = sorted(candidates - guards.guarded)
            if not exposed:
                continue
            trusted = [c for c in exposed if c not in owner]
            level = "error" if trusted else "warn"
            doubts = []
            unsure = [c for c in exposed if c in guards.conditional]
            if unsure:
                doubts.append(
                    f"a BEFORE UPDATE trigger ({', '.join(guards.names)}) refuses changes to "
                    f"{', '.join(unsure)} only under a condition"
                )
            if guards.unreadable:
                doubts.append(
                    f"BEFORE UPDATE trigger functions {', '.join(guards.unreadable)} could "
                    "not be read"
                )
            if ctx.triggers is None:
                doubts.append("triggers were not read (catalog snapshot)")
            if doubts and level == "error":
                level = "warn"
            label = table_label(table)
            pinned_words = (
                f" USING constrains only {', '.join(sorted(pinned))} of the new row."
                if pinned
                else ""
            )
            doubt_words = (
                f" Downgraded to a warning: {'; '.join(doubts)}; check it by hand."
                if doubts
                else ""
            )
            yield ctx.finding(
                label,
                f"policy {policy.name} ({policy.command}) has no WITH CHECK, and "
                f"{_who(updaters)} may set {', '.join(exposed)}, which other policies of "
                f"{label} read, to any value:{pinned_words} A caller can rewrite these on "
                f"their own row.{doubt_words}",
                location=ctx.location(policy),
                level=level,
                remediation=_pin_remediation(policy, label, exposed, updaters, using),
                policy=policy.name,
                columns=exposed,
            )


class _Guards:
    """What the BEFORE UPDATE triggers of one table protect."""

    def __init__(self) -> None:
        self.guarded: set[str] = set()
        self.conditional: set[str] = set()
        self.names: list[str] = []
        self.unreadable: list[str] = []


def _trigger_guards(ctx: LintContext, table: Table) -> _Guards:
    guards = _Guards()
    for trigger in ctx.update_triggers(table):
        facts = trigger_facts(trigger.body, trigger.language)
        if not facts.parsed:
            guards.unreadable.append(trigger.function)
            continue
        guards.names.append(trigger.name)
        guards.guarded |= facts.guarded
        guards.conditional |= facts.conditional
        when = when_change_tests(trigger.when)
        if when is not None and facts.unconditional_raise:
            guards.guarded |= when
    guards.conditional -= guards.guarded
    return guards


def _pin_remediation(
    policy: Policy, label: str, columns: list[str], roles: list[str], using: Analysis
) -> str:
    """A fix in the project's own names: its policy, table, columns and roles."""
    who = ", ".join(roles) or "authenticated"
    check = using.text or "true"
    return (
        f"Add `with check ({check} and <the value each of {', '.join(columns)} may take>)` "
        f"to {policy.name} (as the SELECT policies of {label} compare them), or "
        f"`revoke update ({', '.join(columns)}) on {label} from {who}` (grant UPDATE on the "
        "other columns only), or refuse the change in a BEFORE UPDATE trigger "
        f"(`if new.{columns[0]} is distinct from old.{columns[0]} then raise exception ...`)."
    )


@rule(
    "sensitive_columns_readable",
    level="error",
    category="security",
    title="Secrets readable by every signed-in user",
    description="A true-like SELECT policy lets every client it applies to read every row, "
    "including columns that hold secrets: by name (password, token, API key, `encrypted_*`, "
    "`*_hash`), by type, or by their comment.",
    remediation="Scope the SELECT policy to the row's owner, move the secrets to a table "
    "without client privileges, or revoke SELECT on those columns.",
)
def sensitive_columns_readable(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        if not table.rls_enabled:
            continue
        for policy in table.policies:
            if policy.command not in ("SELECT", "ALL") or not policy.permissive:
                continue
            if policy.using_raw is None or not _admits_all(ctx.using(policy)):
                continue
            for role in ctx.policy_roles(policy):
                readable = ctx.columns_with(table, role, "SELECT")
                reasons = {
                    c.name: reason
                    for c in table.columns
                    if c.name in readable
                    and (
                        reason := credential_reason(
                            c.name, c.type, ctx.comments.get((table.qualified, c.name))
                        )
                    )
                }
                if reasons:
                    secrets = sorted(reasons)
                    why = "; ".join(f"{c}: {reasons[c]}" for c in secrets)
                    label = table_label(table)
                    yield ctx.finding(
                        label,
                        f"policy {policy.name} lets every {role} request read all rows of "
                        f"{label}, including {', '.join(secrets)} (secret by {why}).",
                        location=ctx.location(policy),
                        remediation=f"Scope {policy.name} to the row's owner, move "
                        f"{', '.join(secrets)} to a table {role} cannot select, or `revoke "
                        f"select on {label} from {role}` and grant it SELECT on the other "
                        "columns only.",
                        policy=policy.name,
                        role=role,
                        columns=secrets,
                    )
                    break


@rule(
    "personal_data_readable_by_anon",
    level="warn",
    category="security",
    title="Personal data readable with the public anon key",
    description="A SELECT policy that is always true for anon, on a table with columns of "
    "personal data (email, phone, address, birth date, ...): anyone holding the anon key, "
    "which ships in every client, downloads them all, as from a contact form or waiting "
    "list meant to be write-only.",
    remediation="Drop the policy for anon (a form needs only INSERT), scope it to the row's "
    "owner, or revoke SELECT on the personal columns from anon.",
)
def personal_data_readable_by_anon(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        if not table.rls_enabled:
            continue
        readable = ctx.columns_with(table, "anon", "SELECT")
        personal = sorted(
            c.name
            for c in table.columns
            if c.name in readable
            and (is_sensitive_column(c.name) and credential_reason(c.name) is None)
        )
        if not personal:
            continue
        for policy in table.policies:
            if policy.command not in ("SELECT", "ALL") or not policy.permissive:
                continue
            if not policy.applies_to("anon") or policy.using_raw is None:
                continue
            if not ctx.using(policy).always_true:
                continue
            label = table_label(table)
            yield ctx.finding(
                label,
                f"policy {policy.name} lets anon (anyone with the public anon key) read every "
                f"row of {label}, including {', '.join(personal)}.",
                location=ctx.location(policy),
                remediation=f"Drop {policy.name} for anon or scope it to the row's owner, or "
                f"`revoke select ({', '.join(personal)}) on {label} from anon`.",
                policy=policy.name,
                columns=personal,
            )
            break


def _strong_owner_column(ctx: LintContext, table: Table) -> str | None:
    """A column that says a row belongs to one user: one of the table's other policies compares
    with ``auth.uid()``, or a uuid column with an owner-like name. ``id`` is left out: a
    profiles table keyed by the user's id is often public on purpose."""
    _, compared = _read_columns(ctx, table)
    compared.discard("id")
    if compared:
        return sorted(compared)[0]
    uuid_columns = {c.name for c in table.columns if c.type == "uuid"}
    return next((n for n in _OWNER_NAMES if n in uuid_columns), None)


@rule(
    "owned_rows_readable_by_all",
    level="warn",
    category="security",
    title="Rows that belong to one user readable by every signed-in user",
    description="A SELECT policy such as `auth.role() = 'authenticated'` or `auth.uid() is not "
    "null`, on a table whose rows have an owner (a column the table's other policies "
    "compare with `auth.uid()`, or a `user_id`-like uuid column), shows every user's rows to "
    "every signed-in user: it checks that someone is signed in, not whose row it is. (A literal "
    "`true` is taken as shared on purpose.)",
    remediation="Compare the owner column with the requester, as "
    "`using (user_id = (select auth.uid()))`; if every row is meant to be shared, waive the "
    "finding with that reason.",
)
def owned_rows_readable_by_all(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        if not table.rls_enabled:
            continue
        column = _strong_owner_column(ctx, table)
        held = ctx.client_privileges(table, "authenticated") | ctx.column_privileges(
            table, "authenticated"
        )
        if column is None or "SELECT" not in held:
            continue
        for policy in table.policies:
            if policy.command not in ("SELECT", "ALL") or not policy.permissive:
                continue
            if policy.using_raw is None or not ctx.using(policy).signed_in_true:
                continue  # a literal `true` says "shared" on purpose (a chat, a directory)
            if "authenticated" not in ctx.policy_roles(policy):
                continue
            label = table_label(table)
            yield ctx.finding(
                label,
                f"policy {policy.name} ({policy.command}) lets every signed-in user read every "
                f"row of {label}, whose rows belong to one user each ({column}): its USING "
                "only tests that a user is signed in, so any user reads other users' rows.",
                location=ctx.location(policy),
                remediation=f"Scope {policy.name} to the requester: `alter policy {policy.name} "
                f"on {label} using ({column} = (select auth.uid()))`; if every row of {label} "
                "is meant to be shared, waive the finding with that reason.",
                policy=policy.name,
                column=column,
            )


@rule(
    "policy_compares_column_with_itself",
    level="error",
    category="security",
    title="Policy compares a column with itself",
    description="`x = x` is true for every row where x is not null. It is how the classic "
    "subquery slip reads once Postgres has resolved it: in `exists (select 1 from members m "
    "where m.user_id = auth.uid() and m.team_id = team_id)` the unqualified `team_id` names "
    "the subquery's own column, not the policy's row, so a member of any team passes for "
    "every row.",
    remediation="Qualify the outer column with the policy's table: `m.team_id = <table>.team_id`.",
)
def policy_compares_column_with_itself(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        for policy in table.policies:
            found = [
                (clause, text)
                for clause, analysis in ctx.expressions(policy)
                for text in analysis.self_comparisons
            ]
            if not found:
                continue
            label = table_label(table)
            described = "; ".join(f"{clause}: {text}" for clause, text in found)
            column = found[0][1].split("=")[0].strip().strip("()").split(".")[-1]
            yield ctx.finding(
                label,
                f"policy {policy.name} compares a column with itself ({described}): true for "
                "every row where it is not null, so the condition does not tie the row to the "
                "requester (an unqualified column inside a subquery names the subquery's "
                "table, not the policy's row).",
                location=ctx.location(policy),
                remediation=f"In {policy.name}, qualify the policy's own column with its table: "
                f"`... = {table.name}.{column}` (compare the subquery's column with "
                f"{label}'s), then re-test.",
                policy=policy.name,
                comparisons=[text for _, text in found],
            )


def _privilege_columns(ctx: LintContext) -> dict[str, dict[str, set[str]]]:
    """``{table: {column: {how}}}``: columns other policies (or the helper functions they call)
    read from another table as a privilege, as ``m.role = 'admin'`` or ``p.is_admin``."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    facts = [a for p in ctx.catalog.policies for _, a in ctx.expressions(p)]
    facts += [ctx.body(f) for f in ctx.catalog.functions if f.schema not in SUPABASE_SCHEMAS]
    for fact in facts:
        for relation, column, literal in fact.foreign_literals:
            if is_privilege_literal(literal):
                out[relation][column].add(f"{column} = {literal!r}")
        for relation, column in fact.foreign_columns:
            if PRIVILEGE_FLAG_COLUMNS.match(column):
                out[relation][column].add(column)
    return out


@rule(
    "policy_lets_users_grant_themselves",
    level="error",
    category="security",
    title="Users may write the column that grants privileges",
    description="Policies elsewhere trust a column of this table as a privilege (`m.role = "
    "'admin'`, `p.is_admin`), yet an INSERT or UPDATE policy here checks only whose row it is: "
    "a user inserts a membership with role 'admin' into any team, or sets is_admin on their "
    "own profile. A column default does not help: the client sends the value.",
    remediation="Pin the column in the policy's WITH CHECK (`role = 'member'`), revoke INSERT/"
    "UPDATE on it from the client roles, or refuse the change in a BEFORE trigger.",
)
def policy_lets_users_grant_themselves(ctx: LintContext) -> Iterator[Finding]:
    trusted = _privilege_columns(ctx)
    for table in ctx.rls_tables:
        privileged = trusted.get(table.qualified)
        if not table.rls_enabled or not privileged:
            continue
        guards = _trigger_guards(ctx, table)
        table_columns = frozenset(c.name for c in table.columns)
        label = table_label(table)
        for policy in table.policies:
            if policy.command not in ("INSERT", "UPDATE", "ALL") or not policy.permissive:
                continue
            for action in ("INSERT", "UPDATE"):
                if action not in COMMAND_PRIVILEGES[policy.command]:
                    continue
                if action == "UPDATE" and policy.using_raw is None:
                    continue  # admits no row to update
                check = (
                    ctx.effective_check(policy)
                    if action == "INSERT"
                    else (ctx.with_check(policy) or ctx.using(policy))
                )
                if check.always_false or not check.parsed:
                    continue
                raw = check.text
                pinned = pinned_columns(raw, policy.table, table_columns) if raw else frozenset()
                writers: dict[str, list[str]] = {}
                for role in ctx.policy_roles(policy):
                    free = [
                        c
                        for c in sorted(privileged)
                        if c in ctx.columns_with(table, role, action)
                        and c not in pinned
                        and c not in check.columns
                        and not (action == "UPDATE" and c in guards.guarded)
                    ]
                    if free:
                        writers[role] = free
                if not writers:
                    continue
                columns = sorted({c for free in writers.values() for c in free})
                how = "; ".join(sorted({h for c in columns for h in privileged[c]}))
                yield ctx.finding(
                    label,
                    f"policy {policy.name} ({policy.command}) lets {_who(list(writers))} "
                    f"{action.lower()} rows of {label} with any {', '.join(columns)}, which "
                    f"policies trust as a privilege ({how}): a user can "
                    f"{'insert' if action == 'INSERT' else 'update'} a row that makes them "
                    "privileged (e.g. admin of any team).",
                    location=ctx.location(policy),
                    remediation=f"Pin {', '.join(columns)} in {policy.name}'s WITH CHECK (as "
                    f"`{columns[0]} = <the unprivileged value>`), `revoke {action.lower()} "
                    f"({', '.join(columns)}) on {label} from {', '.join(writers)}`, or refuse "
                    "the value in a BEFORE trigger.",
                    policy=policy.name,
                    action=action,
                    columns=columns,
                )
                break


def _predicate(ctx: LintContext, policy: Policy) -> Analysis:
    return ctx.effective_check(policy) if policy.command == "INSERT" else ctx.using(policy)


@rule(
    "policy_admits_anon",
    level="warn",
    category="security",
    title="Policy for PUBLIC also admits anon",
    description="A policy without `TO` applies to every role, anon included. When anon holds "
    "the privilege and the condition does not require a signed-in user, requests with the "
    "public anon key pass it too.",
    remediation="Write `to authenticated` (or the roles you mean) in the policy.",
)
def policy_admits_anon(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        if not table.rls_enabled:
            continue
        anon = ctx.client_privileges(table, "anon")
        for policy in table.policies:
            if "public" not in policy.roles or not policy.permissive:
                continue
            if not anon & set(COMMAND_PRIVILEGES[policy.command]):
                continue
            predicate = _predicate(ctx, policy)
            if predicate.anon_null or predicate.mentions_anon or predicate.always_false:
                continue
            yield ctx.finding(
                table_label(table),
                f"policy {policy.name} ({policy.command}) applies to PUBLIC, anon holds "
                f"{', '.join(sorted(anon & set(COMMAND_PRIVILEGES[policy.command])))} on "
                f"{table_label(table)}, and its condition does not require a signed-in user.",
                location=ctx.location(policy),
                policy=policy.name,
            )


@rule(
    "auth_uid_null_inversion",
    level="error",
    category="security",
    title="`auth.uid() IS NULL OR ...` admits anonymous requests",
    description="A disjunct true when there is no signed-in user (`auth.uid() is null`, "
    "`auth.role() = 'anon'`) makes the whole policy true for every anonymous request.",
    remediation="Drop the disjunct; if anonymous access is meant, write a separate policy "
    "`to anon` with its own narrow condition.",
)
def auth_uid_null_inversion(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        for policy in table.policies:
            disjuncts = []
            for clause, analysis in ctx.expressions(policy):
                disjuncts.extend(f"{clause}: {d}" for d in analysis.anonymous_disjuncts)
            if not disjuncts:
                continue
            anon_reaches = policy.applies_to("anon") and bool(
                ctx.client_privileges(table, "anon") & set(COMMAND_PRIVILEGES[policy.command])
            )
            yield ctx.finding(
                table_label(table),
                f"policy {policy.name} is true for requests without a user "
                f"({'; '.join(disjuncts)})"
                + (", and anon may send them." if anon_reaches else "."),
                location=ctx.location(policy),
                level="error" if anon_reaches else "warn",
                policy=policy.name,
            )


@rule(
    "rls_policy_always_false",
    level="warn",
    category="security",
    title="Permissive policy that admits nothing",
    description="A permissive policy whose condition is always false (`false`, `1 = 0`), or an "
    "UPDATE/DELETE policy written without USING, never admits a row; when it is the only one "
    "for its action, clients silently get nothing and no error reaches the logs: the "
    'runbook\'s P1 "RLS policy broken (no access)".',
    remediation="Write the intended condition, or drop the policy (a missing policy denies the "
    "same way, but says so in reviews).",
)
def rls_policy_always_false(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        for policy in table.policies:
            if not policy.permissive:
                continue
            dead = [clause for clause, a in ctx.expressions(policy) if a.always_false]
            if dead:
                yield ctx.finding(
                    table_label(table),
                    f"policy {policy.name} ({policy.command}, {_who(list(policy.roles))}) has "
                    f"an always-false {' and '.join(dead)}: it admits no row of "
                    f"{table_label(table)}.",
                    location=ctx.location(policy),
                    policy=policy.name,
                )
                continue
            missing = ctx.missing_clauses(policy)
            if missing and (finding := _silent_deny(ctx, table, policy, missing)) is not None:
                yield finding


def _silent_deny(
    ctx: LintContext, table: Table, policy: Policy, missing: list[str]
) -> Finding | None:
    """A policy written without the clause its command needs: it admits nothing."""
    actions = [
        a
        for a in COMMAND_PRIVILEGES[policy.command]
        if (a == "INSERT" and "WITH CHECK" in missing) or (a != "INSERT" and "USING" in missing)
    ]
    roles = list(ctx.policy_roles(policy)) or list(policy.roles)
    covered = {
        action
        for action in actions
        for other in table.policies
        if other is not policy
        and other.permissive
        and action in COMMAND_PRIVILEGES[other.command]
        and set(other.roles) & set(policy.roles)
        and action not in _missing_actions(ctx, other)
    }
    lost = [a for a in actions if a not in covered]
    if not lost:
        return None
    label = table_label(table)
    effects = []
    if set(lost) & {"SELECT", "UPDATE", "DELETE"}:
        verbs = ", ".join(a.lower() for a in lost if a != "INSERT")
        effects.append(
            f"without USING it admits no existing row, so {_who(roles)} {verbs} nothing "
            "and get no error"
        )
    if "INSERT" in lost:
        effects.append(
            "without WITH CHECK or USING every insert fails with 42501 "
            "(new row violates row-level security policy)"
        )
    checked = ctx.with_check(policy)
    clause = (
        (checked.text or policy.with_check_raw)
        if checked is not None
        else "<whose rows these are, e.g. owner_id = (select auth.uid())>"
    )
    fix = (
        f"Add the missing clause: `alter policy {policy.name} on {label} using ({clause})`"
        if "USING" in missing
        else f"Add the missing clause: `alter policy {policy.name} on {label} "
        f"with check ({clause})`"
    )
    return ctx.finding(
        label,
        f"policy {policy.name} ({policy.command}, {_who(list(policy.roles))}) on {label}: "
        f"{'; '.join(effects)}. No other permissive policy admits "
        f"{'/'.join(a.lower() for a in lost)} for them: a silent deny (the runbook's P1, "
        "no access).",
        location=ctx.location(policy),
        remediation=fix + " (Postgres does not fall back to WITH CHECK for existing rows).",
        policy=policy.name,
        missing=missing,
        actions=lost,
    )


def _missing_actions(ctx: LintContext, policy: Policy) -> set[str]:
    missing = ctx.missing_clauses(policy)
    out = set()
    for action in COMMAND_PRIVILEGES[policy.command]:
        if (
            (action == "INSERT" and "WITH CHECK" in missing)
            or (action != "INSERT" and "USING" in missing)
            or any(a.always_false for _, a in ctx.expressions(policy))
        ):
            out.add(action)
    return out


@rule(
    "policy_without_grant",
    level="warn",
    category="security",
    title="Policy for a role without the privilege",
    description="Policies only filter what privileges allow. A policy for a role that holds no "
    "privilege for its action never applies: the role gets 42501 permission denied (for "
    "example after a table was rebuilt and its GRANTs were forgotten).",
    remediation="Grant the privilege the policy is for (`grant select, ... on ... to "
    "authenticated`), or drop the policy.",
)
def policy_without_grant(ctx: LintContext) -> Iterator[Finding]:
    for table in ctx.rls_tables:
        missing: dict[str, list[str]] = defaultdict(list)
        for policy in table.policies:
            needed = set(COMMAND_PRIVILEGES[policy.command])
            for role in CLIENT_ROLES:
                if role not in policy.roles:
                    continue  # PUBLIC policies are not written for one role
                held = ctx.client_privileges(table, role) | ctx.column_privileges(table, role)
                if not held & needed:
                    missing[role].append(f"{policy.name} ({policy.command})")
        for role, policies in sorted(missing.items()):
            privileges = sorted(ctx.client_privileges(table, role) & set(DML))
            yield ctx.finding(
                table_label(table),
                f"{role} holds {', '.join(privileges) or 'no privilege'} on "
                f"{table_label(table)}, so its policies {', '.join(policies)} never apply: "
                "requests get 42501 permission denied.",
                location=ctx.locator.grant(table.qualified),
                role=role,
            )
