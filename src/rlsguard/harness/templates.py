"""Build a prepared cluster once and reuse its data directory while nothing changed.

A template is a whole data directory after bootstrap, migrations and seed.
It is cached on disk under a content hash of everything that went into it
(rlsguard's bootstrap, the migrations, the seed, the config, the server
build), so a changed migration misses the cache and an unchanged project
starts by copying files and launching the postmaster: no SQL at all.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rlsguard import __version__
from rlsguard.errors import CacheError
from rlsguard.stack.pgbin import PgBinaries
from rlsguard.stack.postgres import PostgresServer, archive_datadir
from rlsguard.stack.runtime import process_alive, process_start_time
from rlsguard.stack.supervisor import Stack

log = logging.getLogger("rlsguard.harness.templates")

KEEP_ENTRIES = 8
# Written first into a staging folder: who is storing it (pid and start time).
STAGING_OWNER = "owner.json"
# Staging folders of rlsguard before the owner file existed: ".<key>.<pid>.<thread>".
_LEGACY_STAGING = re.compile(r"\.([0-9a-f]{24})\.(\d+)\.(\d+)")
_LEGACY_FILES = {"data.tar", "meta.json"}


class CacheFullWarning(UserWarning):
    """The disk under the template cache is full: the run goes on uncached."""


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def default_cache_dir() -> Path:
    env = os.environ.get("RLSGUARD_CACHE_DIR")
    if env:
        return Path(env) / "templates"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "rlsguard" / "templates"


def package_fingerprint(package: str) -> str:
    """A digest of every file of a package (its SQL and the code that plans it).

    Any change to the bootstrap, even in a development checkout with an
    unchanged version number, then misses the template cache.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return __version__
    digest = hashlib.sha256()
    for location in spec.submodule_search_locations:
        for path in sorted(Path(location).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".sql"):
                digest.update(path.relative_to(location).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class TemplateInputs:
    """Everything a template depends on, as named byte strings; its digest is the cache key."""

    parts: Mapping[str, bytes] = field(default_factory=dict)

    @classmethod
    def collect(
        cls,
        binaries: PgBinaries,
        files: Iterable[tuple[str, Path]] = (),
        values: Mapping[str, str] | None = None,
    ) -> TemplateInputs:
        parts: dict[str, bytes] = {
            "rlsguard": __version__.encode(),
            "server": f"{binaries.version} {binaries.bindir}".encode(),
        }
        for name, path in files:
            parts[f"file:{name}"] = path.read_bytes()
        for name, value in (values or {}).items():
            parts[f"value:{name}"] = value.encode()
        return cls(parts)

    def key(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.parts):
            digest.update(name.encode() + b"\0")
            digest.update(hashlib.sha256(self.parts[name]).digest())
        return digest.hexdigest()[:24]


class TemplateCache:
    """Prepared data directories on disk, one per key, oldest pruned first."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_cache_dir()

    def path(self, key: str) -> Path:
        """The cached data directory, as one tar archive."""
        return self.root / key / "data.tar"

    def lookup(self, key: str) -> Path | None:
        """The entry's archive when it is whole (its checksum matches), else None.

        A damaged entry (truncated archive, flipped bytes, missing checksum)
        is removed so the caller rebuilds and stores it again (~30 ms per
        40 MB archive to check).
        """
        data = self.path(key)
        if not data.is_file():
            return None
        try:
            meta = json.loads((self.root / key / "meta.json").read_text(encoding="utf-8"))
            whole = isinstance(meta, dict) and meta.get("sha256") == _sha256(data)
        except (OSError, ValueError):
            whole = False
        if not whole:
            log.warning("template cache entry %s is damaged: rebuilding it", self.root / key)
            shutil.rmtree(self.root / key, ignore_errors=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(self.root / key)  # LRU by mtime
        return data

    def store(self, key: str, datadir: Path, meta: Mapping[str, object]) -> Path | None:
        """Archive ``datadir`` as the entry ``key``; None when the disk is full (run uncached)."""
        self.prune_staging()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            # mkdtemp: private to this store (a Workspace builds two folders of
            # the same schema at once), and the owner file is its first content,
            # so an interrupted store is provably ours to prune later.
            staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=self.root))
        except OSError as exc:
            return self._store_failed(exc)
        try:
            owner = {
                "tool": "rlsguard",
                "pid": os.getpid(),
                "start": process_start_time(os.getpid()),
            }
            (staging / STAGING_OWNER).write_text(json.dumps(owner), encoding="utf-8")
            archive_datadir(datadir, staging / "data.tar")
            full = dict(meta)
            full["sha256"] = _sha256(staging / "data.tar")
            (staging / "meta.json").write_text(json.dumps(full, indent=2), encoding="utf-8")
            (staging / STAGING_OWNER).unlink()
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            return self._store_failed(exc)
        target = self.root / key
        if target.exists() and self.lookup(key) is None:
            # An entry of an older layout (or a half-removed one): replace it.
            shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:  # another run stored the same key first: theirs is as good
            shutil.rmtree(staging, ignore_errors=True)
        self.prune()
        return self.path(key)

    def _store_failed(self, exc: BaseException) -> None:
        """A full disk is not a failure of the run: warn and go on uncached."""
        if _disk_full(exc, self.root):
            warnings.warn(
                f"the disk under the template cache {self.root} is full: this run goes on "
                "uncached. Free some space or point RLSGUARD_CACHE_DIR at another disk.",
                CacheFullWarning,
                stacklevel=3,
            )
            log.warning("template cache %s: disk full, running uncached", self.root)
            return None
        raise CacheError(
            f"cannot write the template cache {self.root}: {exc}. Make it writable, point "
            "RLSGUARD_CACHE_DIR at another folder, or run with --no-cache."
        ) from exc

    def prune_staging(self) -> list[Path]:
        """Remove staging folders of interrupted stores whose owner is provably dead.

        Only folders with our owner file (or the exact legacy shape
        ``.<key>.<pid>.<thread>`` holding nothing but our two files) whose
        owner pid (and start time) is gone; anything else is left alone.
        """
        removed: list[Path] = []
        try:
            entries = list(self.root.iterdir())
        except OSError:
            return removed
        for entry in entries:
            ours = entry.name.startswith(".") and entry.is_dir() and not entry.is_symlink()
            if ours and staging_owner_dead(entry):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        return removed

    def entries(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        found = [
            p
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / "meta.json").exists()
        ]
        # Newest first; the name breaks ties of coarse file-system timestamps.
        return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)

    def prune(self, keep: int = KEEP_ENTRIES) -> list[Path]:
        removed = []
        for old in self.entries()[keep:]:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
        return removed

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def staging_owner_dead(folder: Path) -> bool:
    """Whether ``folder`` is a staging folder of ours whose storing process is gone."""
    try:
        owner = json.loads((folder / STAGING_OWNER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        owner = None
    if isinstance(owner, dict):
        pid, start = owner.get("pid"), owner.get("start")
        if owner.get("tool") != "rlsguard" or not isinstance(pid, int):
            return False
        if not isinstance(start, int) or not folder.name.startswith("."):
            return False
        return not process_alive(pid, start)
    legacy = _LEGACY_STAGING.fullmatch(folder.name)
    if legacy is None:
        return False
    try:
        names = {p.name for p in folder.iterdir()}
    except OSError:
        return False
    if not names or not names <= _LEGACY_FILES:
        return False
    return not process_alive(int(legacy.group(2)))


def _disk_full(exc: BaseException, root: Path) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


@dataclass
class PreparedCluster:
    """A running cluster holding a prepared template, and how it came to be."""

    server: PostgresServer
    key: str
    cache_hit: bool
    seconds: float
    base_hit: bool = False


@dataclass(frozen=True)
class Layer:
    """A stage of a template worth caching on its own (e.g. the bootstrap before migrations)."""

    inputs: TemplateInputs
    build: Callable[[PostgresServer], object]


def _store(server: PostgresServer, cache: TemplateCache, key: str, inputs: TemplateInputs) -> None:
    """Cache the cluster's data directory: a clean stop, a copy, and up again (~0.1 s)."""
    with server.connect(autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    server.stop()
    cache.store(
        key,
        server.datadir,
        {
            "key": key,
            "server": server.binaries.describe(),
            "created": time.time(),
            "inputs": sorted(inputs.parts),
        },
    )
    server.start()


def prepare_cluster(
    stack: Stack,
    inputs: TemplateInputs,
    build: Callable[[PostgresServer], object],
    *,
    binaries: PgBinaries,
    name: str = "template",
    cache: TemplateCache | None = None,
    use_cache: bool = True,
    base: Layer | None = None,
    **settings_kw: object,
) -> PreparedCluster:
    """Start a cluster from the cache, or build it with ``build`` and cache the result.

    With a ``base`` layer (initdb + Supabase bootstrap), a miss of the whole
    template — a migration was edited — starts from the cached base instead
    of running initdb again: the developer's edit-and-rerun loop pays for the
    migrations only.
    """
    started = time.perf_counter()
    cache = cache or TemplateCache()
    if use_cache:
        cache.prune_staging()  # what interrupted stores left, once their owner is dead
    key = inputs.key()
    cached = cache.lookup(key) if use_cache else None
    if cached is not None:
        server = stack.postgres(name, binaries=binaries, datadir_source=cached, **settings_kw)  # type: ignore[arg-type]
        log.info("template %s: cache hit (%s)", key, cached)
        return PreparedCluster(server, key, True, time.perf_counter() - started)
    base_dir = cache.lookup(base.inputs.key()) if use_cache and base is not None else None
    if base_dir is not None:
        server = stack.postgres(name, binaries=binaries, datadir_source=base_dir, **settings_kw)  # type: ignore[arg-type]
    else:
        server = stack.postgres(name, binaries=binaries, **settings_kw)  # type: ignore[arg-type]
        if base is not None:
            base.build(server)
            if use_cache:
                _store(server, cache, base.inputs.key(), base.inputs)
    build(server)
    if use_cache:
        _store(server, cache, key, inputs)
    log.info("template %s: built in %.2fs", key, time.perf_counter() - started)
    return PreparedCluster(
        server, key, False, time.perf_counter() - started, base_hit=base_dir is not None
    )
