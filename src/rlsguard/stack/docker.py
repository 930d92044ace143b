"""The ``docker`` backend: a ``supabase/postgres`` container, started through testcontainers.

A Docker engine is detected by pinging its API (``GET /_ping``), never by
finding the ``docker`` CLI: a machine can have the CLI and no engine. The
container is described by a pure :func:`container_spec` (unit-tested without
Docker): the Supabase image with its own config directory, ``fsync`` and
``full_page_writes`` off but ``synchronous_commit`` on, the data directory on
a tmpfs, the port published on 127.0.0.1 only, and labels carrying the run id
and owner so a later run can remove what a killed run left.

Docker empties a tmpfs when its container stops, so with ``pgdata_tmpfs`` a
``kill`` or ``restart`` brings back an empty, re-initialised cluster; crash
drills that check committed rows survive need ``pgdata_tmpfs=False``
(see :attr:`DockerPostgres.durable_restart`). ``stop`` removes the container:
nothing outlives the run.

testcontainers (and the docker SDK it brings) is imported lazily; it ships in
the ``docker`` extra.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import psycopg
from psycopg import conninfo

from rlsguard.errors import BackendUnavailable, ServerError
from rlsguard.stack.databases import Databases
from rlsguard.stack.postgres import DEFAULT_DATABASE, PostgresSettings
from rlsguard.stack.process import RemoteServer, State
from rlsguard.stack.runtime import owner_tag, process_alive

DEFAULT_IMAGE = "supabase/postgres:17.6.1.132"
DEFAULT_SOCKET = Path("/var/run/docker.sock")
PING_TIMEOUT_S = 0.5
DEFAULT_START_TIMEOUT_S = 120.0  # the image runs its own migrations before it listens
DEFAULT_STOP_TIMEOUT_S = 10
POLL_INTERVAL_S = 0.05
CONTAINER_PORT = 5432
LOOPBACK = "127.0.0.1"
# Where the supabase/postgres image keeps its configuration and its data.
CONFIG_DIR = "/etc/postgresql"
PGDATA = "/var/lib/postgresql/data"

LABEL_RUN_ID = "io.rlsguard.run-id"
LABEL_SERVER = "io.rlsguard.server"
LABEL_OWNER = "io.rlsguard.owner"
LABEL_HOST = "io.rlsguard.host"

_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")
_IMAGE_MAJOR = re.compile(r":(\d+)(?:\.|$)")


# -- engine detection ----------------------------------------------------------------


@dataclass(frozen=True)
class EngineProbe:
    """The outcome of pinging a Docker engine, and where it answered."""

    ok: bool
    reason: str
    docker_host: str | None = None  # "unix:///..." or "tcp://host:port", as DOCKER_HOST takes it


def docker_engine_available(
    timeout: float = PING_TIMEOUT_S, env: Mapping[str, str] | None = None
) -> tuple[bool, str]:
    """Whether a Docker engine answers its API, and why (not) in one sentence."""
    probe = probe_docker_engine(timeout, env)
    return probe.ok, probe.reason


def probe_docker_engine(
    timeout: float = PING_TIMEOUT_S, env: Mapping[str, str] | None = None
) -> EngineProbe:
    """Ping ``DOCKER_HOST``, or else the usual sockets (system, rootless, Docker Desktop)."""
    env = os.environ if env is None else env
    docker_host = env.get("DOCKER_HOST", "").strip()
    if docker_host:
        probe = _probe_url(docker_host, timeout, env)
        if probe.ok or probe.reason.startswith("DOCKER_HOST="):
            return probe
        return EngineProbe(False, f"DOCKER_HOST={docker_host}: {probe.reason}")
    failures: list[str] = []
    for path in _default_sockets(env):
        if not path.exists() and failures:
            continue  # only the system socket's absence is worth reporting
        probe = _probe_url(f"unix://{path}", timeout, env)
        if probe.ok:
            return probe
        failures.append(probe.reason)
    return EngineProbe(
        False, "DOCKER_HOST is not set and " + "; ".join(failures) + " (no Docker engine answers)"
    )


def _default_sockets(env: Mapping[str, str]) -> list[Path]:
    paths = [DEFAULT_SOCKET]
    if env.get("XDG_RUNTIME_DIR"):
        paths.append(Path(env["XDG_RUNTIME_DIR"]) / "docker.sock")  # rootless Docker
    home = env.get("HOME")
    if home:
        paths.append(Path(home) / ".docker" / "run" / "docker.sock")  # Docker Desktop
    return paths


def _probe_url(url: str, timeout: float, env: Mapping[str, str]) -> EngineProbe:
    parts = urlsplit(url)
    scheme = parts.scheme
    try:
        if scheme == "unix":
            path = parts.path or url.removeprefix("unix://")
            where = path
            conn: http.client.HTTPConnection = _UnixHTTPConnection(path, timeout)
        elif scheme in ("tcp", "http", "https"):
            if not parts.hostname:
                return EngineProbe(False, f"DOCKER_HOST={url} names no host")
            port = parts.port or (2376 if _wants_tls(env, scheme) else 2375)
            where = f"{parts.hostname}:{port}"
            if _wants_tls(env, scheme):
                context = _tls_context(env)
                conn = http.client.HTTPSConnection(
                    parts.hostname, port, timeout=timeout, context=context
                )
            else:
                conn = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
        elif scheme == "ssh":
            return EngineProbe(
                False,
                f"DOCKER_HOST={url} is an ssh:// engine, which cannot be pinged without ssh; "
                "forward its socket (ssh -L /tmp/docker.sock:/var/run/docker.sock ...) and "
                "set DOCKER_HOST=unix:///tmp/docker.sock",
            )
        else:
            return EngineProbe(False, f"DOCKER_HOST={url}: unsupported scheme {scheme!r}")
    except (OSError, ssl.SSLError, ValueError) as exc:
        return EngineProbe(False, f"DOCKER_HOST={url}: {exc}")
    failure = _ping(conn, where, timeout)
    if failure is not None:
        return EngineProbe(False, failure)
    return EngineProbe(True, f"Docker engine answered GET /_ping at {where}", _normalise(url))


def _normalise(url: str) -> str:
    return url.replace("http://", "tcp://", 1) if url.startswith("http://") else url


def _wants_tls(env: Mapping[str, str], scheme: str) -> bool:
    return scheme == "https" or env.get("DOCKER_TLS_VERIFY", "") not in ("", "0")


def _tls_context(env: Mapping[str, str]) -> ssl.SSLContext:
    cert_dir = Path(env.get("DOCKER_CERT_PATH") or Path(env.get("HOME", "~")) / ".docker")
    ca = cert_dir / "ca.pem"
    context = ssl.create_default_context(cafile=str(ca) if ca.exists() else None)
    if (cert_dir / "cert.pem").exists():
        context.load_cert_chain(cert_dir / "cert.pem", cert_dir / "key.pem")
    return context


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket, as the Docker API speaks it."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _ping(conn: http.client.HTTPConnection, where: str, timeout: float) -> str | None:
    """None when ``GET /_ping`` answers 200 OK; otherwise exactly what failed."""
    try:
        conn.request("GET", "/_ping", headers={"Host": "docker"})
        response = conn.getresponse()
        body = response.read(256)
    except FileNotFoundError:
        return f"{where} does not exist"
    except ConnectionRefusedError:
        return f"{where} refused the connection (nothing listens on it)"
    except PermissionError:
        return f"{where}: permission denied (is this user in the docker group?)"
    except TimeoutError:
        return f"{where} accepted the connection but did not answer GET /_ping within {timeout}s"
    except ssl.SSLError as exc:
        return f"{where}: TLS failed: {exc.reason or exc}"
    except http.client.HTTPException as exc:
        return f"{where} answered, but not as the Docker API ({type(exc).__name__}: {exc})"
    except OSError as exc:
        return f"{where}: {exc.strerror or exc}"
    finally:
        conn.close()
    if response.status != 200 or body.strip() != b"OK":
        return (
            f"{where} answered GET /_ping with HTTP {response.status} {body[:60]!r}, "
            "not the Docker API's 200 OK"
        )
    return None


# -- the container -------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerSpec:
    """Everything Docker needs to create the container; built without Docker."""

    image: str
    name: str
    command: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)  # holds the password
    ports: Mapping[str, tuple[str, int | None]]
    labels: Mapping[str, str]
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    shm_size: str = "256m"

    def create_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``docker.client.containers.create``."""
        return {
            "image": self.image,
            "name": self.name,
            "command": list(self.command),
            "environment": dict(self.env),
            "ports": dict(self.ports),
            "labels": dict(self.labels),
            "tmpfs": dict(self.tmpfs),
            "shm_size": self.shm_size,
        }


