"""Shared servers and helpers of the lint and probe tests.

The rule fixtures run on clones of the notes project's template (the session's
``notes_engine``); the reference platform gets one engine for the whole session, in the
session's Stack, and each test that changes it works on a clone.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rlsguard.audit.locate import SourceFile
from rlsguard.config import load_config
from rlsguard.database import Database
from rlsguard.harness.engine import Engine, EngineOptions
from rlsguard.supabase.migrations import MigrationSession
from rlsguard.supabase.project import Migration
from rlsguard.workspace.build import connection_target

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "supabase"
KNOWN_BAD = REPO / "fixtures" / "known-bad"
FIXTURES = Path(__file__).parent / "fixtures"
_HEADER = re.compile(r"^--\s*(object|mentions|as):\s*(.+?)\s*$", re.MULTILINE)
_names = itertools.count(1)


@dataclass(frozen=True)
class SqlFixture:
    """One fixture file: the SQL, the objects it is about, and how to apply it."""

    path: Path
    rule: str
    kind: str  # "positive" or "negative"
    objects: tuple[str, ...]
    mentions: str | None
    superuser: bool

    @property
    def display(self) -> str:
        return self.path.relative_to(REPO).as_posix()

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> SqlFixture:
        headers: dict[str, list[str]] = {}
        for key, value in _HEADER.findall(path.read_text(encoding="utf-8")):
            headers.setdefault(key, []).append(value)
        return cls(
            path=path,
            rule=path.parent.name,
            kind=path.stem,
            objects=tuple(headers.get("object", ())),
            mentions=(headers.get("mentions") or [None])[0],
            superuser=headers.get("as") == ["superuser"],
        )


def fixtures(check: str) -> list[SqlFixture]:
    return [SqlFixture.load(p) for p in sorted((FIXTURES / check).glob("*/*.sql"))]


def apply_files(engine: Engine, dbname: str, files: list[SqlFixture] | list[Path]) -> None:
    """Apply files in order as migrations (as ``postgres``, the CLI's way); fixtures marked
    ``-- as: superuser`` run as the superuser instead."""
    with MigrationSession(connection_target(engine), dbname) as session:
        for index, item in enumerate(files):
            path = item.path if isinstance(item, SqlFixture) else item
            text = path.read_text(encoding="utf-8")
            if isinstance(item, SqlFixture) and item.superuser:
                with engine.connect(dbname, autocommit=True) as conn:
                    conn.execute(text)
                continue
            version = f"2999{index:010d}"
            migration = Migration(path, path.name, text, version, path.stem)
            session.run(migration, "migration")


def sources(files: list[SqlFixture] | list[Path]) -> list[SourceFile]:
    out = []
    for item in files:
        path = item.path if isinstance(item, SqlFixture) else item
        out.append(SourceFile(path.relative_to(REPO).as_posix(), path.read_text("utf-8")))
    return out


@pytest.fixture(scope="session")
def reference_engine(rlsguard_stack: Any, template_cache_dir: Path) -> Iterator[Engine]:
    """The reference school platform (supabase/ of this repository), seeded."""
    config = load_config(supabase_dir=REFERENCE)
    config = config.model_copy(
        update={"cache": config.cache.model_copy(update={"dir": template_cache_dir})}
    )
    with Engine(config, EngineOptions(supabase_dir=REFERENCE), stack=rlsguard_stack) as engine:
        yield engine


@contextmanager
def cloned(engine: Engine, files: list[Any] | None = None) -> Iterator[Database]:
    """A clone of ``engine``'s template with ``files`` applied, dropped afterwards."""
    name = f"audit_{os.getpid()}_{next(_names)}"
    engine.clone(name)
    try:
        if files:
            apply_files(engine, name, files)
        with engine.connect(name, autocommit=True) as conn:
            yield engine.database(conn)
    finally:
        engine.drop(name)
