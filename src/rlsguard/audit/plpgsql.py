"""What a function body does, read from its syntax trees: writes, role grants, trigger guards.

Lint rules need two facts the policy expressions do not give. Whether a BEFORE UPDATE trigger
refuses (or undoes) a change to a column: then an UPDATE policy without WITH CHECK cannot be
used to rewrite that column. And whether a SECURITY DEFINER function writes to ``auth.users``,
grants roles or inserts into a role/membership table: then whoever may call it can mint an
admin. PL/pgSQL bodies are parsed with pglast's ``parse_plpgsql`` and every embedded SQL
statement with ``parse_sql``; when a body cannot be read, the facts say so (``parsed=False``)
and the rules downgrade rather than guess.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pglast import ast, parse_plpgsql, parse_sql
from pglast.enums import A_Expr_Kind, BoolExprType, SQLValueFunctionOp
from pglast.parser import ParseError

_ERROR_LEVEL = 21  # elog ERROR: RAISE EXCEPTION
# Tables whose rows decide who is an admin or a member (public.user_roles, org_members, ...).
ROLE_TABLE = re.compile(r"(^|_)(roles?|admins?|members?|memberships?|permissions?|grants?)$")


@dataclass(frozen=True)
class TriggerFacts:
    """What a BEFORE UPDATE trigger function does to the new row's columns."""

    guarded: frozenset[str] = frozenset()  # raise when changed, or reset to OLD
    conditional: frozenset[str] = frozenset()  # raise when changed, but only under a condition
    unconditional_raise: bool = False  # raises on every call (a WHEN clause then decides)
    parsed: bool = False


@dataclass(frozen=True)
class WriteFacts:
    """Rows and roles a function changes."""

    writes: frozenset[tuple[str, str]] = frozenset()  # (INSERT|UPDATE|DELETE, schema.table)
    grants_roles: bool = False
    dynamic_sql: bool = False  # EXECUTE of a string: what it does is unknown
    parsed: bool = False

    def escalations(self) -> list[str]:
        """How this body can make someone more powerful, in words."""
        out = []
        for verb, relation in sorted(self.writes):
            schema, _, name = relation.partition(".")
            if relation == "auth.users" and verb in ("INSERT", "UPDATE"):
                out.append(f"{verb.lower()}s auth.users")
            elif verb in ("INSERT", "UPDATE") and ROLE_TABLE.search(name) and schema != "auth":
                out.append(f"{verb.lower()}s role/membership table {relation}")
        if self.grants_roles:
            out.append("grants database roles")
        return out


def _wrap(body: str, arguments: str, result: str) -> str:
    tag = "$rlsguard$"
    while tag in body:
        tag = tag[:-1] + "x$"
    return f"create function f({arguments}) returns {result} language plpgsql as {tag}{body}{tag}"


