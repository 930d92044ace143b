"""Choosing the auth API under test: the reference service, or an external one by URL."""

from __future__ import annotations

from typing import Any

import pytest

from rlsguard.authservice.harness import external_auth
from rlsguard.errors import ConfigError

pytestmark = pytest.mark.auth


class _Config:
    def __init__(self, **options: Any) -> None:
        self.options = options

    def getoption(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


def test_no_url_means_the_reference_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RLSGUARD_AUTH_URL", raising=False)
    assert external_auth(_Config()) is None


def test_url_and_key_from_options() -> None:
    endpoint = external_auth(
        _Config(**{"--rlsguard-auth-url": "https://ref.supabase.co/", "--rlsguard-anon-key": "k"})
    )
    assert endpoint is not None
    assert endpoint.external
    assert endpoint.auth_url == "https://ref.supabase.co/auth/v1"
    assert endpoint.anon_key == "k"
    with pytest.raises(RuntimeError, match="not known"):
        _ = endpoint.signer


def test_url_and_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLSGUARD_AUTH_URL", "http://127.0.0.1:54321")
    monkeypatch.setenv("RLSGUARD_ANON_KEY", "anon")
    endpoint = external_auth(_Config())
    assert endpoint is not None
    assert endpoint.url == "http://127.0.0.1:54321"


def test_a_url_without_a_key_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RLSGUARD_ANON_KEY", raising=False)
    with pytest.raises(ConfigError, match="--rlsguard-anon-key"):
        external_auth(_Config(**{"--rlsguard-auth-url": "http://x"}))
