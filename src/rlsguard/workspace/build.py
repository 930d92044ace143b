"""Databases for any ``supabase/`` folder, all in one Stack and all from the template cache.

A diff needs two databases (base and head), blame a bootstrap-only one, a rollback the head.
:class:`Workspace` makes one :class:`~rlsguard.harness.engine.Engine` per folder inside a single
supervisor, so an unchanged folder starts from its cached data directory (a file copy and a
postmaster start, ~0.2 s) and several folders build in parallel threads.

Those threads live as long as the workspace: servers are spawned with the parent-death
signal, which Linux delivers when the spawning *thread* exits, so a server started from a
short-lived pool thread would be killed as soon as the pool shut down.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Literal, Self

import psycopg

from rlsguard.config import ProjectConfig, load_config
from rlsguard.harness.engine import Engine, EngineOptions, load_project
from rlsguard.policy.catalog import Catalog, read_catalog
from rlsguard.policy.snapshot import Snapshot
from rlsguard.stack.supervisor import Stack
from rlsguard.supabase.project import SupabaseProject
from rlsguard.workspace.sources import Source, display_path, open_source

Stage = Literal["full", "bootstrap"]


class Workspace:
    """One Stack, one cached Engine per (folder, stage); closes everything it started.

    ``config`` supplies what is not about the schema (cache directory, server binaries,
    service user, server settings); each folder brings its own migrations and config.toml.
    """

    def __init__(
        self,
        config: ProjectConfig | None = None,
        options: EngineOptions | None = None,
        *,
        stack: Stack | None = None,
    ) -> None:
        self.options = options or EngineOptions()
        self.config = config or load_config(supabase_dir=self.options.supabase_dir)
        self._given_stack = stack
        self.stack: Stack | None = None
        self._engines: dict[tuple[Path, Stage], Engine] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.timings: dict[str, float] = {}

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> Self:
        if self.stack is None:
            self.stack = (self._given_stack or Stack(user=self.config.run_as)).open()
        return self

    def close(self) -> None:
        for engine in list(self._engines.values()):
            engine.close()
        self._engines.clear()
        if self._pool is not None:  # only now: its threads are the servers' parents
            self._pool.shutdown()
            self._pool = None
        if self.stack is not None and self._given_stack is None:
            self.stack.close()
        self.stack = None

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- engines -------------------------------------------------------------------------
    def engine(
        self, supabase_dir: Path, stage: Stage = "full", project: SupabaseProject | None = None
    ) -> Engine:
        """The open engine of ``supabase_dir`` (migrations and seed applied, or only the
        Supabase bootstrap for ``stage="bootstrap"``)."""
        folder = Path(supabase_dir).resolve()
        key = (folder, stage)
        with self._lock:
            found = self._engines.get(key)
        if found is not None:
            return found
        started = time.perf_counter()
        project = project or load_project(folder)
        if stage == "bootstrap":
            project = dataclasses.replace(project, migrations=(), seeds=())
        self.open()
        config = self.config.model_copy(update={"supabase_dir": folder})
        options = dataclasses.replace(self.options, supabase_dir=folder)
        # A live database stands for the project's own folder, fully migrated, only.
        own = folder == Path(self.config.supabase_dir).resolve() and stage == "full"
        engine = Engine(config, options, stack=self.stack, project=project, live_ok=own).open()
        with self._lock:
            if key in self._engines:  # another thread won: keep one
                engine.close()
                return self._engines[key]
            self._engines[key] = engine
        self.timings[f"build {folder.name}:{stage}"] = time.perf_counter() - started
        return engine

    def release(self, supabase_dir: Path, stage: Stage = "full") -> None:
        """Stop the engine of ``supabase_dir`` (the next :meth:`engine` starts a fresh one)."""
        with self._lock:
            engine = self._engines.pop((Path(supabase_dir).resolve(), stage), None)
        if engine is not None:
            engine.close()

    def engines(self, folders: Sequence[Path], stage: Stage = "full") -> list[Engine]:
        """Engines for several folders, built in parallel (each from its cache entry)."""
        unique = list(dict.fromkeys(Path(f).resolve() for f in folders))
        # Loaded here, not in the threads: warnings.catch_warnings is not thread-safe.
        projects = {folder: load_project(folder) for folder in unique}
        self.open()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rlsguard-build")
        built = dict(
            zip(
                unique,
                self._pool.map(lambda f: self.engine(f, stage, projects[f]), unique),
                strict=True,
            )
        )
        return [built[Path(f).resolve()] for f in folders]

    # -- catalogs and snapshots ----------------------------------------------------------
    def catalog(self, supabase_dir: Path) -> Catalog:
        engine = self.engine(supabase_dir)
        return catalog_of(engine)

    def snapshot(self, supabase_dir: Path, label: str = "") -> Snapshot:
        started = time.perf_counter()
        snapshot = Snapshot.from_catalog(
            self.catalog(supabase_dir), label or display_path(supabase_dir)
        )
        self.timings[f"snapshot {Path(supabase_dir).name}"] = time.perf_counter() - started
        return snapshot

    def snapshot_of(self, source: Source) -> Snapshot:
        if source.snapshot is not None:
            return source.snapshot
        assert source.supabase_dir is not None
        return self.snapshot(source.supabase_dir, source.label)

    def resolve(self, spec: str | Path, *, supabase_dir: Path) -> Snapshot:
        """The snapshot a ``--base``/``--head``/``--to`` value stands for."""
        with open_source(spec, supabase_dir=supabase_dir) as source:
            return self.snapshot_of(source)

    def resolve_many(self, specs: Sequence[str | Path], *, supabase_dir: Path) -> list[Snapshot]:
        """Several sources; the folders among them are built in parallel."""
        with _sources(specs, supabase_dir) as sources:
            folders = [s.supabase_dir for s in sources if s.supabase_dir is not None]
            if len(folders) > 1:
                self.engines(folders)
            return [self.snapshot_of(s) for s in sources]


class _EngineTarget:
    """An engine's cluster as a :class:`~rlsguard.supabase.bootstrap.ConnTarget` (what
    :class:`MigrationSession` connects through), for owned and attached engines alike."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def conninfo(self, dbname: str = "postgres", user: str | None = None, **extra: str) -> str:
        return psycopg.conninfo.make_conninfo(self.engine.conninfo(dbname, user), **extra)


def connection_target(engine: Engine) -> _EngineTarget:
    return _EngineTarget(engine)


def catalog_of(engine: Engine) -> Catalog:
    """The catalog of an engine's template database (only safe while nothing clones it)."""
    project = engine.load_project()
    with engine.read_only_connection() as conn:
        return read_catalog(conn, project.config.api_schemas)


@contextmanager
def _sources(specs: Sequence[str | Path], supabase_dir: Path) -> Iterator[list[Source]]:
    with ExitStack() as stack:
        yield [stack.enter_context(open_source(s, supabase_dir=supabase_dir)) for s in specs]
