"""The approved security surface as a deterministic JSON document.

A snapshot is what :func:`~rlsguard.catalog.surface.read_catalog` found, reduced to what a
reviewer approves and written so that the same migrations always give the same bytes: keys
sorted, lists sorted, expressions normalised, and nothing that varies between builds or
servers (no OIDs, timestamps, server or tool versions). Two things PostgreSQL versions print
differently are taken out on purpose: ``MAINTAIN`` (PG 17+ grants it with ``ALL``; it gives
no access to rows) and the column qualifiers of single-table view definitions (see
:mod:`rlsguard.catalog.sqlnorm`). A snapshot of PostgreSQL 15 and one of 18 built from the
same migrations are therefore byte-identical.

What is in it (see :class:`SnapshotDoc` for the shape):

- ``tables``: every table of the project's schemas and of Supabase's ``auth``, ``storage``
  and ``realtime`` (user data lives there too): RLS enabled/forced, policies, table and
  column grants to ``anon``, ``authenticated``, ``service_role`` and ``PUBLIC``;
- ``views``: security_invoker/security_barrier, the relations read, the normalised
  definition, grants;
- ``functions`` of the project's schemas: SECURITY DEFINER or not, owner, pinned
  ``search_path``, who holds EXECUTE, and the normalised body of definer functions;
- ``schemas`` (the project's and the exposed ones) with USAGE/CREATE grants,
  ``default_privileges`` for exposed schemas (and global ones), the API ``roles``'
  BYPASSRLS and memberships, and the ``exposed_schemas`` of ``config.toml``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypedDict

from rlsguard.catalog.surface import (
    SUPABASE_SCHEMAS,
    USER_DATA_SUPABASE_SCHEMAS,
    Catalog,
    Grant,
)
from rlsguard.errors import ConfigError

FORMAT = "rlsguard-policy-snapshot/1"
IGNORED_PRIVILEGES = frozenset({"MAINTAIN"})  # PG 17+ only, and no access to rows

Grants = dict[str, list[str]]  # grantee -> sorted privileges ("SELECT WITH GRANT OPTION")


class PolicyDoc(TypedDict):
    command: str
    mode: str  # "permissive" | "restrictive"
    roles: list[str]
    using: str | None
    with_check: str | None


class TableDoc(TypedDict):
    kind: str
    owner: str
    rls: bool
    force_rls: bool
    grants: Grants
    column_grants: dict[str, Grants]
    policies: dict[str, PolicyDoc]


class ViewDoc(TypedDict):
    kind: str
    owner: str
    security_invoker: bool
    security_barrier: bool
    reads: list[str]
    definition: str
    grants: Grants
    column_grants: dict[str, Grants]


class FunctionDoc(TypedDict, total=False):
    kind: str
    owner: str
    language: str
    returns: str | None
    security: str  # "definer" | "invoker"
    search_path: str | None
    execute: list[str]
    body: str  # definer functions only


class SchemaDoc(TypedDict):
    owner: str
    grants: Grants


class DefaultPrivilegeDoc(TypedDict):
    for_role: str
    schema: str | None
    object: str
    grants: Grants


class RoleDoc(TypedDict):
    superuser: bool
    bypassrls: bool
    member_of: list[str]


class SnapshotDoc(TypedDict):
    format: str
    exposed_schemas: list[str]
    schemas: dict[str, SchemaDoc]
    tables: dict[str, TableDoc]
    views: dict[str, ViewDoc]
    functions: dict[str, FunctionDoc]
    default_privileges: dict[str, DefaultPrivilegeDoc]
    roles: dict[str, RoleDoc]


SECTIONS = (
    "exposed_schemas",
    "schemas",
    "tables",
    "views",
    "functions",
    "default_privileges",
    "roles",
)


def grants_doc(grants: Iterable[Grant]) -> Grants:
    out: dict[str, set[str]] = {}
    for grant in grants:
        if grant.privilege in IGNORED_PRIVILEGES:
            continue
        out.setdefault(grant.grantee, set()).add(grant.describe())
    return {grantee: sorted(privileges) for grantee, privileges in sorted(out.items())}


def in_table_scope(schema: str) -> bool:
    """Tables and views: the project's schemas, plus Supabase's schemas that hold user data."""
    return schema not in SUPABASE_SCHEMAS or schema in USER_DATA_SUPABASE_SCHEMAS


def default_privilege_key(for_role: str, schema: str | None, object_type: str) -> str:
    return f"{for_role}/{schema or '*'}/{object_type}"


def build_doc(catalog: Catalog) -> SnapshotDoc:
    """The snapshot document of a catalog (plain JSON types, sorted)."""
    exposed = set(catalog.exposed_schemas)
    tables: dict[str, TableDoc] = {}
    for table in catalog.tables:
        if not in_table_scope(table.schema):
            continue
        tables[table.qualified] = {
            "kind": table.kind,
            "owner": table.owner,
            "rls": table.rls_enabled,
            "force_rls": table.rls_forced,
            "grants": grants_doc(table.grants),
            "column_grants": _column_grants(table.columns),
            "policies": {
                p.name: {
                    "command": p.command,
                    "mode": p.mode,
                    "roles": sorted(p.roles),
                    "using": p.using,
                    "with_check": p.with_check,
                }
                for p in table.policies
            },
        }
    views: dict[str, ViewDoc] = {}
    for view in catalog.views:
        if not in_table_scope(view.schema):
            continue
        views[view.qualified] = {
            "kind": view.kind,
            "owner": view.owner,
            "security_invoker": view.security_invoker,
            "security_barrier": view.security_barrier,
            "reads": sorted(view.reads),
            "definition": view.definition,
            "grants": grants_doc(view.grants),
            "column_grants": _column_grants(view.columns),
        }
    functions: dict[str, FunctionDoc] = {}
    for function in catalog.functions:
        if function.schema in SUPABASE_SCHEMAS:
            continue
        doc: FunctionDoc = {
            "kind": function.kind,
            "owner": function.owner,
            "language": function.language,
            "returns": function.result,
            "security": "definer" if function.security_definer else "invoker",
            "search_path": function.search_path,
            "execute": sorted(
                {g.grantee for g in function.execute_grants if g.privilege == "EXECUTE"}
            ),
        }
        if function.security_definer:
            doc["body"] = function.body
        functions[function.signature] = doc
    return {
        "format": FORMAT,
        "exposed_schemas": sorted(exposed),
        "schemas": {
            s.name: {"owner": s.owner, "grants": grants_doc(s.grants)}
            for s in catalog.schemas
            if not s.supabase or s.exposed
        },
        "tables": tables,
        "views": views,
        "functions": functions,
        "default_privileges": {
            default_privilege_key(d.for_role, d.schema, d.object_type): {
                "for_role": d.for_role,
                "schema": d.schema,
                "object": d.object_type,
                "grants": grants_doc(d.grants),
            }
            for d in catalog.default_privileges
            if d.schema is None or d.schema in exposed
        },
        "roles": {
            r.name: {
                "superuser": r.superuser,
                "bypassrls": r.bypassrls,
                "member_of": sorted(r.member_of),
            }
            for r in catalog.roles
        },
    }


def _column_grants(columns: Iterable[Any]) -> dict[str, Grants]:
    return {c.name: grants_doc(c.grants) for c in columns if grants_doc(c.grants)}


class Snapshot:
    """A snapshot document plus where it came from (the label is not part of the document)."""

    def __init__(self, doc: Mapping[str, Any], label: str = "") -> None:
        self.doc: SnapshotDoc = _canonical(doc)
        self.label = label

    @classmethod
    def from_catalog(cls, catalog: Catalog, label: str = "") -> Snapshot:
        return cls(build_doc(catalog), label)

    @classmethod
    def loads(cls, text: str, label: str = "") -> Snapshot:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(label or "<snapshot>", "", f"not valid JSON: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise ConfigError(
                label or "<snapshot>",
                "format",
                f"not an rlsguard policy snapshot (format {found!r}, expected {FORMAT!r}); "
                "write one with `rlsguard snapshot -o FILE`",
            )
        missing = [s for s in SECTIONS if s not in doc]
        if missing:
            raise ConfigError(label or "<snapshot>", missing[0], "missing from the snapshot")
        return cls(doc, label)

    @classmethod
    def load(cls, path: Path | str) -> Snapshot:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(str(path), "", f"cannot be read: {exc.strerror or exc}") from exc
        return cls.loads(text, label=str(path))

    def dumps(self) -> str:
        """The document as deterministic JSON: sorted keys, two-space indent, final newline."""
        return json.dumps(self.doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def write(self, path: Path | str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.dumps(), encoding="utf-8")
        return path

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and self.doc == other.doc

    def __hash__(self) -> int:
        return hash(self.dumps())

    def __repr__(self) -> str:
        doc = self.doc
        counts = (
            f"{len(doc['tables'])} tables, {len(doc['views'])} views, "
            f"{len(doc['functions'])} functions"
        )
        return f"Snapshot({self.label or 'unnamed'}: {counts})"


def _canonical(doc: Mapping[str, Any]) -> Any:
    """A deep copy in plain JSON types (tuples become lists), detached from the caller's."""
    return json.loads(json.dumps(doc, sort_keys=True))
