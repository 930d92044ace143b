"""The graded difference between two snapshots: what widened, what narrowed, what is neutral.

Every change carries one grade and one sentence a reviewer understands without reading the
JSON. ``widens`` means someone may now reach rows, columns or code they could not before (a
new permissive policy, a ``true`` predicate, a dropped conjunct, an added role or command, RLS
disabled, a grant added, a SECURITY DEFINER function executable by more roles, a view that
lost ``security_invoker``, ...). ``narrows`` is the reverse. ``neutral`` changes nothing about
who reaches what (an owner of an invoker object, a renamed policy, reordered conjuncts).

Predicates are compared on the syntax tree (:mod:`rlsguard.policy.predicates`). When the
comparison cannot tell (``a = 1`` became ``a = 2``), the change is graded ``widens`` and the
sentence says it *may* widen: a gate should make a person look at it.

Each change also names its ``path`` in the snapshot document, so ``blame`` can follow that
one value through the migrations.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlsguard.policy.predicates import Relation, Verdict, is_always_true, relate
from rlsguard.policy.snapshot import Grants, Snapshot
from rlsguard.vocab import API_ROLES, Grade

GRADES: tuple[Grade, ...] = ("widens", "narrows", "neutral")
_SECTION_ORDER = {
    name: i
    for i, name in enumerate(
        (
            "exposed_schemas",
            "roles",
            "schemas",
            "tables",
            "views",
            "functions",
            "default_privileges",
        )
    )
}
ALL_COMMANDS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})


@dataclass(frozen=True)
class Change:
    """One graded difference between base and head."""

    grade: Grade
    kind: str  # e.g. "policy.added", "policy.using", "table.rls", "table.grants"
    object: str  # the table, view, function, schema or role it is about
    path: tuple[str, ...]  # where the value lives in the snapshot document
    message: str
    before: Any = None
    after: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "grade": self.grade,
            "kind": self.kind,
            "object": self.object,
            "path": list(self.path),
            "message": self.message,
            "before": self.before,
            "after": self.after,
        }


@dataclass
class PolicyDiff:
    """All changes from ``base`` to ``head``, widenings first."""

    base: str
    head: str
    changes: list[Change] = field(default_factory=list)

    def by_grade(self, grade: Grade) -> list[Change]:
        return [c for c in self.changes if c.grade == grade]

    @property
    def widens(self) -> list[Change]:
        return self.by_grade("widens")

    @property
    def narrows(self) -> list[Change]:
        return self.by_grade("narrows")

    @property
    def neutral(self) -> list[Change]:
        return self.by_grade("neutral")

    def __bool__(self) -> bool:
        return bool(self.changes)

    def counts(self) -> dict[str, int]:
        return {grade: len(self.by_grade(grade)) for grade in GRADES}

    def as_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "counts": self.counts(),
            "changes": [c.as_dict() for c in self.changes],
        }


def diff_snapshots(base: Snapshot, head: Snapshot) -> PolicyDiff:
    """Every change from ``base`` to ``head``, graded, in a stable order."""
    changes = list(_Differ(base.doc, head.doc).changes())
    grade_rank = {g: i for i, g in enumerate(GRADES)}
    changes.sort(key=lambda c: (grade_rank[c.grade], _SECTION_ORDER.get(c.path[0], 99), c.path))
    return PolicyDiff(base.label or "base", head.label or "head", changes)


# -- helpers ------------------------------------------------------------------------------


def _words(items: list[str]) -> str:
    return ", ".join(items)


def _roles(roles: list[str]) -> str:
    return "every role (PUBLIC)" if "public" in roles else _words(roles)


def _code(text: str | None) -> str:
    return "`true`" if text is None else f"`{text}`"


def _covers(roles: list[str]) -> frozenset[str]:
    """The roles a policy's TO list reaches; ``public`` reaches all (stand-in: '*')."""
    return frozenset({"*"}) if "public" in roles else frozenset(roles)


def _commands(command: str) -> frozenset[str]:
    return ALL_COMMANDS if command == "ALL" else frozenset({command})


