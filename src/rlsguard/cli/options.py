"""Options every ``rlsguard`` command shares, declared once so they read the same everywhere."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from rlsguard.config import EngineOptions

SupabaseDirOption = Annotated[
    Path | None,
    typer.Option(
        "--supabase-dir",
        help="The project's supabase/ folder (default: from rlsguard config, else ./supabase).",
        file_okay=False,
    ),
]
NoCacheOption = Annotated[
    bool, typer.Option("--no-cache", help="Rebuild templates instead of reusing cached ones.")
]
StandInOption = Annotated[
    list[str] | None,
    typer.Option(
        "--stand-in",
        metavar="NAME",
        help="Replace this missing extension with rlsguard's stand-in (repeatable, or 'all'); "
        "added to stand_ins from rlsguard.toml.",
    ),
]
PgBinOption = Annotated[
    str | None,
    typer.Option(
        "--pg-bin",
        metavar="DIR",
        help="Directory of the Postgres server binaries to use (like pg_bin in rlsguard.toml).",
    ),
]


class BackendChoice(StrEnum):
    local = "local"
    dsn = "dsn"
    docker = "docker"


BackendOption = Annotated[
    BackendChoice | None,
    typer.Option(
        "--backend",
        help="Where Postgres comes from: local, dsn or docker (default: RLSGUARD_BACKEND, "
        "else the config's backend, else local).",
    ),
]
DsnOption = Annotated[
    str | None,
    typer.Option(
        "--dsn",
        help="Server URL for the dsn backend: a scratch server (rlsguard creates, migrates and "
        "drops its own databases there) or a live Supabase database (checked read-only). "
        "Default: RLSGUARD_DSN, else the config's dsn.",
    ),
]
AllowDestructiveOption = Annotated[
    str | None,
    typer.Option(
        "--allow-destructive",
        metavar="HOST:PORT/DB",
        help="Allow destructive actions on this exact database of a server rlsguard did not "
        "start (default: RLSGUARD_ALLOW_DESTRUCTIVE, else the config's allow_destructive).",
    ),
]


def engine_options(
    supabase_dir: Path | None = None,
    *,
    no_cache: bool = False,
    backend: BackendChoice | None = None,
    dsn: str | None = None,
    allow_destructive: str | None = None,
    stand_in: list[str] | None = None,
    pg_bin: str | None = None,
) -> EngineOptions:
    """What a command's flags override in the config (merged by ``EngineOptions.apply``)."""
    return EngineOptions(
        supabase_dir=supabase_dir.resolve() if supabase_dir else None,
        backend=backend.value if backend else None,
        dsn=dsn,
        no_cache=no_cache,
        allow_destructive=allow_destructive,
        stand_ins=tuple(stand_in or ()),
        pg_bin=pg_bin,
    )
