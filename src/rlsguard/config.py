"""Project configuration: ``rlsguard.toml`` or ``[tool.rlsguard]`` in ``pyproject.toml``.

Where it is looked up
    ``load_config(supabase_dir=...)`` looks only beside the given ``supabase/``
    folder, i.e. in its parent directory. ``load_config(start)`` walks up from
    ``start`` (default: the current directory) and stops at the first directory
    that holds a config, or at the repository root (a directory with ``.git``
    or ``.hg``). ``start`` may also name a config file directly.

    A Supabase project on the way up (a directory whose ``supabase/`` holds
    ``config.toml`` or ``migrations/``, what the Supabase CLI treats as a
    project) keeps a parent's config only when that config's ``supabase_dir``
    is this very folder; otherwise the nearer project wins with defaults and a
    :class:`ConfigWarning` names the parent config it ignored. Running inside a
    sub-project never silently tests the parent's database.

    In one directory, ``rlsguard.toml`` is read first, then ``pyproject.toml``
    if it has a ``[tool.rlsguard]`` table. When both exist, ``rlsguard.toml``
    wins and a :class:`ConfigWarning` names the ignored table: a dedicated
    file is the more deliberate choice, and refusing to run over a leftover
    table would punish the user for tidying up in two steps.

What it holds
    Every key of :class:`ProjectConfig`. Unknown keys are errors at every
    level, so a typo never silently falls back to a default. Relative paths
    are resolved against the directory of the file they were written in.

How it fails
    :class:`rlsguard.errors.ConfigError` with the file, the dotted key as
    written (``tool.rlsguard.postgres.max_connections`` in ``pyproject.toml``,
    ``personas.student.role`` in ``rlsguard.toml``) and the reason; TOML
    syntax errors give the line and column.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import types
import typing
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from rlsguard.errors import ConfigError

CONFIG_FILE = "rlsguard.toml"
PYPROJECT_FILE = "pyproject.toml"
PYPROJECT_TABLE = ("tool", "rlsguard")
DEFAULT_SUPABASE_DIR = "supabase"
DEFAULT_MATRIX = "fixtures/rls_matrix.yaml"
DEFAULT_DOCKER_IMAGE = "supabase/postgres:17.6.1.132"
REPO_MARKERS = (".git", ".hg")
# What makes a folder a Supabase project for the Supabase CLI (and for the lookup above).
SUPABASE_MARKERS = ("config.toml", "migrations")

# GUCs that decide where the server listens and logs. rlsguard sets them so
# the cluster stays on loopback and its log stays readable; a project may not.
RESERVED_GUCS = frozenset(
    {
        "listen_addresses",
        "port",
        "unix_socket_directories",
        "unix_socket_permissions",
        "data_directory",
        "config_file",
        "hba_file",
        "ident_file",
        "cluster_name",
        "logging_collector",
        "log_destination",
        "log_directory",
        "log_filename",
    }
)
_GUC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_PERSONA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EXTENSION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")

Backend = Literal["local", "dsn", "docker"]
PersonaRole = Literal["anon", "authenticated", "service_role"]
GucValue = bool | int | float | str


class ConfigWarning(UserWarning):
    """A configuration was found but not used (e.g. shadowed by ``rlsguard.toml``)."""


def _resolve_path(value: Path | None, info: ValidationInfo) -> Path | None:
    """Relative paths are relative to the config file, not to wherever pytest runs."""
    if value is None:
        return None
    value = value.expanduser()
    base = (info.context or {}).get("base_dir")
    if base is not None and not value.is_absolute():
        return (Path(base) / value).resolve()
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class PostgresConfig(_Section):
    """How rlsguard starts a local or docker cluster."""

    max_connections: int = Field(
        default=100,
        ge=5,
        le=10_000,
        description="max_connections of clusters rlsguard starts; pool-exhaustion drills use it.",
    )
    settings: dict[str, GucValue] = Field(
        default_factory=dict,
        description=(
            "Extra server settings (GUC name = value) for clusters rlsguard starts. "
            "fsync and full_page_writes are off and synchronous_commit on by default; "
            "settings that decide where the server listens or logs are reserved."
        ),
    )

    @field_validator("settings")
    @classmethod
    def _check_gucs(cls, value: dict[str, GucValue]) -> dict[str, GucValue]:
        for name in value:
            if not _GUC_NAME.match(name):
                raise PydanticCustomError(
                    "guc_name",
                    "'{name}' is not a Postgres setting name",
                    {"name": name, "field": name},
                )
            if name.lower() in RESERVED_GUCS:
                raise PydanticCustomError(
                    "guc_reserved",
                    "{name} is set by rlsguard (it keeps the server on loopback and its "
                    "log readable) and cannot be configured",
                    {"name": name, "field": name},
                )
        return value


class RedisConfig(_Section):
    """How rlsguard starts its Redis (or Valkey) server."""

    persistence: Literal["none", "rdb", "aof"] = Field(
        default="none",
        description=(
            "'none' keeps everything in memory (fastest, the default); 'rdb' snapshots and "
            "'aof' logs every write, for drills that restart Redis and expect keys back."
        ),
    )


class DockerConfig(_Section):
    """The docker backend: a supabase/postgres container started through testcontainers."""

    image: str = Field(
        default=DEFAULT_DOCKER_IMAGE,
        min_length=1,
        description="Container image; the default is the one the Supabase CLI pins.",
    )
    pgdata_tmpfs: bool = Field(
        default=True,
        description=(
            "Keep the data directory on a tmpfs inside the container (fast). Docker empties "
            "a tmpfs when the container stops, so a kill or restart starts from an empty "
            "cluster; set false for crash drills that check committed rows survive."
        ),
    )


class CacheConfig(_Section):
    """The on-disk cache of prepared template data directories."""

    enabled: bool = Field(
        default=True, description="Reuse a cached template when its content hash matches."
    )
    dir: Path | None = Field(
        default=None,
        description=(
            "Cache directory, relative to the config file; default $RLSGUARD_CACHE_DIR, "
            "else ~/.cache/rlsguard."
        ),
    )

    _resolve = field_validator("dir")(_resolve_path)


_DURATION = re.compile(r"^\s*\d+(\.\d+)?\s*(us|ms|s|min|h|d)?\s*$")


class MigrationsConfig(_Section):
    """How migrations and seed files are applied."""

    statement_timeout: str = Field(
        default="0",
        description=(
            "Postgres statement_timeout for each migration and seed statement, e.g. '30s' "
            "or '5min' (a number alone is milliseconds); '0', the default, waits forever. "
            "A statement that runs longer fails with its file and line."
        ),
    )

    @field_validator("statement_timeout", mode="before")
    @classmethod
    def _check_duration(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not _DURATION.match(value):
            raise PydanticCustomError(
                "duration",
                "'{value}' is not a duration: use a number of milliseconds or e.g. '30s', '5min'",
                {"value": value},
            )
        return value.strip()


class Persona(_Section):
    """A name bound to a bare role or to a seeded user, plus JWT claim overrides."""

    role: PersonaRole | None = Field(
        default=None,
        description="A role without a user (anon, service_role, or authenticated without a sub).",
    )
    user: str | None = Field(
        default=None,
        description="Email of a seeded user; the persona signs in as that user (authenticated).",
    )
    claims: dict[str, Any] = Field(
        default_factory=dict,
        description="JWT claims to override, e.g. {aal = 'aal2'} or {is_anonymous = true}.",
    )

    @field_validator("user")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise PydanticCustomError(
                "persona_email", "'{value}' is not an email address", {"value": value}
            )
        return value

    @field_validator("claims")
    @classmethod
    def _check_claims(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "role" in value:
            raise PydanticCustomError(
                "persona_claims_role",
                "the role claim comes from the persona's role or user; set 'role' instead",
                {"field": "role"},
            )
        return value

    @model_validator(mode="after")
    def _role_xor_user(self) -> Self:
        if self.role is not None and self.user is not None:
            raise PydanticCustomError(
                "persona_binding",
                "set either role or user, not both (a user's role is always authenticated)",
                {"field": "role"},
            )
        if self.role is None and self.user is None:
            raise PydanticCustomError(
                "persona_binding",
                "a persona needs a role ('anon', 'authenticated', 'service_role') "
                "or a user (a seeded user's email)",
                {"field": "role"},
            )
        return self


class Waiver(_Section):
    """A lint or probe finding accepted on purpose; reports show it with the reason."""

    rule: str = Field(
        min_length=1,
        description="The rule id the finding has, e.g. 'multiple_permissive_policies'.",
    )
    object: str = Field(
        min_length=1,
        description=(
            "schema.name of the table, view or function; * and ? match any characters "
            "(public.* waives the rule for the whole schema)."
        ),
    )
    reason: str = Field(
        min_length=1,
        description="Why the finding is acceptable; shown in every report that lists it.",
    )


class LintConfig(_Section):
    """``rlsguard lint`` and ``rlsguard probe``."""

    waivers: tuple[Waiver, ...] = Field(
        default=(),
        description=(
            "Findings accepted on purpose ([[lint.waivers]] with rule, object, reason). A "
            "waiver that matches nothing is reported, so none outlives its reason."
        ),
    )


class MutantWaiver(_Section):
    """A mutant the checks cannot kill and the project accepts; reports show the reason."""

    mutant: str = Field(
        min_length=1,
        description=(
            "The mutant's id as `rlsguard mutate` prints it; * and ? match any characters "
            "(e.g. 'private.*()/drop_search_path')."
        ),
    )
    reason: str = Field(
        min_length=1, description="Why no check can or should kill it; shown in every report."
    )


class MutateConfig(_Section):
    """``rlsguard mutate``: the mutation score of the project's checks."""

    waivers: tuple[MutantWaiver, ...] = Field(
        default=(),
        description=(
            "Mutants accepted on purpose ([[mutate.waivers]] with mutant, reason). They are "
            "left out of the score and listed, with their reason, in every report."
        ),
    )
    min_score: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="The default of --min-score: below it `rlsguard mutate` exits 1.",
    )


