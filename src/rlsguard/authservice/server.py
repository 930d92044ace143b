"""The auth service as a supervised process, and the endpoint tests talk to.

Either rlsguard starts the reference service (uvicorn on 127.0.0.1 under the Stack, against a
database of the engine's cluster, mailing through an SMTP sink), or the user points the
black-box tests at a real Supabase Auth with a URL and an anon key.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlsguard.authservice import app as app_module
from rlsguard.authservice.clock import OffsetFileClock
from rlsguard.authservice.routes import PREFIX
from rlsguard.identity.tokens import TokenSigner

APP = "rlsguard.authservice.app:app_from_env"
AUTH_ADMIN = "supabase_auth_admin"
ENV_URL = "RLSGUARD_AUTH_URL"
ENV_ANON_KEY = "RLSGUARD_ANON_KEY"


@dataclass
class AuthEndpoint:
    """Where the auth API is and the keys to call it (``url`` is the project URL: the API
    lives under ``url + "/auth/v1"``, as for ``create_client(url, key)``)."""

    url: str
    anon_key: str
    service_role_key: str | None = None
    external: bool = False
    jwt_secret: str | None = field(default=None, repr=False)
    dbname: str | None = None
    server: Any = None  # the HttpService when rlsguard runs the service
    smtp: Any = None  # the SmtpSink it mails through
    clock: OffsetFileClock | None = None

    @property
    def auth_url(self) -> str:
        return self.url.rstrip("/") + PREFIX

    def headers(self, token: str | None = None) -> dict[str, str]:
        """What supabase-js / supabase-py send: the apikey, and a bearer token."""
        return {"apikey": self.anon_key, "Authorization": f"Bearer {token or self.anon_key}"}

    @property
    def signer(self) -> TokenSigner:
        """A signer with the service's secret (internal tests forge tokens with it)."""
        if self.jwt_secret is None:
            raise RuntimeError("the JWT secret of an external Supabase Auth is not known")
        return TokenSigner(secret=self.jwt_secret, issuer=self.auth_url)


def external_endpoint(url: str, anon_key: str) -> AuthEndpoint:
    return AuthEndpoint(url=url.rstrip("/"), anon_key=anon_key, external=True)


def start_auth_service(
    stack: Any,
    *,
    conninfo: str,
    secret: str,
    config_toml: Path | None,
    smtp: Any = None,
    name: str | None = None,
    bcrypt_cost: int | None = None,
    rate_limit_header: str | None = None,
    settings: dict[str, Any] | None = None,
    workers: int = 1,
    smtp_timeout_s: float | None = None,
) -> AuthEndpoint:
    """Start the reference service in ``stack`` and wait until it answers.

    ``conninfo`` must log in as ``supabase_auth_admin`` (as GoTrue does). Settings are
    validated here first, so a bad ``[auth]`` fails in the caller with file and key.
    """
    # Fail early, in this process, with the key.
    app_module.load_auth_settings(config_toml, **(settings or {}))
    name = name or stack.unique_name("auth")
    clock_file = Path(stack.path) / f"{name}.clock"
    clock_file.write_text("0", encoding="ascii")
    os.chmod(clock_file, 0o644)
    env = {
        app_module.ENV_DSN: conninfo,
        app_module.ENV_SECRET: secret,
        app_module.ENV_CLOCK_FILE: str(clock_file),
    }
    if config_toml is not None:
        env[app_module.ENV_CONFIG] = str(Path(config_toml).resolve())
    if smtp is not None:
        env[app_module.ENV_SMTP] = f"{smtp.host}:{smtp.port}"
    if bcrypt_cost is not None:
        env[app_module.ENV_BCRYPT_COST] = str(bcrypt_cost)
    if rate_limit_header:
        env[app_module.ENV_RATE_LIMIT_HEADER] = rate_limit_header
    if settings:
        env[app_module.ENV_OVERRIDES] = json.dumps(settings)
    if smtp_timeout_s is not None:
        env[app_module.ENV_SMTP_TIMEOUT] = str(smtp_timeout_s)
    server = stack.http(
        name, APP, path=f"{PREFIX}/health", env=env, factory=True, start=False, workers=workers
    )
    server.env[app_module.ENV_ISSUER] = server.url(PREFIX)
    server.start()
    signer = TokenSigner(secret=secret)
    return AuthEndpoint(
        url=server.base_url,
        anon_key=signer.anon_key,
        service_role_key=signer.service_role_key,
        jwt_secret=secret,
        server=server,
        smtp=smtp,
        clock=OffsetFileClock(clock_file),
    )
