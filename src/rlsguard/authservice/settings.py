"""The auth service's settings, read from ``supabase/config.toml`` ``[auth]`` like the CLI does.

Keys and defaults follow the Supabase CLI's config template and structs (supabase/cli
``pkg/config/templates/config.toml``, ``pkg/config/auth.go``); how they reach GoTrue follows
the CLI's ``internal/start/start.go`` (``GOTRUE_*`` variables). Anything we cannot honour is
an error naming the file, the dotted key and why, never silently ignored when it changes
behaviour a test would observe.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rlsguard.errors import ConfigError

# supabase/cli pkg/config/auth.go: the password_requirements values and the character sets
# the CLI hands GoTrue as GOTRUE_PASSWORD_REQUIRED_CHARACTERS (one set per ':' group).
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_SYMBOLS = "!@#$%^&*()_+-=[]{};'\\:\"|<>?,./`~"
PASSWORD_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "": (),
    "letters_digits": (_LOWER + _UPPER, _DIGITS),
    "lower_upper_letters_digits": (_LOWER, _UPPER, _DIGITS),
    "lower_upper_letters_digits_symbols": (_LOWER, _UPPER, _DIGITS, _SYMBOLS),
}
MAX_JWT_EXPIRY_S = 604800  # the CLI rejects more (one week)
GOTRUE_BCRYPT_COST = 10  # internal/crypto/password.go: bcrypt.DefaultCost
MAX_PASSWORD_LENGTH = 72  # internal/api/password.go MaxPasswordLength (bcrypt's limit)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RateLimits(_Strict):
    """``[auth.rate_limit]``: GoTrue's limiters (internal/api/apilimiter/apilimiter.go).

    ``email_sent`` is per hour for the whole instance; the others are requests per 5 minutes
    per client IP, as a token bucket with a burst of 30.
    """

    email_sent: int = Field(2, ge=0)
    sms_sent: int = Field(30, ge=0)
    anonymous_users: int = Field(30, ge=0)
    token_refresh: int = Field(150, ge=0)
    sign_in_sign_ups: int = Field(30, ge=0)
    token_verifications: int = Field(30, ge=0)
    web3: int = Field(30, ge=0)


class EmailSettings(_Strict):
    """``[auth.email]``: ``enable_confirmations = false`` means GoTrue's autoconfirm is on."""

    enable_signup: bool = True
    enable_confirmations: bool = False
    otp_length: int = Field(6, ge=6, le=10)
    otp_expiry: int = Field(3600, ge=1, le=86400)


class AuthSettings(_Strict):
    """What the reference auth service honours of ``[auth]``."""

    enabled: bool = True
    site_url: str = "http://127.0.0.1:3000"
    jwt_expiry: int = Field(3600, ge=1, le=MAX_JWT_EXPIRY_S)
    jwt_issuer: str | None = None
    enable_signup: bool = True
    enable_anonymous_sign_ins: bool = False
    enable_refresh_token_rotation: bool = True
    refresh_token_reuse_interval: int = Field(10, ge=0)
    minimum_password_length: int = Field(6, ge=6, le=MAX_PASSWORD_LENGTH)
    password_requirements: str = ""
    rate_limit: RateLimits = Field(default_factory=RateLimits)
    email: EmailSettings = Field(default_factory=EmailSettings)
    # Not CLI keys (GoTrue environment settings the CLI leaves unset):
    bcrypt_cost: int = Field(GOTRUE_BCRYPT_COST, ge=4, le=16)
    rate_limit_header: str = ""  # GOTRUE_RATE_LIMIT_HEADER: unset = no per-client limits
    # rlsguard's own (GoTrue keeps its buckets in process): a limiter shared by every worker.
    # See docs/auth-ratelimit.md for the failure policy and the fallback's bound.
    rate_limit_backend: Literal["memory", "redis"] = "memory"
    rate_limit_redis_url: str = ""
    rate_limit_on_redis_error: Literal["closed", "open"] = "closed"
    rate_limit_redis_timeout_ms: int = Field(250, ge=1, le=10_000)
    rate_limit_redis_retry_s: float = Field(1.0, gt=0, le=60)
    rate_limit_workers: int = Field(1, ge=1, le=64)  # processes sharing the fail-open budget
    # Email outbox: the sender's retry schedule (exponential, capped).
    mail_retry_base_s: float = Field(1.0, gt=0, le=3600)
    mail_retry_max_s: float = Field(300.0, gt=0, le=86400)
    mail_poll_s: float = Field(0.2, gt=0, le=60)

    @field_validator("password_requirements")
    @classmethod
    def _known_requirement(cls, value: str) -> str:
        if value not in PASSWORD_REQUIREMENTS:
            choices = ", ".join(repr(k) for k in PASSWORD_REQUIREMENTS)
            raise ValueError(f"must be one of {choices}")
        return value

    @model_validator(mode="after")
    def _redis_needs_url(self) -> AuthSettings:
        if self.rate_limit_backend == "redis" and not self.rate_limit_redis_url:
            raise ValueError("rate_limit_backend = 'redis' needs rate_limit_redis_url")
        return self

    @property
    def required_characters(self) -> tuple[str, ...]:
        return PASSWORD_REQUIREMENTS[self.password_requirements]

    @property
    def autoconfirm(self) -> bool:
        return not self.email.enable_confirmations

    @property
    def signup_allowed(self) -> bool:
        return self.enable_signup and self.email.enable_signup


def settings_from_mapping(data: dict[str, Any], *, source: str = "config.toml") -> AuthSettings:
    """Validate an ``[auth]`` table; errors name ``source`` and the dotted ``auth.`` key."""
    try:
        return AuthSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in ("auth", *first["loc"]))
        value = first.get("input")
        raise ConfigError(
            source, key, f"{first['msg']} (got {value!r}); fix this key in [auth]"
        ) from exc


def load_auth_settings(config_toml: Path | None, **overrides: Any) -> AuthSettings:
    """``[auth]`` of a ``config.toml`` (all defaults when there is no file)."""
    data: dict[str, Any] = {}
    source = str(config_toml) if config_toml else "config.toml"
    if config_toml is not None and config_toml.is_file():
        try:
            parsed = tomllib.loads(config_toml.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(source, "", f"not valid TOML: {exc}") from exc
        auth = parsed.get("auth", {})
        if not isinstance(auth, dict):
            raise ConfigError(source, "auth", "must be a table ([auth])")
        data = dict(auth)
    data.update(overrides)
    return settings_from_mapping(data, source=source)
