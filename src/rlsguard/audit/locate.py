"""Which migration file and line created (or last changed) an object.

Each file is split into parsed statements (:mod:`rlsguard.supabase.statements`), and every
statement that creates or changes a security-relevant object is indexed under a key:
``("relation", "public.users")`` for CREATE TABLE / VIEW / MATERIALIZED VIEW / FOREIGN TABLE,
``("policy", "public.users", "users_update_self")``, ``("rls", "public.users")`` for
ENABLE/DISABLE/FORCE ROW LEVEL SECURITY, ``("grant", "public.users")``, ``("function",
"public.f")``. Files are read in the order they are applied and a later statement replaces an
earlier one, so a policy dropped and recreated by a later migration points at that migration.
Names written without a schema resolve to ``public``, as postgres' search_path does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType, ObjectType

from rlsguard.audit.findings import Location
from rlsguard.supabase.statements import split

Key = tuple[str, ...]
_RLS_COMMANDS = frozenset(
    {
        AlterTableType.AT_EnableRowSecurity,
        AlterTableType.AT_DisableRowSecurity,
        AlterTableType.AT_ForceRowSecurity,
        AlterTableType.AT_NoForceRowSecurity,
    }
)


@dataclass(frozen=True)
class SourceFile:
    """A SQL file as the report should name it (relative to the repository root)."""

    display: str
    text: str


_DROPPED_RELATIONS = frozenset(
    {
        ObjectType.OBJECT_TABLE,
        ObjectType.OBJECT_VIEW,
        ObjectType.OBJECT_MATVIEW,
        ObjectType.OBJECT_FOREIGN_TABLE,
    }
)


def _dotted(names: Any) -> str:
    parts = [str(getattr(n, "sval", "")) for n in names]
    return ".".join(parts) if len(parts) > 1 else f"public.{parts[0]}"


def _qualified(rangevar: Any) -> str:
    schema = rangevar.schemaname or "public"
    return f"{schema}.{rangevar.relname}"


def _function_name(parts: Iterable[Any]) -> str:
    names = [str(getattr(p, "sval", "")) for p in parts]
    return ".".join(names) if len(names) > 1 else f"public.{names[0]}"


def statement_keys(node: Any) -> list[Key]:
    """The index keys one parsed statement defines."""
    if isinstance(node, ast.CreateStmt) and node.relation is not None:
        return [("relation", _qualified(node.relation))]
    if isinstance(node, ast.CreateForeignTableStmt):
        return [("relation", _qualified(node.base.relation))]
    if isinstance(node, ast.CreateTableAsStmt) and node.into is not None:
        return [("relation", _qualified(node.into.rel))]
    if isinstance(node, ast.ViewStmt):
        return [("relation", _qualified(node.view))]
    if isinstance(node, ast.CreatePolicyStmt | ast.AlterPolicyStmt):
        return [("policy", _qualified(node.table), str(node.policy_name))]
    if isinstance(node, ast.AlterTableStmt) and node.relation is not None:
        if any(getattr(cmd, "subtype", None) in _RLS_COMMANDS for cmd in node.cmds or ()):
            return [("rls", _qualified(node.relation))]
        return []
    if isinstance(node, ast.GrantStmt) and node.is_grant:
        if node.objtype == ObjectType.OBJECT_TABLE:
            return [
                ("grant", _qualified(o)) for o in node.objects or () if isinstance(o, ast.RangeVar)
            ]
        if node.objtype in (ObjectType.OBJECT_FUNCTION, ObjectType.OBJECT_ROUTINE):
            return [
                ("grant", _function_name(o.objname))
                for o in node.objects or ()
                if isinstance(o, ast.ObjectWithArgs)
            ]
        return []
    if isinstance(node, ast.CreateFunctionStmt):
        return [("function", _function_name(node.funcname))]
    return []


class Locator:
    """Answers "where was this written?" from a project's migration files."""

    def __init__(self, files: Iterable[SourceFile] = ()) -> None:
        self._index: dict[Key, Location] = {}
        self._order: dict[str, int] = {}
        for file in files:
            self.add(file)

    def add(self, file: SourceFile) -> None:
        self._order.setdefault(file.display, len(self._order))
        statements, _ = split(file.text)
        for statement in statements:
            node = statement.node
            if node is None:
                continue
            here = Location(file.display, statement.line)
            if isinstance(node, ast.RenameStmt) and node.renameType == ObjectType.OBJECT_TABLE:
                old = _qualified(node.relation)
                new = f"{node.relation.schemaname or 'public'}.{node.newname}"
                for kind in ("relation", "rls", "grant"):
                    if (kind, old) in self._index:
                        self._index[(kind, new)] = self._index[(kind, old)]
                self._index.setdefault(("relation", new), here)
                continue
            if isinstance(node, ast.DropStmt) and node.removeType in _DROPPED_RELATIONS:
                for names in node.objects or ():
                    self._forget(_dotted(names))
                continue
            for key in statement_keys(node):
                self._index[key] = here

    def _forget(self, qualified: str) -> None:
        """A dropped relation takes its policies, RLS flag and grants with it."""
        for key in [k for k in self._index if len(k) > 1 and k[1] == qualified]:
            del self._index[key]

    def latest(self, locations: Iterable[Location]) -> Location | None:
        """The location written last (in apply order), e.g. the newest of several policies."""
        return max(
            locations,
            key=lambda loc: (self._order.get(loc.file, -1), loc.line or 0),
            default=None,
        )

    def __len__(self) -> int:
        return len(self._index)

    def find(self, *keys: Key) -> Location | None:
        """The location of the first key that is known."""
        for key in keys:
            found = self._index.get(key)
            if found is not None:
                return found
        return None

    def relation(self, qualified: str) -> Location | None:
        return self.find(("relation", qualified))

    def policy(self, qualified_table: str, name: str) -> Location | None:
        return self.find(("policy", qualified_table, name), ("relation", qualified_table))

    def rls(self, qualified_table: str) -> Location | None:
        return self.find(("rls", qualified_table), ("relation", qualified_table))

    def grant(self, qualified: str) -> Location | None:
        return self.find(("grant", qualified), ("relation", qualified), ("function", qualified))

    def function(self, qualified: str) -> Location | None:
        return self.find(("function", qualified))
