"""What a policy expression does, read from its syntax tree (pglast), never from its text.

``pg_get_expr`` (read with an empty ``search_path``) prints every function and relation of a
policy schema-qualified, columns of the policy's own table unqualified at the top level and
qualified with the table's name inside subqueries. :func:`analyse` walks that tree once and
records, per call site and per comparison, the facts the lint rules need:

- each call of ``auth.uid()``/``jwt()``/``role()``/``email()`` and ``current_setting()``, and
  whether it sits in a scalar subquery (``(select auth.uid())``, an InitPlan run once per
  statement) or is evaluated per row; one policy can have both;
- comparisons of a column of the target row with a privilege-looking literal
  (``role = 'admin'``): the row's role, where the requester's was meant;
- ``auth.uid() IS NULL OR ...``: a disjunct that is true for every anonymous request;
- reads of ``user_metadata`` (from the JWT) or ``raw_user_meta_data`` (from ``auth.users``,
  e.g. in a subquery): data the user edits themselves;
- the relations the expression reads and the functions it calls (for the recursion graph);
- the target-table columns it reads, and those it compares with ``auth.uid()``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind, BoolExprType, NullTestType
from pglast.parser import ParseError

from rlsguard.catalog.sqlnorm import deparse, parse_expression
from rlsguard.errors import SqlNormalizationError
from rlsguard.policy.predicates import constant_truth, flatten

AUTH_FUNCTIONS = frozenset({"auth.uid", "auth.jwt", "auth.role", "auth.email"})
SETTING_FUNCTIONS = frozenset({"current_setting", "pg_catalog.current_setting"})
JSON_OPERATORS = frozenset({"->", "->>", "#>", "#>>"})
METADATA_KEYS = frozenset({"user_metadata"})
METADATA_COLUMNS = frozenset({"raw_user_meta_data", "user_metadata"})

# Words that name a privilege rather than a value: compared with a column of the row, they
# test the row, not the requester.
PRIVILEGE_WORDS = frozenset(
    {
        "admin",
        "administrator",
        "superadmin",
        "super_admin",
        "super-admin",
        "superuser",
        "root",
        "owner",
        "staff",
        "moderator",
        "mod",
        "editor",
        "manager",
        "maintainer",
        "operator",
        "supervisor",
        "sysadmin",
        "service_role",
        "privileged",
        "internal",
    }
)
_PRIVILEGE_PATTERN = re.compile(r"admin|superuser|moderator", re.IGNORECASE)
PRIVILEGE_FLAG_COLUMNS = re.compile(r"^(is_)?(super_?)?(admin|staff|superuser|moderator)$")


def is_privilege_literal(value: str) -> bool:
    """``'admin'``, ``'super_admin'``, ``'moderator'``: values that name a privilege."""
    return value.lower() in PRIVILEGE_WORDS or bool(_PRIVILEGE_PATTERN.search(value))


@dataclass(frozen=True)
class CallSite:
    """One call of an auth function or ``current_setting()`` and how it is evaluated."""

    function: str
    wrapped: bool  # in a scalar subquery: evaluated once per statement
    text: str


@dataclass(frozen=True)
class Analysis:
    """Everything the rules need to know about one expression."""

    text: str
    parsed: bool
    always_true: bool = False
    always_false: bool = False
    auth_calls: tuple[CallSite, ...] = ()
    functions: frozenset[str] = frozenset()  # schema.name of every other function called
    relations: frozenset[str] = frozenset()  # schema.name read in subqueries
    columns: frozenset[str] = frozenset()  # columns of the target row read
    uid_columns: frozenset[str] = frozenset()  # target columns compared with auth.uid()
    compared_literals: tuple[tuple[str, str], ...] = ()  # (target column, string literal)
    flag_columns: frozenset[str] = frozenset()  # target columns like is_admin, read as-is
    foreign_columns: frozenset[tuple[str, str]] = frozenset()  # (relation, column) in subqueries
    foreign_literals: tuple[tuple[str, str, str], ...] = ()  # (relation, column, literal)
    anonymous_disjuncts: tuple[str, ...] = ()  # 'auth.uid() IS NULL' in an OR
    metadata_reads: tuple[str, ...] = ()  # how user-editable metadata is read
    mentions_anon: bool = False  # tests the requester's role (auth.role(), 'anon')
    anon_null: bool = False  # every OR branch has a test NULL without auth.uid(): not anon
    signed_in_true: bool = False  # true for every signed-in user (`auth.uid() is not null`)
    self_comparisons: tuple[str, ...] = ()  # `m.team_id = m.team_id`: a column with itself

    @property
    def row_role_tests(self) -> tuple[tuple[str, str], ...]:
        """``(column, literal)`` where a target column is compared with a privilege word."""
        tests = [(c, v) for c, v in self.compared_literals if is_privilege_literal(v)]
        return (*tests, *((c, "true") for c in sorted(self.flag_columns)))

    @property
    def unwrapped_calls(self) -> tuple[CallSite, ...]:
        return tuple(c for c in self.auth_calls if not c.wrapped)

    @property
    def wrapped_calls(self) -> tuple[CallSite, ...]:
        return tuple(c for c in self.auth_calls if c.wrapped)


def function_name(node: Any) -> str:
    """``schema.name`` (or ``name``) of a FuncCall."""
    return ".".join(str(getattr(part, "sval", "")) for part in node.funcname or ())


def _strip(node: Any) -> Any:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return node


def _string_constants(node: Any) -> list[str]:
    """String literals of a constant, an ``ARRAY[...]``, or ``'{a,b}'`` array text."""
    node = _strip(node)
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        text = str(node.val.sval)
        if text.startswith("{") and text.endswith("}"):
            return [part.strip().strip('"') for part in text[1:-1].split(",") if part.strip()]
        return [text]
    if isinstance(node, ast.A_ArrayExpr):
        out: list[str] = []
        for element in node.elements or ():
            out.extend(_string_constants(element))
        return out
    if isinstance(node, tuple | list):
        out = []
        for element in node:
            out.extend(_string_constants(element))
        return out
    return []


def _children(node: Any) -> Iterator[Any]:
    for name in type(node).__slots__:
        value = getattr(node, name, None)
        if isinstance(value, ast.Node):
            yield value
        elif isinstance(value, tuple | list):
            for item in value:
                if isinstance(item, ast.Node):
                    yield item


def _is_auth_call(node: Any) -> bool:
    node = _strip(node)
    if isinstance(node, ast.FuncCall):
        name = function_name(node)
        return name in AUTH_FUNCTIONS or name in SETTING_FUNCTIONS
    if isinstance(node, ast.SubLink) and node.subLinkType == 4:  # (select auth.uid())
        select = node.subselect
        if isinstance(select, ast.SelectStmt) and not select.fromClause and select.targetList:
            return _is_auth_call(select.targetList[0].val)
    if isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP:
        # auth.jwt() ->> 'sub', current_setting(...)::json ->> 'sub'
        return _is_auth_call(node.lexpr)
    return False


def _is_uid(node: Any) -> bool:
    node = _strip(node)
    if isinstance(node, ast.FuncCall):
        return function_name(node) == "auth.uid"
    if isinstance(node, ast.SubLink) and node.subLinkType == 4:
        select = node.subselect
        if isinstance(select, ast.SelectStmt) and not select.fromClause and select.targetList:
            return _is_uid(select.targetList[0].val)
    if isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP:
        op = node.name[0].sval if node.name else ""
        return (
            op in ("->>", "->")
            and _is_auth_call(node.lexpr)
            and "sub" in _string_constants(node.rexpr)
        )
    return False


def _anonymous_test(node: Any) -> bool:
    """``auth.uid() IS NULL``, ``auth.role() = 'anon'``, ``NOT (auth.uid() IS NOT NULL)``."""
    node = _strip(node)
    if isinstance(node, ast.NullTest):
        inner = node.arg
        if node.nulltesttype == NullTestType.IS_NULL:
            return _is_auth_call(inner)
        return False
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.NOT_EXPR:
        inner = _strip(node.args[0])
        return (
            isinstance(inner, ast.NullTest)
            and inner.nulltesttype == NullTestType.IS_NOT_NULL
            and _is_auth_call(inner.arg)
        )
    if isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP:
        op = node.name[0].sval if node.name else ""
        if op == "=":
            for call, value in ((node.lexpr, node.rexpr), (node.rexpr, node.lexpr)):
                if _is_auth_call(call) and "anon" in _string_constants(value):
                    return True
    return False


class _Walker:
    """One pass over an expression tree, with the scope facts a node's meaning depends on."""

    def __init__(self, table: str | None, columns: frozenset[str]) -> None:
        self.table = table  # the policy's table name (unqualified), for t.col in subqueries
        self.table_columns = columns
        self.auth_calls: list[CallSite] = []
        self.functions: set[str] = set()
        self.relations: set[str] = set()
        self.columns: set[str] = set()
        self.uid_columns: set[str] = set()
        self.literals: list[tuple[str, str]] = []
        self.flags: set[str] = set()
        self.foreign: set[tuple[str, str]] = set()
        self.foreign_literals: list[tuple[str, str, str]] = []
        self.anonymous: list[str] = []
        self.metadata: list[str] = []
        self.mentions_anon = False
        self.self_comparisons: list[str] = []

    # -- scope -------------------------------------------------------------------------
    def target_column(self, node: Any, scopes: tuple[Mapping[str, str], ...]) -> str | None:
        """The target-row column a ColumnRef names, if it names one."""
        node = _strip(node)
        if not isinstance(node, ast.ColumnRef):
            return None
        fields = [getattr(f, "sval", None) for f in node.fields or ()]
        if any(f is None for f in fields):
            return None
        if len(fields) == 1 and not scopes:
            name = str(fields[0])
        elif (
            len(fields) == 2
            and self.table is not None
            and fields[0] == self.table
            and not any(self.table in scope for scope in scopes)
        ):
            name = str(fields[1])
        else:
            return None
        if self.table_columns and name not in self.table_columns:
            return None
        return name

    # -- walking -----------------------------------------------------------------------
    @staticmethod
    def foreign_column(node: Any, scopes: tuple[Mapping[str, str], ...]) -> tuple[str, str] | None:
        """``(schema.relation, column)`` of a ColumnRef naming a column of a subquery's table."""
        node = _strip(node)
        if not isinstance(node, ast.ColumnRef) or not scopes:
            return None
        fields = [getattr(f, "sval", None) for f in node.fields or ()]
        if any(f is None for f in fields):
            return None
        if len(fields) == 2:
            for scope in reversed(scopes):
                if fields[0] in scope:
                    relation = scope[str(fields[0])]
                    return (relation, str(fields[1])) if relation else None
            return None
        if len(fields) == 1 and len(scopes[-1]) == 1:
            relation = next(iter(scopes[-1].values()))
            return (relation, str(fields[0])) if relation else None
        return None

    def walk(
        self, node: Any, scopes: tuple[Mapping[str, str], ...] = (), scalar: bool = False
    ) -> None:
        if isinstance(node, ast.SelectStmt):
            names = _from_names(node.fromClause or ())
            for item in _range_vars(node.fromClause or ()):
                if item.schemaname:
                    self.relations.add(f"{item.schemaname}.{item.relname}")
                else:
                    self.relations.add(f"public.{item.relname}")
            inner_scalar = not node.fromClause
            inner_scopes = (*scopes, names) if node.fromClause else scopes
            for child in _children(node):
                self.walk(child, inner_scopes, inner_scalar)
            return
        if isinstance(node, ast.FuncCall):
            name = function_name(node)
            if name in AUTH_FUNCTIONS or name in SETTING_FUNCTIONS:
                self.auth_calls.append(CallSite(name, scalar, deparse(node)))
                if name == "auth.role":
                    self.mentions_anon = True
            elif "." in name:
                self.functions.add(name)
        elif isinstance(node, ast.ColumnRef):
            column = self.target_column(node, scopes)
            if column is not None:
                self.columns.add(column)
                if PRIVILEGE_FLAG_COLUMNS.match(column):
                    self.flags.add(column)
            elif (foreign := self.foreign_column(node, scopes)) is not None:
                self.foreign.add(foreign)
            last = getattr((node.fields or (None,))[-1], "sval", None)
            if last in METADATA_COLUMNS:
                self.metadata.append(f"reads {deparse(node)}")
        elif isinstance(node, ast.A_Expr):
            self._comparison(node, scopes)
        elif isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.OR_EXPR:
            for part in flatten(node, BoolExprType.OR_EXPR):
                if _anonymous_test(part):
                    self.anonymous.append(deparse(part))
        elif (
            isinstance(node, ast.A_Const)
            and isinstance(node.val, ast.String)
            and node.val.sval == "anon"
        ):
            self.mentions_anon = True
        for child in _children(node):
            self.walk(child, scopes, scalar)

    def _comparison(self, node: Any, scopes: tuple[Mapping[str, str], ...]) -> None:
        op = str(node.name[0].sval) if node.name else ""
        if node.kind == A_Expr_Kind.AEXPR_OP and op in JSON_OPERATORS:
            keys = _string_constants(node.rexpr)
            if keys and keys[0] in METADATA_KEYS:
                self.metadata.append(f"reads {deparse(node)}")
            return
        if node.kind not in (
            A_Expr_Kind.AEXPR_OP,
            A_Expr_Kind.AEXPR_OP_ANY,
            A_Expr_Kind.AEXPR_IN,
            A_Expr_Kind.AEXPR_DISTINCT,
            A_Expr_Kind.AEXPR_NOT_DISTINCT,
        ):
            return
        if node.kind == A_Expr_Kind.AEXPR_OP and op not in ("=", "<>", "!="):
            return
        left, right = _strip(node.lexpr), _strip(node.rexpr)
        if (
            node.kind == A_Expr_Kind.AEXPR_OP
            and op == "="
            and isinstance(left, ast.ColumnRef)
            and isinstance(right, ast.ColumnRef)
            and deparse(left) == deparse(right)
        ):
            self.self_comparisons.append(deparse(node))
        pairs = [(node.lexpr, node.rexpr)]
        if node.kind in (A_Expr_Kind.AEXPR_OP, A_Expr_Kind.AEXPR_NOT_DISTINCT):
            pairs.append((node.rexpr, node.lexpr))
        for column_side, other in pairs:
            column = self.target_column(column_side, scopes)
            if column is None:
                foreign = self.foreign_column(column_side, scopes)
                if foreign is not None:
                    self.foreign_literals.extend(
                        (*foreign, literal) for literal in _string_constants(other)
                    )
                continue
            equality = node.kind in (A_Expr_Kind.AEXPR_OP, A_Expr_Kind.AEXPR_NOT_DISTINCT)
            if op == "=" and equality and _is_uid(other):
                self.uid_columns.add(column)
            for literal in _string_constants(other):
                self.literals.append((column, literal))


