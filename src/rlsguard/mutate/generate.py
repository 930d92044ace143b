"""The mutants of a live security surface, read from its catalog (no database needed).

Every mutant is SQL that a transaction applies and rolls back: a policy is dropped and
created again with one change (``ALTER POLICY`` cannot change ``AS RESTRICTIVE`` or drop a
``WITH CHECK``, so every policy mutant is re-created the same way), a table loses RLS, a
grant is revoked or added, a SECURITY DEFINER helper is replaced, a view loses
``security_invoker``, a definer function loses its pinned ``search_path``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from rlsguard.catalog.surface import Catalog, Function, Policy, Table, View
from rlsguard.mutate.model import Mutant
from rlsguard.mutate.operators import (
    Rewrite,
    expression_rewrites,
    ignore_argument,
    operand_keys,
    row_independent,
)

API_ROLES = ("anon", "authenticated")  # service_role bypasses RLS: its grants are not the bug
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
# Which matrix operations a command's policy or privilege decides (UPDATE and DELETE only
# reach rows SELECT lets them see).
OPERATIONS = {
    "SELECT": ("select", "update", "delete", "changes"),
    "INSERT": ("insert",),
    "UPDATE": ("update", "changes"),
    "DELETE": ("delete",),
    "ALL": ("select", "insert", "update", "delete", "changes"),
}
_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")
_DOLLAR = "$rlsguard_mutant$"


def ident(name: str) -> str:
    """An identifier as SQL (quoted only when it must be)."""
    return name if _PLAIN.match(name) else '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def qualified(schema: str, name: str) -> str:
    return f"{ident(schema)}.{ident(name)}"


def create_policy(
    p: Policy,
    *,
    using: str | None = None,
    with_check: str | None = None,
    roles: Sequence[str] | None = None,
    permissive: bool | None = None,
) -> str:
    """``CREATE POLICY`` for ``p`` with any part replaced (``""`` removes a clause)."""
    use = p.using_raw if using is None else using
    check = p.with_check_raw if with_check is None else with_check
    who = ", ".join(ident(r) if r != "public" else "public" for r in (roles or p.roles))
    mode = "PERMISSIVE" if (p.permissive if permissive is None else permissive) else "RESTRICTIVE"
    lines = [
        f"CREATE POLICY {ident(p.name)} ON {qualified(p.schema, p.table)}",
        f"  AS {mode} FOR {p.command} TO {who}",
    ]
    if use:
        lines.append(f"  USING ({use})")
    if check:
        lines.append(f"  WITH CHECK ({check})")
    return "\n".join(lines)


def _drop_policy(p: Policy) -> str:
    return f"DROP POLICY {ident(p.name)} ON {qualified(p.schema, p.table)}"


def _policy_mutant(
    p: Policy,
    operator: str,
    after: str,
    *,
    note: str = "",
    site: int | None = None,
    equivalent: str = "",
    dropped: str = "",
) -> Mutant:
    suffix = f"#{site}" if site is not None else ""
    apply = (_drop_policy(p), after) if after else (_drop_policy(p),)
    return Mutant(
        id=f"{p.qualified_table}.{p.name}/{operator}{suffix}",
        operator=operator,
        object=f"{p.qualified_table}.{p.name}",
        kind="policy",
        apply=apply,
        before=create_policy(p),
        after=after,
        tables=(p.qualified_table,),
        commands=OPERATIONS[p.command],
        note=note,
        equivalent=equivalent,
        dropped=dropped,
    )


def _implied_by_using(p: Policy, clause: str, rewrite: Rewrite) -> str:
    """A WITH CHECK conjunct of an UPDATE policy that reads no column and is also in USING:
    USING already required it of the same user in the same statement."""
    if clause != "with_check" or rewrite.operator != "drop_conjunct" or not p.using_raw:
        return ""
    if p.command not in ("UPDATE", "ALL") or not row_independent(rewrite.dropped):
        return ""
    dropped = operand_keys(rewrite.dropped)
    if dropped and dropped <= operand_keys(p.using_raw):
        return f"{rewrite.dropped} reads no column and USING requires it already"
    return ""


def policy_mutants(p: Policy) -> Iterator[Mutant]:
    yield _policy_mutant(p, "drop_policy", "", note="the policy is gone")
    for clause, raw in (("using", p.using_raw), ("with_check", p.with_check_raw)):
        if not raw:
            continue
        for rewrite in expression_rewrites(raw):
            after = (
                create_policy(p, using=rewrite.text)
                if clause == "using"
                else create_policy(p, with_check=rewrite.text)
            )
            multi = rewrite.operator not in ("true", "false")
            same = rewrite.equivalent or _implied_by_using(p, clause, rewrite)
            yield _policy_mutant(
                p,
                f"{clause}:{rewrite.operator}",
                after,
                note=f"{clause.upper().replace('_', ' ')}: {rewrite.note}",
                site=rewrite.site if multi else None,
                equivalent=same,
                dropped=rewrite.dropped,
            )
    if "public" not in p.roles:
        yield _policy_mutant(
            p, "to_public", create_policy(p, roles=["public"]), note="TO widened to public"
        )
        if "anon" not in p.roles:
            yield _policy_mutant(
                p,
                "to_anon",
                create_policy(p, roles=sorted({*p.roles, "anon"})),
                note="TO widened to anon",
            )
    if p.with_check_raw and p.command in ("UPDATE", "ALL"):
        same = (
            "WITH CHECK repeats USING, and without it USING checks the new row: the same"
            if p.with_check and p.with_check == p.using
            else ""
        )
        yield _policy_mutant(
            p,
            "remove_with_check",
            create_policy(p, with_check=""),
            note="WITH CHECK removed",
            equivalent=same,
        )
    if not p.permissive:
        yield _policy_mutant(
            p,
            "restrictive_to_permissive",
            create_policy(p, permissive=True),
            note="AS RESTRICTIVE became AS PERMISSIVE",
        )


def table_mutants(t: Table) -> Iterator[Mutant]:
    name = qualified(t.schema, t.name)
    if t.rls_enabled:
        yield Mutant(
            id=f"{t.qualified}/disable_rls",
            operator="disable_rls",
            object=t.qualified,
            kind="table",
            apply=(f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY",),
            before=f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
            after=f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY",
            tables=(t.qualified,),
            commands=OPERATIONS["ALL"],
            note="row level security disabled",
        )
    if not t.exposed:
        return
    for role in API_ROLES:
        held = t.effective.get(role, frozenset())
        for privilege in PRIVILEGES:
            if privilege in held:
                op, sql = "revoke", f"REVOKE {privilege} ON {name} FROM {ident(role)}"
                before = f"GRANT {privilege} ON {name} TO {ident(role)}"
            else:
                op, sql = "grant", f"GRANT {privilege} ON {name} TO {ident(role)}"
                before = f"-- {role} holds no {privilege} on {t.qualified}"
            yield Mutant(
                id=f"{t.qualified}/{op}:{role}:{privilege}",
                operator=f"{op}_table",
                object=t.qualified,
                kind="grant",
                apply=(sql,),
                before=before,
                after=sql,
                tables=(t.qualified,),
                commands=OPERATIONS[privilege],
                note=f"{op} {privilege} on the table for {role}",
            )
        for column in t.columns:
            for grant in column.grants:
                if grant.grantee != role or grant.privilege not in PRIVILEGES:
                    continue
                target = f"{grant.privilege} ({ident(column.name)}) ON {name}"
                yield Mutant(
                    id=f"{t.qualified}({column.name})/revoke:{role}:{grant.privilege}",
                    operator="revoke_column",
                    object=f"{t.qualified}({column.name})",
                    kind="grant",
                    apply=(f"REVOKE {target} FROM {ident(role)}",),
                    before=f"GRANT {target} TO {ident(role)}",
                    after=f"REVOKE {target} FROM {ident(role)}",
                    tables=(t.qualified,),
                    commands=OPERATIONS[grant.privilege],
                    note=f"{role} loses {grant.privilege} on column {column.name}",
                )
        yield from _column_grants(t, role)


def _column_grants(t: Table, role: str) -> Iterator[Mutant]:
    """Where a role's UPDATE is granted column by column, one more column granted."""
    granted = {
        c.name for c in t.columns for g in c.grants if (g.grantee, g.privilege) == (role, "UPDATE")
    }
    if not granted or "UPDATE" in t.effective.get(role, frozenset()):
        return
    name = qualified(t.schema, t.name)
    for column in t.columns:
        if column.name in granted:
            continue
        sql = f"GRANT UPDATE ({ident(column.name)}) ON {name} TO {ident(role)}"
        yield Mutant(
            id=f"{t.qualified}({column.name})/grant:{role}:UPDATE",
            operator="grant_column",
            object=f"{t.qualified}({column.name})",
            kind="grant",
            apply=(sql,),
            before=f"-- {role} may not update {t.qualified}.{column.name}",
            after=sql,
            tables=(t.qualified,),
            commands=OPERATIONS["UPDATE"],
            note=f"{role} may update column {column.name}",
        )


