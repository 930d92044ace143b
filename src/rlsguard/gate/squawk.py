"""squawk on the migrations a change adds or edits: locking hazards beside RLS findings.

Teams gate migrations for what they do to a live database too (an index built without
``concurrently``, a column added with a volatile default, no ``lock_timeout``). squawk, from
the ``squawk-cli`` wheel, knows those; the gate runs it on the changed files only, when the
project asks (``[gate] squawk = true``), and turns each of its results into a finding of the
same shape as lint's, so they share the summary and the SARIF upload.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rlsguard.audit.findings import Finding, Level, Location

_LEVELS: dict[str, Level] = {"error": "error", "warning": "warn"}
TIMEOUT = 120.0


@dataclass
class SquawkResult:
    """squawk's findings, or why it did not run."""

    findings: list[Finding] = field(default_factory=list)
    skipped: str | None = None
    files: int = 0


def find_squawk() -> str | None:
    return shutil.which("squawk")


def run_squawk(files: Sequence[Path], root: Path, binary: str | None = None) -> SquawkResult:
    """squawk's findings for ``files`` (paths shown relative to ``root``)."""
    if not files:
        return SquawkResult(skipped="no migration was added or changed", files=0)
    binary = binary or find_squawk()
    if binary is None:
        return SquawkResult(
            skipped="squawk is not installed (pip install squawk-cli), so locking hazards "
            "were not checked",
            files=len(files),
        )
    try:
        done = subprocess.run(
            [binary, "--reporter", "json", *(str(f) for f in files)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SquawkResult(skipped=f"squawk could not run: {exc}", files=len(files))
    try:
        results = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        reason = (done.stderr or done.stdout).strip().splitlines()[:1]
        return SquawkResult(
            skipped=f"squawk gave no report (exit {done.returncode}): {' '.join(reason)}",
            files=len(files),
        )
    return SquawkResult([_finding(r, root) for r in results], files=len(files))


def _finding(result: dict[str, object], root: Path) -> Finding:
    path = Path(str(result.get("file", "")))
    try:
        shown = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = path.as_posix()
    line = result.get("line")
    rule = str(result.get("rule_name") or "squawk")
    level = _LEVELS.get(str(result.get("level", "warning")).lower(), "warn")
    help_text = result.get("help")
    return Finding(
        rule=f"squawk/{rule}",
        level=level,
        category="performance",
        object=shown,
        message=str(result.get("message", "")),
        remediation=str(help_text) if help_text else f"See squawk's rule {rule}.",
        location=Location(shown, int(line) + 1 if isinstance(line, int) else None),
        details={"origin": f"squawk {rule}"},
    )