class PgtapConfig(_Section):
    """pgTAP test files (``supabase test db``'s ``supabase/tests``) run as pytest items."""

    tests: Path | None = Field(
        default=None,
        description=(
            "Folder of pgTAP test files, relative to this file; default: the tests/ folder "
            "of supabase_dir, as the Supabase CLI lays it out."
        ),
    )
    pattern: str = Field(
        default="**/*.sql",
        min_length=1,
        description="Which files under the folder are test files (a glob).",
    )
    implementation: Literal["auto", "server", "rlsguard"] = Field(
        default="auto",
        description=(
            "'auto': the server's pgtap extension when it has one, else rlsguard's own "
            "implementation; 'server' requires the extension; 'rlsguard' always uses "
            "rlsguard's (docs/pgtap.md lists the functions it covers)."
        ),
    )
    schema_: str = Field(
        default="extensions",
        alias="schema",
        min_length=1,
        description="The schema pgTAP's functions are created in (Supabase: extensions).",
    )

    _resolve = field_validator("tests")(_resolve_path)


class GateConfig(_Section):
    """``rlsguard gate``: optional steps."""

    squawk: bool = Field(
        default=False,
        description=(
            "Also run squawk (pip install squawk-cli) on the migrations the change adds or "
            "edits, for locking hazards; its findings join the gate's SARIF and summary. "
            "Skipped, with the reason, when squawk is not installed."
        ),
    )


