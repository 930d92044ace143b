"""``rlsguard gate``: the pre-merge gate, with live progress and its CI files.

Exit codes: 0 pass; 1 blocked (a new finding at or above ``--fail-on``, a matrix failure, an
access widening that no expectation covers, or a rollback dry-run that does not restore the
base); 2 usage or infrastructure error, with the reason (a bad ref, a broken migration with
its file and line). The summary, JUnit, SARIF and JSON files are written in every case, an
error included, so a CI job can always show why.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from rlsguard.cli.options import (
    AllowDestructiveOption,
    BackendOption,
    DsnOption,
    NoCacheOption,
    PgBinOption,
    StandInOption,
    SupabaseDirOption,
    engine_options,
)
from rlsguard.journal.progress import LiveProgress

if TYPE_CHECKING:
    from rlsguard.gate.run import GateReport

err = Console(stderr=True, highlight=False)


class FailOn(StrEnum):
    error = "error"
    warn = "warn"
    info = "info"
    none = "none"


def gate(
    base: Annotated[
        str,
        typer.Option(
            "--base",
            help="The state to compare with: a git ref (its supabase/ folder, read from git) "
            "or a supabase/ folder. In CI: the pull request's base commit.",
        ),
    ],
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="The state under review: a git ref or a folder (default: the working tree, "
            "uncommitted files included).",
        ),
    ] = None,
    supabase_dir: SupabaseDirOption = None,
    fail_on: Annotated[
        FailOn,
        typer.Option(
            "--fail-on",
            help="Block on a NEW unwaived lint/probe finding at this level or above "
            "(findings already on base never block).",
        ),
    ] = FailOn.error,
    summary: Annotated[
        Path | None,
        typer.Option(
            "--summary",
            help="Write the Markdown summary here (also appended to "
            "$GITHUB_STEP_SUMMARY when set).",
        ),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Write JUnit XML here (each check a test).")
    ] = None,
    sarif: Annotated[
        Path | None,
        typer.Option("--sarif", help="Write SARIF 2.1.0 here (findings, for code scanning)."),
    ] = None,
    json_file: Annotated[
        Path | None,
        typer.Option("--json", help="Write everything as JSON here (docs/gate.schema.json)."),
    ] = None,
    allow_narrowing: Annotated[
        bool,
        typer.Option(
            "--allow-narrowing",
            help="Let intended lock-downs through: a persona losing all access to a table "
            "(some rows before, none now) blocks by default, as the runbook's P1.",
        ),
    ] = False,
    no_cache: NoCacheOption = False,
    backend: BackendOption = None,
    dsn: DsnOption = None,
    allow_destructive: AllowDestructiveOption = None,
    stand_in: StandInOption = None,
    pg_bin: PgBinOption = None,
) -> None:
    """Gate a change to supabase/: build base and head, diff, lint, probe, check, roll back."""
    from rlsguard.gate.outputs import render_json, render_junit, render_sarif, write
    from rlsguard.gate.run import GateOptions, run_gate
    from rlsguard.gate.summary import render_summary, write_summary

    options = GateOptions(
        base=base,
        head=head,
        supabase_dir=supabase_dir,
        fail_on=fail_on.value,  # type: ignore[arg-type]
        no_cache=no_cache,
        allow_narrowing=allow_narrowing,
        stand_ins=tuple(stand_in or ()),
        pg_bin=pg_bin,
        engine=engine_options(backend=backend, dsn=dsn, allow_destructive=allow_destructive),
    )
    progress = LiveProgress(err)
    try:
        report = run_gate(options, reporter=progress)
    finally:
        progress.close()
    full = str(json_file) if json_file is not None else None
    written = write_summary(report, summary, full_report=full)
    for path, render in ((junit, render_junit), (sarif, render_sarif), (json_file, render_json)):
        if path is not None:
            written.append(write(path, render(report)))
    if not summary:
        sys.stdout.write(render_summary(report, full_report=full))
    _verdict(report, written)
    raise typer.Exit(report.exit_code)


def _verdict(report: GateReport, written: list[Path]) -> None:
    if report.error is not None:
        err.print(f"[red]error:[/] {escape(report.error)}", soft_wrap=True)
    for reason in report.reasons if report.error is None else []:
        err.print(f"[red]blocked:[/] {escape(reason)}", soft_wrap=True)
    for path in written:
        err.print(f"[dim]wrote {escape(str(path))}[/]", soft_wrap=True)
    style = {"pass": "green", "blocked": "red", "error": "red"}[report.verdict]
    err.print(
        f"[bold {style}]rlsguard gate: {report.verdict}[/] (exit {report.exit_code}, "
        f"{report.seconds:.1f} s)"
    )


def register(app: typer.Typer) -> None:
    """Add ``gate`` to the ``rlsguard`` application."""
    app.command("gate")(gate)