def container_spec(
    *,
    run_id: str,
    name: str,
    password: str,
    image: str = DEFAULT_IMAGE,
    settings: PostgresSettings | None = None,
    pgdata_tmpfs: bool = True,
    tmpfs_size: str | None = None,
    owner: str | None = None,
    host_id: str | None = None,
) -> ContainerSpec:
    """The supabase/postgres container for one run.

    The image's own entrypoint initialises the cluster and runs its migrations
    as ``supabase_admin``; we only add server settings on the command line,
    the password, and where the data lives.
    """
    settings = settings or PostgresSettings()
    gucs: dict[str, str | int | float | bool] = {
        "fsync": False,
        "full_page_writes": False,
        "synchronous_commit": True,  # kill -9 must not lose committed rows
        "max_connections": settings.max_connections,
    }
    gucs.update(settings.gucs)
    command: list[str] = ["postgres", "-D", CONFIG_DIR]
    for key, value in gucs.items():
        command += ["-c", f"{key}={_guc(value)}"]
    tmpfs: dict[str, str] = {}
    if pgdata_tmpfs:
        tmpfs[PGDATA] = "rw,nosuid,nodev" + (f",size={tmpfs_size}" if tmpfs_size else "")
    return ContainerSpec(
        image=image,
        name=_NAME_UNSAFE.sub("-", f"rlsguard-{run_id}-{name}"),
        command=tuple(command),
        env={
            "POSTGRES_PASSWORD": password,
            "POSTGRES_HOST": "/var/run/postgresql",
            "PGDATA": PGDATA,
        },
        # Published on loopback only, on a port Docker picks.
        ports={f"{CONTAINER_PORT}/tcp": (LOOPBACK, None)},
        labels={
            LABEL_RUN_ID: run_id,
            LABEL_SERVER: f"{run_id}/{name}",
            LABEL_OWNER: owner if owner is not None else owner_tag(),
            LABEL_HOST: host_id if host_id is not None else this_host_id(),
        },
        tmpfs=tmpfs,
    )


