"""``rlsguard lint`` and ``rlsguard probe``: RLS holes found without writing an expectation.

>>> findings = lint_database(conn, exposed_schemas=["public"])
>>> findings += probe_database(db)
>>> failing(findings, "error")

Both return :class:`Finding` objects of the same shape (rule, level, category, object,
message, remediation, location); :mod:`.formats` renders them as text, JSON, SARIF or Markdown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlsguard._lazy import lazy_exports

_EXPORTS = {
    "Finding": "findings",
    "Location": "findings",
    "failing": "findings",
    "reaches": "findings",
    "sort_findings": "findings",
    "lint_catalog": "lint",
    "lint_database": "lint",
    "project_sources": "lint",
    "PROBE_RULES": "probe",
    "ProbeReport": "probe",
    "probe_database": "probe",
    "run_probe": "probe",
    "RULES": "rules",
}

__all__ = [
    "PROBE_RULES",
    "RULES",
    "Finding",
    "Location",
    "ProbeReport",
    "failing",
    "lint_catalog",
    "lint_database",
    "probe_database",
    "project_sources",
    "reaches",
    "run_probe",
    "sort_findings",
]

if TYPE_CHECKING:
    from rlsguard.audit.findings import Finding, Location, failing, reaches, sort_findings
    from rlsguard.audit.lint import lint_catalog, lint_database, project_sources
    from rlsguard.audit.probe import PROBE_RULES, ProbeReport, probe_database, run_probe
    from rlsguard.audit.rules import RULES

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