def _range_vars(items: Any) -> Iterator[Any]:
    for item in items:
        if isinstance(item, ast.RangeVar):
            yield item
        elif isinstance(item, ast.JoinExpr):
            yield from _range_vars((item.larg, item.rarg))


def _from_names(items: Any) -> dict[str, str]:
    """Names a FROM list binds (aliases, else relation names) and the relation each stands
    for ("" for a function or subquery); they shadow the target table."""
    names: dict[str, str] = {}
    for item in items:
        if isinstance(item, ast.RangeVar):
            relation = f"{item.schemaname or 'public'}.{item.relname}"
            names[str(item.alias.aliasname) if item.alias else str(item.relname)] = relation
        elif isinstance(item, ast.JoinExpr):
            names |= _from_names((item.larg, item.rarg))
        elif isinstance(item, ast.RangeFunction | ast.RangeSubselect) and item.alias:
            names[str(item.alias.aliasname)] = ""
    return names


def _requires_uid(node: Any) -> bool:
    """Every ``OR`` branch has an ``AND`` conjunct that is NULL without a signed-in user
    (``x = auth.uid()``, ``name ~ ('^' || auth.uid() || '/')``): never true for anon."""
    for branch in flatten(_strip(node), BoolExprType.OR_EXPR):
        conjuncts = flatten(_strip(branch), BoolExprType.AND_EXPR)
        if not any(_uid_equality(c) for c in conjuncts):
            return False
    return True


