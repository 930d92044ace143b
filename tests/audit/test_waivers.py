"""Waivers: matched findings keep their reason and stop failing; unused ones are reported."""

from __future__ import annotations

from rlsguard.audit.findings import Finding, failing
from rlsguard.audit.waivers import UNUSED_WAIVER, WaiverSpec, apply_waivers


def finding(rule: str, obj: str, level: str = "error") -> Finding:
    return Finding(rule, level, "security", obj, "m", "r")  # type: ignore[arg-type]


def test_matching_unused_and_unknown() -> None:
    findings = [
        finding("rls_disabled_in_public", "public.audit_log"),
        finding("multiple_permissive_policies", "public.users", "warn"),
        finding("multiple_permissive_policies", "public.posts", "warn"),
    ]
    waivers = [
        WaiverSpec("rls_disabled_in_public", "public.audit_log", "append-only, no client grant"),
        WaiverSpec("multiple_permissive_policies", "public.*", "clearer as separate policies"),
        WaiverSpec("row_role_confusion", "public.users", "fixed last sprint"),
        WaiverSpec("rls_disabld_in_public", "public.x", "typo"),
        WaiverSpec("privilege_escalation", "public.users", "a probe rule: not lint's to judge"),
    ]
    out = apply_waivers(
        findings,
        waivers,
        rules_run=["rls_disabled_in_public", "multiple_permissive_policies", "row_role_confusion"],
        known_rules=["privilege_escalation"],
        source="rlsguard.toml",
    )
    waived = {f.object: f.waived for f in out if f.rule != UNUSED_WAIVER}
    assert waived == {
        "public.audit_log": "append-only, no client grant",
        "public.users": "clearer as separate policies",
        "public.posts": "clearer as separate policies",
    }
    assert failing(out, "error") == []
    unused = [f for f in out if f.rule == UNUSED_WAIVER]
    assert [(f.object, f.level) for f in unused] == [("public.users", "warn"), ("public.x", "warn")]
    assert "matches no finding" in unused[0].message
    assert "fixed last sprint" in unused[0].message
    assert "names no rule" in unused[1].message
    assert unused[0].location is not None
    assert unused[0].location.file == "rlsguard.toml"
    assert failing(out, "warn") == unused