def _function_header(f: Function) -> str:
    parts = [
        f"CREATE OR REPLACE FUNCTION {qualified(f.schema, f.name)}({f.identity_arguments})",
        f"  RETURNS {f.result} LANGUAGE {f.language} {f.volatility.upper()}"
        + (" SECURITY DEFINER" if f.security_definer else ""),
    ]
    for item in f.config:
        name, _, value = item.partition("=")
        parts.append(f"  SET {name} TO {literal(value)}")
    return "\n".join(parts)


def create_function(f: Function, body: str) -> str:
    return f"{_function_header(f)}\nAS {_DOLLAR}\n{body.strip()}\n{_DOLLAR}"


def _arguments(f: Function) -> list[str]:
    """Argument names, in order ('' for unnamed ones)."""
    out = []
    for part in filter(None, (p.strip() for p in f.identity_arguments.split(","))):
        words = part.split()
        out.append(words[0] if len(words) > 1 and words[0] not in ("IN", "VARIADIC") else "")
    return out


def function_mutants(f: Function) -> Iterator[Mutant]:
    if not f.security_definer or f.kind != "function" or f.result == "trigger":
        return
    before = create_function(f, f.body_raw)

    def mutant(operator: str, body: str | None, note: str, apply: str | None = None) -> Mutant:
        after = create_function(f, body) if body is not None else (apply or "")
        return Mutant(
            id=f"{f.signature}/{operator}",
            operator=operator,
            object=f.signature,
            kind="function",
            apply=(after if body is not None else apply or "",),
            before=before,
            after=after,
            note=note,
        )

    if f.result == "boolean" and f.language in ("sql", "plpgsql"):
        body = "SELECT true" if f.language == "sql" else "BEGIN RETURN true; END"
        yield mutant("returns_true", body, "the helper answers true for everyone")
    if f.language == "sql":
        for position, name in enumerate(_arguments(f), start=1):
            changed = ignore_argument(f.body_raw, name, position)
            if changed is not None:
                yield mutant(
                    f"ignores_argument:{name or position}",
                    changed,
                    f"every comparison reading argument {name or position} became true",
                )
    if f.search_path is not None:
        target = f"{qualified(f.schema, f.name)}({f.identity_arguments})"
        sql = f"ALTER FUNCTION {target} RESET search_path"
        yield Mutant(
            id=f"{f.signature}/drop_search_path",
            operator="drop_search_path",
            object=f.signature,
            kind="function",
            apply=(sql,),
            before=before,
            after=sql,
            note="the pinned search_path is gone: the caller's path resolves its names",
        )


