"""The engine shared by the pytest plugin and the command line.

config -> stack -> prepared template -> databases -> sessions. The engine
opens the stack, starts a cluster holding the project's template (from the
cache when nothing changed), and hands out databases cloned from it. Under
pytest-xdist the controller owns the engine and workers *attach* to it from
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
from typing import Any, Self

import psycopg
from pydantic import SecretStr

from rlsguard.config import ProjectConfig, load_config
from rlsguard.context import ProjectContext
from rlsguard.database import Database, resolve_api, role_settings
from rlsguard.errors import BackendUnavailable, ConfigError, RlsguardError
from rlsguard.harness.janitor import Janitor
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
from rlsguard.stack.pgbin import PgBinaries
from rlsguard.stack.supervisor import Stack
from rlsguard.supabase.apply import apply_project
from rlsguard.supabase.bootstrap import bootstrap, bootstrap_stand_ins
from rlsguard.supabase.extensions import StandIns
from rlsguard.supabase.project import SupabaseProject

log = logging.getLogger("rlsguard.harness.engine")

TEMPLATE_DB = "postgres"  # migrations run in 'postgres', as on Supabase ("revoke ... on database")
_SHARED_CLUSTERS = itertools.count(1)  # cluster names of engines that share a Stack


@dataclass
class EngineOptions:
    """Command-line overrides of the project config (pytest options, CLI flags)."""

    supabase_dir: Path | None = None
    backend: str | None = None
    dsn: str | None = None
    pg_bin: str | None = None
    no_cache: bool = False
    allow_destructive: str | None = None
    prefer: str | None = None  # "embedded" forces the pip wheel
    stand_ins: tuple[str, ...] = ()  # added to the config's stand_ins (--stand-in NAME)


@dataclass
class Endpoint:
    """How to reach a cluster: enough for a worker process to attach."""

    host: str
    port: int
    superuser: str
    password: str | None = field(default=None, repr=False)
    major: int = 0
    owned: bool = True

    def conninfo(self, dbname: str = TEMPLATE_DB, user: str | None = None) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=str(self.port),
            dbname=dbname,
            user=user or self.superuser,
            **({"password": self.password} if self.password and not user else {}),
        )

    def connect(self, dbname: str = TEMPLATE_DB, **kwargs: Any) -> psycopg.Connection[Any]:
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
            k: ("**********" if k == "password" and v else v) for k, v in self.endpoint.items()
        }
        return (
            f"EngineState(endpoint={endpoint!r}, template_db={self.template_db!r}, "
            f"secret={self.secret!r}, supabase_dir={self.supabase_dir!r}, "
            f"config_source={self.config_source!r}, template_key={self.template_key!r})"
        )


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
    """Owns (or attaches to) a prepared cluster and makes databases for tests and commands.

    ``stack``: build the cluster in a Stack the caller owns (several engines, e.g. a base
    and a head schema, then share one supervisor; closing the engine stops only its own
    cluster). ``project``: use this project instead of loading ``supabase_dir`` (e.g. one
    with its migrations left out, for a bootstrap-only template).
    """

    def __init__(
        self,
        config: ProjectConfig | None = None,
        options: EngineOptions | None = None,
        *,
        stack: Stack | None = None,
        project: SupabaseProject | None = None,
    ):
        self.options = options or EngineOptions()
        self.config = config or load_config(supabase_dir=self.options.supabase_dir)
        self.supabase_dir = self.options.supabase_dir or self.config.supabase_dir
        self.project: SupabaseProject | None = project
        self.stack: Stack | None = None
        self._shared_stack = stack
        self._cluster_name = "template" if stack is None else f"template-{next(_SHARED_CLUSTERS)}"
        self.prepared: PreparedCluster | None = None
        self.endpoint: Endpoint | None = None
        self.template_db = TEMPLATE_DB
        self.signer = TokenSigner()
        self.personas = Personas(self.signer, self.config.personas)
        self._settings_by_role: dict[str, dict[str, str]] | None = None
        self._janitor: Janitor | None = None
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
    def load_project(self) -> SupabaseProject:
        if self.project is None:
            self.project = load_project(Path(self.supabase_dir))
        return self.project

    def context(self) -> ProjectContext:
        """What the checks need to know about this project (they never see the engine)."""
        return ProjectContext.of(self.load_project(), self.config)

    def open(self) -> Self:
        """Start the stack and the template cluster (a cache hit copies files and starts)."""
        started = time.perf_counter()
        project = self.load_project()
        backend = self.options.backend or self.config.backend
        if backend != "local":
            raise BackendUnavailable(
                f"the {backend!r} backend cannot hold a cached template yet; "
                "use --rlsguard-backend local for pytest -m rls"
            )
        if self._shared_stack is not None:
            self.stack = self._shared_stack.open()
        else:
            self.stack = Stack(user=self.config.run_as).open()
        try:
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
                lambda server: apply_project(server, project, stand_ins=stand_ins),
                binaries=binaries,
                name=self._cluster_name,
                cache=TemplateCache(Path(cache_dir) / "templates" if cache_dir else None),
                use_cache=self.config.cache.enabled and not self.options.no_cache,
                base=_bootstrap_layer(
                    binaries, project.config.auto_expose, bootstrap_stand_ins(stand_ins)
                ),
                max_connections=self.config.postgres.max_connections,
                gucs=dict(self.config.postgres.settings),
            )
        except BaseException:
            self.close()
            raise
        server = self.prepared.server
        self.endpoint = Endpoint(
            str(server.socket_dir), server.port, server.superuser, None, binaries.major
        )
        self.timings["open"] = time.perf_counter() - started
        return self

    @classmethod
    def attach(cls, state: EngineState) -> Engine:
        """A worker's engine: same cluster and secret, no processes of its own."""
        options = EngineOptions(
            supabase_dir=Path(state.supabase_dir) if state.supabase_dir else None
        )
        config = load_config(Path(state.config_source)) if state.config_source else ProjectConfig()
        engine = cls(config, options)
        engine.endpoint = Endpoint(**state.endpoint)
        engine.template_db = state.template_db
        engine.signer = TokenSigner(secret=state.secret.get_secret_value())
        engine.personas = Personas(engine.signer, config.personas)
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
        )

    def close(self) -> None:
        if self._janitor is not None:
            self._janitor.close()
            self._janitor = None
        if self.stack is not None:
            if self._shared_stack is not None:
                self.stack.discard(self._cluster_name)  # the stack is the caller's
            else:
                self.stack.close()
            self.stack = None
        self.prepared = None

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
    def janitor(self) -> Janitor:
        if self._janitor is None:
            self._janitor = Janitor(self._endpoint().connect)
        return self._janitor

    def clone(self, name: str) -> str:
        """A new database cloned from the template, settings and privileges included."""
        self.janitor.clone(self.template_db, name)
        return name

    def drop(self, name: str) -> None:
        self.janitor.drop(name)

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
    def cloned_database(self, name: str | None = None) -> Iterator[Database]:
        """A throwaway clone with an autocommit connection, dropped afterwards."""
        name = name or f"rlsguard_clone_{os.getpid()}_{time.monotonic_ns() % 10**9}"
        self.clone(name)
        try:
            with self.connect(name, autocommit=True) as conn:
                yield self.database(conn)
        finally:
            self.drop(name)


def _bootstrap_layer(binaries: PgBinaries, auto_expose: bool, stand_ins: StandIns) -> Layer:
    """initdb + the Supabase bootstrap: shared by every version of every project's migrations."""
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
        inputs, lambda server: bootstrap(server, auto_expose=auto_expose, stand_ins=stand_ins)
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
