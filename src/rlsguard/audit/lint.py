"""Run the lint rules on a database (or a catalog already read) and return findings.

>>> findings = lint_database(conn, exposed_schemas=["public"], files=project_sources(project))

The catalog is read once (:func:`rlsguard.policy.catalog.read_catalog`), every rule runs on
it, findings get the migration file and line that created their object, and the project's
waivers are applied last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg

from rlsguard.audit.findings import LOCKOUT_RULE, Finding, sort_findings
from rlsguard.audit.locate import Locator, SourceFile
from rlsguard.audit.probe import PROBE_RULES  # waivers may name probe rules too
from rlsguard.audit.rules import RULES, Bucket, LintContext
from rlsguard.audit.rules.base import Trigger
from rlsguard.audit.waivers import WaiverSpec, apply_waivers
from rlsguard.context import ProjectContext
from rlsguard.policy.catalog import Catalog, read_catalog

_BUCKETS = "select id, public from storage.buckets order by id"
# BEFORE UPDATE row triggers (tgtype bits: 1 row, 2 before, 16 update), enabled, user-made.
_TRIGGERS = """
select n.nspname || '.' || c.relname, t.tgname, pn.nspname || '.' || p.proname, l.lanname,
       p.prosrc, pg_get_triggerdef(t.oid)
from pg_trigger t
join pg_class c on c.oid = t.tgrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_proc p on p.oid = t.tgfoid
join pg_namespace pn on pn.oid = p.pronamespace
join pg_language l on l.oid = p.prolang
where not t.tgisinternal and t.tgenabled <> 'D'
  and t.tgtype & 1 = 1 and t.tgtype & 2 = 2 and t.tgtype & 16 = 16
  and n.nspname not in ('pg_catalog', 'information_schema')
order by 1, 2
"""
_COMMENTS = """
select n.nspname || '.' || c.relname, a.attname, d.description
from pg_description d
join pg_class c on c.oid = d.objoid and d.classoid = 'pg_class'::regclass
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum = d.objsubid
where d.objsubid > 0 and n.nspname not in ('pg_catalog', 'information_schema')
"""
_WHEN = re.compile(r"\bWHEN \((.*)\) EXECUTE (?:FUNCTION|PROCEDURE)\b", re.S)


def project_sources(project: ProjectContext, extra: Iterable[Path] = ()) -> list[SourceFile]:
    """The project's migrations in apply order (plus ``extra`` files applied after them)."""
    files = [SourceFile(m.display, m.text) for m in project.migrations]
    root = project.root
    for path in extra:
        try:
            display = path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            display = path.as_posix()
        files.append(SourceFile(display, path.read_text(encoding="utf-8")))
    return files


def read_buckets(conn: psycopg.Connection[Any]) -> list[Bucket]:
    """Storage buckets (none when the database has no storage schema)."""
    exists = conn.execute("select to_regclass('storage.buckets') is not null").fetchone()
    if not exists or not exists[0]:
        return []
    return [Bucket(str(i), bool(p)) for i, p in conn.execute(_BUCKETS).fetchall()]


def read_triggers(conn: psycopg.Connection[Any]) -> list[Trigger]:
    """BEFORE UPDATE row triggers: they may refuse changes an UPDATE policy would allow."""
    out = []
    for table, name, function, language, body, definition in conn.execute(_TRIGGERS):
        when = _WHEN.search(definition)
        out.append(Trigger(table, name, function, language, body, when.group(1) if when else None))
    return out


def read_column_comments(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], str]:
    """``{(schema.table, column): comment}``: comments say what a column holds."""
    return {(t, c): str(d) for t, c, d in conn.execute(_COMMENTS)}


def lint_catalog(
    catalog: Catalog,
    *,
    locator: Locator | None = None,
    buckets: Iterable[Bucket] = (),
    rules: Iterable[str] | None = None,
    triggers: Iterable[Trigger] | None = None,
    comments: Mapping[tuple[str, str], str] | None = None,
) -> list[Finding]:
    """Every finding of the selected rules (default: all), unwaived, most severe first.

    ``triggers`` and ``comments`` come from the live database; without them (a catalog
    snapshot) rules that need them say they could not tell.
    """
    context = LintContext(
        catalog, locator=locator, buckets=buckets, triggers=triggers, comments=comments
    )
    selected = list(rules) if rules is not None else list(RULES)
    unknown = [r for r in selected if r not in RULES]
    if unknown:
        raise ValueError(f"unknown lint rules: {', '.join(unknown)}")
    findings: list[Finding] = []
    for rule_id in selected:
        context.current = RULES[rule_id]
        for finding in RULES[rule_id].check(context):
            if finding.location is None:
                located = context.locator.find(
                    ("relation", finding.object), ("function", finding.object)
                )
                if located is not None:
                    finding = replace(finding, location=located)
            findings.append(finding)
    context.current = None
    return sort_findings(findings)


def lint_database(
    conn: psycopg.Connection[Any],
    *,
    exposed_schemas: Iterable[str] = ("public", "graphql_public"),
    files: Iterable[SourceFile] = (),
    waivers: Sequence[Any] = (),
    waiver_source: str | None = None,
    rules: Iterable[str] | None = None,
) -> list[Finding]:
    """Lint the database ``conn`` is connected to.

    ``exposed_schemas``: the Data API's schemas (``[api] schemas``). ``files``: the migrations
    that built it, so findings point at the file and line that created each object.
    ``waivers``: objects with ``rule``, ``object`` and ``reason`` (the config's
    ``lint.waivers``); waived findings are kept, marked, and unused waivers are reported.
    """
    catalog = read_catalog(conn, exposed_schemas)
    findings = lint_catalog(
        catalog,
        locator=Locator(files),
        buckets=read_buckets(conn),
        rules=rules,
        triggers=read_triggers(conn),
        comments=read_column_comments(conn),
    )
    specs = [WaiverSpec(w.rule, w.object, w.reason) for w in waivers]
    ran = list(rules) if rules is not None else list(RULES)
    return sort_findings(
        apply_waivers(
            findings,
            specs,
            rules_run=ran,
            known_rules=[*RULES, *PROBE_RULES, LOCKOUT_RULE],
            source=waiver_source,
        )
    )