class ProjectConfig(_Section):
    """``[tool.rlsguard]`` in pyproject.toml, or the top level of rlsguard.toml."""

    supabase_dir: Path = Field(
        default=Path(DEFAULT_SUPABASE_DIR),
        description="The project's supabase/ folder (migrations, seed.sql), relative to this file.",
    )
    backend: Backend = Field(
        default="local",
        description=(
            "Where Postgres comes from: 'local' (a throwaway cluster from server binaries), "
            "'dsn' (an existing server; nothing it did not create is dropped or altered), "
            "'docker' (a supabase/postgres container)."
        ),
    )
    dsn: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Connection URL for the dsn backend. Write ${NAME} to read a variable from the "
            "environment when the backend opens, so no password lands in the file."
        ),
    )
    pg_bin: Path | None = Field(
        default=None,
        description="Directory with the Postgres server binaries, like RLSGUARD_PG_BIN.",
    )
    redis_bin: Path | None = Field(
        default=None,
        description="A redis-server or valkey-server binary to use instead of the one found.",
    )
    run_as: str | None = Field(
        default=None,
        min_length=1,
        description="Unprivileged OS user that servers run as when rlsguard runs as root.",
    )
    allow_destructive: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Opt in to destructive faults on one server rlsguard did not start, named exactly "
            "as host:port/dbname (the name rlsguard prints when it refuses)."
        ),
    )
    # Sections are frozen, so one shared default instance is safe.
    postgres: PostgresConfig = Field(
        default=PostgresConfig(),
        description="Clusters rlsguard starts (local, docker).",
    )
    redis: RedisConfig = Field(
        default=RedisConfig(),
        description="The Redis server.",
    )
    docker: DockerConfig = Field(
        default=DockerConfig(),
        description="The docker backend's container.",
    )
    matrix: Path = Field(
        default=Path(DEFAULT_MATRIX),
        description="The access matrix (persona x table x operation), relative to this file.",
    )
    personas: dict[str, Persona] = Field(
        default_factory=dict,
        description="Named identities tests and the access matrix refer to.",
    )
    cache: CacheConfig = Field(
        default=CacheConfig(),
        description="The template data-directory cache.",
    )
    migrations: MigrationsConfig = Field(
        default=MigrationsConfig(),
        description="How migrations and seed files are applied (statement timeout).",
    )
    lint: LintConfig = Field(
        default=LintConfig(),
        description="rlsguard lint and probe: waivers of accepted findings.",
    )
    mutate: MutateConfig = Field(
        default=MutateConfig(),
        description="rlsguard mutate: waived mutants and the minimum score.",
    )
    pgtap: PgtapConfig = Field(
        default=PgtapConfig(),
        description="pgTAP test files run as pytest items and by rlsguard test-db.",
    )
    gate: GateConfig = Field(
        default=GateConfig(),
        description="rlsguard gate: optional steps (squawk).",
    )
    stand_ins: tuple[str, ...] = Field(
        default=(),
        description=(
            "Extensions the server lacks to replace with rlsguard's stand-ins: a list such as "
            '["http", "pg_net", "vector"], or "all". Each use is announced; a stand-in never '
            "fakes a security decision (see docs/supabase-fidelity.md)."
        ),
    )

    _source: Path | None = PrivateAttr(None)

    _resolve = field_validator("supabase_dir", "pg_bin", "redis_bin", "matrix")(_resolve_path)

    @field_validator("stand_ins", mode="before")
    @classmethod
    def _check_stand_ins(cls, value: Any) -> Any:
        # Names are checked against the stand-ins when the engine starts (rlsguard.supabase is
        # a higher layer); here: a string or a list of extension-like names.
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list | tuple):
            return value  # pydantic names the type error
        for name in names:
            if isinstance(name, str) and not _EXTENSION_NAME.match(name):
                raise PydanticCustomError(
                    "stand_in_name", "'{name}' is not an extension name", {"name": name}
                )
        return tuple(names)

    @field_validator("personas")
    @classmethod
    def _check_persona_names(cls, value: dict[str, Persona]) -> dict[str, Persona]:
        for name in value:
            if not _PERSONA_NAME.match(name):
                raise PydanticCustomError(
                    "persona_name",
                    "persona name '{name}' must start with a letter or _ and hold only "
                    "letters, digits, _ and -",
                    {"name": name, "field": name},
                )
        return value

    @property
    def source(self) -> Path | None:
        """The file this configuration was read from; None when only defaults apply."""
        return self._source


