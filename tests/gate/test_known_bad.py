"""Every known-bad migration, added (uncommitted) to a copy of the reference, blocks the gate.

All six heads are built before the first gate runs, two at a time, in the shared workspace
(``bad_projects``); the base is each copy's HEAD, the reference, from the template cache.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rlsguard.gate.run import GateReport
from rlsguard.gate.summary import render_summary
from tests.gate.conftest import KNOWN_BAD_FILES

# file -> (what must block, fragments the summary must show: rule ids or access changes, table)
EXPECTED: dict[str, tuple[set[str], list[str]]] = {
    "20260301090000_runbook_quick_rollback.sql": (
        {"findings", "matrix", "access"},
        [
            "`row_role_confusion`",
            "`public.users`",
            "can now read 1 row of `public.users` that was out of reach before",
        ],
    ),
    "20260301090100_classes_using_false.sql": (
        {"matrix", "lockout"},
        [
            "`rls_policy_always_false`",
            "can no longer read",
            "`public.classes`",
            "`student-public.classes-select`",
        ],
    ),
    "20260301090200_staff_notes_using_true.sql": (
        {"findings", "matrix", "access"},
        [
            "`rls_policy_always_true`",
            "`public.staff_notes`",
            "can now read 3 rows of `public.staff_notes`",
        ],
    ),
    "20260301090300_submissions_rls_disabled.sql": (
        {"findings", "matrix", "access"},
        ["`rls_disabled_in_public`", "`public.submissions`"],
    ),
    "20260301090400_users_update_without_with_check.sql": (
        {"findings", "matrix", "access"},
        ["`update_policy_without_with_check`", "`public.users`", "can now make the change"],
    ),
    "20260301090500_grades_rebuilt_without_grants.sql": (
        {"matrix", "lockout"},
        [
            "`policy_without_grant`",
            "can no longer read, update, delete `public.grades` at all",
            "`public.grades`",
            "42501 permission denied",
        ],
    ),
}
REASON = {
    "findings": "new finding(s) at or above error",
    "matrix": "access matrix cell(s) failed",
    "access": "access widening(s) that no expectation covers",
    "lockout": "access lost entirely",
}


def test_every_known_bad_file_is_covered() -> None:
    assert sorted(EXPECTED) == KNOWN_BAD_FILES


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_gate_blocks_and_names_the_bug(
    name: str, known_bad_report: Callable[[str], GateReport]
) -> None:
    report = known_bad_report(name)
    assert report.error is None, report.error
    assert (report.verdict, report.exit_code) == ("blocked", 1)
    causes, fragments = EXPECTED[name]
    for cause in ("findings", "matrix", "access", "lockout"):
        blocked_by = any(REASON[cause] in reason for reason in report.reasons)
        assert blocked_by == (cause in causes), (cause, report.reasons)
    assert not report.rollback_failed, report.rollback_problems  # each one can be rolled back
    summary = render_summary(report)
    assert summary.startswith("## ❌ rlsguard gate: blocked\n")
    for fragment in fragments:
        assert fragment in summary, (fragment, summary)
    assert f"`{report.rollback_command}`" in summary
