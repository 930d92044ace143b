"""A throwaway Postgres cluster, run as our own child process.

We never use ``pg_ctl -w``: it polls every 100 ms, and after a ``kill -9`` its
orphaned postmaster is reaped by PID 1 only every 1-2 s. Owning the postmaster
and polling ``postmaster.pid`` makes a start ready in ~25 ms and a crash
restart in ~35 ms (see docs/performance.md).

``synchronous_commit`` stays on: with it off, committed rows vanish on
``kill -9``, and drills check that nothing is lost. ``fsync`` and
``full_page_writes`` only matter for an OS crash, so they are off.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import signal
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import psycopg
from psycopg import conninfo, sql

from rlsguard.errors import ServerError
from rlsguard.stack.databases import Databases
from rlsguard.stack.net import free_port
from rlsguard.stack.pgbin import PgBinaries
from rlsguard.stack.pglog import PgLog
from rlsguard.stack.process import Context, Server
from rlsguard.stack.runtime import cluster_title, owner_tag, run_tied

DEFAULT_SUPERUSER = "supabase_admin"
DEFAULT_DATABASE = "postgres"
CONF_INCLUDE = "rlsguard.conf"


# Files a copied data directory must not carry: they describe the process that wrote them.
_PROCESS_FILES = ("postmaster.pid", "postmaster.opts")


def copy_datadir(src: Path, dst: Path) -> None:
    """Copy a (stopped) data directory, owners and modes kept.

    ``src`` is a directory or a ``.tar`` archive of one (the template cache keeps
    archives: writing one file to a disk is ~15x faster than ~1100 small ones).
    ``cp -a``/``tar`` are several times faster than shutil for ~1000 files.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_file():
        dst.mkdir(mode=0o700)
        if shutil.which("tar"):
            proc = run_tied(
                ["tar", "-xf", str(src), "-C", str(dst)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise _unpack_failed(src, dst, proc.stderr.strip())
        else:
            try:
                with tarfile.open(src) as archive:
                    archive.extractall(dst, filter="tar")
            except (OSError, tarfile.TarError) as exc:
                raise _unpack_failed(src, dst, str(exc)) from exc
    elif shutil.which("cp"):
        run_tied(["cp", "-a", str(src), str(dst)], check=True)
    else:
        shutil.copytree(src, dst, symlinks=True)
    for name in _PROCESS_FILES:
        (dst / name).unlink(missing_ok=True)


def _unpack_failed(src: Path, dst: Path, why: str) -> ServerError:
    if "No space left" in why:
        return ServerError(
            f"no space left on the disk under {dst.parent} while unpacking the template: "
            "free some space, or set RLSGUARD_RUN_ROOT to a folder on a larger disk"
        )
    return ServerError(
        f"the cached template {src} cannot be unpacked ({why}): remove its folder "
        f"({src.parent}) or run with --no-cache, and it is rebuilt"
    )


def archive_datadir(src: Path, archive: Path) -> None:
    """Pack a (stopped) data directory into one uncompressed tar file, owners and modes kept."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("tar"):
        excludes = [f"--exclude=./{name}" for name in _PROCESS_FILES]
        proc = run_tied(
            ["tar", "-cf", str(archive), *excludes, "-C", str(src), "."],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            # Keep the cause: a full disk is handled (run uncached), anything else is not.
            code = errno.ENOSPC if "No space left" in proc.stderr else errno.EIO
            raise OSError(code, f"tar could not write {archive}: {proc.stderr.strip()}")
        return
    with tarfile.open(archive, "w") as out:
        out.add(
            src, arcname=".", filter=lambda t: None if Path(t.name).name in _PROCESS_FILES else t
        )


@dataclass
class PostgresSettings:
    """What a cluster is started with; every GUC may be overridden."""

    max_connections: int = 100
    superuser: str = DEFAULT_SUPERUSER
    gucs: dict[str, str | int | float | bool] = field(default_factory=dict)

    def render(
        self,
        *,
        port: int,
        socket_dir: Path,
        log_dir: Path,
        log_format: str,
        preload: str,
        title: str,
    ) -> str:
        base: dict[str, str | int | float | bool] = {
            "cluster_name": title,
            "listen_addresses": "127.0.0.1",
            "port": port,
            "unix_socket_directories": str(socket_dir),
            "unix_socket_permissions": "0700",
            "max_connections": self.max_connections,
            "shared_buffers": "32MB",
            # Dynamic shared memory inside the data directory, not /dev/shm: a killed
            # postmaster's segments then go with its run directory (see stack/ipc.py).
            "dynamic_shared_memory_type": "mmap",
            "fsync": False,
            "full_page_writes": False,
            "synchronous_commit": True,
            "logging_collector": True,
            "log_destination": log_format,
            "log_directory": str(log_dir),
            "log_filename": "postgresql.log",
            "log_rotation_age": 0,
            "log_rotation_size": 0,
            "log_file_mode": "0644",
            "log_min_messages": "warning",
            # Never the failing statement's text: the harness's session prologues carry the
            # service_role key and tokens, and rlsguard reports failing statements itself.
            # (Bind parameters stay out too: log_parameter_max_length_on_error defaults to 0.)
            "log_min_error_statement": "panic",
            "lc_messages": "C",
            "timezone": "UTC",
            "max_wal_senders": 0,
            "wal_level": "minimal",
            "shared_preload_libraries": preload,
        }
        base.update(self.gucs)
        return "".join(f"{k} = {_quote(v)}\n" for k, v in base.items())


def _quote(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


class PostgresServer(Server):
    """A local cluster: initdb (or a copied data directory), then an owned postmaster."""

    kind: ClassVar[str] = "postgres"
    stop_signal: ClassVar[signal.Signals] = signal.SIGINT  # "fast" shutdown
    owned: ClassVar[bool] = True  # rlsguard started it, so every fault may be injected

    def __init__(
        self,
        name: str,
        ctx: Context,
        binaries: PgBinaries,
        settings: PostgresSettings | None = None,
        *,
        datadir_source: Path | None = None,
    ) -> None:
        super().__init__(name, ctx)
        self.binaries = binaries
        self.settings = settings or PostgresSettings()
        self.datadir_source = datadir_source
        self.datadir = self.workdir / "data"
        self.socket_dir = self.workdir / "sock"
        self.log_dir = self.workdir / "log"
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.log_format = "jsonlog" if binaries.major >= 15 else "csvlog"
        suffix = ".json" if self.log_format == "jsonlog" else ".csv"
        self.log = PgLog(self.log_dir / f"postgresql{suffix}", self.log_format)

    # -- addresses -------------------------------------------------------------
    @property
    def superuser(self) -> str:
        return self.settings.superuser

    @property
    def major(self) -> int:
        return self.binaries.major

    def conninfo(
        self, dbname: str = DEFAULT_DATABASE, user: str | None = None, **extra: str
    ) -> str:
        """A libpq connection string over the unix socket (no password needed)."""
        return conninfo.make_conninfo(
            host=str(self.socket_dir),
            port=str(self.port),
            dbname=dbname,
            user=user or self.superuser,
            **extra,
        )

    def tcp_conninfo(self, dbname: str = DEFAULT_DATABASE) -> str:
        """Over 127.0.0.1, as the superuser with its per-run password."""
        return conninfo.make_conninfo(
            host="127.0.0.1",
            port=str(self.port),
            dbname=dbname,
            user=self.superuser,
            password=self.password,
        )

    def url(self, dbname: str = DEFAULT_DATABASE) -> str:
        return f"postgresql://{self.superuser}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = DEFAULT_DATABASE, **kwargs: object) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(dbname), **kwargs)  # type: ignore[arg-type]

    # -- lifecycle hooks -------------------------------------------------------
    def prepare(self) -> None:
        user = self.ctx.user
        for path in (self.socket_dir, self.log_dir):
            path.mkdir(mode=0o700, exist_ok=True)
            user.chown(path)
        if self.datadir_source is not None:
            self._copy_datadir(self.datadir_source)
        elif not (self.datadir / "PG_VERSION").exists():
            self._initdb()
        self.write_config()

    def _initdb(self) -> None:
        pwfile = self.workdir / ".pw"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        self.ctx.user.chown(pwfile)
        pwfile.chmod(0o600)
        cmd = [
            str(self.binaries.tool("initdb")),
            "-N",
            "-D", str(self.datadir),
            "-U", self.superuser,
            "-E", "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={pwfile}",
        ]  # fmt: skip
        proc = run_tied(
            cmd,
            capture_output=True,
            text=True,
            cwd=self.workdir,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
            **self.ctx.user.popen_kwargs(),  # type: ignore[arg-type]
        )
        pwfile.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise ServerError(
                f"initdb failed for {self.name} ({self.binaries.describe()}):\n"
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"\ninclude_if_exists = '{CONF_INCLUDE}'\n")

    def _copy_datadir(self, source: Path) -> None:
        """Start from a prepared data directory (the template cache) instead of initdb."""
        if self.datadir.exists():
            shutil.rmtree(self.datadir)
        copy_datadir(source, self.datadir)
        user = self.ctx.user
        if not user.is_current and self.datadir.stat().st_uid != user.uid:
            for dirpath, _dirs, files in os.walk(self.datadir):
                os.chown(dirpath, user.uid, user.gid)
                for name in files:
                    os.chown(os.path.join(dirpath, name), user.uid, user.gid)
        self.datadir.chmod(0o700)

    def write_config(self) -> None:
        """(Re)write the included config file; call :meth:`restart` for it to apply."""
        conf = self.datadir / CONF_INCLUDE
        conf.write_text(
            self.settings.render(
                port=self.port,
                socket_dir=self.socket_dir,
                log_dir=self.log_dir,
                log_format=self.log_format,
                preload=(
                    "pg_stat_statements"
                    if "pg_stat_statements" in self.binaries.available_extensions()
                    else ""
                ),
                title=cluster_title(self.ctx.run_id, self.name, owner_tag()),
            ),
            encoding="utf-8",
        )
        self.ctx.user.chown(conf)

    def command(self) -> list[str]:
        return [str(self.binaries.tool("postgres")), "-D", str(self.datadir)]

    def move_port(self) -> bool:
        self.port = free_port()
        self.write_config()  # the included config holds the port
        return True

    def startup_logs(self) -> list[Path]:
        return [self.log_path, self.log.path]  # the logging collector takes over early

    def environment(self) -> Mapping[str, str]:
        return {"LC_ALL": "C", "PGTZ": "UTC"}

    def probe(self) -> bool:
        """Ready when ``postmaster.pid`` says so (line 8, PM_STATUS) for our own pid."""
        try:
            lines = (self.datadir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            return False
        return len(lines) >= 8 and lines[0].strip() == str(self.pid) and lines[7].strip() == "ready"

    def before_spawn(self) -> None:
        # Our previous postmaster was reaped by us, so a leftover postmaster.pid
        # names a dead pid and the new postmaster removes it itself.
        stale = self.datadir / "postmaster.pid"
        if stale.exists() and self.starts == 0 and self.datadir_source is not None:
            stale.unlink()

    # -- conveniences ----------------------------------------------------------
    def set_superuser_password(self) -> None:
        """Keep TCP logins working after a copied data directory brought another password."""
        with self.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(self.superuser), sql.Literal(self.password)
                )
            )

    def start(self, *, wait: bool = True, timeout: float = 30.0) -> PostgresServer:  # type: ignore[override]
        first = self.starts == 0
        super().start(wait=wait, timeout=timeout)
        if first and wait and self.datadir_source is not None:
            self.set_superuser_password()
        return self

    def create_database(self, name: str, *, template: str | None = None) -> None:
        with contextlib.closing(Databases(self.connect, maintenance_db=DEFAULT_DATABASE)) as dbs:
            dbs.create(name, template=template)

    def drop_database(self, name: str) -> None:
        with contextlib.closing(Databases(self.connect, maintenance_db=DEFAULT_DATABASE)) as dbs:
            dbs.drop(name)

    def remove(self) -> None:
        """Stop and delete the cluster's files."""
        from rlsguard.stack.ipc import release_ipc

        with contextlib.suppress(ServerError):
            self.stop()
        release_ipc(self.workdir)
        shutil.rmtree(self.workdir, ignore_errors=True)
