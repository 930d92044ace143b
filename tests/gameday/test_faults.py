from __future__ import annotations

from pathlib import Path

import pytest

from rlsguard.gameday.faults import FAULTS, FaultContext, FaultError
from rlsguard.policy.snapshot import Snapshot

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def ctx() -> FaultContext:
    approved = Snapshot.load(ROOT / "fixtures" / "policies.snapshot.json")
    return FaultContext(approved, "app", ROOT)


def plan(kind: str, ctx: FaultContext, **params: object):  # type: ignore[no-untyped-def]
    fault = FAULTS.get(kind)()
    return fault.plan(fault.Params.model_validate(params), ctx)


def test_the_undo_is_computed_from_the_baseline_before_anything_is_applied(
    ctx: FaultContext,
) -> None:
    p = plan("replace_policy", ctx, table="public.classes", policy="classes_select", using="false")
    assert "USING (false)" in p.apply[1]
    assert p.revert[0] == "DROP POLICY IF EXISTS classes_select ON public.classes;"
    assert "private.enrolled_class_ids()" in p.revert[1]  # the approved USING comes back


def test_each_fault_has_an_idempotent_undo(ctx: FaultContext) -> None:
    assert plan("disable_rls", ctx, table="public.submissions").revert == [
        "ALTER TABLE public.submissions ENABLE ROW LEVEL SECURITY;"
    ]
    assert plan("revoke_grant", ctx, table="public.classes").revert == [
        "GRANT SELECT ON public.classes TO authenticated;"
    ]
    drop = plan("drop_policy", ctx, table="public.classes", policy="classes_select")
    assert drop.revert[0].startswith("DROP POLICY IF EXISTS")
    bad = plan(
        "migration", ctx, file="fixtures/known-bad/20260301090000_runbook_quick_rollback.sql"
    )
    assert bad.migration is not None
    assert bad.migration["version"] == "20260301090000"
    assert "20260301090000" in bad.revert[0]
    secret = plan("rotate_jwt_secret", ctx, secret="s3cret")
    assert secret.apply == ["ALTER DATABASE app SET app.settings.jwt_secret = 's3cret';"]
    assert secret.revert == ["ALTER DATABASE app RESET app.settings.jwt_secret;"]


def test_a_fault_on_something_the_baseline_lacks_is_refused(ctx: FaultContext) -> None:
    with pytest.raises(FaultError, match="no policy 'nope'"):
        plan("drop_policy", ctx, table="public.classes", policy="nope")
    with pytest.raises(FaultError, match="not in the approved snapshot"):
        plan("disable_rls", ctx, table="public.nope")
    with pytest.raises(FaultError, match="holds no DELETE"):
        plan("revoke_grant", ctx, table="public.users", privilege="DELETE")
