"""The real ``supabase`` Python client against the service (auto-refresh off)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.authservice.conftest import PASSWORD, unique_email

supabase = pytest.importorskip("supabase", reason="the supabase client is a dev dependency")
from supabase_auth.errors import AuthApiError  # noqa: E402

from supabase import ClientOptions, create_client  # noqa: E402

pytestmark = pytest.mark.auth


@pytest.fixture
def client(rlsguard_auth: Any) -> Iterator[Any]:
    options = ClientOptions(auto_refresh_token=False, persist_session=False)
    return create_client(rlsguard_auth.url, rlsguard_auth.anon_key, options=options)


def test_full_session_lifecycle(client: Any) -> None:
    email = unique_email("sdk")
    signed_up = client.auth.sign_up(
        {"email": email, "password": PASSWORD, "options": {"data": {"full_name": "Sdk User"}}}
    )
    assert signed_up.user is not None
    assert signed_up.user.email == email
    assert signed_up.user.user_metadata["full_name"] == "Sdk User"

    signed_in = client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert signed_in.session is not None
    first_refresh = signed_in.session.refresh_token

    refreshed = client.auth.refresh_session()
    assert refreshed.session is not None
    assert refreshed.session.refresh_token != first_refresh

    user = client.auth.get_user()
    assert user is not None
    assert user.user.id == signed_in.user.id

    client.auth.sign_out()
    assert client.auth.get_session() is None
    with pytest.raises(AuthApiError) as failed:  # the whole family went with sign-out
        client.auth.refresh_session(refreshed.session.refresh_token)
    assert failed.value.code in ("refresh_token_not_found", "session_not_found")


def test_wrong_password_raises_the_gotrue_code(client: Any) -> None:
    with pytest.raises(AuthApiError) as failed:
        client.auth.sign_in_with_password({"email": unique_email(), "password": "wrong-pass-1"})
    assert failed.value.code == "invalid_credentials"
    assert failed.value.status == 400
    assert failed.value.message == "Invalid login credentials"
