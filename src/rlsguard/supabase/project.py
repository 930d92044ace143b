"""A Supabase project folder (``supabase/``): its config.toml, migrations and seed files.

Discovery follows the Supabase CLI: migrations are ``supabase/migrations/<digits>_<name>.sql``
in file-name order; other files are skipped with a warning, as is a legacy first
``<timestamp>_init.sql`` older than 2021-12-09. Seeds come from ``[db.seed] sql_paths`` (globs
relative to ``supabase/``, each sorted, duplicates dropped), default ``./seed.sql``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlsguard.errors import ConfigError, InputFileError

MIGRATION_PATTERN = re.compile(r"^([0-9]+)_(.*)\.sql$")
_LEGACY_INIT = re.compile(r"([0-9]{14})_init\.sql")
_LEGACY_INIT_BEFORE = 20211209000000
# The CLI rejects 12 and 16 (pkg/config/config.go); 13 and 14 still select a PG15 image.
ACCEPTED_MAJOR_VERSIONS = (13, 14, 15, 17)
_NO_DEFAULT_SEED = "no seed files matched pattern: ./seed.sql"


class SupabaseProjectWarning(UserWarning):
    """Something in the project the CLI would also warn about (a skipped file, a version)."""


@dataclass(frozen=True)
class SupabaseConfig:
    """The keys of ``supabase/config.toml`` that decide what the database looks like."""

    project_id: str | None = None
    major_version: int | None = None
    api_schemas: tuple[str, ...] = ("public", "graphql_public")
    extra_search_path: tuple[str, ...] = ("public", "extensions")
    auto_expose_new_tables: bool | None = None
    migrations_enabled: bool = True
    schema_paths: tuple[str, ...] = ()
    seed_enabled: bool = True
    seed_sql_paths: tuple[str, ...] = ("./seed.sql",)

    @property
    def auto_expose(self) -> bool:
        """The grant mode: unset means *not* exposed, as Supabase does for every project since
        2026-10-30 (and current CLI releases); ``true`` keeps the legacy auto-grants."""
        return bool(self.auto_expose_new_tables)

    @classmethod
    def from_toml(cls, path: Path) -> SupabaseConfig:
        try:
            data = tomllib.loads(read_sql_file(path, str(path)))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(path), "", f"not valid TOML: {exc}") from exc
        return cls.from_mapping(data, str(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "config.toml") -> SupabaseConfig:
        read = _Reader(data, source)
        major = read.integer("db.major_version")
        if major is not None and major not in ACCEPTED_MAJOR_VERSIONS:
            raise ConfigError(
                source,
                "db.major_version",
                f"{major} is not supported by the Supabase CLI "
                f"(accepted: {', '.join(map(str, ACCEPTED_MAJOR_VERSIONS))})",
            )
        return cls(
            project_id=read.string("project_id"),
            major_version=major,
            api_schemas=read.strings("api.schemas", cls.api_schemas),
            extra_search_path=read.strings("api.extra_search_path", cls.extra_search_path),
            auto_expose_new_tables=read.boolean("api.auto_expose_new_tables"),
            migrations_enabled=read.boolean("db.migrations.enabled", default=True),
            schema_paths=read.strings("db.migrations.schema_paths", ()),
            seed_enabled=read.boolean("db.seed.enabled", default=True),
            seed_sql_paths=read.strings("db.seed.sql_paths", cls.seed_sql_paths),
        )


class _Reader:
    """Typed access to dotted keys, raising ConfigError with the key on a wrong type."""

    def __init__(self, data: Mapping[str, Any], source: str) -> None:
        self.data = data
        self.source = source

    def _get(self, key: str) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node

    def _fail(self, key: str, wanted: str, value: Any) -> ConfigError:
        return ConfigError(self.source, key, f"expected {wanted}, got {value!r}")

    def string(self, key: str) -> str | None:
        value = self._get(key)
        if value is not None and not isinstance(value, str):
            raise self._fail(key, "a string", value)
        return value

    def integer(self, key: str) -> int | None:
        value = self._get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self._fail(key, "an integer", value)
        return value

    def boolean(self, key: str, default: bool | None = None) -> Any:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, "true or false", value)
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "a list of strings", value)
        return tuple(value)


@dataclass(frozen=True)
class SqlFile:
    """A migration or seed file, read once; ``display`` is its path relative to the project."""

    path: Path
    display: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Migration(SqlFile):
    version: str = ""
    name: str = ""


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


@dataclass(frozen=True)
class SupabaseProject:
    """A loaded ``supabase/`` folder: what the Supabase CLI would apply, in order."""

    supabase_dir: Path
    config: SupabaseConfig
    migrations: tuple[Migration, ...]
    seeds: tuple[SqlFile, ...]
    skipped: tuple[SkippedFile, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def root(self) -> Path:
        """The repository root (the folder that holds ``supabase/``)."""
        return self.supabase_dir.parent

    @classmethod
    def find(cls, start: Path | str | None = None) -> SupabaseProject:
        """Load the nearest ``supabase/config.toml`` at or above ``start`` (default: cwd)."""
        here = Path(start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            for candidate in (folder / "supabase", folder):
                if candidate.name == "supabase" and (candidate / "config.toml").is_file():
                    return cls.load(candidate)
        raise ConfigError(str(here), "", "no supabase/config.toml here or in any parent folder")

    @classmethod
    def load(cls, path: Path | str) -> SupabaseProject:
        """Load a ``supabase/`` folder (or the folder that contains one)."""
        folder = Path(path).resolve()
        if folder.name != "supabase" and (folder / "supabase").is_dir():
            folder = folder / "supabase"
        if not folder.is_dir():
            raise ConfigError(str(folder), "", "not a directory")
        config_path = folder / "config.toml"
        config = (
            SupabaseConfig.from_toml(config_path) if config_path.is_file() else SupabaseConfig()
        )
        notes: list[str] = []
        migrations, skipped = (
            _discover_migrations(folder, notes) if config.migrations_enabled else ((), ())
        )
        _refuse_shared_versions(migrations)
        seeds = _discover_seeds(folder, config.seed_sql_paths, notes) if config.seed_enabled else ()
        for note in notes:
            if note != _NO_DEFAULT_SEED:  # most projects have no seed.sql: no need to shout
                warnings.warn(note, SupabaseProjectWarning, stacklevel=2)
        return cls(folder, config, migrations, seeds, skipped, tuple(notes))


def read_sql_file(path: Path, display: str) -> str:
    """A project file's text (migration, seed, config.toml); any reason it cannot be read
    names the file and the fix."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        if path.is_symlink():
            target = os.readlink(path)
            raise InputFileError(
                display,
                f"is a symbolic link to {target}, which does not exist",
                "Restore the target or remove the link.",
            ) from exc
        raise InputFileError(display, "disappeared while it was read", "Run again.") from exc
    except PermissionError as exc:
        raise InputFileError(
            display, "cannot be read (permission denied)", "Make it readable: chmod a+r."
        ) from exc
    except IsADirectoryError as exc:
        raise InputFileError(display, "is a directory", "Rename it or move it away.") from exc
    except OSError as exc:
        raise InputFileError(
            display, f"cannot be read ({exc.strerror})", "Check the disk."
        ) from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputFileError(
            f"{display}:{line}",
            f"is not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            "Save it as UTF-8, as the Supabase CLI and Postgres expect.",
        ) from exc


