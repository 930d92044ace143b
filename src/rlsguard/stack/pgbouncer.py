"""PgBouncer in transaction mode, as Supabase's pooler runs, in front of a local cluster.

Optional: the Debian package installs ``/usr/sbin/pgbouncer``; ``RLSGUARD_PGBOUNCER`` names
another binary (or a wrapper script). Database drills put the reference app behind it when
asked; without it they run the app direct and say so. It listens on 127.0.0.1 only and
reaches Postgres over the cluster's unix socket; authentication is ``trust`` for the users
it lists (the app's role and an admin for its console), as nothing but this run reaches it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, ClassVar

import psycopg

from rlsguard.stack.net import LOOPBACK, free_port, tcp_accepts
from rlsguard.stack.process import Context, Server

DEBIAN_PATH = "/usr/sbin/pgbouncer"
ENV_BINARY = "RLSGUARD_PGBOUNCER"
ADMIN_USER = "rlsguard_pgbouncer_admin"


def discover_pgbouncer() -> str | None:
    override = os.environ.get(ENV_BINARY)
    if override:
        return override if os.access(override, os.X_OK) else None
    found = shutil.which("pgbouncer")
    if found:
        return found
    return DEBIAN_PATH if os.access(DEBIAN_PATH, os.X_OK) else None


class PgBouncerServer(Server):
    """``pgbouncer <ini>`` in the foreground, transaction pooling, one pool per user/db."""

    kind: ClassVar[str] = "pgbouncer"

    def __init__(
        self,
        name: str,
        ctx: Context,
        binary: str,
        *,
        pg_socket_dir: Path,
        pg_port: int,
        users: tuple[str, ...],
        pool_size: int = 20,
        max_client_conn: int = 100,
    ) -> None:
        super().__init__(name, ctx)
        self.binary = binary
        self.pg_socket_dir = pg_socket_dir
        self.pg_port = pg_port
        self.users = users
        self.pool_size = pool_size
        self.max_client_conn = max_client_conn
        self.port = free_port()

    @property
    def ini(self) -> Path:
        return self.workdir / "pgbouncer.ini"

    def conninfo(self, dbname: str, user: str) -> str:
        return psycopg.conninfo.make_conninfo(
            host=LOOPBACK, port=str(self.port), dbname=dbname, user=user
        )

    def admin(self, command: str) -> list[tuple[Any, ...]]:
        """One command on the admin console (``PAUSE``, ``RESUME``, ``RECONNECT``, ``SHOW
        POOLS``); the console speaks the simple query protocol only."""
        with psycopg.connect(self.conninfo("pgbouncer", ADMIN_USER), autocommit=True) as conn:
            cur = conn.execute(command)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def pools(self, timeout: int = 2) -> list[dict[str, Any]]:
        """``SHOW POOLS`` as dicts (``cl_waiting``: clients queued for a server connection);
        a hung pooler raises after ``timeout`` seconds rather than hanging its caller."""
        conninfo = psycopg.conninfo.make_conninfo(
            self.conninfo("pgbouncer", ADMIN_USER), connect_timeout=str(max(2, timeout))
        )
        with psycopg.connect(conninfo, autocommit=True) as conn:
            cur = conn.execute("SHOW POOLS")
            names = [c.name for c in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def prepare(self) -> None:
        users = [*self.users, ADMIN_USER]
        (self.workdir / "userlist.txt").write_text(
            "".join(f'"{u}" ""\n' for u in users), encoding="utf-8"
        )
        self.ini.write_text(
            "[databases]\n"
            f"* = host={self.pg_socket_dir} port={self.pg_port}\n"
            "[pgbouncer]\n"
            f"listen_addr = {LOOPBACK}\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.workdir / 'userlist.txt'}\n"
            f"admin_users = {ADMIN_USER}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            f"max_client_conn = {self.max_client_conn}\n"
            "server_login_retry = 1\n"
            "ignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.workdir / 'pgbouncer.log'}\n",
            encoding="utf-8",
        )
        for path in (self.ini, self.workdir / "userlist.txt"):
            self.ctx.user.chown(path)

    def command(self) -> list[str]:
        return [self.binary, str(self.ini)]

    def move_port(self) -> bool:
        self.port = free_port()
        self.prepare()  # the ini holds listen_port
        return True

    def startup_logs(self) -> list[Path]:
        return [self.log_path, self.workdir / "pgbouncer.log"]

    def probe(self) -> bool:
        return tcp_accepts(self.port)
