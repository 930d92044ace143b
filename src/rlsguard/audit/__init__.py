"""``rlsguard lint`` and ``rlsguard probe``: RLS holes found without writing an expectation.

>>> findings = lint_database(conn, exposed_schemas=["public"])
>>> findings += probe_database(db)
>>> failing(findings, "error")

Both return :class:`Finding` objects of the same shape (rule, level, category, object,
message, remediation, location); :mod:`.formats` renders them as text, JSON, SARIF or Markdown.
"""

from rlsguard.audit.findings import Finding, Location, failing, reaches, sort_findings
from rlsguard.audit.lint import lint_catalog, lint_database, project_sources
from rlsguard.audit.probe import PROBE_RULES, ProbeReport, probe_database, run_probe
from rlsguard.audit.rules import RULES

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
