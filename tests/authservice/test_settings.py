"""[auth] from config.toml: defaults as the CLI's, and clear errors (file, key, why)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsguard.authservice.settings import GOTRUE_BCRYPT_COST, load_auth_settings
from rlsguard.errors import ConfigError

pytestmark = pytest.mark.auth


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file() -> None:
    settings = load_auth_settings(None)
    assert settings.jwt_expiry == 3600
    assert settings.autoconfirm is True
    assert settings.minimum_password_length == 6
    assert settings.refresh_token_reuse_interval == 10
    assert settings.rate_limit.token_refresh == 150
    assert settings.bcrypt_cost == GOTRUE_BCRYPT_COST == 10


def test_reads_the_projects_keys(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[auth]\nsite_url = "http://x.test"\njwt_expiry = 600\n'
        'password_requirements = "lower_upper_letters_digits"\n'
        "[auth.email]\nenable_confirmations = true\n[auth.rate_limit]\nemail_sent = 5\n",
    )
    settings = load_auth_settings(path)
    assert settings.site_url == "http://x.test"
    assert settings.jwt_expiry == 600
    assert settings.autoconfirm is False
    assert settings.rate_limit.email_sent == 5
    assert len(settings.required_characters) == 3


@pytest.mark.parametrize(
    ("text", "key", "why"),
    [
        ("[auth]\njwt_expiry = 999999\n", "auth.jwt_expiry", "604800"),
        ("[auth]\nminimum_password_length = 2\n", "auth.minimum_password_length", "6"),
        ('[auth]\npassword_requirements = "emoji"\n', "auth.password_requirements", "one of"),
        ('[auth.rate_limit]\ntoken_refresh = "lots"\n', "auth.rate_limit.token_refresh", "int"),
        ("[auth.email]\notp_length = 3\n", "auth.email.otp_length", "6"),
        ("auth = 3\n", "auth", "table"),
    ],
)
def test_bad_values_name_file_key_and_reason(tmp_path: Path, text: str, key: str, why: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as failed:
        load_auth_settings(path)
    assert failed.value.path == str(path)
    assert failed.value.key == key
    assert why in failed.value.reason


def test_invalid_toml(tmp_path: Path) -> None:
    path = _write(tmp_path, "[auth\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_auth_settings(path)