# Strict comparison and pattern operators: NULL when either side is NULL.
# LIKE and ILIKE come back from pg_policy as ~~ and ~~*.
_STRICT_TESTS = frozenset(
    {"=", "<>", "!=", "<", "<=", ">", ">=", "~", "~*", "!~", "!~*", "~~", "~~*", "!~~", "!~~*"}
)


def _uid_equality(node: Any) -> bool:
    """A test that is NULL (so admits no row) when ``auth.uid()`` is NULL."""
    node = _strip(node)
    if not isinstance(node, ast.A_Expr) or not node.name:
        return False
    op = node.name[0].sval
    if node.kind == A_Expr_Kind.AEXPR_OP and op in _STRICT_TESTS:
        return _null_without_uid(node.lexpr) or _null_without_uid(node.rexpr)
    if node.kind in (A_Expr_Kind.AEXPR_LIKE, A_Expr_Kind.AEXPR_ILIKE):
        return _null_without_uid(node.lexpr) or _null_without_uid(node.rexpr)
    return False


def _null_without_uid(node: Any) -> bool:
    """``auth.uid()`` itself, or a ``||`` concatenation (strict) with it in it."""
    node = _strip(node)
    if _is_uid(node):
        return True
    if (
        isinstance(node, ast.A_Expr)
        and node.kind == A_Expr_Kind.AEXPR_OP
        and node.name
        and node.name[0].sval == "||"
    ):
        return _null_without_uid(node.lexpr) or _null_without_uid(node.rexpr)
    return False


