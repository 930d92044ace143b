"""A warm dev server: one prepared cluster that later commands attach to.

``rlsguard dev`` opens the project's engine, keeps it running and writes a state file into
the project's cache folder (``<cache>/dev/<project hash>.json``, mode 0600: it holds the JWT
secret). ``rlsguard matrix check``, ``rlsguard watch`` and ``pytest -m rls`` look for that file
first: when its process is alive *and* started when the file says (pid reuse cannot fool
it), they attach instead of starting a cluster; a stale file is ignored.

Migrations are applied in layers inside the running cluster: one database per migration
prefix, named by a content-hash chain (bootstrap -> +m1 -> +m2 ... -> +seed). Editing the
last migration clones the cached prefix of the others (``CREATE DATABASE ... TEMPLATE``, a
file copy) and re-applies only that migration and the seed. At most :data:`KEEP_LAYERS` layer
databases are kept; the oldest are dropped first. Everything here only ever drops
databases whose name carries :data:`PREFIX`, in a cluster the dev server started.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PREFIX = "rlsguard_dev_"
KEEP_LAYERS = 24
LAYER_LOCK = 0x726C7364  # "rlsd": builders of layers queue behind each other


def state_path(cache_dir: Path | None, supabase_dir: Path) -> Path:
    """Where the dev server of this project announces itself."""
    from rlsguard.harness.templates import TemplateCache

    root = Path(cache_dir) if cache_dir else TemplateCache().root.parent
    digest = hashlib.sha256(str(Path(supabase_dir).resolve()).encode()).hexdigest()[:16]
    return root / "dev" / f"{digest}.json"


def process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def write_state(path: Path, engine: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "pid": os.getpid(),
        "start": process_start(os.getpid()),
        "engine": engine.state().as_dict(),
    }
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f)
    os.replace(tmp, path)


def remove_state(path: Path) -> None:
    """Remove the file only if it is ours (another dev server may have replaced it)."""
    state = read_state(path)
    if state is not None and state["pid"] == os.getpid():
        path.unlink(missing_ok=True)


def read_state(path: Path) -> dict[str, Any] | None:
    """The state of a live dev server, or None (no file, unreadable, or its process is gone)."""
    try:
        state = json.loads(path.read_text())
        pid, start = int(state["pid"]), state["start"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if start is None or process_start(pid) != start:
        return None  # stale: the server died, or its pid now belongs to someone else
    return state  # type: ignore[no-any-return]


def attach(cache_dir: Path | None, supabase_dir: Path) -> Any | None:
    """An engine attached to this project's running dev server, its template up to date."""
    state = read_state(state_path(cache_dir, supabase_dir))
    if state is None or state["engine"]["endpoint"].get("dsn"):
        return None
    from rlsguard.harness.engine import Engine, EngineState

    engine = Engine.attach(EngineState(**state["engine"]))
    engine.dev_server = True
    engine.template_db = ensure_template(engine)
    return engine


def attach_for(options: Any) -> Any | None:
    """An engine on the running dev server of the project ``options`` name, or None.

    Only for the local backend with the cache on: a dsn or docker run, or ``--no-cache``
    (build everything afresh), never attaches.
    """
    from rlsguard.config import load_config

    if options.backend not in (None, "local") or options.no_cache:
        return None
    config = options.apply(load_config(supabase_dir=options.supabase_dir))
    if config.backend not in (None, "local") or not config.cache.enabled:
        return None
    cache = Path(config.cache.dir) if config.cache.dir else None
    return attach(cache, Path(config.supabase_dir))


