"""The incident runbook's facts as data: what drills are judged against.

The reference platform's runbook ("Incident Response Runbook" v1.0, section 1 "RLS/Auth
Failure - CRITICAL (P1)") states severities and targets twice: in its Quick Reference table and
in the section's own headings. Where they disagree, the Quick Reference wins (it is what an
on-call reads first) and :data:`CONFLICTS` lists the disagreement so reports can show it.
:data:`DEFECTS` are the runbook's own mistakes a drill can confirm.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuickReference:
    """One row of the runbook's Quick Reference table."""

    incident: str
    severity: str
    response: str
    resolution_s: float
    section: str


SECTION_3 = "3. Email Delivery Failure"
SECTION_4 = "4. Rate Limiter Issues"
SECTION_5 = "5. Authentication Server"

QUICK_REFERENCE: dict[str, QuickReference] = {
    row.incident: row
    for row in (
        QuickReference(
            "RLS policy broken (no access)", "P1", "Immediate", 15 * 60, "1. RLS/Auth Failure"
        ),
        QuickReference(
            "Auth flow broken (all users)", "P1", "Immediate", 15 * 60, "1. RLS/Auth Failure"
        ),
        QuickReference(
            "Database query failure", "P1", "Immediate", 30 * 60, "2. Database Query Failure"
        ),
        QuickReference("Single user auth issue", "P2", "5 minutes", 60 * 60, "5. Authentication"),
        QuickReference("Email delivery delay", "P3", "30 minutes", 4 * 3600, "3. Email Delivery"),
        # Not rows of the Quick Reference (see CONFLICTS["not-in-quick-reference"]): the
        # sections' own P2, with the Quick Reference's P2 targets.
        QuickReference("Rate limiter issues", "P2", "5 minutes", 60 * 60, SECTION_4),
        QuickReference("Authentication server down", "P2", "5 minutes", 60 * 60, SECTION_5),
    )
}

SECTION_1 = "1. RLS/Auth Failure"
SECTION_2 = "2. Database Query Failure"
DETECTION_WINDOW_S = 2 * 60  # "Detection (0-2 min)"

CONFLICTS: dict[str, str] = {
    "resolution": (
        "Quick Reference: resolve an RLS/Auth P1 in < 15 min; section 1 schedules its "
        "Remediation at '15-30 min' and the resolved Notification at '30+ min'. The drill "
        "holds the Quick Reference's 15 min."
    ),
    "email-severity": (
        "Section 3 is headed 'Email Delivery Failure - P2'; the Quick Reference rates 'Email "
        "delivery delay' P3 (30 min response, < 4 hours). With an outbox a failure is a delay "
        "(nothing is lost), so the drill holds the Quick Reference's P3."
    ),
    "not-in-quick-reference": (
        "Sections 4 (Rate Limiter Issues) and 5 (Authentication Server) are P2 in their "
        "headings but have no Quick Reference row; the drill uses P2 with the targets of the "
        "Quick Reference's P2 row (5 minutes, < 1 hour)."
    ),
    "auth-server-vs-auth-flow": (
        "An auth server that is down breaks sign-in for every user, which the Quick Reference "
        "calls 'Auth flow broken (all users)', P1; section 5 rates it P2. The drill follows "
        "section 5 (P2) and says so."
    ),
    "keys-blocks-redis": (
        'Section 4 lists stuck keys with `redis-cli KEYS "ratelimit:*"`: KEYS walks the '
        "whole keyspace in one command and blocks Redis meanwhile; the drill uses SCAN. Its "
        "DEL example names `ratelimit:<email>`; our keys carry the bucket: "
        "`ratelimit:login:<email>`, `ratelimit:token:<address>`."
    ),
    "leak": (
        "Quick Reference has no row for a policy that shows too much (a leak); section 1 "
        "covers it as an RLS failure, P1. The drill uses section 1's P1 with the 15 min of "
        "'RLS policy broken'."
    ),
}


@dataclass(frozen=True)
class Defect:
    """A mistake in the runbook that a drill can show."""

    key: str
    text: str


DEFECTS: dict[str, Defect] = {
    d.key: d
    for d in (
        Defect(
            "log-detection-blind-to-silent-deny",
            "Detection relies on 'permission denied' in the Postgres logs and on the auth "
            "error rate; a USING (false) policy, a dropped policy, a leak or disabled RLS "
            "raise no error at all, so neither alert fires. Only synthetic users (canaries) "
            "and policy drift see them.",
        ),
        Defect(
            "pg_policies-blind-to-rls-disabled",
            "Diagnosis lists pg_policies; with RLS disabled on a table its policies are "
            "still all there, so the check looks healthy. Only pg_class.relrowsecurity "
            "(the drift detector's snapshot) shows it.",
        ),
        Defect(
            "rollback-name-sorts-first",
            "Quick Rollback names the file $(date +%s)_rollback_rls.sql: a 10-digit prefix "
            "sorts before every YYYYMMDDHHMMSS_ migration, so `supabase db reset` applies it "
            "first and `supabase db push` refuses it. The drill's rollback is named to sort "
            "after the newest migration.",
        ),
        Defect(
            "rollback-policy-is-row-role-confusion",
            "Quick Rollback's 'known-good' policy USING (auth.uid() = id OR role = 'admin') "
            "tests the row's role, not the requester's: every user reads and edits every "
            "admin's row in every school, and (no WITH CHECK) may make their own row admin.",
        ),
        Defect(
            "rollback-not-from-approved-state",
            "Quick Rollback restores policies 'from git history' by hand; the drill derives "
            "the rollback from the approved snapshot and verifies it (drift + canaries).",
        ),
        Defect(
            "kill-idle-misses-idle-in-transaction",
            "Section 2's 'Kill Idle Connections' matches state = 'idle' in database "
            "'postgres' only: it never ends an 'idle in transaction' session (the ones that "
            "hold locks) nor any session of another database (the app's). The drill's "
            "remediation targets both and counts what the runbook's query would have missed.",
        ),
        Defect(
            "pooler-restart-is-not-a-fix",
            "Section 2's first fix, 'Restart Connection Pooler', frees nothing when the "
            "connections are held at the server or by a lock holder: only ending those "
            "sessions (or the lock holder) does.",
        ),
        Defect(
            "grants-not-checked",
            "Nothing in section 1 checks table grants: a revoked grant shows as 'permission "
            "denied' only once traffic hits it, and the diagnosis queries never list grants.",
        ),
    )
}