def _walk(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _plpgsql(body: str, arguments: str = "", result: str = "void") -> list[Any] | None:
    try:
        return parse_plpgsql(_wrap(body, arguments, result))
    except Exception:  # pglast raises several types for bodies it cannot compile
        return None


def _embedded_sql(tree: list[Any]) -> tuple[list[str], bool]:
    """SQL texts of every statement and expression of a PL/pgSQL tree, and whether it
    runs dynamic SQL."""
    texts: list[str] = []
    dynamic = False
    for node in _walk(tree):
        if "PLpgSQL_stmt_dynexecute" in node or "PLpgSQL_stmt_dynfors" in node:
            dynamic = True
        expr = node.get("PLpgSQL_expr")
        if isinstance(expr, dict) and isinstance(expr.get("query"), str):
            texts.append(expr["query"])
    return texts, dynamic


def _relation(node: Any) -> str:
    schema = node.schemaname or "public"
    return f"{schema}.{node.relname}"


def _sql_writes(text: str) -> tuple[set[tuple[str, str]], bool, bool]:
    try:
        statements = parse_sql(text)
    except ParseError:
        return set(), False, False
    writes: set[tuple[str, str]] = set()
    grants = False
    for raw in statements:
        for node in _ast_nodes(raw.stmt):
            if isinstance(node, ast.InsertStmt):
                writes.add(("INSERT", _relation(node.relation)))
            elif isinstance(node, ast.UpdateStmt):
                writes.add(("UPDATE", _relation(node.relation)))
            elif isinstance(node, ast.DeleteStmt):
                writes.add(("DELETE", _relation(node.relation)))
            elif isinstance(node, ast.GrantRoleStmt) and node.is_grant:
                grants = True
    return writes, grants, True


def _ast_nodes(node: Any) -> Iterator[Any]:
    if isinstance(node, ast.Node):
        yield node
        for name in node:
            yield from _ast_nodes(getattr(node, name))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from _ast_nodes(item)


@functools.lru_cache(maxsize=1024)
def function_writes(body: str, language: str, arguments: str = "") -> WriteFacts:
    """What ``body`` inserts, updates, deletes and grants (``parsed=False`` when unreadable)."""
    if language == "sql":
        writes, grants, ok = _sql_writes(body)
        return WriteFacts(frozenset(writes), grants, False, ok)
    if language != "plpgsql":
        return WriteFacts()
    tree = _plpgsql(body, arguments)
    if tree is None:
        return WriteFacts()
    texts, dynamic = _embedded_sql(tree)
    writes: set[tuple[str, str]] = set()
    grants = False
    for text in texts:
        found, granted, _ok = _sql_writes(text)
        writes |= found
        grants = grants or granted
    # EXECUTE 'grant ...' / format('insert into ...'): look at the strings it is built from.
    if dynamic and any(re.search(r"\bgrant\s+\w+\s+to\b", t, re.I) for t in texts):
        grants = True
    return WriteFacts(frozenset(writes), grants, dynamic, True)


def _change_tests(cond: Any) -> frozenset[str] | None:
    """Columns a condition tests for change (``new.c is distinct from old.c``, ``<>``), when
    the condition is nothing but an OR of such tests; ``None`` otherwise."""
    parts = (
        list(cond.args)
        if isinstance(cond, ast.BoolExpr) and cond.boolop == BoolExprType.OR_EXPR
        else [cond]
    )
    columns: set[str] = set()
    for part in parts:
        column = _change_test(part)
        if column is None:
            return None
        columns.add(column)
    return frozenset(columns)


def _record_field(node: Any) -> tuple[str, str] | None:
    if not isinstance(node, ast.ColumnRef) or len(node.fields) != 2:
        return None
    record, column = (getattr(f, "sval", None) for f in node.fields)
    if record in ("new", "old") and column:
        return record, column
    return None


def _change_test(node: Any) -> str | None:
    if not isinstance(node, ast.A_Expr):
        return None
    name = node.name[0].sval if node.name else None
    if node.kind == A_Expr_Kind.AEXPR_DISTINCT or (
        node.kind == A_Expr_Kind.AEXPR_OP and name in ("<>", "!=")
    ):
        left, right = _record_field(node.lexpr), _record_field(node.rexpr)
        if left and right and left[1] == right[1] and {left[0], right[0]} == {"new", "old"}:
            return left[1]
    return None


def _condition(text: str) -> Any:
    try:
        statement = parse_sql(f"select {text}")[0].stmt
    except (ParseError, IndexError):
        return None
    targets = getattr(statement, "targetList", None) or ()
    return targets[0].val if len(targets) == 1 else None


def _raises(body: Any) -> bool:
    return any(
        isinstance(s, dict)
        and "PLpgSQL_stmt_raise" in s
        and (s["PLpgSQL_stmt_raise"].get("elog_level") or _ERROR_LEVEL) >= _ERROR_LEVEL
        for s in body or ()
    )


_RESET = re.compile(r"^\s*new\.(\w+)\s*:?=\s*old\.(\w+)\s*$", re.I)


@functools.lru_cache(maxsize=1024)
def trigger_facts(body: str, language: str) -> TriggerFacts:
    """Columns a BEFORE UPDATE trigger function protects from change."""
    if language != "plpgsql":
        return TriggerFacts()
    tree = _plpgsql(body, result="trigger")
    if tree is None:
        return TriggerFacts()
    action = tree[0]["PLpgSQL_function"]["action"]["PLpgSQL_stmt_block"]
    guarded: set[str] = set()
    conditional: set[str] = set()
    top = _for_api_callers(action.get("body") or [])
    for node in _walk(top):
        if "PLpgSQL_stmt_if" in node:
            statement = node["PLpgSQL_stmt_if"]
            if not _raises(statement.get("then_body")):
                continue
            cond = _condition(statement["cond"]["PLpgSQL_expr"]["query"])
            tested = _change_tests(cond) if cond is not None else None
            if tested is not None:
                # Only an IF at the top of the body is unconditional.
                (guarded if node in top else conditional).update(tested)
            elif cond is not None:
                conditional.update(_mentioned_new_columns(cond))
        elif "PLpgSQL_stmt_assign" in node:
            query = node["PLpgSQL_stmt_assign"]["expr"]["PLpgSQL_expr"]["query"]
            match = _RESET.match(query)
            if match and match.group(1).lower() == match.group(2).lower():
                (guarded if node in top else conditional).add(match.group(1).lower())
    return TriggerFacts(
        frozenset(guarded), frozenset(conditional - guarded), _raises(top), parsed=True
    )


# The roles every API request runs as (service_role bypasses RLS, so no policy concerns it).
_API_ROLES = frozenset({"anon", "authenticated"})
_CALLER = (SQLValueFunctionOp.SVFOP_CURRENT_USER, SQLValueFunctionOp.SVFOP_CURRENT_ROLE)


def _for_api_callers(top: list[Any]) -> list[Any]:
    """The statements every API caller runs: the top of the body, plus the body of each IF
    that holds for every API role (``if current_user in ('authenticated', 'anon') then``).

    Starter kits guard columns only for API callers so that the service role and migrations
    may still set them; for the callers an UPDATE policy lets in, such a guard is
    unconditional."""
    out = list(top)
    for node in top:
        statement = node.get("PLpgSQL_stmt_if") if isinstance(node, dict) else None
        if statement is None or statement.get("elsif_list"):
            continue
        cond = _condition(statement["cond"]["PLpgSQL_expr"]["query"])
        if cond is not None and _roles_admitted(cond) >= _API_ROLES:
            out.extend(_for_api_callers(statement.get("then_body") or []))
    return out


def _roles_admitted(cond: Any) -> frozenset[str]:
    """Of the API roles, those for which ``cond`` (a test of the calling role) is true."""
    if isinstance(cond, ast.BoolExpr) and cond.boolop == BoolExprType.OR_EXPR:
        return frozenset().union(*(_roles_admitted(arg) for arg in cond.args))
    if not isinstance(cond, ast.A_Expr) or not _is_caller(cond.lexpr):
        return frozenset()
    name = cond.name[0].sval if cond.name else None
    items = cond.rexpr if isinstance(cond.rexpr, tuple | list) else (cond.rexpr,)
    values = {getattr(getattr(i, "val", None), "sval", None) for i in items}
    if None in values:
        return frozenset()  # compared with something other than role names
    if cond.kind in (A_Expr_Kind.AEXPR_OP, A_Expr_Kind.AEXPR_IN):
        if name == "=":
            return _API_ROLES & values
        if name in ("<>", "!="):
            return _API_ROLES - values
    return frozenset()


def _is_caller(node: Any) -> bool:
    if isinstance(node, ast.SQLValueFunction):
        return node.op in _CALLER
    if isinstance(node, ast.FuncCall) and not node.args:
        return [f.sval for f in node.funcname] == ["auth", "role"]
    return False


def _mentioned_new_columns(cond: Any) -> set[str]:
    out = set()
    for node in _ast_nodes(cond):
        field = _record_field(node)
        if field and field[0] == "new":
            out.add(field[1])
    return out


def when_change_tests(when: str | None) -> frozenset[str] | None:
    """Columns a trigger's ``WHEN (old.c is distinct from new.c or ...)`` clause tests."""
    if not when:
        return None
    cond = _condition(when)
    return _change_tests(cond) if cond is not None else None