def _constant(node: Any) -> Any:
    """The Python value of a (possibly cast) number or string constant, else a sentinel."""
    node = _strip(node)
    if isinstance(node, ast.A_Const) and not node.isnull:
        value = node.val
        for attribute in ("ival", "fval", "sval"):
            if isinstance(getattr(value, attribute, None), int | str):
                raw = getattr(value, attribute)
                return float(raw) if attribute == "fval" else raw
    return _NOT_CONSTANT


_NOT_CONSTANT = object()


def _compare_constants(node: Any) -> bool | None:
    """``1 = 0``, ``'a'::text = 'a'::text``: comparisons of two constants."""
    if not (isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP and node.name):
        return None
    left, right = _constant(node.lexpr), _constant(node.rexpr)
    if left is _NOT_CONSTANT or right is _NOT_CONSTANT or type(left) is not type(right):
        return None
    op = node.name[0].sval
    outcomes = {"=": left == right, "<>": left != right, "!=": left != right}
    return outcomes.get(op)


def _signed_in_test(node: Any) -> bool:
    """``auth.uid() IS NOT NULL``, ``auth.role() = 'authenticated'``, ``auth.role() <> 'anon'``:
    a test every signed-in requester passes, whoever they are."""
    node = _strip(node)
    if isinstance(node, ast.NullTest):
        return node.nulltesttype == NullTestType.IS_NOT_NULL and _is_auth_call(node.arg)
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.NOT_EXPR:
        inner = _strip(node.args[0])
        return (
            isinstance(inner, ast.NullTest)
            and inner.nulltesttype == NullTestType.IS_NULL
            and _is_auth_call(inner.arg)
        )
    if isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP and node.name:
        op = node.name[0].sval
        for call, value in ((node.lexpr, node.rexpr), (node.rexpr, node.lexpr)):
            if not _is_auth_call(call) or _is_uid(call):
                continue
            words = _string_constants(value)
            if (op == "=" and "authenticated" in words) or (op in ("<>", "!=") and "anon" in words):
                return True
    return False


