"""The probe, both ways per rule, on small fixtures; and that it leaves nothing behind.

``fixtures/probe/<rule>/{positive,negative}.sql`` are applied to one clone of the notes
project. The probe runs once without personas (anon and two synthetic users act), so the
synthetic-user mode is what these tests cover; the reference platform's tests cover personas.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rlsguard.audit.probe import PROBE_RULES, ProbeReport, run_probe
from rlsguard.database import Database
from rlsguard.harness.engine import Engine
from tests.audit.conftest import SqlFixture, cloned, fixtures, sources

PROBE_FIXTURES = fixtures("probe")
_COUNTS = """
select (select count(*) from auth.users) as users,
       (select count(*) from public.pe_profiles) as profiles,
       (select count(*) from public.ctw_messages) as messages,
       (select count(*) from public.notes) as notes
"""


@pytest.fixture(scope="module")
def probed(notes_engine: Engine) -> Iterator[tuple[ProbeReport, Database, dict[str, int]]]:
    with cloned(notes_engine, PROBE_FIXTURES) as db:
        before = db.fetch(_COUNTS)[0]
        report = run_probe(
            db, exposed_schemas=["public"], personas=["anon"], files=sources(PROBE_FIXTURES)
        )
        yield report, db, before


def test_every_probe_rule_has_both_fixtures() -> None:
    present = {(f.rule, f.kind) for f in PROBE_FIXTURES}
    assert {(r, k) for r in PROBE_RULES for k in ("positive", "negative")} == present


@pytest.mark.parametrize("fixture", PROBE_FIXTURES, ids=lambda f: f"{f.rule}-{f.kind}")
def test_fixture(probed: tuple[ProbeReport, Database, dict[str, int]], fixture: SqlFixture) -> None:
    report = probed[0]
    for obj in fixture.objects:
        found = [f for f in report.findings if f.rule == fixture.rule and f.object == obj]
        if fixture.kind == "negative":
            assert found == [], found
            continue
        assert found, f"{fixture.rule} did not report {obj}; notes: {report.notes}"
        assert found[0].check == "probe"
        assert found[0].location is not None
        assert found[0].location.file == fixture.display


def test_synthetic_mode_actors_and_messages(
    probed: tuple[ProbeReport, Database, dict[str, int]],
) -> None:
    report = probed[0]
    assert report.actors == ["anon", "synthetic user a", "synthetic user b"]
    assert "public.notes" in report.tables
    assert report.notes == []  # every synthetic row could be made
    by_rule = {f.rule: f for f in report.findings}
    escalation = by_rule["privilege_escalation"]
    assert escalation.details["column"] == "role"
    assert "'editor'" in escalation.message  # the literal the other table's policy trusts
    read = by_rule["cross_tenant_read"]
    assert read.details["reads"] == {
        "synthetic user a": {"visible": 1, "rows": 1},
        "synthetic user b": {"visible": 1, "rows": 1},
    }
    write = by_rule["cross_tenant_write"]
    assert "a row owned by synthetic user b" in write.message


def test_nothing_stays_behind(probed: tuple[ProbeReport, Database, dict[str, int]]) -> None:
    _, db, before = probed
    assert db.fetch(_COUNTS)[0] == before
    assert db.scalar("select count(*) from auth.users where email like 'rlsguard-probe-%'") == 0
