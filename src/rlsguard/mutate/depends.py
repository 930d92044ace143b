"""Which tables' access a mutant can change: the cells worth running after its own table's.

A policy, grant or RLS switch of table X only matters to a query that reads X with the
caller's rights: X itself, and tables whose policies (or triggers) read X directly, through a
view, or through a function that runs as the caller. A SECURITY DEFINER helper owned by a
role that bypasses RLS reads X with its owner's rights, so X's policies and grants never
reach it; that is why mutating ``classes`` leaves ``grades``, whose policies ask
``private.staff_submission_ids()``, alone. A mutated function matters to every policy that
calls it, directly or through another function or view.

Matching is by name in the SQL text (qualified, and bare inside function bodies, which are
the user's own text): a false match only costs a few more cells, never a missed one. Where
the object cannot be placed (no known name), :func:`Dependents.tables` answers None: run
every cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlsguard.catalog.surface import Catalog
from rlsguard.mutate.model import Mutant

_TRIGGERS = """
select n.nspname || '.' || c.relname, p.prosecdef, pg_get_userbyid(p.proowner), p.prosrc,
       pn.nspname || '.' || p.proname
from pg_trigger t
join pg_class c on c.oid = t.tgrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_proc p on p.oid = t.tgfoid
join pg_namespace pn on pn.oid = p.pronamespace
where not t.tgisinternal
"""
_BYPASS = "select rolname from pg_roles where rolsuper or rolbypassrls"


@dataclass(frozen=True)
class Trigger:
    table: str
    function: str  # schema.name
    definer: bool
    owner: str
    body: str


def read_triggers(conn: Any) -> tuple[list[Trigger], frozenset[str]]:
    """Triggers on user tables and the roles that bypass RLS (superusers included)."""
    triggers = [
        Trigger(table, function, definer, owner, body or "")
        for table, definer, owner, body, function in conn.execute(_TRIGGERS).fetchall()
    ]
    bypass = frozenset(r for (r,) in conn.execute(_BYPASS).fetchall())
    return triggers, bypass


def _pattern(qualified: str, *, bare: bool, call: bool) -> re.Pattern[str]:
    schema, _, name = qualified.rpartition(".")
    suffix = r"\s*\(" if call else r"\b"
    names = [re.escape(f"{schema}.{name}"), re.escape(f'"{schema}"."{name}"')]
    if bare:
        names.append(re.escape(name))
    return re.compile(r"(?<![\w.])(?:" + "|".join(names) + ")" + suffix, re.IGNORECASE)


@dataclass
class Dependents:
    """Who reads what, read once from the catalog of the original database."""

    policies: Mapping[str, str]  # table -> every policy expression of it, joined
    functions: Mapping[str, tuple[str, bool]]  # schema.name -> (body, runs as the caller)
    views: Mapping[str, tuple[str, ...]]  # schema.name -> relations it reads
    triggers: Sequence[Trigger] = ()
    _cache: dict[str, frozenset[str] | None] = field(default_factory=dict)

    @classmethod
    def build(
        cls, catalog: Catalog, triggers: Iterable[Trigger] = (), bypass: Iterable[str] = ()
    ) -> Dependents:
        bypassing = set(bypass) | {r.name for r in catalog.roles if r.superuser or r.bypassrls}
        policies = {
            t.qualified: "\n".join(
                text for p in t.policies for text in (p.using_raw, p.with_check_raw) if text
            )
            for t in catalog.tables
        }
        functions: dict[str, tuple[str, bool]] = {}
        for f in catalog.functions:
            key = f"{f.schema}.{f.name}"
            as_caller = not f.security_definer or f.owner not in bypassing
            body, before = functions.get(key, ("", False))
            functions[key] = (f"{body}\n{f.body_raw}", as_caller or before)
        views = {v.qualified: v.reads for v in catalog.views}
        kept = [
            Trigger(t.table, t.function, t.definer, t.owner, t.body)
            for t in triggers
            if not t.definer or t.owner not in bypassing
        ]
        return cls(policies, functions, views, kept)

    def tables(self, mutant: Mutant) -> frozenset[str] | None:
        """Tables whose cells the mutant can change (its own included), None: unknown."""
        if mutant.kind == "function":
            start = mutant.object.partition("(")[0]
            key = f"function:{start}"
        elif mutant.kind == "view":
            start, key = mutant.object, f"view:{mutant.object}"
        elif mutant.tables:
            start, key = mutant.tables[0], f"table:{mutant.tables[0]}"
        else:
            return None
        if key not in self._cache:
            self._cache[key] = self._readers(mutant.kind, start)
        found = self._cache[key]
        return None if found is None else found | set(mutant.tables)

    def _readers(self, kind: str, start: str) -> frozenset[str] | None:
        if kind == "function" and start not in self.functions:
            return None
        # Names whose behaviour the mutant changes: the object, then what reads it.
        relations = {start} if kind != "function" else set()
        calls = {start} if kind == "function" else set()
        changed = True
        while changed:
            changed = False
            for name, (body, as_caller) in self.functions.items():
                if name in calls:
                    continue
                # A mutated function changes every caller's answer; a table's policies and
                # grants reach a function only when it runs with the caller's rights.
                reads = as_caller and any(
                    _pattern(r, bare=True, call=False).search(body) for r in relations
                )
                if reads or any(_pattern(c, bare=True, call=True).search(body) for c in calls):
                    calls.add(name)
                    changed = True
            for view, reads in self.views.items():
                if view not in relations and (set(reads) & relations):
                    relations.add(view)
                    changed = True
        patterns = [_pattern(r, bare=False, call=False) for r in relations]
        patterns += [_pattern(c, bare=False, call=True) for c in calls]
        out = {t for t, text in self.policies.items() if any(p.search(text) for p in patterns)}
        bare = [_pattern(r, bare=True, call=False) for r in relations]
        bare += [_pattern(c, bare=True, call=True) for c in calls]
        out |= {
            t.table
            for t in self.triggers
            if t.function in calls or any(p.search(t.body) for p in bare)
        }
        if kind != "function":
            out.add(start)
        return frozenset(out)