def _always(node: Any, signed_in: bool = False) -> bool | None:
    """Constant truth, through ``OR``/``AND`` (``x OR true`` is true, ``x AND false`` false).

    With ``signed_in``, tests every signed-in requester passes count as true: the truth of the
    expression for the ``authenticated`` role."""
    if signed_in and _signed_in_test(node):
        return True
    truth = constant_truth(node)
    if truth is None:
        truth = _compare_constants(_strip(node))
    if truth is not None:
        return truth
    node = _strip(node)
    if isinstance(node, ast.BoolExpr) and node.boolop != BoolExprType.NOT_EXPR:
        values = [_always(arg, signed_in) for arg in node.args]
        if node.boolop == BoolExprType.OR_EXPR:
            if True in values:
                return True
            if all(v is False for v in values):
                return False
        else:
            if False in values:
                return False
            if all(v is True for v in values):
                return True
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.NOT_EXPR:
        inner = _always(node.args[0], signed_in)
        return None if inner is None else not inner
    return None


@functools.lru_cache(maxsize=4096)
def analyse(
    text: str | None, table: str | None = None, columns: frozenset[str] = frozenset()
) -> Analysis:
    """The facts of one policy expression. ``None`` (no expression) is ``true``."""
    if text is None:
        return Analysis(text="", parsed=True, always_true=True)
    try:
        node = parse_expression(text)
    except SqlNormalizationError:
        return Analysis(text=text, parsed=False)
    walker = _Walker(table, columns)
    walker.walk(node)
    truth = _always(node)
    return Analysis(
        text=deparse(node),
        parsed=True,
        always_true=truth is True,
        always_false=truth is False,
        auth_calls=tuple(walker.auth_calls),
        functions=frozenset(walker.functions),
        relations=frozenset(walker.relations),
        columns=frozenset(walker.columns),
        uid_columns=frozenset(walker.uid_columns),
        compared_literals=tuple(dict.fromkeys(walker.literals)),
        flag_columns=frozenset(walker.flags),
        foreign_columns=frozenset(walker.foreign),
        foreign_literals=tuple(dict.fromkeys(walker.foreign_literals)),
        anonymous_disjuncts=tuple(dict.fromkeys(walker.anonymous)),
        metadata_reads=tuple(dict.fromkeys(walker.metadata)),
        mentions_anon=walker.mentions_anon,
        anon_null=_requires_uid(node),
        signed_in_true=truth is None and _always(node, signed_in=True) is True,
        self_comparisons=tuple(dict.fromkeys(walker.self_comparisons)),
    )