# -- loading -------------------------------------------------------------------------


def load_config(
    start: Path | str | None = None, *, supabase_dir: Path | str | None = None
) -> ProjectConfig:
    """Find, read and validate the project configuration.

    ``supabase_dir`` (e.g. from ``--supabase-dir``) pins the lookup to its parent
    directory and overrides the file's own ``supabase_dir``. Without any file,
    defaults apply, relative to ``start`` (or to the supabase folder's parent).
    """
    explicit_supabase = Path(supabase_dir).expanduser().resolve() if supabase_dir else None
    if explicit_supabase is not None:
        base_dir = explicit_supabase.parent
        found = _config_in(base_dir)
    else:
        origin = Path(start).expanduser().resolve() if start is not None else Path.cwd()
        if origin.is_file():
            base_dir = origin.parent
            found = _named_file(origin)
        else:
            base_dir = origin
            found = _search_upwards(origin)
            nearest = _nearest_supabase_project(origin, found)
            if nearest is not None:
                base_dir, found = nearest, _owned_by(found, nearest)
    if found is None:
        config = _validate({}, base_dir=base_dir, path=None, prefix="")
    else:
        path, table = found
        if table is None:  # rlsguard.toml
            table = _parse(path)
            prefix = ""
        else:
            prefix = ".".join(PYPROJECT_TABLE) + "."
        config = _validate(table, base_dir=path.parent, path=path, prefix=prefix)
        config._source = path
    if explicit_supabase is not None:
        source = config.source
        config = config.model_copy(update={"supabase_dir": explicit_supabase})
        config._source = source
    return config


