"""Assemble the service from its parts; ``app_from_env`` is the factory uvicorn runs.

The harness passes everything through the environment of the child (see
:mod:`rlsguard.authservice.server`): the database DSN (as ``supabase_auth_admin``), the JWT
secret, the API keys, the config file, the SMTP sink and the clock file.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from psycopg_pool import ConnectionPool
from starlette.applications import Starlette

from rlsguard.authservice.clock import OffsetFileClock
from rlsguard.authservice.logs import configure_json_logging
from rlsguard.authservice.mailer import SMTP_TIMEOUT_S, Mailer, NoMailer, SmtpMailer
from rlsguard.authservice.outbox import OutboxSender
from rlsguard.authservice.ratelimit import RateLimiter, TokenBucketLimiter, gotrue_limits
from rlsguard.authservice.redislimit import RedisTokenBucketLimiter, redis_client
from rlsguard.authservice.routes import ApiKeys, build_app
from rlsguard.authservice.service import AuthService
from rlsguard.authservice.settings import AuthSettings, load_auth_settings
from rlsguard.clock import SYSTEM_CLOCK, Clock
from rlsguard.errors import ConfigError
from rlsguard.identity.tokens import TokenSigner

ENV_DSN = "RLSGUARD_AUTH_DSN"
ENV_SECRET = "RLSGUARD_AUTH_JWT_SECRET"
ENV_CONFIG = "RLSGUARD_AUTH_CONFIG"
ENV_ISSUER = "RLSGUARD_AUTH_ISSUER"
ENV_SMTP = "RLSGUARD_AUTH_SMTP"
ENV_CLOCK_FILE = "RLSGUARD_AUTH_CLOCK_FILE"
ENV_BCRYPT_COST = "RLSGUARD_AUTH_BCRYPT_COST"
ENV_RATE_LIMIT_HEADER = "RLSGUARD_AUTH_RATE_LIMIT_HEADER"
ENV_OVERRIDES = "RLSGUARD_AUTH_SETTINGS"  # JSON: rlsguard's own settings (not config.toml keys)
ENV_SMTP_TIMEOUT = "RLSGUARD_AUTH_SMTP_TIMEOUT"
# The secret the gateway's API keys were made with (Kong keeps its own copy of the keys): by
# default the JWT secret. A drill rotates the JWT secret alone to break only the tokens.
ENV_GATEWAY_SECRET = "RLSGUARD_AUTH_GATEWAY_SECRET"
POOL_MAX = 4


def create_app(
    *,
    dsn: str,
    secret: str,
    settings: AuthSettings,
    issuer: str,
    clock: Clock = SYSTEM_CLOCK,
    mailer: Mailer | None = None,
    gateway_secret: str | None = None,
) -> Starlette:
    signer = TokenSigner(secret=secret, issuer=issuer, expiry_s=settings.jwt_expiry, clock=clock)
    gateway = TokenSigner(secret=gateway_secret) if gateway_secret else signer
    pool: ConnectionPool[Any] = ConnectionPool(
        dsn, min_size=1, max_size=POOL_MAX, kwargs={"autocommit": True}, open=False
    )
    sender = OutboxSender(
        pool,
        mailer or NoMailer(),
        clock,
        base_s=settings.mail_retry_base_s,
        max_s=settings.mail_retry_max_s,
        poll_s=settings.mail_poll_s,
    )
    service = AuthService(settings, signer, pool, clock, make_limiter(settings, clock), sender)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool.open(wait=False)  # healthy at once; the first query waits for a connection
        sender.start()
        try:
            yield
        finally:
            sender.stop()
            pool.close()

    keys = ApiKeys(gateway.anon_key, gateway.service_role_key)
    app = build_app(service, keys, lifespan=lifespan)
    app.state.service = service
    return app


def make_limiter(settings: AuthSettings, clock: Clock) -> RateLimiter:
    limits = gotrue_limits(settings.rate_limit)
    if settings.rate_limit_backend == "memory":
        return TokenBucketLimiter(limits, clock)
    return RedisTokenBucketLimiter(
        redis_client(settings.rate_limit_redis_url, settings.rate_limit_redis_timeout_ms),
        limits,
        clock,
        on_error=settings.rate_limit_on_redis_error,
        workers=settings.rate_limit_workers,
        retry_s=settings.rate_limit_redis_retry_s,
    )


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError("environment", name, "must be set by whoever starts the auth service")
    return value


def app_from_env() -> Starlette:
    """uvicorn ``--factory`` entry point for the supervised child."""
    configure_json_logging()
    config = os.environ.get(ENV_CONFIG)
    overrides: dict[str, Any] = {}
    if os.environ.get(ENV_BCRYPT_COST):
        overrides["bcrypt_cost"] = int(os.environ[ENV_BCRYPT_COST])
    if os.environ.get(ENV_RATE_LIMIT_HEADER):
        overrides["rate_limit_header"] = os.environ[ENV_RATE_LIMIT_HEADER]
    if os.environ.get(ENV_OVERRIDES):
        overrides.update(json.loads(os.environ[ENV_OVERRIDES]))
    settings = load_auth_settings(Path(config) if config else None, **overrides)
    smtp = os.environ.get(ENV_SMTP)
    mailer: Mailer | None = None
    if smtp:
        host, _, port = smtp.rpartition(":")
        timeout = float(os.environ.get(ENV_SMTP_TIMEOUT) or SMTP_TIMEOUT_S)
        mailer = SmtpMailer(host, int(port), timeout_s=timeout)
    clock_file = os.environ.get(ENV_CLOCK_FILE)
    return create_app(
        dsn=_require(ENV_DSN),
        secret=_require(ENV_SECRET),
        settings=settings,
        issuer=_require(ENV_ISSUER),
        clock=OffsetFileClock(clock_file) if clock_file else SYSTEM_CLOCK,
        mailer=mailer,
        gateway_secret=os.environ.get(ENV_GATEWAY_SECRET) or None,
    )
