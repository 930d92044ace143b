"""The reference app as a supervised process (uvicorn on 127.0.0.1 in a Stack it is handed).

The app logs in as the API's authenticator role over the cluster's unix socket (as PostgREST
does over its own connection), so connection limits apply to it as to any non-superuser
client. With ``auth`` given, the auth service is mounted on the same app under ``/auth/v1``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from rlsguard.refapp.app import ADMIN_HEADER
from rlsguard.refapp.settings import RefAppSettings

APP = "rlsguard.refapp.app:app_from_env"


@dataclass
class RefApp:
    """Where the app listens, its log file and the token of its admin routes."""

    url: str
    log_file: Path
    settings: RefAppSettings = field(repr=False)
    server: Any = None  # the HttpService

    def admin(self, path: str, **params: Any) -> dict[str, Any]:
        token = self.settings.admin_token or ""
        response = httpx.post(
            self.url + path, params=params, headers={ADMIN_HEADER: token}, timeout=10
        )
        response.raise_for_status()
        return dict(response.json())

    def health(self, timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
        response = httpx.get(self.url + "/health", timeout=timeout)
        return response.status_code, dict(response.json())


def start_refapp(
    stack: Any,
    *,
    dsn: str,
    jwt_secret: str,
    name: str | None = None,
    auth_env: dict[str, str] | None = None,
    **knobs: Any,
) -> RefApp:
    """Start the app in ``stack`` and wait until ``/health`` answers (any status < 500)."""
    name = name or stack.unique_name("refapp")
    log_dir = Path(stack.path) / f"{name}-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(log_dir, 0o777)  # the child may run as the service user
    log_file = log_dir / "app.log"
    settings = RefAppSettings(
        dsn=dsn,
        jwt_secret=jwt_secret,
        log_file=str(log_file),
        admin_token=secrets.token_urlsafe(24),
        **knobs,
    )
    env = {**settings.to_env(), **(auth_env or {})}
    server = stack.http(name, APP, path="/rest/v1/none", env=env, factory=True, start=False)
    if auth_env and "RLSGUARD_AUTH_ISSUER" not in auth_env:
        server.env["RLSGUARD_AUTH_ISSUER"] = server.url("/auth/v1")  # tokens name this URL
    server.start()
    return RefApp(server.base_url, log_file, settings, server)
