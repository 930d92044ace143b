"""The engine shared by the pytest plugin and the command line.

config -> stack -> prepared template -> databases -> sessions. The engine
opens Postgres through the one backend path (:func:`rlsguard.stack.backends.
open_postgres` behind the template cache) and hands out databases for tests
and checks. It runs in one of three modes:

``local``
    A cluster of its own holding the project's template (from the cache when
    nothing changed); databases are clones of it.
``scratch``
    A server reached by DSN that does not look like Supabase (a CI service
    container), or a ``docker`` container: rlsguard creates its own template
    database there (named ``rlsguard_<run>_...`` and marked with a comment naming
    the run), bootstraps, migrates and seeds it, clones it, and drops exactly the
    databases that carry its marker when it closes.
``live``
    A DSN to a database that already is Supabase (the ``auth`` schema and the
    ``authenticator`` role exist): never bootstrapped or migrated, nothing is
    created; every check runs in a transaction that is rolled back.

Under pytest-xdist the controller owns the engine and workers *attach* to it from
a description: they create and drop their own databases but never own
processes, so a worker that dies cannot take the cluster with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

import psycopg
from pydantic import SecretStr

from rlsguard.config import EngineOptions, ProjectConfig, load_config
from rlsguard.context import ProjectContext
from rlsguard.database import Database, resolve_api, role_settings
from rlsguard.errors import (
    BackendUnavailable,
    ConfigError,
    DestructiveActionRefused,
    RlsguardError,
)
from rlsguard.harness.templates import (
    Layer,
    PreparedCluster,
    TemplateCache,
    TemplateInputs,
    package_fingerprint,
    prepare_cluster,
)
from rlsguard.identity.personas import Personas
from rlsguard.identity.session import ApiSettings
from rlsguard.identity.tokens import TokenSigner
from rlsguard.stack.backends import BackendOptions, PostgresBackend, open_postgres
from rlsguard.stack.databases import MAINTENANCE_DB, Databases
from rlsguard.stack.external import ExternalPostgres
from rlsguard.stack.pgbin import PgBinaries
from rlsguard.stack.supervisor import Stack
from rlsguard.supabase.extensions import StandIns
from rlsguard.supabase.project import SupabaseProject

log = logging.getLogger("rlsguard.harness.engine")

TEMPLATE_DB = "postgres"  # migrations run in 'postgres', as on Supabase ("revoke ... on database")
_SHARED_CLUSTERS = itertools.count(1)  # cluster names of engines that share a Stack


Mode = Literal["local", "scratch", "live"]
BOOTSTRAP_LOCK = 0x726C7367  # "rlsg": one bootstrap at a time on a shared scratch server
LIVE_LOCK_TIMEOUT = "5s"  # a check on a live database never queues behind its traffic for long
__all__ = ["Endpoint", "Engine", "EngineOptions", "EngineState", "Mode", "load_project"]


@dataclass
class Endpoint:
    """How to reach a cluster: enough for a worker process to attach.

    ``dsn``: the base connection string of a server rlsguard did not start (its own
    database, user and password; ``dbname``/``user`` are replaced per connection).
    ``marker``: the comment that proves a database on it is this run's.
    """

    host: str
    port: int
    superuser: str
    password: str | None = field(default=None, repr=False)
    major: int = 0
    owned: bool = True
    dsn: str | None = field(default=None, repr=False)  # may hold a password
    mode: Mode = "local"
    marker: str | None = None
    maintenance_db: str | None = MAINTENANCE_DB

    def conninfo(self, dbname: str | None = TEMPLATE_DB, user: str | None = None) -> str:
        if self.dsn is not None:
            params = psycopg.conninfo.conninfo_to_dict(self.dsn)
            if dbname is not None:
                params["dbname"] = dbname
            if user is not None:
                params["user"] = user
                params.pop("password", None)
            return psycopg.conninfo.make_conninfo(**params)
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=str(self.port),
            dbname=dbname or TEMPLATE_DB,
            user=user or self.superuser,
            **({"password": self.password} if self.password and not user else {}),
        )

    def connect(self, dbname: str | None = TEMPLATE_DB, **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo(dbname), **kwargs)


@dataclass(repr=False)
class EngineState:
    """What a worker receives from the controller (JSON-serialisable through :meth:`as_dict`).

    It carries the JWT signing secret and the superuser's password: its repr (what
    ``pytest -l`` prints for a test's locals) shows neither.
    """

    endpoint: dict[str, Any]
    template_db: str
    secret: SecretStr
    supabase_dir: str | None
    config_source: str | None
    template_key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.secret, SecretStr):
            self.secret = SecretStr(str(self.secret))

    def as_dict(self) -> dict[str, Any]:
        """Everything, secrets in clear: only for the worker hand-over, never for printing."""
        out = dataclasses.asdict(self)
        out["secret"] = self.secret.get_secret_value()
        return out

    def __repr__(self) -> str:
        endpoint = {
            k: (
                "**********" if k == "password" and v else _without_password(v) if k == "dsn" else v
            )
            for k, v in self.endpoint.items()
        }
        return (
            f"EngineState(endpoint={endpoint!r}, template_db={self.template_db!r}, "
            f"secret={self.secret!r}, supabase_dir={self.supabase_dir!r}, "
            f"config_source={self.config_source!r}, template_key={self.template_key!r})"
        )


def _without_password(dsn: str | None) -> str | None:
    """A DSN fit to print: its password masked."""
    if not dsn:
        return dsn
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    if params.get("password"):
        params["password"] = "**********"
    return psycopg.conninfo.make_conninfo(**params)


def load_project(supabase_dir: Path) -> SupabaseProject:
    """Load a ``supabase/`` folder, its CLI-style warnings shown once rather than raised."""
    folder = Path(supabase_dir)
    if not (folder / "config.toml").is_file() and not (folder / "migrations").is_dir():
        raise ConfigError(
            str(folder),
            "supabase_dir",
            "no Supabase project here (no config.toml, no migrations/). Point "
            "--supabase-dir at your project's supabase/ folder.",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        return SupabaseProject.load(folder)


class Engine:
    """Owns (or attaches to) a prepared database server and makes databases for tests and commands.

    ``stack``: build the cluster in a Stack the caller owns (several engines, e.g. a base
    and a head schema, then share one supervisor; closing the engine stops only its own
    cluster). ``project``: use this project instead of loading ``supabase_dir`` (e.g. one
    with its migrations left out, for a bootstrap-only template). ``live_ok``: False when
    the engine must build ``project`` (another git ref, a bootstrap-only stage), which a
    live database cannot stand for.
    """

    def __init__(
        self,
        config: ProjectConfig | None = None,
        options: EngineOptions | None = None,
        *,
        stack: Stack | None = None,
        project: SupabaseProject | None = None,
        live_ok: bool = True,
    ):
        self.options = options or EngineOptions()
        base = config or load_config(supabase_dir=self.options.supabase_dir)
        self.config = self.options.apply(base)  # the one merge: CLI over environment over file
        self.supabase_dir = self.config.supabase_dir
        self.project: SupabaseProject | None = project
        self.stack: Stack | None = None
        self._shared_stack = stack
        self._cluster_name = "template" if stack is None else f"template-{next(_SHARED_CLUSTERS)}"
        self._live_ok = live_ok
        self.prepared: PreparedCluster | None = None
        self.server: PostgresBackend | None = None  # the dsn or docker server, when not local
        self.endpoint: Endpoint | None = None
        self.template_db = TEMPLATE_DB
        self.signer = TokenSigner()
        self.personas = Personas(self.signer, self.config.personas)
        self._settings_by_role: dict[str, dict[str, str]] | None = None
        self._databases: Databases | None = None
        self._api: ApiSettings | None = None
        self.timings: dict[str, float] = {}

    @property
    def stand_ins(self) -> StandIns:
        """The config's ``stand_ins`` and the command line's, together."""
        source = str(self.config.source) if self.config.source else "(defaults)"
        configured = StandIns.coerce(self.config.stand_ins, where=source)
        given = StandIns.coerce(self.options.stand_ins, where="--stand-in")
        return StandIns(configured.extensions | given.extensions)

    # -- lifecycle -------------------------------------------------------------
    @property
    def backend(self) -> str:
        return self.config.backend

    @property
    def mode(self) -> Mode:
        """``local``, ``scratch`` or ``live`` (see the module docstring)."""
        return self._endpoint().mode

    @property
    def live(self) -> bool:
        return self.endpoint is not None and self.endpoint.mode == "live"

    def load_project(self) -> SupabaseProject:
        if self.project is None:
            self.project = load_project(Path(self.supabase_dir))
        return self.project

    def context(self) -> ProjectContext:
        """What the checks need to know about this project (they never see the engine)."""
        return ProjectContext.of(self.load_project(), self.config)

    def open(self) -> Self:
        """Start (or reach) Postgres and prepare the project's template database in it."""
        started = time.perf_counter()
        project = self.load_project()
        if self._shared_stack is not None:
            self.stack = self._shared_stack.open()
        else:
            self.stack = Stack(user=self.config.run_as).open()
        try:
            if self.backend == "local":
                self._open_local(project)
            else:
                self._open_server(project)
        except BaseException:
            self.close()
            raise
        self.timings["open"] = time.perf_counter() - started
        return self

    def _open_local(self, project: SupabaseProject) -> None:
        assert self.stack is not None
        binaries = self.stack.pg_binaries(
            self.options.pg_bin or self.config.pg_bin, prefer=self.options.prefer
        )
        stand_ins = self.stand_ins
        inputs = TemplateInputs.collect(
            binaries,
            files=[(m.display, m.path) for m in (*project.migrations, *project.seeds)],
            values={
                "bootstrap": package_fingerprint("rlsguard.supabase"),
                "config": _read(project.supabase_dir / "config.toml"),
                "auto_expose": str(project.config.auto_expose),
                "stand_ins": stand_ins.key(),
            },
        )
        cache_dir = self.config.cache.dir if self.config.cache.dir else None
        self.prepared = prepare_cluster(
            self.stack,
            inputs,
            lambda server: _apply(
                server,
                project,
                stand_ins=stand_ins,
                statement_timeout=self.config.migrations.statement_timeout,
            ),
            binaries=binaries,
            name=self._cluster_name,
            cache=TemplateCache(Path(cache_dir) / "templates" if cache_dir else None),
            use_cache=self.config.cache.enabled,
            base=_bootstrap_layer(binaries, project.config.auto_expose, stand_ins),
            max_connections=self.config.postgres.max_connections,
            gucs=dict(self.config.postgres.settings),
        )
        server = self.prepared.server
        self.endpoint = Endpoint(
            str(server.socket_dir), server.port, server.superuser, None, binaries.major
        )

    def _open_server(self, project: SupabaseProject) -> None:
        """The dsn and docker backends: a live Supabase database, or a scratch server."""
        assert self.stack is not None
        server = open_postgres(
            self.stack, BackendOptions.from_config(self.config), name=self._cluster_name
        )
        self.server = server
        external = isinstance(server, ExternalPostgres)
        base_dsn = server.conninfo(None) if external else server.conninfo("postgres")
        endpoint = Endpoint(
            "", 0, "", major=server.major, owned=server.owned, dsn=base_dsn,
            marker=server.marker if external else None,
            maintenance_db=None if external else "postgres",
        )  # fmt: skip
        if external and server.is_live_supabase():
            if not self._live_ok:
                raise BackendUnavailable(
                    f"{server.target} is a live Supabase database: it holds one schema, its "
                    f"own, and rlsguard never migrates it, so it cannot build "
                    f"{project.supabase_dir} (another git ref or stage). Use the local or "
                    "docker backend, or a dsn to a scratch server, for commands that build "
                    "other versions (diff, blame, gate)."
                )
            endpoint.mode = "live"
            self.template_db = server.dbname
            log.info("dsn %s: a live Supabase database, checked read-only", server.target)
        else:
            endpoint.mode = "scratch"
            self.endpoint = endpoint  # the lifecycle below connects through it
            self.template_db = f"rlsguard_{self.stack.run_id}_{self._cluster_name}".replace(
                "-", "_"
            )
            if external:
                server.create_database(self.template_db, template="template0")  # marked
            else:
                self.databases.create(self.template_db, template="template0")
            # Roles are the server's, not a database's: runs (and a workspace's threads)
            # that bootstrap at once on a fresh server would race to create them.
            with server.connect(None if external else "postgres", autocommit=True) as lock:
                lock.execute("select pg_advisory_lock(%s)", (BOOTSTRAP_LOCK,))
                _apply(
                    server,
                    project,
                    dbname=self.template_db,
                    stand_ins=self.stand_ins,
                    statement_timeout=self.config.migrations.statement_timeout,
                )
            self._databases_forget()
        self.endpoint = endpoint

    @classmethod
    def attach(cls, state: EngineState) -> Engine:
        """A worker's engine: same cluster and secret, no processes of its own."""
        options = EngineOptions(
            supabase_dir=Path(state.supabase_dir) if state.supabase_dir else None
        )
        config = load_config(Path(state.config_source)) if state.config_source else ProjectConfig()
        config = config.model_copy(update=state.extra.get("config", {}))
        engine = cls(config, options)
        engine.endpoint = Endpoint(**state.endpoint)
        engine.template_db = state.template_db
        engine.signer = TokenSigner(secret=state.secret.get_secret_value())
        engine.personas = Personas(engine.signer, config.personas)
        if engine.endpoint.dsn is not None and engine.endpoint.marker is not None:
            # The dsn server as the controller sees it (opt-in included); it owns nothing here.
            engine.server = ExternalPostgres(
                engine.endpoint.dsn,
                name="attached",
                allow_destructive=engine.config.allow_destructive,
                run_id=state.extra.get("run_id"),
            )
        return engine

    def state(self) -> EngineState:
        if self.endpoint is None:
            raise RlsguardError("the engine is not open")
        return EngineState(
            endpoint=vars(self.endpoint).copy(),
            template_db=self.template_db,
            secret=SecretStr(self.signer.secret),
            supabase_dir=str(self.supabase_dir) if self.supabase_dir else None,
            config_source=str(self.config.source) if self.config.source else None,
            template_key=self.prepared.key if self.prepared else "",
            extra={
                "run_id": self.stack.run_id if self.stack is not None else None,
                "config": {
                    "backend": self.config.backend,
                    "allow_destructive": self.config.allow_destructive,
                },
            },
        )

    def close(self) -> None:
        if self.stack is not None and self.endpoint is not None and self.endpoint.marker:
            with contextlib.suppress(psycopg.Error, RlsguardError):
                self._sweep()  # the owner's: databases of workers that died before dropping
        if self._databases is not None:
            self._databases.close()
            self._databases = None
        if self.stack is not None:
            if self._shared_stack is not None:
                self.stack.discard(self._cluster_name)  # the stack is the caller's
            else:
                self.stack.close()
            self.stack = None
        self.prepared = None
        self.server = None

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- databases -------------------------------------------------------------
    def _endpoint(self) -> Endpoint:
        if self.endpoint is None:
            raise RlsguardError("the engine is not open: call open() (or attach a worker)")
        return self.endpoint

    @property
    def databases(self) -> Databases:
        """The one database lifecycle, on this engine's server."""
        if self._databases is None:
            endpoint = self._endpoint()
            self._databases = Databases(
                lambda dbname, **kw: endpoint.connect(dbname, **kw),
                maintenance_db=endpoint.maintenance_db,
                marker=endpoint.marker,
            )
        return self._databases

    def _databases_forget(self) -> None:
        if self._databases is not None:
            self._databases.close()
            self._databases = None

    def _sweep(self) -> None:
        """Drop every database on a scratch server that carries this engine's marker
        (its template goes with the server, which created it)."""
        endpoint = self._endpoint()
        if endpoint.marker is None:
            return
        with self.databases._admin() as conn:
            names = [
                row[0]
                for row in conn.execute(
                    "select datname from pg_database "
                    "where shobj_description(oid, 'pg_database') = %s and datname <> %s",
                    (endpoint.marker, self.template_db),
                )
            ]
        for name in names:
            self.databases.drop(name, require_marker=True)

    def _refuse_on_live(self, what: str) -> None:
        if self.live:
            assert self.endpoint is not None
            raise DestructiveActionRefused(
                f"refusing to {what}: the dsn target is a live Supabase database, where "
                "rlsguard creates and drops nothing and commits nothing; checks run in a "
                "transaction that is rolled back (use cloned_database()). Point "
                "--rlsguard-dsn at a scratch server, or use the local backend, for tests "
                "that need a database of their own."
            )

    def clone(self, name: str) -> str:
        """A new database cloned from the template, settings and privileges included."""
        self._refuse_on_live(f"create database {name!r}")
        self.databases.clone(self.template_db, name)
        return name

    def drop(self, name: str) -> None:
        self._refuse_on_live(f"drop database {name!r}")
        self.databases.drop(name, require_marker=self._endpoint().marker is not None)

    @contextlib.contextmanager
    def worker_database(self, name: str) -> Iterator[str]:
        """A database for one process's transactional tests: a clone, dropped afterwards;
        on a live target the live database itself (each test's transaction is rolled back)."""
        if self.live:
            yield self.template_db
            return
        self.clone(name)
        try:
            yield name
        finally:
            self.drop(name)

    def conninfo(self, dbname: str, user: str | None = None) -> str:
        return self._endpoint().conninfo(dbname, user)

    def connect(self, dbname: str, **kwargs: Any) -> psycopg.Connection[Any]:
        return self._endpoint().connect(dbname, **kwargs)

    @property
    def api(self) -> ApiSettings:
        if self.project is None:
            with contextlib.suppress(RlsguardError):
                self.load_project()
        if self.project is None:
            return ApiSettings()
        cfg = self.project.config
        schema = cfg.api_schemas[0] if cfg.api_schemas else "public"
        return ApiSettings(schema=schema, extra_search_path=cfg.extra_search_path)

    def database(self, conn: psycopg.Connection[Any]) -> Database:
        """A Database handle on ``conn``; what it reads from the catalog is read once."""
        if self._settings_by_role is None or self._api is None:
            self._settings_by_role = role_settings(conn)
            self._api = resolve_api(conn, self.api)
        return Database(
            conn,
            self.personas,
            api=self._api,
            settings_by_role=self._settings_by_role,
            verify_api=False,
        )

    @contextlib.contextmanager
    def cloned_database(
        self, name: str | None = None, *, read_only: bool = False
    ) -> Iterator[Database]:
        """A database whose changes are thrown away, with an autocommit connection.

        Locally and on a scratch server: a throwaway clone, dropped afterwards. On a
        live database: the database itself inside a transaction (``READ ONLY`` with
        ``read_only``) that is rolled back; what runs in it nests in savepoints, and a
        check that ends the transaction is an error.
        """
        if self.live:
            with self._rolled_back(read_only) as database:
                yield database
            return
        name = name or f"rlsguard_clone_{os.getpid()}_{time.monotonic_ns() % 10**9}"
        self.clone(name)
        try:
            with self.connect(name, autocommit=True) as conn:
                yield self.database(conn)
        finally:
            self.drop(name)

    @contextlib.contextmanager
    def _rolled_back(self, read_only: bool) -> Iterator[Database]:
        from psycopg.pq import TransactionStatus

        with self.connect(self.template_db, autocommit=True) as conn:
            conn.execute("BEGIN READ ONLY" if read_only else "BEGIN")
            conn.execute(f"SET LOCAL lock_timeout = '{LIVE_LOCK_TIMEOUT}'")
            try:
                yield self.database(conn)
            finally:
                status = conn.info.transaction_status
                if status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
                    conn.execute("ROLLBACK")
                elif not conn.closed:
                    raise RlsguardError(
                        "a check ended the transaction it runs in on the live database "
                        f"{self.template_db!r} (COMMIT?); rlsguard never commits there"
                    )

    @contextlib.contextmanager
    def read_only_connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection to the template database for catalog reads (read-only on live)."""
        with self.connect(self.template_db, autocommit=True) as conn:
            if self.live:
                conn.read_only = True
            yield conn


def _apply(server: Any, project: SupabaseProject, **kw: Any) -> Any:
    from rlsguard.supabase.apply import apply_project  # the SQL parser, only when building

    return apply_project(server, project, **kw)


def _bootstrap(server: Any, **kw: Any) -> Any:
    from rlsguard.supabase.bootstrap import bootstrap

    return bootstrap(server, **kw)


def _bootstrap_layer(binaries: PgBinaries, auto_expose: bool, stand_ins: StandIns) -> Layer:
    """initdb + the Supabase bootstrap: shared by every version of every project's migrations."""
    from rlsguard.supabase.bootstrap import bootstrap_stand_ins

    stand_ins = bootstrap_stand_ins(stand_ins)
    inputs = TemplateInputs.collect(
        binaries,
        values={
            "layer": "bootstrap",
            "bootstrap": package_fingerprint("rlsguard.supabase"),
            "auto_expose": str(auto_expose),
            "stand_ins": stand_ins.key(),
        },
    )
    return Layer(
        inputs, lambda server: _bootstrap(server, auto_expose=auto_expose, stand_ins=stand_ins)
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