class _Target:
    """The cluster as :mod:`rlsguard.supabase` wants it: connection strings by database."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def conninfo(self, dbname: str = "postgres", user: str | None = None, **extra: str) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(self.engine.conninfo(dbname, user), **extra)


def layer_names(engine: Any) -> list[tuple[str, Any]]:
    """The chain of layer databases for the project as it is on disk now, with what each adds.

    The first entry is the bootstrap; then one per migration; the last adds the seeds.
    """
    from rlsguard.harness.templates import package_fingerprint

    project = engine.load_project()
    digest = hashlib.sha256()
    digest.update(package_fingerprint("rlsguard.supabase").encode())
    digest.update(repr((project.config.auto_expose, engine.stand_ins.key())).encode())
    chain: list[tuple[str, Any]] = [(PREFIX + "b_" + digest.hexdigest()[:20], None)]
    for migration in project.migrations:
        digest.update(migration.display.encode() + b"\0" + migration.path.read_bytes())
        chain.append((PREFIX + "m_" + digest.hexdigest()[:20], (migration,)))
    for seed in project.seeds:
        digest.update(seed.display.encode() + b"\0" + seed.path.read_bytes())
    chain.append((PREFIX + "t_" + digest.hexdigest()[:20], tuple(project.seeds)))
    return chain


def ensure_template(engine: Any) -> str:
    """The layer database that is the project as on disk; builds only the missing layers."""
    import psycopg

    chain = layer_names(engine)
    with engine.connect("postgres", autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (LAYER_LOCK,))
        have = {r[0] for r in conn.execute(
            "select datname from pg_database where datname like %s", (PREFIX + "%",))}  # fmt: skip
        start = max((i for i, (name, _) in enumerate(chain) if name in have), default=-1)
        index = start + 1
        while index < len(chain):
            # The usual edit is of the last migration: it and the seed are then built as one
            # database (one copy, one session); its own layer is skipped, as only an edit of
            # the seed alone would reuse it.
            merge = index == len(chain) - 2 and index > 0
            name = chain[-1][0] if merge else chain[index][0]
            adds = chain[index][1] if index > 0 else None
            try:
                _build(engine, conn, name, chain[index - 1][0] if index else None, adds,
                       seeds=chain[-1][1] if merge or index == len(chain) - 1 else ())  # fmt: skip
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    conn.execute(f'drop database if exists "{name}" with (force)')
                raise
            index += 2 if merge else 1
        _evict(conn, keep={name for name, _ in chain})
    return chain[-1][0]


def _build(
    engine: Any, conn: Any, name: str, parent: str | None, adds: Any, seeds: Any = ()
) -> None:
    """Create ``name`` from ``parent`` and apply ``adds`` (migrations, or the seeds), then
    ``seeds`` (when the last migration and the seeds are built together)."""
    from rlsguard.supabase.apply import apply_project
    from rlsguard.supabase.bootstrap import bootstrap

    template = parent or "template0"
    conn.execute(  # a file copy: the default (WAL_LOG) writes every page through the WAL
        f'create database "{name}" owner postgres template "{template}" strategy file_copy'
    )
    project = engine.load_project()
    if parent is None:
        bootstrap(_Target(engine), dbname=name, auto_expose=project.config.auto_expose,
                  stand_ins=engine.stand_ins)  # fmt: skip
        return
    from rlsguard.supabase.project import Migration

    migrations = adds if adds and isinstance(adds[0], Migration) else ()
    seeds = tuple(seeds or ()) if migrations else tuple(adds or ())
    part = dataclasses.replace(project, migrations=tuple(migrations), seeds=seeds)
    apply_project(_Target(engine), part, dbname=name, stand_ins=engine.stand_ins,
                  run_bootstrap=False,
                  statement_timeout=engine.config.migrations.statement_timeout)  # fmt: skip


def _evict(conn: Any, keep: set[str]) -> None:
    """Drop the oldest layer databases beyond :data:`KEEP_LAYERS` (never the current chain)."""
    rows = conn.execute(
        "select datname from pg_database where datname like %s order by oid desc",
        (PREFIX + "%",),
    ).fetchall()
    extra = [r[0] for r in rows if r[0] not in keep][max(0, KEEP_LAYERS - len(keep)) :]
    for name in extra:
        conn.execute(f'drop database if exists "{name}" with (force)')


@contextlib.contextmanager
def serving(engine: Any, path: Path) -> Iterator[None]:
    """Announce ``engine`` as this project's dev server while the block runs."""
    engine.template_db = ensure_template(engine)
    write_state(path, engine)
    try:
        yield
    finally:
        remove_state(path)
