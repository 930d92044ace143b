"""Refresh tokens: rotation, the reuse interval, and reuse detection revoking the family."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.authservice.conftest import error_code, refresh, signed_up

pytestmark = pytest.mark.auth


def test_refresh_rotates_the_token(auth_api: httpx.Client) -> None:
    _, first = signed_up(auth_api)
    response = refresh(auth_api, first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["user"]["id"] == first["user"]["id"]
    third = refresh(auth_api, second["refresh_token"])
    assert third.status_code == 200


def test_unknown_refresh_token(auth_api: httpx.Client) -> None:
    response = refresh(auth_api, "nosuchtoken1")
    assert response.status_code == 400
    assert error_code(response) == "refresh_token_not_found"


def test_missing_refresh_token_is_an_oauth_error(auth_api: httpx.Client) -> None:
    response = auth_api.post("/token", params={"grant_type": "refresh_token"}, json={})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"] == "refresh_token required"


@pytest.mark.auth_internal
def test_parent_of_the_active_token_gets_the_same_child(auth_api: httpx.Client) -> None:
    """A client that lost the answer to its refresh may retry (refresh_token.go)."""
    _, first = signed_up(auth_api)
    child = refresh(auth_api, first["refresh_token"]).json()["refresh_token"]
    again = refresh(auth_api, first["refresh_token"])
    assert again.status_code == 200
    assert again.json()["refresh_token"] == child


@pytest.mark.auth_internal
def test_reuse_after_the_interval_revokes_the_whole_family(
    auth_api: httpx.Client, auth_clock: Any, auth_db: Any
) -> None:
    _, first = signed_up(auth_api)
    second = refresh(auth_api, first["refresh_token"]).json()
    third = refresh(auth_api, second["refresh_token"]).json()
    session_id = auth_db.execute(
        "select session_id from auth.refresh_tokens where token = %s", (third["refresh_token"],)
    ).fetchone()[0]
    auth_clock.advance(11)  # refresh_token_reuse_interval = 10 in config.toml
    stolen = refresh(auth_api, first["refresh_token"])
    assert stolen.status_code == 400
    assert error_code(stolen) == "refresh_token_already_used"
    live = auth_db.execute(
        "select count(*) from auth.refresh_tokens where session_id = %s and not revoked",
        (session_id,),
    ).fetchone()[0]
    assert live == 0  # the thief's reuse killed the legitimate holder's token too
    auth_clock.advance(11)
    legit = refresh(auth_api, third["refresh_token"])
    assert legit.status_code == 400
    assert error_code(legit) == "refresh_token_already_used"


@pytest.mark.auth_internal
def test_reuse_within_the_interval_is_tolerated(auth_api: httpx.Client) -> None:
    """Concurrent refreshes from one client: a revoked token is accepted for 10 s."""
    _, first = signed_up(auth_api)
    second = refresh(auth_api, first["refresh_token"]).json()
    refresh(auth_api, second["refresh_token"])  # `first` is no longer the active parent
    again = refresh(auth_api, first["refresh_token"])
    assert again.status_code == 200, again.text


@pytest.mark.auth_internal
def test_the_audit_log_records_each_step(auth_api: httpx.Client, auth_db: Any) -> None:
    """GoTrue's audit actions (models/audit_log_entry.go), in order, with no secret in them."""
    _, first = signed_up(auth_api, "audit")
    refresh(auth_api, first["refresh_token"])
    rows = auth_db.execute(
        "select payload->>'action', payload::text from auth.audit_log_entries "
        "where payload->>'actor_id' = %s order by created_at, id",
        (first["user"]["id"],),
    ).fetchall()
    actions = [action for action, _ in rows]  # entries of one request share a timestamp
    assert sorted(actions[:2]) == ["login", "user_signedup"]
    assert sorted(actions[2:]) == ["token_refreshed", "token_revoked"]
    assert all(first["refresh_token"] not in text for _, text in rows)
