"""Every lint rule, both ways: its positive fixture is reported, its negative one is not.

All fixture files (``fixtures/lint/<rule>/{positive,negative}.sql``) are applied, as
migrations, to one clone of the notes project; the linter runs once and each test looks at
the findings for the objects its fixture names (``-- object:`` headers).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rlsguard.audit.findings import Finding
from rlsguard.audit.lint import lint_database
from rlsguard.audit.rules import RULES
from rlsguard.harness.engine import Engine
from tests.audit.conftest import FIXTURES, SqlFixture, cloned, fixtures, sources

LINT_FIXTURES = fixtures("lint")


@pytest.fixture(scope="module")
def findings(notes_engine: Engine) -> Iterator[list[Finding]]:
    with cloned(notes_engine, LINT_FIXTURES) as db:
        yield lint_database(db.conn, exposed_schemas=["public"], files=sources(LINT_FIXTURES))


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
_LEVEL_VARIES = frozenset({"update_policy_without_with_check", "auth_uid_null_inversion"})


def test_the_fixture_tree_has_nothing_else() -> None:
    stray = [
        p.name
        for p in (FIXTURES / "lint").glob("*/*.sql")
        if p.stem not in ("positive", "negative")
    ]
    assert stray == []