def view_mutants(v: View) -> Iterator[Mutant]:
    if not v.security_invoker or v.kind != "view":
        return
    name = qualified(v.schema, v.name)
    sql = f"ALTER VIEW {name} SET (security_invoker = false)"
    yield Mutant(
        id=f"{v.qualified}/drop_security_invoker",
        operator="drop_security_invoker",
        object=v.qualified,
        kind="view",
        apply=(sql,),
        before=f"ALTER VIEW {name} SET (security_invoker = true)",
        after=sql,
        tables=tuple(v.reads),
        note="the view runs with its owner's rights, RLS of what it reads bypassed",
    )


def generate(catalog: Catalog, *, schemas: Iterable[str] | None = None) -> list[Mutant]:
    """Every mutant of the surface: policies and tables with RLS, exposed grants, definer
    helpers, invoker views. ``schemas`` narrows to those schemas (default: every schema
    that has a table with a policy, or that the Data API exposes)."""
    wanted = set(schemas) if schemas is not None else None

    def keep(schema: str, exposed: bool, has_policies: bool = False) -> bool:
        if wanted is not None:
            return schema in wanted
        return exposed or has_policies

    out: list[Mutant] = []
    for table in catalog.tables:
        if not keep(table.schema, table.exposed, bool(table.policies)):
            continue
        for policy in table.policies:
            out.extend(policy_mutants(policy))
        out.extend(table_mutants(table))
    for view in catalog.views:
        if keep(view.schema, view.exposed):
            out.extend(view_mutants(view))
    for function in catalog.functions:
        out.extend(function_mutants(function))
    seen: set[str] = set()
    unique = []
    for mutant in out:
        if mutant.id not in seen:
            seen.add(mutant.id)
            unique.append(mutant)
    return unique