@dataclass(frozen=True)
class BodyFacts:
    """What a ``LANGUAGE sql`` function body reads: relations, functions, user metadata."""

    relations: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    metadata_reads: tuple[str, ...] = ()
    auth_calls: tuple[CallSite, ...] = ()
    foreign_columns: frozenset[tuple[str, str]] = frozenset()
    foreign_literals: tuple[tuple[str, str, str], ...] = ()
    parsed: bool = False


@functools.lru_cache(maxsize=1024)
def analyse_body(body: str, language: str) -> BodyFacts:
    """Facts of a function body; only SQL bodies are parsed (others: ``parsed=False``)."""
    if language != "sql" or not body.strip():
        return BodyFacts()
    try:
        statements = parse_sql(body)
    except ParseError:
        return BodyFacts()
    walker = _Walker(None, frozenset())
    for raw in statements:
        if raw.stmt is not None:
            walker.walk(raw.stmt)
    return BodyFacts(
        relations=frozenset(walker.relations),
        functions=frozenset(walker.functions),
        metadata_reads=tuple(dict.fromkeys(walker.metadata)),
        auth_calls=tuple(walker.auth_calls),
        foreign_columns=frozenset(walker.foreign),
        foreign_literals=tuple(dict.fromkeys(walker.foreign_literals)),
        parsed=True,
    )


@functools.lru_cache(maxsize=4096)
def pinned_columns(
    text: str | None, table: str | None = None, columns: frozenset[str] = frozenset()
) -> frozenset[str]:
    """Columns of the target row every way of satisfying ``text`` constrains.

    Used as the check of a new row (an UPDATE policy without WITH CHECK), an expression pins
    a column only when each OR branch reads it: ``auth.uid() = id or role = 'admin'`` pins
    neither ``id`` nor ``role`` (either branch alone admits the row), while
    ``id = auth.uid() and org_id = <jwt org>`` pins both.
    """
    if text is None:
        return frozenset()
    try:
        node = parse_expression(text)
    except SqlNormalizationError:
        return frozenset()
    return _pinned(node, table, columns)


def _pinned(node: Any, table: str | None, columns: frozenset[str]) -> frozenset[str]:
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.OR_EXPR:
        branches = [_pinned(b, table, columns) for b in flatten(node, BoolExprType.OR_EXPR)]
        return frozenset.intersection(*branches) if branches else frozenset()
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        out: frozenset[str] = frozenset()
        for part in flatten(node, BoolExprType.AND_EXPR):
            out |= _pinned(part, table, columns)
        return out
    if isinstance(node, ast.BoolExpr):  # NOT: a negation admits every other value
        return frozenset()
    walker = _Walker(table, columns)
    walker.walk(node)
    return frozenset(walker.columns)
