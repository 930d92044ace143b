"""``rlsguard snapshot | diff | blame | rollback``: thin shells over :mod:`rlsguard.workspace.api`.

Exit codes: 0 done (no drift, nothing to blame, fully restored); 1 the answer is "something
changed" (``diff --fail-on``, ``blame`` found a departure, ``rollback`` left something to a
person); 2 usage or infrastructure error, with the reason.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from rlsguard.cli.console import print_error
from rlsguard.cli.options import (
    AllowDestructiveOption,
    BackendChoice,
    BackendOption,
    DsnOption,
    NoCacheOption,
    PgBinOption,
    StandInOption,
    SupabaseDirOption,
    engine_options,
)
from rlsguard.errors import RlsguardError

if TYPE_CHECKING:
    from rlsguard.workspace.build import Workspace

err = Console(stderr=True, highlight=False)


class DiffFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class ReportFormat(StrEnum):
    text = "text"
    json = "json"


class FailOn(StrEnum):
    none = "none"
    widens = "widens"
    any = "any"


@contextmanager
def _workspace(
    supabase_dir: Path | None,
    no_cache: bool,
    backend: BackendChoice | None = None,
    dsn: str | None = None,
    allow_destructive: str | None = None,
    stand_in: list[str] | None = None,
    pg_bin: str | None = None,
) -> Iterator[tuple[Workspace, Path]]:
    """The project's folder and a workspace for it; errors become exit code 2."""
    from rlsguard.config import load_config
    from rlsguard.workspace.build import Workspace

    try:
        folder = supabase_dir.resolve() if supabase_dir else None
        config = load_config(supabase_dir=folder)
        folder = folder or Path(config.supabase_dir).resolve()
        options = engine_options(
            no_cache=no_cache, backend=backend, dsn=dsn, allow_destructive=allow_destructive,
            stand_in=stand_in, pg_bin=pg_bin,
        )  # fmt: skip
        with Workspace(config, options) as workspace:
            yield workspace, folder
    except RlsguardError as exc:
        print_error(err, exc)
        raise typer.Exit(2) from exc


def _emit(text: str, output: Path | None) -> None:
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")


def snapshot(
    supabase_dir: SupabaseDirOption = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write the snapshot here (default: stdout)."),
    ] = None,
    no_cache: NoCacheOption = False,
    backend: BackendOption = None,
    dsn: DsnOption = None,
    allow_destructive: AllowDestructiveOption = None,
    stand_in: StandInOption = None,
    pg_bin: PgBinOption = None,
) -> None:
    """Snapshot the security surface the migrations leave (deterministic JSON)."""
    with _workspace(supabase_dir, no_cache, backend, dsn, allow_destructive, stand_in, pg_bin) as (
        workspace,
        folder,
    ):
        snap = workspace.snapshot(folder)
    _emit(snap.dumps(), output)
    doc = snap.doc
    policies = sum(len(t["policies"]) for t in doc["tables"].values())
    if output is not None and str(output) != "-":
        err.print(
            f"wrote {escape(str(output))}: {len(doc['tables'])} tables, {policies} policies, "
            f"{len(doc['views'])} views, {len(doc['functions'])} functions",
            soft_wrap=True,
        )


def diff(
    base: Annotated[
        str,
        typer.Option(
            "--base", help="A git ref (its supabase/ folder), a directory or a .json snapshot."
        ),
    ],
    head: Annotated[
        str | None,
        typer.Option("--head", help="A git ref or directory (default: the working tree)."),
    ] = None,
    supabase_dir: SupabaseDirOption = None,
    fmt: Annotated[DiffFormat, typer.Option("--format", help="Output format.")] = (DiffFormat.text),
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", help="Exit 1 when a change widens access, or on any change."),
    ] = FailOn.none,
    no_cache: NoCacheOption = False,
    backend: BackendOption = None,
    dsn: DsnOption = None,
    allow_destructive: AllowDestructiveOption = None,
    stand_in: StandInOption = None,
    pg_bin: PgBinOption = None,
    access: Annotated[
        bool,
        typer.Option(
            "--access",
            help="Add the access diff: rows each persona gained or lost (needs two databases: "
            "git refs or folders, not snapshot files).",
        ),
    ] = False,
) -> None:
    """The graded difference of the security surface between two states."""
    from rlsguard.policy.render import render
    from rlsguard.workspace.api import diff_sources

    access_diff = None
    with _workspace(supabase_dir, no_cache, backend, dsn, allow_destructive, stand_in, pg_bin) as (
        workspace,
        folder,
    ):
        result = diff_sources(base, head, supabase_dir=folder, workspace=workspace)
        if access:
            from rlsguard.gate.access import access_diff_sources

            access_diff = access_diff_sources(base, head, supabase_dir=folder, workspace=workspace)
    text = render(result, fmt.value)
    if access_diff is not None:
        from rlsguard.gate.access_render import with_policy_diff

        text = with_policy_diff(text, access_diff, fmt.value)
    sys.stdout.write(text)
    widened = bool(result.widens) or bool(access_diff and access_diff.widens)
    changed = bool(result.changes) or bool(access_diff)
    failed = (fail_on is FailOn.widens and widened) or (fail_on is FailOn.any and changed)
    raise typer.Exit(1 if failed else 0)


