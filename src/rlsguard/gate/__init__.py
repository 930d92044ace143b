"""``rlsguard gate``: the pre-merge CI gate on migrations.

>>> from rlsguard.gate import GateOptions, run_gate, render_summary
>>> report = run_gate(GateOptions(base="origin/main"))
>>> report.verdict, report.exit_code, report.reasons
>>> print(render_summary(report))

Modules: :mod:`.access` (the behavioural access diff: rows gained and lost per persona, table
and operation; also ``rlsguard diff --access``), :mod:`.run` (the pipeline and its verdict),
:mod:`.summary` (the one-screen Markdown), :mod:`.outputs` (JSON, JUnit, SARIF),
:mod:`.model` (the JSON document's pydantic models and schema) and :mod:`.cli`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlsguard._lazy import lazy_exports

# Imported on first use: `rlsguard --help` must not pay for the engine and the checks.
_EXPORTS = {
    "AccessChange": "access",
    "AccessDiff": "access",
    "AccessMap": "access",
    "access_diff_sources": "access",
    "access_of_databases": "access",
    "access_of_engines": "access",
    "diff_access": "access",
    "observe_access": "access",
    "GateDocument": "model",
    "document": "outputs",
    "render_json": "outputs",
    "render_junit": "outputs",
    "render_sarif": "outputs",
    "GateError": "rlsguard.errors",
    "GateOptions": "run",
    "GateReport": "run",
    "run_gate": "run",
    "render_summary": "summary",
    "write_summary": "summary",
}
__all__ = [
    "AccessChange",
    "AccessDiff",
    "AccessMap",
    "GateDocument",
    "GateError",
    "GateOptions",
    "GateReport",
    "access_diff_sources",
    "access_of_databases",
    "access_of_engines",
    "diff_access",
    "document",
    "observe_access",
    "render_json",
    "render_junit",
    "render_sarif",
    "render_summary",
    "run_gate",
    "write_summary",
]

if TYPE_CHECKING:
    from rlsguard.errors import GateError
    from rlsguard.gate.access import (
        AccessChange,
        AccessDiff,
        AccessMap,
        access_diff_sources,
        access_of_databases,
        access_of_engines,
        diff_access,
        observe_access,
    )
    from rlsguard.gate.model import GateDocument
    from rlsguard.gate.outputs import document, render_json, render_junit, render_sarif
    from rlsguard.gate.run import GateOptions, GateReport, run_gate
    from rlsguard.gate.summary import render_summary, write_summary


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
