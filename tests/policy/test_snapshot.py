"""Snapshots: byte-identical across builds and between PostgreSQL 15 and 18; what is in them."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rlsguard.config import ProjectConfig
from rlsguard.errors import ConfigError
from rlsguard.harness.engine import EngineOptions
from rlsguard.policy.snapshot import FORMAT, Snapshot
from rlsguard.workspace.build import Workspace
from tests.policy.helpers import APPROVED, REFERENCE


@pytest.fixture(scope="module")
def pg18_workspace(rlsguard_stack: Any, policy_config: ProjectConfig) -> Iterator[Workspace]:
    """The embedded PostgreSQL 18 wheel (the session's default server is Debian's 15)."""
    with Workspace(policy_config, EngineOptions(prefer="embedded"), stack=rlsguard_stack) as ws:
        yield ws


def test_two_builds_give_the_same_bytes(
    rlsguard_stack: Any,
    policy_config: ProjectConfig,
    courses_dir: Path,
    courses_snapshot: Snapshot,
) -> None:
    # A second build from scratch (no template cache), in a cluster of its own.
    with Workspace(policy_config, EngineOptions(no_cache=True), stack=rlsguard_stack) as fresh:
        again = fresh.snapshot(courses_dir, "courses")
        engine = fresh.engine(courses_dir)
        assert engine.prepared is not None
        assert not engine.prepared.cache_hit
    assert again.dumps() == courses_snapshot.dumps()


# The wheel lacks pgcrypto and uuid-ossp, and the reference pins major_version = 15: both are
# announced as warnings, neither touches the surface.
@pytest.mark.filterwarnings("ignore::rlsguard.supabase.errors.FidelityWarning")
@pytest.mark.filterwarnings("ignore::rlsguard.supabase.project.SupabaseProjectWarning")
@pytest.mark.parametrize("project", ["courses", "reference"])
def test_postgres_15_and_18_give_the_same_bytes(
    project: str,
    workspace: Workspace,
    pg18_workspace: Workspace,
    courses_dir: Path,
) -> None:
    folder = courses_dir if project == "courses" else REFERENCE
    pg15 = workspace.engine(folder)
    pg18 = pg18_workspace.engine(folder)
    assert (pg15.endpoint.major, pg18.endpoint.major) == (15, 18)  # type: ignore[union-attr]
    assert workspace.snapshot(folder).dumps() == pg18_workspace.snapshot(folder).dumps()


def test_the_document_is_sorted_and_free_of_build_details(courses_snapshot: Snapshot) -> None:
    text = courses_snapshot.dumps()
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert not re.search(r"\b\d{5,}\b", text)  # no OIDs
    assert not re.search(r"\d{4}-\d\d-\d\d", text)  # no timestamps
    assert "MAINTAIN" not in text
    assert "PostgreSQL" not in text
    assert courses_snapshot.doc["format"] == FORMAT


def test_what_is_in_scope(courses_snapshot: Snapshot) -> None:
    doc = courses_snapshot.doc
    assert {"public.courses", "public.enrolments", "private.members"} <= set(doc["tables"])
    assert "storage.objects" in doc["tables"]  # user policies live there
    assert "auth.users" in doc["tables"]  # a grant on it would be a hole
    assert not any(t.startswith(("supabase_migrations.", "extensions.")) for t in doc["tables"])
    assert set(doc["functions"]) == {"private.org_id()"}  # the project's, not auth.uid()
    assert doc["functions"]["private.org_id()"]["security"] == "definer"
    assert "body" in doc["functions"]["private.org_id()"]
    assert doc["views"]["public.course_titles"]["reads"] == ["public.courses"]
    assert doc["tables"]["public.courses"]["column_grants"]["title"] == {"anon": ["SELECT"]}
    assert doc["exposed_schemas"] == ["graphql_public", "public"]
    assert set(doc["roles"]) == {"anon", "authenticated", "service_role"}
    assert set(doc["schemas"]) == {"graphql_public", "private", "public"}
    policy = doc["tables"]["public.courses"]["policies"]["courses_write"]
    assert policy == {
        "command": "UPDATE",
        "mode": "permissive",
        "roles": ["authenticated"],
        "using": "owner_id = (SELECT auth.uid() AS uid)",
        "with_check": (
            "owner_id = (SELECT auth.uid() AS uid) AND org_id = (SELECT private.org_id() AS org_id)"
        ),
    }


def test_invoker_function_bodies_are_not_tracked(
    surface_after: Callable[[str], Snapshot],
) -> None:
    doc = surface_after(
        "create function public.add(a int, b int) returns int language sql as $$ select a + b $$"
    ).doc
    assert doc["functions"]["public.add(a integer, b integer)"]["security"] == "invoker"
    assert "body" not in doc["functions"]["public.add(a integer, b integer)"]


def test_write_and_load_round_trip(courses_snapshot: Snapshot, tmp_path: Path) -> None:
    path = courses_snapshot.write(tmp_path / "sub" / "policies.snapshot.json")
    loaded = Snapshot.load(path)
    assert loaded == courses_snapshot
    assert loaded.dumps() == path.read_text()
    assert loaded.label == str(path)


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("{not json", "", "not valid JSON"),
        ('{"format": "something else"}', "format", "not an rlsguard policy snapshot"),
        ("[]", "format", "not an rlsguard policy snapshot"),
        (json.dumps({"format": FORMAT}), "exposed_schemas", "missing"),
    ],
)
def test_broken_snapshot_files_are_refused_with_the_reason(
    text: str, key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Snapshot.loads(text, "x.json")
    assert info.value.key == key
    assert reason in str(info.value)


def test_the_committed_reference_snapshot_is_current(workspace: Workspace) -> None:
    """fixtures/policies.snapshot.json is what the reference migrations build (re-approve with
    `rlsguard snapshot -o fixtures/policies.snapshot.json`)."""
    live = workspace.snapshot(REFERENCE)
    assert live.dumps() == APPROVED.read_text()


def test_snapshot_is_a_plain_value(courses_snapshot: Snapshot) -> None:
    copy = Snapshot(courses_snapshot.doc, "other label")
    assert copy == courses_snapshot
    assert hash(copy) == hash(courses_snapshot)
    copy.doc["tables"]["public.courses"]["rls"] = False  # a copy, not a view of the original
    assert courses_snapshot.doc["tables"]["public.courses"]["rls"] is True
    assert dataclasses.is_dataclass(courses_snapshot) is False
