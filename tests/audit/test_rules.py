"""Every lint rule, both ways: its positive fixture is reported, its negative one is not.

All fixture files (``fixtures/lint/<rule>/{positive,negative}.sql``) are applied, as
migrations, to one clone of the notes project; the linter runs once and each test looks at
the findings for the objects its fixture names (``-- object:`` headers).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rlsguard.audit.findings import Finding
from rlsguard.audit.lint import lint_database
from rlsguard.audit.probe import run_probe
from rlsguard.audit.rules import RULES
from rlsguard.harness.engine import Engine
from tests.audit.conftest import FIXTURES, SqlFixture, cloned, fixtures, sources

LINT_FIXTURES = fixtures("lint")


@pytest.fixture(scope="module")
def findings(notes_engine: Engine) -> Iterator[list[Finding]]:
    try:
        with cloned(notes_engine, LINT_FIXTURES) as db:
            yield lint_database(db.conn, exposed_schemas=["public"], files=sources(LINT_FIXTURES))
    finally:
        # A role setting belongs to the cluster, not to the clone: undo the pre-request fixture.
        with notes_engine.connect("postgres", autocommit=True) as conn:
            conn.execute("alter role authenticator reset pgrst.db_pre_request")


def _matching(findings: list[Finding], fixture: SqlFixture, obj: str) -> list[Finding]:
    return [
        f
        for f in findings
        if f.rule == fixture.rule
        and f.object == obj
        and (fixture.mentions is None or fixture.mentions in f.message)
    ]


def test_every_rule_has_both_fixtures() -> None:
    present = {(f.rule, f.kind) for f in LINT_FIXTURES}
    missing = [
        f"{rule}/{kind}.sql"
        for rule in RULES
        for kind in ("positive", "negative")
        if (rule, kind) not in present
    ]
    assert missing == []
    assert {f.rule for f in LINT_FIXTURES} <= set(RULES), "a fixture for a rule that is gone"
    assert all(f.objects for f in LINT_FIXTURES), "every fixture names its objects"


@pytest.mark.parametrize(
    "fixture",
    [f for f in LINT_FIXTURES if f.kind == "positive"],
    ids=lambda f: f.rule,
)
def test_positive(findings: list[Finding], fixture: SqlFixture) -> None:
    for obj in fixture.objects:
        found = _matching(findings, fixture, obj)
        assert found, f"{fixture.rule} did not report {obj}"
        finding = found[0]
        if fixture.rule not in _LEVEL_VARIES:
            assert finding.level == RULES[fixture.rule].level
        assert finding.remediation
        if not fixture.superuser and obj != "storage.objects":
            assert finding.location is not None, f"{fixture.rule}: no location for {obj}"
            assert finding.location.file == fixture.display
            assert (finding.location.line or 0) > 1


@pytest.mark.parametrize(
    "fixture",
    [f for f in LINT_FIXTURES if f.kind == "negative"],
    ids=lambda f: f.rule,
)
def test_negative(findings: list[Finding], fixture: SqlFixture) -> None:
    for obj in fixture.objects:
        assert _matching(findings, fixture, obj) == [], f"{fixture.rule} reported {obj}"


# Rules whose level depends on the case (see their docstrings).
_LEVEL_VARIES = frozenset(
    {
        "update_policy_without_with_check",
        "auth_uid_null_inversion",
        "anon_security_definer_function_executable",
        "authenticated_security_definer_function_executable",
    }
)


def test_the_fixture_tree_has_nothing_else() -> None:
    stray = [
        p.name
        for p in (FIXTURES / "lint").glob("*/*.sql")
        if p.stem not in ("positive", "negative")
    ]
    assert stray == []


def _one(findings: list[Finding], rule: str, obj: str) -> Finding:
    found = [f for f in findings if f.rule == rule and f.object == obj]
    assert len(found) == 1, found
    return found[0]


def test_update_without_check_grades_what_a_trigger_may_refuse(findings: list[Finding]) -> None:
    moved = _one(findings, "update_policy_without_with_check", "public.upwwc_profiles")
    assert moved.level == "error"
    assert moved.details["columns"] == ["org_id"]
    assert "upwwc_edit" in moved.remediation
    assert "public.upwwc_profiles" in moved.remediation
    assert "private.app_role" not in moved.remediation
    unsure = _one(findings, "update_policy_without_with_check", "public.upwwc_conditional")
    assert unsure.level == "warn"
    assert "only under a condition" in unsure.message
    assert "Downgraded" in unsure.message


def test_update_without_check_leaves_out_roles_its_using_admits_no_row_of(
    findings: list[Finding],
) -> None:
    moved = _one(findings, "update_policy_without_with_check", "public.upwwc_everyone")
    assert moved.details["columns"] == ["org_id"]
    assert "authenticated may set" in moved.message
    assert "anon" not in moved.message


def test_a_policy_without_using_is_a_silent_deny(findings: list[Finding]) -> None:
    deny = _one(findings, "rls_policy_always_false", "public.rpaf_no_using")
    assert "silent deny" in deny.message
    assert "update nothing" in deny.message
    assert "alter policy rpaf_no_using_edit on public.rpaf_no_using using (" in deny.remediation
    assert "owner_id" in deny.remediation


def test_secrets_are_found_by_comment_and_encrypted_name(findings: list[Finding]) -> None:
    commented = _one(findings, "sensitive_columns_readable", "public.scr_commented")
    assert commented.details["columns"] == ["material"]
    assert "comment" in commented.message
    sealed = _one(findings, "sensitive_columns_readable", "public.scr_sealed")
    assert sealed.details["columns"] == ["encrypted_ssn"]


def test_anon_definer_that_writes_roles_is_an_error(findings: list[Finding]) -> None:
    minted = _one(findings, "anon_security_definer_function_executable", "public.asdfe_claim_admin")
    assert minted.level == "error"
    assert "public.asdfe_user_roles" in minted.message
    plain = _one(findings, "anon_security_definer_function_executable", "public.asdfe_stats")
    assert plain.level == "warn"


def test_a_project_without_grants_is_told_loudly(notes_engine: Engine, tmp_path: Path) -> None:
    revoke = tmp_path / "revoke.sql"
    revoke.write_text(
        "revoke all on all tables in schema public from anon, authenticated, public;\n"
    )
    with cloned(notes_engine, [revoke]) as db:
        found = lint_database(db.conn, exposed_schemas=["public"])
        probed = run_probe(db, exposed_schemas=["public"], personas=["anon"])
    [finding] = [f for f in found if f.rule == "tables_unreachable_by_api"]
    assert finding.object == "public"
    assert finding.details["every"] is True
    assert "auto_expose_new_tables = true" in finding.message
    assert any("auto_expose_new_tables = true" in n for n in probed.notes)


def test_remediations_use_the_projects_names(findings: list[Finding]) -> None:
    recursion = [f for f in findings if f.rule == "policy_recursion"]
    assert recursion
    for finding in recursion:
        assert str(finding.details["policy"]) in finding.remediation
        assert "private.is_member" not in finding.remediation
    confusion = [f for f in findings if f.rule == "row_role_confusion"]
    assert confusion
    assert all("private.app_role" not in f.remediation for f in confusion)


def test_always_true_fix_names_the_tables_own_owner_column(findings: list[Finding]) -> None:
    [notes] = [
        f
        for f in findings
        if f.rule == "rls_policy_always_true" and f.object == "public.rpat_notes"
    ]
    assert "pointless" in notes.message
    assert "rpat_notes_todo" in notes.remediation
    [wiki] = [
        f for f in findings if f.rule == "rls_policy_always_true" and f.object == "public.rpat_wiki"
    ]
    assert "rpat_wiki_edit" in wiki.remediation
    assert "owner_id" not in wiki.remediation  # rpat_wiki has no owner column to suggest


def test_signed_in_only_policies_name_what_they_share(findings: list[Finding]) -> None:
    notes = _one(findings, "owned_rows_readable_by_all", "public.orrba_notes")
    assert notes.details["column"] == "user_id"
    assert "only tests that a user is signed in" in notes.message
    assert "orrba_notes_read" in notes.remediation
    assert "user_id = (select auth.uid())" in notes.remediation
    assert (
        _one(findings, "owned_rows_readable_by_all", "public.orrba_orders").details["column"]
        == "buyer"
    )
    posts = _one(findings, "rls_policy_always_true", "public.rpat_posts")
    assert "signed-in-only WITH CHECK" in posts.message
    assert "rpat_posts_add" in posts.remediation
    assert "author_id = (select auth.uid())" in posts.remediation


def test_definer_function_returning_rows_rls_hides_is_an_error(findings: list[Finding]) -> None:
    rule = "authenticated_security_definer_function_executable"
    leak = _one(findings, rule, "public.audfe_profile_of")
    assert leak.level == "error"
    assert leak.details["tables"] == ["public.audfe_profiles"]
    assert "security invoker" in leak.remediation.lower()
    assert "public.audfe_profile_of(target uuid)" in leak.remediation
    assert _one(findings, rule, "public.audfe_my_profile").level == "warn"
    assert _one(findings, rule, "public.audfe_report").level == "warn"


def test_self_comparison_names_the_column_to_qualify(findings: list[Finding]) -> None:
    slip = _one(findings, "policy_compares_column_with_itself", "public.pccwi_projects")
    assert slip.details["comparisons"] == ["m.team_id = m.team_id"]
    assert "pccwi_projects.team_id" in slip.remediation
    typo = _one(findings, "policy_compares_column_with_itself", "public.pccwi_notes")
    assert typo.details["comparisons"] == ["owner_id = owner_id"]


def test_self_granted_privilege_names_column_and_action(findings: list[Finding]) -> None:
    rule = "policy_lets_users_grant_themselves"
    join = _one(findings, rule, "public.plugt_members")
    assert (join.details["action"], join.details["columns"]) == ("INSERT", ["role"])
    assert "role = 'admin'" in join.message
    assert "plugt_members_join" in join.remediation
    profile = _one(findings, rule, "public.plugt_profiles")
    assert (profile.details["action"], profile.details["columns"]) == ("UPDATE", ["is_admin"])


def test_personal_data_for_anon_names_the_columns(findings: list[Finding]) -> None:
    leads = _one(findings, "personal_data_readable_by_anon", "public.pdrba_leads")
    assert leads.details["columns"] == ["email", "phone"]
    assert "revoke select (email, phone) on public.pdrba_leads from anon" in leads.remediation
