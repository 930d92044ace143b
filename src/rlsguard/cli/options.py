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