# Environment variables between the config file and the command line (see EngineOptions.apply).
ENV_OVERRIDES = {
    "backend": "RLSGUARD_BACKEND",
    "dsn": "RLSGUARD_DSN",
    "allow_destructive": "RLSGUARD_ALLOW_DESTRUCTIVE",
}


@dataclass
class EngineOptions:
    """Command-line overrides of the project config (pytest options, CLI flags).

    :meth:`apply` is the one place they meet the config file and the environment.
    """

    supabase_dir: Path | None = None
    backend: str | None = None
    dsn: str | None = None
    pg_bin: str | None = None
    no_cache: bool = False
    allow_destructive: str | None = None
    prefer: str | None = None  # "embedded" forces the pip wheel
    stand_ins: tuple[str, ...] = ()  # added to the config's stand_ins (--stand-in NAME)

    def apply(self, config: ProjectConfig, env: Mapping[str, str] | None = None) -> ProjectConfig:
        """``config`` with the environment (``RLSGUARD_BACKEND``, ``RLSGUARD_DSN``,
        ``RLSGUARD_ALLOW_DESTRUCTIVE``) over the file and these options over both."""
        env = os.environ if env is None else env
        update: dict[str, Any] = {}
        for key, var in ENV_OVERRIDES.items():
            given = getattr(self, key)
            if given:
                update[key] = given
            elif env.get(var):
                update[key] = env[var]
        backend = update.get("backend")
        if backend is not None and backend not in get_args(Backend):
            where = "--rlsguard-backend" if self.backend else ENV_OVERRIDES["backend"]
            raise ConfigError(
                where, "backend", f"{backend!r} is not a backend: choose local, dsn or docker"
            )
        if self.supabase_dir is not None:
            update["supabase_dir"] = Path(self.supabase_dir).resolve()
        if self.pg_bin:
            update["pg_bin"] = Path(self.pg_bin)
        if self.no_cache:
            update["cache"] = config.cache.model_copy(update={"enabled": False})
        if not update:
            return config
        merged = config.model_copy(update=update)
        merged._source = config.source
        return merged


def _named_file(path: Path) -> tuple[Path, dict[str, Any] | None]:
    """A file named explicitly: a pyproject.toml must have the table, others are rlsguard.toml."""
    if path.name != PYPROJECT_FILE:
        return path, None
    table = _read_table(path)
    if table is None:
        raise ConfigError(str(path), "tool.rlsguard", "the file has no [tool.rlsguard] table")
    return path, table


def _search_upwards(origin: Path) -> tuple[Path, dict[str, Any] | None] | None:
    for directory in (origin, *origin.parents):
        found = _config_in(directory)
        if found is not None:
            return found
        if any((directory / marker).exists() for marker in REPO_MARKERS):
            return None
    return None


def _nearest_supabase_project(
    origin: Path, found: tuple[Path, dict[str, Any] | None] | None
) -> Path | None:
    """The nearest directory from ``origin`` up to (not including) the found config's
    directory that holds a Supabase project, if any."""
    stop = found[0].parent if found is not None else None
    for directory in (origin, *origin.parents):
        if directory == stop:
            return None
        if any((directory / DEFAULT_SUPABASE_DIR / m).exists() for m in SUPABASE_MARKERS):
            return directory
        if any((directory / marker).exists() for marker in REPO_MARKERS):
            return None
    return None


def _owned_by(
    found: tuple[Path, dict[str, Any] | None] | None, project: Path
) -> tuple[Path, dict[str, Any] | None] | None:
    """``found`` when its ``supabase_dir`` is ``project``'s supabase folder, else None (with a
    warning naming the config that was passed over)."""
    if found is None:
        return None
    path, table = found
    raw = _parse(path) if table is None else table
    value = raw.get("supabase_dir", DEFAULT_SUPABASE_DIR) if isinstance(raw, dict) else None
    if (
        isinstance(value, str)
        and (path.parent / value).resolve() == (project / DEFAULT_SUPABASE_DIR).resolve()
    ):
        return found
    warnings.warn(
        f"{path} is not used: it configures another Supabase project than "
        f"{project / DEFAULT_SUPABASE_DIR}, which is nearer; defaults apply. Add an "
        f"rlsguard.toml in {project} (or run with --supabase-dir) to configure this one",
        ConfigWarning,
        stacklevel=3,
    )
    return None


