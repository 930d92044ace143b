"""What the pytest fixture needs: which auth API to test, and starting/stopping ours."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rlsguard.authservice.server import (
    AUTH_ADMIN,
    ENV_ANON_KEY,
    ENV_URL,
    AuthEndpoint,
    external_endpoint,
    start_auth_service,
)
from rlsguard.errors import ConfigError

RATE_LIMIT_HEADER = "X-Forwarded-For"
TEST_BCRYPT_COST = 4


def external_auth(config: Any) -> AuthEndpoint | None:
    """The external Supabase Auth named by option or environment, if any."""
    url = config.getoption("--rlsguard-auth-url", None) or os.environ.get(ENV_URL)
    key = config.getoption("--rlsguard-anon-key", None) or os.environ.get(ENV_ANON_KEY)
    if not url:
        return None
    if not key:
        raise ConfigError(
            "--rlsguard-auth-url", "anon key",
            "an external Supabase Auth needs its anon key: pass --rlsguard-anon-key or set "
            f"{ENV_ANON_KEY}",
        )  # fmt: skip
    return external_endpoint(url, key)


@contextmanager
def auth_endpoint(config: Any, stack: Any, engine: Callable[[], Any]) -> Iterator[AuthEndpoint]:
    """An external endpoint as is, or the reference service on a clone of the template."""
    external = external_auth(config)
    if external is not None:
        yield external
        return
    eng = engine()
    dbname = f"rlsguard_auth_{os.getpid()}"
    eng.clone(dbname)
    smtp = stack.smtp(stack.unique_name("auth-smtp"))
    endpoint: AuthEndpoint | None = None
    try:
        supabase_dir = eng.supabase_dir
        config_toml = Path(supabase_dir) / "config.toml" if supabase_dir else None
        endpoint = start_auth_service(
            stack,
            conninfo=eng.conninfo(dbname, user=AUTH_ADMIN),
            secret=eng.signer.secret,
            config_toml=config_toml if config_toml and config_toml.is_file() else None,
            smtp=smtp,
            # As hosted Supabase: per-client limits keyed by the forwarded client address.
            rate_limit_header=RATE_LIMIT_HEADER,
            # GoTrue's own tests hash at bcrypt's minimum (crypto.QuickHashCost); so do we.
            # The bench measures GoTrue's real cost, 10.
            bcrypt_cost=TEST_BCRYPT_COST,
        )
        endpoint.dbname = dbname
        yield endpoint
    finally:
        if endpoint is not None and endpoint.server is not None:
            stack.discard(endpoint.server.name)
        stack.discard(smtp.name)
        eng.drop(dbname)


@contextmanager
def private_auth_service(
    stack: Any,
    engine: Any,
    *,
    settings: dict[str, Any] | None = None,
    workers: int = 1,
    smtp: Any = None,
    smtp_timeout_s: float | None = None,
    tag: str = "auth",
) -> Iterator[AuthEndpoint]:
    """The reference service on its own clone of the template, for tests and drills that break
    it (kill it, freeze its Redis, stall its SMTP) without disturbing anyone else's service."""
    dbname = f"rlsguard_{tag}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    engine.clone(dbname)
    own_smtp = smtp is None
    if own_smtp:
        smtp = stack.smtp(stack.unique_name(f"{tag}-smtp"))
    endpoint: AuthEndpoint | None = None
    try:
        endpoint = start_auth_service(
            stack,
            conninfo=engine.conninfo(dbname, user=AUTH_ADMIN),
            secret=engine.signer.secret,
            config_toml=None,
            smtp=smtp,
            name=stack.unique_name(tag),
            rate_limit_header=RATE_LIMIT_HEADER,
            bcrypt_cost=TEST_BCRYPT_COST,
            settings=settings,
            workers=workers,
            smtp_timeout_s=smtp_timeout_s,
        )
        endpoint.dbname = dbname
        yield endpoint
    finally:
        if endpoint is not None and endpoint.server is not None:
            stack.discard(endpoint.server.name)
        if own_smtp:
            stack.discard(smtp.name)
        engine.drop(dbname)