def blame(
    supabase_dir: SupabaseDirOption = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="The approved snapshot (default: fixtures/policies.snapshot.json beside the "
            "project); a git ref or directory works too.",
        ),
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = (
        ReportFormat.text
    ),
    no_cache: NoCacheOption = False,
    backend: BackendOption = None,
    dsn: DsnOption = None,
    allow_destructive: AllowDestructiveOption = None,
    stand_in: StandInOption = None,
    pg_bin: PgBinOption = None,
) -> None:
    """Name the first migration whose result departs from the approved snapshot."""
    from rlsguard.policy.paths import default_snapshot_path
    from rlsguard.workspace.api import blame_project
    from rlsguard.workspace.sources import display_path

    with _workspace(supabase_dir, no_cache, backend, dsn, allow_destructive, stand_in, pg_bin) as (
        workspace,
        folder,
    ):
        spec = against or display_path(default_snapshot_path(folder, workspace.config))
        approved = workspace.resolve(spec, supabase_dir=folder)
        report = blame_project(folder, approved, workspace=workspace)
    if fmt is ReportFormat.json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(report.render())
    raise typer.Exit(0 if report.clean else 1)


def rollback(
    to: Annotated[
        str,
        typer.Option(
            "--to", help="The known-good state: a .json snapshot, a git ref or a directory."
        ),
    ],
    supabase_dir: SupabaseDirOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="File or directory to write (default: the project's migrations/ folder); "
            "'-' prints it.",
        ),
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Report format.")] = (
        ReportFormat.text
    ),
    no_cache: NoCacheOption = False,
    backend: BackendOption = None,
    dsn: DsnOption = None,
    allow_destructive: AllowDestructiveOption = None,
    stand_in: StandInOption = None,
    pg_bin: PgBinOption = None,
) -> None:
    """Write a verified migration that restores the known-good security surface."""
    from rlsguard.workspace.api import rollback_project

    with _workspace(supabase_dir, no_cache, backend, dsn, allow_destructive, stand_in, pg_bin) as (
        workspace,
        folder,
    ):
        result = rollback_project(folder, to, workspace=workspace)
    if fmt is ReportFormat.json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")
    if not result.needed:
        err.print(f"nothing to roll back: the surface already matches {escape(result.target)}")
        raise typer.Exit(0)
    written = None
    if result.units:
        if output is not None and str(output) == "-":
            if fmt is ReportFormat.text:
                sys.stdout.write(result.sql)
        else:
            destination = output or folder / "migrations"
            written = result.write(destination)
    for line in _rollback_summary(result, written):
        err.print(line, soft_wrap=True, markup=False)
    raise typer.Exit(0 if result.restored else 1)


def _rollback_summary(result: object, written: Path | None) -> list[str]:
    from rlsguard.workspace.rollback import Rollback

    assert isinstance(result, Rollback)
    lines = []
    if written is not None:
        lines.append(f"wrote {written} ({len(result.units)} restore step(s))")
    elif not result.units:
        lines.append("no SQL can restore the differences; nothing written")
    if result.restored:
        twice = "applying it twice changes nothing" if result.idempotent else "NOT idempotent"
        lines.append(f"verified: head + rollback equals {result.target}; {twice}")
    for item in result.skipped:
        marker = "cannot restore" if item.kind == "cannot" else "left alone"
        lines.append(f"{marker}: {item.object}: {item.reason}")
    for message in result.unexplained:
        lines.append(f"still different: {message}")
    return lines


def register(app: typer.Typer) -> None:
    """Add the four commands to the ``rlsguard`` application."""
    app.command("snapshot")(snapshot)
    app.command("diff")(diff)
    app.command("blame")(blame)
    app.command("rollback")(rollback)