def _guc(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def this_host_id() -> str:
    """Hostname and boot id: an owner pid means something only on the same host and boot."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="utf-8").strip()
    except OSError:
        boot = "unknown-boot"
    return f"{socket.gethostname()}/{boot}"


def stale_container_ids(
    containers: Iterable[tuple[str, Mapping[str, str]]],
    *,
    host_id: str | None = None,
    owner_alive: Callable[[str], bool] | None = None,
) -> list[str]:
    """Containers whose owning rlsguard process (on this host, this boot) is gone."""
    host_id = host_id if host_id is not None else this_host_id()
    alive = owner_alive or _owner_alive
    return [
        cid
        for cid, labels in containers
        if LABEL_RUN_ID in labels
        and labels.get(LABEL_HOST) == host_id
        and not alive(labels.get(LABEL_OWNER, ""))
    ]


def _owner_alive(tag: str) -> bool:
    pid, _, start = tag.partition(":")
    if not pid.isdigit():
        return False
    return process_alive(int(pid), int(start) if start.isdigit() else None)


def reap_stale_containers(client: Any) -> list[str]:
    """Remove the containers killed runs left (``client`` is a docker SDK client)."""
    found = client.containers.list(all=True, filters={"label": LABEL_RUN_ID})
    stale = set(stale_container_ids((c.id, c.labels) for c in found))
    removed = []
    for container in found:
        if container.id in stale:
            with contextlib.suppress(Exception):  # already gone, or being removed
                container.remove(force=True, v=True)
                removed.append(container.id)
    return removed


def _testcontainers() -> Any:
    try:
        from testcontainers.core.container import DockerContainer  # the docker extra
    except ImportError as exc:
        raise BackendUnavailable(
            f"the docker backend needs testcontainers ({exc}): pip install 'rlsguard[docker]'"
        ) from None
    return DockerContainer


class DockerPostgres(RemoteServer):
    """A supabase/postgres container with the verbs of a local cluster."""

    kind: ClassVar[str] = "postgres"
    owned: ClassVar[bool] = True
    superuser: ClassVar[str] = "supabase_admin"  # the image's POSTGRES_USER

    def __init__(
        self,
        name: str,
        run_id: str,
        *,
        image: str = DEFAULT_IMAGE,
        settings: PostgresSettings | None = None,
        pgdata_tmpfs: bool = True,
        password: str | None = None,
    ) -> None:
        self.name = name
        self.run_id = run_id
        self.password = password or secrets.token_urlsafe(16)
        self.spec = container_spec(
            run_id=run_id,
            name=name,
            password=self.password,
            image=image,
            settings=settings,
            pgdata_tmpfs=pgdata_tmpfs,
        )
        self.durable_restart = not pgdata_tmpfs
        self.workdir = None  # nothing on the host: Stack.discard() has nothing to remove
        self.port: int | None = None
        self._container: Any = None
        self._state = State.STOPPED
        self._major: int | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.spec.image} {self._state.value}>"

    # -- state -----------------------------------------------------------------
    @property
    def container_id(self) -> str | None:
        return self._container.get_container_id() if self._container is not None else None

    @property
    def major(self) -> int:
        """From the server once it answered, else from the image tag."""
        if self._major is not None:
            return self._major
        match = _IMAGE_MAJOR.search(self.spec.image)
        if match is None:
            raise ServerError(f"{self.name}: start it first to learn the server version")
        return int(match[1])

    def log_tail(self, lines: int = 20) -> str:
        if self._container is None:
            return ""
        try:
            raw = self._wrapped().logs(tail=lines)
        except Exception:
            return ""
        return str(raw.decode("utf-8", errors="replace"))

    # -- addresses -------------------------------------------------------------
    def conninfo(
        self, dbname: str = DEFAULT_DATABASE, user: str | None = None, **extra: str
    ) -> str:
        if self.port is None:
            raise ServerError(f"{self.name} is not started")
        return conninfo.make_conninfo(
            host=LOOPBACK,
            port=str(self.port),
            dbname=dbname,
            user=user or self.superuser,
            password=self.password,
            **extra,
        )

    def url(self, dbname: str = DEFAULT_DATABASE) -> str:
        return f"postgresql://{self.superuser}:{self.password}@{LOOPBACK}:{self.port}/{dbname}"

    def connect(self, dbname: str = DEFAULT_DATABASE, **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo(dbname), **kwargs)

    # -- lifecycle -------------------------------------------------------------
    def _wrapped(self) -> Any:
        return self._container.get_wrapped_container()

    def start(self, *, wait: bool = True, timeout: float = DEFAULT_START_TIMEOUT_S) -> Self:
        """Create and start the container (pulling the image if needed); or start it again."""
        with self._lock:
            if self._state in (State.RUNNING, State.FROZEN):
                return self
            if self._container is None:
                self._create()
            else:
                self._call("start", self._wrapped().start)
            self._refresh_port()
            self._state = State.RUNNING
        if wait:
            self.wait_ready(timeout)
        return self

    def _create(self) -> None:
        probe = probe_docker_engine()
        if not probe.ok:
            raise BackendUnavailable(
                f"the docker backend needs a Docker engine: {probe.reason}. "
                "Start one, or use --rlsguard-backend local."
            )
        if probe.docker_host and not os.environ.get("DOCKER_HOST"):
            # testcontainers (and its Ryuk reaper) read the engine address from here.
            os.environ["DOCKER_HOST"] = probe.docker_host
        container_cls = _testcontainers()
        spec = self.spec.create_kwargs()
        container = container_cls(
            spec.pop("image"),
            command=spec.pop("command"),
            env=spec.pop("environment"),
            name=spec.pop("name"),
            **{k: v for k, v in spec.items() if k not in ("ports", "tmpfs")},
        )
        container.ports = dict(self.spec.ports)
        container.tmpfs = dict(self.spec.tmpfs)
        with contextlib.suppress(Exception):
            reap_stale_containers(container.get_docker_client().client)
        self._call("create", container.start)
        self._container = container

    def _call(self, verb: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # docker.errors.* without importing docker eagerly
            raise ServerError(
                f"{self.name}: docker could not {verb} the container ({self.spec.image}): {exc}"
            ) from exc

    def _refresh_port(self) -> None:
        """Docker may publish another host port after every start."""
        client = self._container.get_docker_client()
        self.port = int(client.port(self.container_id, CONTAINER_PORT))

    def wait_ready(self, timeout: float = DEFAULT_START_TIMEOUT_S) -> Self:
        """Poll ``SELECT 1`` until the server answers; fail early if the container exits."""
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            with self._lock:
                if self._state is State.FROZEN:
                    raise ServerError(f"{self.name} is frozen; thaw() it before waiting for it")
                if self._container is None:
                    raise ServerError(f"{self.name} is not started")
                status = self._status()
                if status in ("exited", "dead"):
                    self._state = State.CRASHED
                    raise ServerError(
                        f"{self.name}: the container {status} before Postgres was ready.\n"
                        f"Last lines of its log:\n{self.log_tail()}"
                    )
            try:
                with psycopg.connect(self.conninfo(), connect_timeout=2, autocommit=True) as conn:
                    conn.execute("SELECT 1")
                    self._major = conn.info.server_version // 10_000
                return self
            except psycopg.OperationalError as exc:
                last = str(exc).strip().replace(self.password, "***")
            if time.monotonic() >= deadline:
                raise ServerError(
                    f"{self.name} was not ready after {timeout:.1f}s: {last}\n"
                    f"Last lines of its log:\n{self.log_tail()}"
                )
            time.sleep(POLL_INTERVAL_S)

    def _status(self) -> str:
        try:
            wrapped = self._wrapped()
            wrapped.reload()
            return str(wrapped.status)
        except Exception:
            return "unknown"

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> None:
        """Fast shutdown (the image's STOPSIGNAL is SIGINT), then remove the container."""
        with self._lock:
            container, self._container = self._container, None
            if container is None:
                return
            try:
                wrapped = container.get_wrapped_container()
                if self._state is State.FROZEN:
                    with contextlib.suppress(Exception):
                        wrapped.unpause()
                with contextlib.suppress(Exception):
                    wrapped.stop(timeout=int(timeout))
            finally:
                self._state = State.STOPPED
                self.port = None
                self._call("remove", container.stop)

    def remove(self) -> None:
        self.stop()

    def restart(self, *, wait: bool = True, timeout: float = DEFAULT_START_TIMEOUT_S) -> Self:
        """Restart the same container (after a kill too); see :attr:`durable_restart`."""
        with self._lock:
            if self._container is None:
                return self.start(wait=wait, timeout=timeout)
            if self._state is State.FROZEN:
                self.thaw()
            if self._state is State.RUNNING:
                self._call("restart", self._wrapped().restart, timeout=DEFAULT_STOP_TIMEOUT_S)
            else:
                self._call("start", self._wrapped().start)
            self._refresh_port()
            self._state = State.RUNNING
        if wait:
            self.wait_ready(timeout)
        return self

    def kill(self) -> None:
        """SIGKILL the container's main process (the postmaster), as a crash would."""
        with self._lock:
            if self._container is None or self._state is State.STOPPED:
                raise ServerError(f"{self.name} is not running")
            self._call("kill", self._wrapped().kill, signal="SIGKILL")
            self._state = State.CRASHED

    def freeze(self) -> None:
        """Pause every process in the container (cgroup freezer): nothing answers."""
        with self._lock:
            if self._state is not State.RUNNING:
                raise ServerError(f"{self.name} is {self._state.value}, not running")
            self._call("pause", self._wrapped().pause)
            self._state = State.FROZEN

    def thaw(self) -> None:
        with self._lock:
            if self._state is not State.FROZEN:
                return
            self._call("unpause", self._wrapped().unpause)
            self._state = State.RUNNING

    # -- databases -------------------------------------------------------------
    def create_database(self, name: str, *, template: str | None = None) -> None:
        with contextlib.closing(Databases(self.connect, maintenance_db="postgres")) as dbs:
            dbs.create(name, template=template)

    def drop_database(self, name: str) -> None:
        with contextlib.closing(Databases(self.connect, maintenance_db="postgres")) as dbs:
            dbs.drop(name)