def _display(path: Path, supabase_dir: Path) -> str:
    try:
        return path.relative_to(supabase_dir.parent).as_posix()
    except ValueError:
        return path.as_posix()


def _discover_migrations(
    folder: Path, notes: list[str]
) -> tuple[tuple[Migration, ...], tuple[SkippedFile, ...]]:
    directory = folder / "migrations"
    if not directory.is_dir():
        return (), ()
    found: list[Migration] = []
    skipped: list[SkippedFile] = []
    entries = sorted(directory.iterdir(), key=lambda p: p.name)
    for position, path in enumerate(entries):
        if path.is_dir():
            continue
        display = _display(path, folder)
        legacy = _LEGACY_INIT.search(path.name)
        if position == 0 and legacy and int(legacy.group(1)) < _LEGACY_INIT_BEFORE:
            reason = 'replace "init" with a different file name to apply this migration'
        elif (match := MIGRATION_PATTERN.match(path.name)) is None:
            reason = 'file name must match pattern "<timestamp>_name.sql"'
        else:
            text = read_sql_file(path, display)
            found.append(Migration(path, display, text, match.group(1), match.group(2)))
            continue
        skipped.append(SkippedFile(path, reason))
        notes.append(f"Skipping migration {display}... ({reason})")
    return tuple(found), tuple(skipped)


def _refuse_shared_versions(migrations: tuple[Migration, ...]) -> None:
    """Two files with one version: the history table keeps one row per version, so the Supabase
    CLI fails on the second file with a duplicate key. Say which files, before anything runs."""
    first: dict[str, Migration] = {}
    for migration in migrations:
        earlier = first.setdefault(migration.version, migration)
        if earlier is not migration:
            raise ConfigError(
                migration.display,
                "",
                f"version {migration.version} is also the version of {earlier.display}; "
                "migration versions must be unique (the Supabase CLI fails on the second with "
                "a duplicate key in supabase_migrations.schema_migrations). Give one of them "
                "a new timestamp.",
            )


def _discover_seeds(
    folder: Path, patterns: tuple[str, ...], notes: list[str]
) -> tuple[SqlFile, ...]:
    seen: set[Path] = set()
    seeds: list[SqlFile] = []
    for pattern in patterns:
        relative = pattern[2:] if pattern.startswith("./") else pattern
        if Path(relative).is_absolute():
            matches = sorted(Path(p) for p in _glob_absolute(relative))
        else:
            matches = sorted(folder.glob(relative))
        literal = folder / relative
        if not matches and literal.is_symlink():  # glob skips a dangling link
            matches = [literal]
        # A dangling link is kept: reading it names it, rather than skipping the seed silently.
        matches = [m for m in matches if m.is_file() or (m.is_symlink() and not m.exists())]
        if not matches:
            notes.append(f"no seed files matched pattern: {pattern}")
        for path in matches:
            resolved = path.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            if not path.exists():  # dangling: report the link itself
                read_sql_file(path, _display(path.absolute(), folder))
            display = _display(resolved, folder)
            seeds.append(SqlFile(resolved, display, read_sql_file(resolved, display)))
    return tuple(seeds)


def _glob_absolute(pattern: str) -> list[str]:
    import glob

    return glob.glob(pattern)
