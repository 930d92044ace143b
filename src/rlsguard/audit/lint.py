"""Run the lint rules on a database (or a catalog already read) and return findings.

>>> findings = lint_database(conn, exposed_schemas=["public"], files=project_sources(project))

The catalog is read once (:func:`rlsguard.catalog.surface.read_catalog`), every rule runs on
it, findings get the migration file and line that created their object, and the project's
waivers are applied last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg

from rlsguard.audit.findings import LOCKOUT_RULE, Finding, sort_findings
from rlsguard.audit.locate import Locator, SourceFile
from rlsguard.audit.probe import PROBE_RULES  # waivers may name probe rules too
from rlsguard.audit.rules import RULES, Bucket, LintContext
from rlsguard.audit.waivers import WaiverSpec, apply_waivers
from rlsguard.catalog import CatalogReader
from rlsguard.catalog.surface import Catalog, Trigger
from rlsguard.context import ProjectContext
from rlsguard.errors import InvalidArgument


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
        raise InvalidArgument(f"unknown lint rules: {', '.join(unknown)}")
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
    reader: CatalogReader | None = None,
) -> list[Finding]:
    """Lint the database ``conn`` is connected to.

    ``exposed_schemas``: the Data API's schemas (``[api] schemas``). ``files``: the migrations
    that built it, so findings point at the file and line that created each object.
    ``waivers``: objects with ``rule``, ``object`` and ``reason`` (the config's
    ``lint.waivers``); waived findings are kept, marked, and unused waivers are reported.
    ``reader``: a run's :class:`~rlsguard.catalog.CatalogReader`, to read the catalog once.
    """
    reader = reader or CatalogReader(conn)
    catalog = reader.surface(exposed_schemas)
    findings = lint_catalog(
        catalog,
        locator=Locator(files),
        buckets=reader.buckets(),
        rules=rules,
        triggers=reader.triggers(),
        comments=reader.column_comments(),
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
