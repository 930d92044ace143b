"""``rlsguard up``'s services beside the database: Redis, the SMTP sink and the auth service.

The summary is printed the way ``supabase start`` prints its status (supabase/cli
``internal/status/status.go``: right-aligned labels, ``API URL``, ``DB URL``, ``JWT secret``,
``anon key``, ``service_role key``): the keys of a local stack are meant to be copied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlsguard.authservice.server import AUTH_ADMIN, AuthEndpoint, start_auth_service
from rlsguard.errors import RlsguardError

log = logging.getLogger("rlsguard.authservice")


@dataclass
class LocalServices:
    auth: AuthEndpoint
    db_url: str
    smtp: Any
    redis: Any = None
    notes: list[str] = field(default_factory=list)

    def lines(self, secret: str) -> list[tuple[str, str]]:
        rows = [
            ("API URL", self.auth.url),
            ("Auth URL", self.auth.auth_url),
            ("DB URL", self.db_url),
            ("SMTP URL", f"smtp://{self.smtp.host}:{self.smtp.port}"),
        ]
        if self.redis is not None:
            rows.append(("Redis URL", self.redis.url))
        rows += [
            ("JWT secret", secret),
            ("anon key", self.auth.anon_key),
            ("service_role key", self.auth.service_role_key or ""),
        ]
        return rows


def format_status(rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.rjust(width)}: {value}" for label, value in rows)


def start_local_services(engine: Any, dbname: str = "postgres") -> LocalServices:
    """Start Redis (when a binary is found), an SMTP sink and the auth service in the engine's
    stack, against ``dbname``; they stop with the engine."""
    stack = engine.stack
    notes: list[str] = []
    redis = None
    try:
        redis = stack.redis(stack.unique_name("redis"))
    except RlsguardError as exc:
        notes.append(f"Redis not started: {exc}")
    smtp = stack.smtp(stack.unique_name("smtp"))
    supabase_dir = engine.supabase_dir
    config_toml = Path(supabase_dir) / "config.toml" if supabase_dir else None
    auth = start_auth_service(
        stack,
        conninfo=engine.conninfo(dbname, user=AUTH_ADMIN),
        secret=engine.signer.secret,
        config_toml=config_toml if config_toml and config_toml.is_file() else None,
        smtp=smtp,
        name=stack.unique_name("auth"),
    )
    auth.dbname = dbname
    prepared = engine.prepared
    db_url = prepared.server.url(dbname) if prepared is not None else engine.conninfo(dbname)
    return LocalServices(auth=auth, db_url=db_url, smtp=smtp, redis=redis, notes=notes)