def _config_in(directory: Path) -> tuple[Path, dict[str, Any] | None] | None:
    """``(rlsguard.toml, None)`` or ``(pyproject.toml, its [tool.rlsguard])`` in one directory."""
    dedicated = directory / CONFIG_FILE
    pyproject = directory / PYPROJECT_FILE
    table = _read_table(pyproject) if pyproject.is_file() else None
    if dedicated.is_file():
        if table is not None:
            warnings.warn(
                f"{dedicated} is used; [tool.rlsguard] in {pyproject} is ignored "
                "(keep the configuration in one place)",
                ConfigWarning,
                stacklevel=3,
            )
        return dedicated, None
    if table is not None:
        return pyproject, table
    return None


def _read_table(pyproject: Path) -> dict[str, Any] | None:
    """The ``[tool.rlsguard]`` table of a pyproject.toml, or None when it has none."""
    data: Any = _parse(pyproject)
    for depth, key in enumerate(PYPROJECT_TABLE):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
        if not isinstance(data, dict):
            dotted = ".".join(PYPROJECT_TABLE[: depth + 1])
            raise ConfigError(str(pyproject), dotted, f"must be a table, not {_kind(data)}")
    table: dict[str, Any] = data
    return table


def _parse(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "", f"not UTF-8 text: {exc.reason}") from exc
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot be read: {exc.strerror or exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", _describe_toml_error(str(exc), text)) from exc


def _describe_toml_error(message: str, text: str) -> str:
    match = _TOML_POSITION.search(message)
    what = _TOML_POSITION.sub("", message).replace("(at end of document)", "").strip()
    if match:
        return f"invalid TOML at line {match[1]}, column {match[2]}: {what}"
    line = text.count("\n") + 1
    column = len(text) - (text.rfind("\n") + 1) + 1
    return f"invalid TOML at line {line}, column {column} (end of file): {what}"


def _validate(
    table: dict[str, Any], *, base_dir: Path, path: Path | None, prefix: str
) -> ProjectConfig:
    try:
        return ProjectConfig.model_validate(table, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems = [_describe(err, prefix) for err in exc.errors()]
        key, reason = problems[0]
        if len(problems) > 1:
            reason += "; also " + "; ".join(f"{k}: {r}" for k, r in problems[1:])
        raise ConfigError(str(path) if path else "(defaults)", key, reason) from None


def _describe(err: Any, prefix: str) -> tuple[str, str]:
    """A pydantic error as (dotted key as written in the file, reason a human can act on)."""
    loc = [str(part) for part in err["loc"]]
    ctx = err.get("ctx") or {}
    if "field" in ctx and (not loc or loc[-1] != ctx["field"]):
        loc.append(str(ctx["field"]))
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        reason = "unknown key"
        close = difflib.get_close_matches(loc[-1], known, n=1)
        if close:
            reason += f"; did you mean {close[0]!r}?"
        elif known:
            reason += f"; known keys: {', '.join(sorted(known))}"
    elif kind.startswith(("persona_", "guc_", "stand_in_")):
        reason = err["msg"]
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        reason = f"must be a table, not {_kind(err.get('input'))}"
    else:
        reason = err["msg"]
        if "input" in err and not isinstance(err["input"], dict):
            reason += f" (got {_kind(err['input'])} {err['input']!r})"
    return prefix + ".".join(_toml_key(part) for part in loc), reason


def _toml_key(part: str) -> str:
    """A key as TOML would write it: bare when it can be, quoted otherwise."""
    return part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'


def _known_keys(loc: list[str]) -> list[str]:
    """The keys a table at ``loc`` accepts, to suggest the one a typo meant."""
    model: Any = ProjectConfig
    expect_key = False
    for part in loc:
        if expect_key:
            expect_key = False
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(part)
        if field is None:
            return []
        model = _unwrap(field.annotation)
        if typing.get_origin(model) is dict:
            model = _unwrap(typing.get_args(model)[1])
            expect_key = True
        elif typing.get_origin(model) in (tuple, list):  # [[array.of.tables]]: an index next
            model = _unwrap(typing.get_args(model)[0])
            expect_key = True
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` to ``X``."""
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _kind(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)
