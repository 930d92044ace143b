"""The app server's knobs, passed through the child's environment.

Sized like a typical app server: a small pool (most Node/Python servers default to 10 or
fewer), a short acquire timeout (users see a 503 rather than a hang) and a statement timeout
below the gateway's (users see a 504).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rlsguard.errors import ConfigError

ENV_PREFIX = "RLSGUARD_REFAPP_"


class RefAppSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dsn: str = Field(description="libpq DSN, logging in as the API's authenticator role.")
    jwt_secret: str = Field(repr=False)
    pool_min: int = Field(default=1, ge=0)
    pool_max: int = Field(default=4, ge=1)
    acquire_timeout_s: float = Field(default=1.0, gt=0)
    statement_timeout_ms: int = Field(default=2000, ge=0)
    lock_timeout_ms: int = Field(default=1000, ge=0)
    health_timeout_s: float = Field(
        default=1.0, gt=0, description="GET /health: the database must answer within this."
    )
    tables: tuple[str, ...] = ("classes", "assignments", "enrollments")
    functions: tuple[str, ...] = ("class_average",)
    schema_name: str = "public"
    pooled: bool = Field(
        default=False, description="Through PgBouncer (transaction mode): no prepared statements."
    )
    log_file: str | None = None
    admin_token: str | None = Field(default=None, repr=False)

    def to_env(self) -> dict[str, str]:
        out = {}
        for key, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, tuple):
                value = ",".join(value)
            out[ENV_PREFIX + key.upper()] = str(value)
        return out

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RefAppSettings:
        env = os.environ if env is None else env
        raw: dict[str, object] = {}
        for name in cls.model_fields:
            value = env.get(ENV_PREFIX + name.upper())
            if value is None:
                continue
            raw[name] = (
                tuple(v for v in value.split(",") if v)
                if name in ("tables", "functions")
                else value
            )
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ENV_PREFIX + str(err["loc"][0]).upper()
            raise ConfigError("environment", key, err["msg"]) from None
