"""Options every ``rlsguard`` command shares, declared once so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