def _describe_policy(name: str, table: str, policy: Mapping[str, Any]) -> str:
    return (
        f"{policy['mode']} {policy['command']} policy `{name}` on {table} "
        f"(to {_roles(policy['roles'])})"
    )


def _effective_check(policy: Mapping[str, Any]) -> str | None:
    """What new rows are checked against: WITH CHECK, else USING (UPDATE and ALL reuse it)."""
    if policy["with_check"] is not None:
        return str(policy["with_check"])
    if policy["command"] in ("UPDATE", "ALL") and policy["using"] is not None:
        return str(policy["using"])
    return None


def _grade_of(relation: Relation) -> Grade:
    return {
        Relation.WIDER: "widens",
        Relation.NARROWER: "narrows",
        Relation.EQUAL: "neutral",
        Relation.UNKNOWN: "widens",
    }[relation]


class _Differ:
    def __init__(self, base: Mapping[str, Any], head: Mapping[str, Any]) -> None:
        self.base = base
        self.head = head

    def changes(self) -> Iterator[Change]:
        yield from self._exposed()
        yield from self._roles()
        yield from self._schemas()
        yield from self._tables()
        yield from self._views()
        yield from self._functions()
        yield from self._default_privileges()

    # -- generic grants -------------------------------------------------------------------
    def _grants(
        self,
        path: tuple[str, ...],
        obj: str,
        what: str,
        before: Grants,
        after: Grants,
        kind: str,
        *,
        granted: str = "was granted",
        revoked: str = "lost",
        widen_note: str = "",
    ) -> Iterator[Change]:
        for grantee in sorted(set(before) | set(after)):
            old = set(before.get(grantee, ()))
            new = set(after.get(grantee, ()))
            added = sorted(new - old)
            removed = sorted(old - new)
            who = "everyone (PUBLIC)" if grantee == "PUBLIC" else grantee
            if added:
                yield Change(
                    "widens",
                    f"{kind}.grant",
                    obj,
                    (*path, grantee),
                    f"{who} {granted} {_words(added)} on {what}{widen_note}.",
                    sorted(old),
                    sorted(new),
                )
            if removed:
                yield Change(
                    "narrows",
                    f"{kind}.revoke",
                    obj,
                    (*path, grantee),
                    f"{who} {revoked} {_words(removed)} on {what}.",
                    sorted(old),
                    sorted(new),
                )

    def _column_grants(
        self, section: str, obj: str, before: Mapping[str, Grants], after: Mapping[str, Grants]
    ) -> Iterator[Change]:
        for column in sorted(set(before) | set(after)):
            yield from self._grants(
                (section, obj, "column_grants", column),
                obj,
                f"column {obj}.{column}",
                before.get(column, {}),
                after.get(column, {}),
                "column",
            )

    # -- sections -------------------------------------------------------------------------
    def _exposed(self) -> Iterator[Change]:
        before = set(self.base["exposed_schemas"])
        after = set(self.head["exposed_schemas"])
        for schema in sorted(after - before):
            yield Change(
                "widens",
                "api.schema_exposed",
                schema,
                ("exposed_schemas", schema),
                f"Schema {schema} is now served by the Data API ([api] schemas in config.toml):"
                " whatever the API roles were granted there is reachable over HTTP.",
                False,
                True,
            )
        for schema in sorted(before - after):
            yield Change(
                "narrows",
                "api.schema_hidden",
                schema,
                ("exposed_schemas", schema),
                f"Schema {schema} is no longer served by the Data API.",
                True,
                False,
            )

    def _roles(self) -> Iterator[Change]:
        before, after = self.base["roles"], self.head["roles"]
        for name in sorted(set(before) & set(after)):
            old, new = before[name], after[name]
            path = ("roles", name)
            for flag, meaning in (
                ("bypassrls", "ignores every row level security policy"),
                ("superuser", "is a superuser and bypasses every check"),
            ):
                if old[flag] != new[flag]:
                    yield Change(
                        "widens" if new[flag] else "narrows",
                        f"role.{flag}",
                        name,
                        (*path, flag),
                        f"Role {name} {'now' if new[flag] else 'no longer'} {meaning}.",
                        old[flag],
                        new[flag],
                    )
            gained = sorted(set(new["member_of"]) - set(old["member_of"]))
            lost = sorted(set(old["member_of"]) - set(new["member_of"]))
            if gained:
                yield Change(
                    "widens",
                    "role.member_of",
                    name,
                    (*path, "member_of"),
                    f"Role {name} became a member of {_words(gained)} and holds its privileges"
                    " (and may SET ROLE to it).",
                    old["member_of"],
                    new["member_of"],
                )
            if lost:
                yield Change(
                    "narrows",
                    "role.member_of",
                    name,
                    (*path, "member_of"),
                    f"Role {name} is no longer a member of {_words(lost)}.",
                    old["member_of"],
                    new["member_of"],
                )

    def _schemas(self) -> Iterator[Change]:
        before, after = self.base["schemas"], self.head["schemas"]
        for name in sorted(set(after) - set(before)):
            grants = after[name]["grants"]
            api = {g: p for g, p in grants.items() if p}
            yield Change(
                "widens" if api else "neutral",
                "schema.added",
                name,
                ("schemas", name),
                f"New schema {name}"
                + (
                    f", with {', '.join(f'{g}: {_words(p)}' for g, p in sorted(api.items()))}."
                    if api
                    else ", with no privilege for the API roles."
                ),
                None,
                after[name],
            )
        for name in sorted(set(before) - set(after)):
            yield Change(
                "narrows",
                "schema.removed",
                name,
                ("schemas", name),
                f"Schema {name} was dropped.",
                before[name],
                None,
            )
        for name in sorted(set(before) & set(after)):
            yield from self._owner("schemas", name, f"schema {name}", before[name], after[name])
            yield from self._grants(
                ("schemas", name, "grants"),
                name,
                f"schema {name}",
                before[name]["grants"],
                after[name]["grants"],
                "schema",
                widen_note=" (USAGE lets it reach the objects it holds privileges on)"
                if any("USAGE" in p for p in after[name]["grants"].values())
                else "",
            )

    def _owner(
        self,
        section: str,
        obj: str,
        what: str,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        grade: Grade = "neutral",
        note: str = "",
    ) -> Iterator[Change]:
        if old["owner"] != new["owner"]:
            yield Change(
                grade,
                f"{section.rstrip('s')}.owner",
                obj,
                (section, obj, "owner"),
                f"The owner of {what} changed from {old['owner']} to {new['owner']}{note}.",
                old["owner"],
                new["owner"],
            )

    # -- tables and policies ----------------------------------------------------------------
    def _tables(self) -> Iterator[Change]:
        before, after = self.base["tables"], self.head["tables"]
        for name in sorted(set(after) - set(before)):
            yield from self._table_added(name, after[name])
        for name in sorted(set(before) - set(after)):
            table = before[name]
            yield Change(
                "narrows",
                "table.removed",
                name,
                ("tables", name),
                f"Table {name} was dropped, with its {len(table['policies'])} policies and"
                " its grants.",
                table,
                None,
            )
        for name in sorted(set(before) & set(after)):
            yield from self._table_changed(name, before[name], after[name])

    def _table_added(self, name: str, table: Mapping[str, Any]) -> Iterator[Change]:
        grants = dict(table["grants"])
        reach = "; ".join(f"{g}: {_words(p)}" for g, p in sorted(grants.items()))
        rows = _row_access(grants)
        if not table["rls"] and rows:
            grade: Grade = "widens"
            message = (
                f"New {table['kind']} {name} with row level security DISABLED: every row is "
                f"open to {rows}."
            )
        elif grants:
            grade = "widens"
            state = "enabled" if table["rls"] else "disabled"
            message = (
                f"New {table['kind']} {name} (RLS {state}, {len(table['policies'])} policies), "
                f"granted {reach}."
            )
        else:
            grade = "neutral"
            message = (
                f"New {table['kind']} {name} (RLS {'enabled' if table['rls'] else 'disabled'}),"
                " with no privilege for the API roles."
            )
        yield Change(grade, "table.added", name, ("tables", name), message, None, table)
        for policy_name in sorted(table["policies"]):
            yield self._policy_added(name, policy_name, table["policies"][policy_name])

    def _table_changed(
        self, name: str, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Iterator[Change]:
        path = ("tables", name)
        if old["kind"] != new["kind"]:
            yield Change(
                "neutral",
                "table.kind",
                name,
                (*path, "kind"),
                f"{name} changed from a {old['kind']} to a {new['kind']}.",
                old["kind"],
                new["kind"],
            )
        if old["rls"] != new["rls"]:
            holders = _row_access(new["grants"])
            if new["rls"]:
                yield Change(
                    "narrows",
                    "table.rls",
                    name,
                    (*path, "rls"),
                    f"Row level security was enabled on {name}: its policies now decide which "
                    "rows the API roles reach.",
                    False,
                    True,
                )
            else:
                yield Change(
                    "widens",
                    "table.rls",
                    name,
                    (*path, "rls"),
                    f"Row level security was DISABLED on {name}: its "
                    f"{len(new['policies'])} policies no longer apply"
                    + (f", and every row is open to {holders}." if holders else "."),
                    True,
                    False,
                )
        if old["force_rls"] != new["force_rls"]:
            yield Change(
                "narrows" if new["force_rls"] else "widens",
                "table.force_rls",
                name,
                (*path, "force_rls"),
                f"Row level security on {name} is now forced for its owner ({new['owner']})."
                if new["force_rls"]
                else f"Row level security on {name} is no longer forced: its owner "
                f"({new['owner']}) and functions running as the owner bypass the policies.",
                old["force_rls"],
                new["force_rls"],
            )
        yield from self._owner(
            "tables",
            name,
            f"table {name}",
            old,
            new,
            grade="widens" if not new["force_rls"] else "neutral",
            note=" (the owner bypasses RLS unless it is forced, and so do SECURITY DEFINER "
            "functions it owns)"
            if not new["force_rls"]
            else "",
        )
        yield from self._grants(
            (*path, "grants"), name, f"table {name}", old["grants"], new["grants"], "table"
        )
        yield from self._column_grants("tables", name, old["column_grants"], new["column_grants"])
        yield from self._policies(name, old["policies"], new["policies"])

    def _policies(
        self, table: str, before: Mapping[str, Any], after: Mapping[str, Any]
    ) -> Iterator[Change]:
        added = {n: after[n] for n in sorted(set(after) - set(before))}
        removed = {n: before[n] for n in sorted(set(before) - set(after))}
        # A policy dropped and re-created under another name with the same body: a rename.
        for old_name in list(removed):
            twin = next((n for n, p in added.items() if p == removed[old_name]), None)
            if twin is not None:
                yield Change(
                    "neutral",
                    "policy.renamed",
                    table,
                    ("tables", table, "policies", twin),
                    f"Policy `{old_name}` on {table} was renamed to `{twin}`; it is unchanged.",
                    old_name,
                    twin,
                )
                del added[twin], removed[old_name]
        for name, policy in added.items():
            yield self._policy_added(table, name, policy)
        for name, policy in removed.items():
            path = ("tables", table, "policies", name)
            if policy["mode"] == "permissive":
                yield Change(
                    "narrows",
                    "policy.removed",
                    table,
                    path,
                    f"The {_describe_policy(name, table, policy)} was dropped: rows only it "
                    "admitted are no longer reachable.",
                    policy,
                    None,
                )
            else:
                yield Change(
                    "widens",
                    "policy.removed",
                    table,
                    path,
                    f"The {_describe_policy(name, table, policy)} was dropped: rows it kept "
                    "out are admitted again by the permissive policies.",
                    policy,
                    None,
                )
        for name in sorted(set(before) & set(after)):
            yield from self._policy_changed(table, name, before[name], after[name])

    def _policy_added(self, table: str, name: str, policy: Mapping[str, Any]) -> Change:
        path = ("tables", table, "policies", name)
        describe = _describe_policy(name, table, policy)
        if policy["mode"] == "restrictive":
            predicate = policy["with_check"] if policy["command"] == "INSERT" else policy["using"]
            return Change(
                "narrows",
                "policy.added",
                table,
                path,
                f"New {describe}: rows must also satisfy {_code(predicate)}.",
                None,
                policy,
            )
        conditions = []
        if policy["command"] in ("SELECT", "UPDATE", "DELETE", "ALL"):
            conditions.append(
                "every row"
                if is_always_true(policy["using"])
                else f"rows where {_code(policy['using'])}"
            )
        check = _effective_check(policy)
        if policy["command"] in ("INSERT", "UPDATE", "ALL") and (
            policy["command"] == "INSERT" or policy["with_check"] is not None
        ):
            conditions.append(
                "writing any row" if is_always_true(check) else f"writing rows where {_code(check)}"
            )
        always = is_always_true(policy["using"]) or (
            policy["command"] == "INSERT" and is_always_true(check)
        )
        return Change(
            "widens",
            "policy.added",
            table,
            path,
            f"New {describe} admits {' and '.join(conditions)}"
            + (" — a `true` predicate." if always else "."),
            None,
            policy,
        )

    def _policy_changed(
        self, table: str, name: str, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Iterator[Change]:
        path = ("tables", table, "policies", name)
        label = f"`{name}` on {table}"
        permissive = new["mode"] == "permissive"
        if old["mode"] != new["mode"]:
            yield Change(
                "widens" if permissive else "narrows",
                "policy.mode",
                table,
                (*path, "mode"),
                f"Policy {label} became {new['mode']}: "
                + (
                    "it now admits rows on its own instead of only filtering them."
                    if permissive
                    else "it now only filters rows other policies admit."
                ),
                old["mode"],
                new["mode"],
            )
        if old["command"] != new["command"]:
            yield self._scope_change(
                table,
                (*path, "command"),
                "policy.command",
                label,
                permissive,
                _commands(old["command"]),
                _commands(new["command"]),
                "command",
                old["command"],
                new["command"],
            )
        if sorted(old["roles"]) != sorted(new["roles"]):
            yield self._scope_change(
                table,
                (*path, "roles"),
                "policy.roles",
                label,
                permissive,
                _covers(old["roles"]),
                _covers(new["roles"]),
                "role",
                old["roles"],
                new["roles"],
            )
        if old["using"] != new["using"]:
            verdict = relate(old["using"], new["using"])
            yield self._predicate_change(
                table, (*path, "using"), "policy.using", label, "USING", verdict, old, new
            )
        old_check, new_check = _effective_check(old), _effective_check(new)
        if old["with_check"] != new["with_check"] and (
            old_check != new_check or old["with_check"] is None or new["with_check"] is None
        ):
            verdict = relate(old_check, new_check)
            yield self._predicate_change(
                table,
                (*path, "with_check"),
                "policy.with_check",
                label,
                "WITH CHECK",
                verdict,
                old,
                new,
            )

    def _scope_change(
        self,
        table: str,
        path: tuple[str, ...],
        kind: str,
        label: str,
        permissive: bool,
        old: frozenset[str],
        new: frozenset[str],
        noun: str,
        before: Any,
        after: Any,
    ) -> Change:
        more = bool(new - old) or ("*" in new and "*" not in old)
        fewer = bool(old - new) and "*" not in new
        if more:
            grade: Grade = "widens" if permissive else "narrows"
        elif fewer:
            grade = "narrows" if permissive else "widens"
        else:
            grade = "neutral"
        shown_before = _roles(before) if noun == "role" else before
        shown_after = _roles(after) if noun == "role" else after
        if permissive:
            effect = {
                "widens": f"it now admits rows for more {noun}s",
                "narrows": f"it admits rows for fewer {noun}s",
                "neutral": "the same scope",
            }[grade]
        else:
            effect = {
                "widens": f"it filters fewer {noun}s",
                "narrows": f"it filters more {noun}s",
                "neutral": "the same scope",
            }[grade]
        return Change(
            grade,
            kind,
            table,
            path,
            f"Policy {label} now applies to {shown_after} instead of {shown_before}: {effect}.",
            before,
            after,
        )

    def _predicate_change(
        self,
        table: str,
        path: tuple[str, ...],
        kind: str,
        label: str,
        clause: str,
        verdict: Verdict,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
    ) -> Change:
        grade = _grade_of(verdict.relation)
        field_name = "using" if clause == "USING" else "with_check"
        before, after = old[field_name], new[field_name]
        if clause == "WITH CHECK" and after is None and new["command"] in ("UPDATE", "ALL"):
            what = (
                f"Policy {label} lost its WITH CHECK: new rows are now only checked against "
                f"USING {_code(new['using'])}"
            )
        elif clause == "WITH CHECK" and after is None:
            what = f"Policy {label} lost its WITH CHECK: new rows are not checked at all"
        else:
            what = f"{clause} of policy {label} changed from {_code(before)} to {_code(after)}"
        effect = {
            Relation.WIDER: f"it admits more rows ({verdict.reason})",
            Relation.NARROWER: f"it admits fewer rows ({verdict.reason})",
            Relation.EQUAL: f"it is equivalent ({verdict.reason or 'same predicate'})",
            Relation.UNKNOWN: "rlsguard cannot tell whether it admits more rows, so it may "
            "widen access: review it",
        }[verdict.relation]
        if clause == "WITH CHECK" and verdict.relation is Relation.WIDER:
            effect += "; users may write rows the old check rejected"
        return Change(grade, kind, table, path, f"{what}: {effect}.", before, after)

    # -- views --------------------------------------------------------------------------------
    def _views(self) -> Iterator[Change]:
        before, after = self.base["views"], self.head["views"]
        for name in sorted(set(after) - set(before)):
            view = after[name]
            grants = view["grants"]
            definer = not view["security_invoker"]
            reach = "; ".join(f"{g}: {_words(p)}" for g, p in sorted(grants.items()))
            if grants and definer:
                message = (
                    f"New {view['kind']} {name}, reachable by {reach}, runs with its owner's "
                    f"({view['owner']}) rights: RLS of {_words(view['reads']) or 'what it reads'}"
                    " does not apply to its readers."
                )
            elif grants:
                message = (
                    f"New {view['kind']} {name} (security_invoker), reachable by {reach}: "
                    "readers see what the policies of the underlying tables let them see."
                )
            else:
                message = f"New {view['kind']} {name}, with no privilege for the API roles."
            yield Change(
                "widens" if grants else "neutral",
                "view.added",
                name,
                ("views", name),
                message,
                None,
                view,
            )
        for name in sorted(set(before) - set(after)):
            yield Change(
                "narrows",
                "view.removed",
                name,
                ("views", name),
                f"View {name} was dropped.",
                before[name],
                None,
            )
        for name in sorted(set(before) & set(after)):
            yield from self._view_changed(name, before[name], after[name])

    def _view_changed(
        self, name: str, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Iterator[Change]:
        path = ("views", name)
        definer = not new["security_invoker"]
        if old["security_invoker"] != new["security_invoker"]:
            yield Change(
                "narrows" if new["security_invoker"] else "widens",
                "view.security_invoker",
                name,
                (*path, "security_invoker"),
                f"View {name} now runs as its reader (security_invoker): the policies of "
                f"{_words(new['reads'])} apply to whoever reads it."
                if new["security_invoker"]
                else f"View {name} lost security_invoker: it now reads "
                f"{_words(new['reads'])} with its owner's ({new['owner']}) rights, bypassing "
                "their row level security for everyone who may select from it.",
                old["security_invoker"],
                new["security_invoker"],
            )
        if old["security_barrier"] != new["security_barrier"]:
            yield Change(
                "narrows" if new["security_barrier"] else "widens",
                "view.security_barrier",
                name,
                (*path, "security_barrier"),
                f"View {name} "
                + (
                    "is now a security barrier: callers' functions cannot see filtered rows."
                    if new["security_barrier"]
                    else "is no longer a security barrier: a leaky function in a caller's "
                    "WHERE clause may see rows the view filters out."
                ),
                old["security_barrier"],
                new["security_barrier"],
            )
        added = sorted(set(new["reads"]) - set(old["reads"]))
        dropped = sorted(set(old["reads"]) - set(new["reads"]))
        if added or dropped:
            parts = []
            if added:
                parts.append(f"now also reads {_words(added)}")
            if dropped:
                parts.append(f"no longer reads {_words(dropped)}")
            yield Change(
                "widens" if added and definer else "neutral",
                "view.reads",
                name,
                (*path, "reads"),
                f"View {name} {' and '.join(parts)}"
                + (" with its owner's rights." if added and definer else "."),
                old["reads"],
                new["reads"],
            )
        if old["definition"] != new["definition"]:
            yield Change(
                "widens" if definer else "neutral",
                "view.definition",
                name,
                (*path, "definition"),
                f"The query of view {name} changed"
                + (
                    "; it runs with its owner's rights, so review which rows it now returns."
                    if definer
                    else "; it runs as its reader, so the underlying policies still apply."
                ),
                old["definition"],
                new["definition"],
            )
        yield from self._owner(
            "views",
            name,
            f"view {name}",
            old,
            new,
            grade="widens" if definer else "neutral",
            note=" (it runs with its owner's rights)" if definer else "",
        )
        yield from self._grants(
            (*path, "grants"),
            name,
            f"view {name}",
            old["grants"],
            new["grants"],
            "view",
            widen_note=" (a view without security_invoker bypasses RLS)" if definer else "",
        )
        yield from self._column_grants("views", name, old["column_grants"], new["column_grants"])

    # -- functions ------------------------------------------------------------------------------
    def _functions(self) -> Iterator[Change]:
        before, after = self.base["functions"], self.head["functions"]
        for name in sorted(set(after) - set(before)):
            function = after[name]
            callers = function["execute"]
            definer = function["security"] == "definer"
            reach = _executors(callers)
            if definer:
                grade: Grade = "widens" if reach else "neutral"
                pinned = (
                    f"search_path pinned to {function['search_path']}"
                    if function["search_path"] is not None
                    else "search_path NOT pinned"
                )
                message = (
                    f"New SECURITY DEFINER function {name} (runs as {function['owner']}, "
                    f"{pinned}), executable by {reach or 'no API role'}."
                )
            else:
                grade = "neutral"
                message = f"New function {name} (runs as its caller)."
            yield Change(
                grade, "function.added", name, ("functions", name), message, None, function
            )
        for name in sorted(set(before) - set(after)):
            function = before[name]
            yield Change(
                "narrows" if function["security"] == "definer" else "neutral",
                "function.removed",
                name,
                ("functions", name),
                f"Function {name} was dropped.",
                function,
                None,
            )
        for name in sorted(set(before) & set(after)):
            yield from self._function_changed(name, before[name], after[name])

    def _function_changed(
        self, name: str, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Iterator[Change]:
        path = ("functions", name)
        definer = new["security"] == "definer"
        if old["security"] != new["security"]:
            yield Change(
                "widens" if definer else "narrows",
                "function.security",
                name,
                (*path, "security"),
                f"Function {name} now runs as its owner ({new['owner']}, SECURITY DEFINER), "
                f"bypassing row level security for {_executors(new['execute']) or 'its callers'}."
                if definer
                else f"Function {name} now runs as its caller (SECURITY INVOKER).",
                old["security"],
                new["security"],
            )
        if old["search_path"] != new["search_path"]:
            if new["search_path"] is None:
                grade: Grade = "widens" if definer else "neutral"
                message = f"Function {name} no longer pins its search_path" + (
                    ": a SECURITY DEFINER function resolving names through the caller's "
                    "search_path can be tricked into running the caller's objects."
                    if definer
                    else "."
                )
            elif old["search_path"] is None:
                grade = "narrows" if definer else "neutral"
                message = f"Function {name} now pins search_path to {new['search_path']}."
            else:
                grade = "neutral"
                message = (
                    f"Function {name} pins search_path to {new['search_path']} instead of "
                    f"{old['search_path']}."
                )
            yield Change(
                grade,
                "function.search_path",
                name,
                (*path, "search_path"),
                message,
                old["search_path"],
                new["search_path"],
            )
        gained = sorted(set(new["execute"]) - set(old["execute"]))
        lost = sorted(set(old["execute"]) - set(new["execute"]))
        kind = "SECURITY DEFINER function" if definer else "function"
        if gained:
            yield Change(
                "widens" if definer else "neutral",
                "function.execute",
                name,
                (*path, "execute"),
                f"{_executors(gained)} may now execute {kind} {name}"
                + (f", which runs as {new['owner']}." if definer else "."),
                old["execute"],
                new["execute"],
            )
        if lost:
            yield Change(
                "narrows" if definer else "neutral",
                "function.execute",
                name,
                (*path, "execute"),
                f"{_executors(lost)} may no longer execute {kind} {name}.",
                old["execute"],
                new["execute"],
            )
        if definer and old.get("body") is not None and old.get("body") != new.get("body"):
            yield Change(
                "widens",
                "function.body",
                name,
                (*path, "body"),
                f"The body of SECURITY DEFINER function {name} changed; it runs with "
                f"{new['owner']}'s rights, so review what it now returns or writes.",
                old.get("body"),
                new.get("body"),
            )
        yield from self._owner(
            "functions",
            name,
            f"function {name}",
            old,
            new,
            grade="widens" if definer else "neutral",
            note=" (a SECURITY DEFINER function runs with its owner's rights)" if definer else "",
        )
        for key in ("returns", "language", "kind"):
            if old.get(key) != new.get(key):
                yield Change(
                    "neutral",
                    f"function.{key}",
                    name,
                    (*path, key),
                    f"The {key} of function {name} changed from {old.get(key)} to {new.get(key)}.",
                    old.get(key),
                    new.get(key),
                )

    # -- default privileges -------------------------------------------------------------------
    def _default_privileges(self) -> Iterator[Change]:
        before, after = self.base["default_privileges"], self.head["default_privileges"]
        for key in sorted(set(before) | set(after)):
            entry = after.get(key) or before[key]
            where = f"in schema {entry['schema']}" if entry["schema"] else "in every schema"
            what = f"{entry['object']} {entry['for_role']} creates {where}"
            old = before.get(key, {}).get("grants", {})
            new = after.get(key, {}).get("grants", {})
            yield from self._grants(
                ("default_privileges", key, "grants"),
                key,
                what,
                old,
                new,
                "default_privileges",
                granted="will be granted",
                revoked="will no longer be granted",
            )


ROW_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


def _row_access(grants: Mapping[str, list[str]]) -> str:
    """``anon (SELECT); authenticated (SELECT, UPDATE)``: who reads or writes rows."""
    parts = []
    for grantee, privileges in sorted(grants.items()):
        rows = [p for p in privileges if p.split(" ")[0] in ROW_PRIVILEGES]
        if rows:
            who = "everyone (PUBLIC)" if grantee == "PUBLIC" else grantee
            parts.append(f"{who} ({_words(rows)})")
    return "; ".join(parts)


def _executors(grantees: list[str]) -> str:
    if "PUBLIC" in grantees:
        return "everyone (PUBLIC)"
    return _words([g for g in grantees if g in API_ROLES] or list(grantees))


def value_at(doc: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a snapshot document (None when any step is missing).

    ``("exposed_schemas", name)`` is whether that schema is exposed.
    """
    if path and path[0] == "exposed_schemas":
        return len(path) > 1 and path[1] in doc.get("exposed_schemas", ())
    node: Any = doc
    for step in path:
        if not isinstance(node, Mapping) or step not in node:
            return None
        node = node[step]
    return node
