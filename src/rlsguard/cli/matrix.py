"""``rlsguard matrix check | record | schema``: the access matrix outside pytest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rlsguard.cli.console import print_error
from rlsguard.cli.options import (
    AllowDestructiveOption,
    BackendChoice,
    BackendOption,
    DsnOption,
    PgBinOption,
    StandInOption,
    SupabaseDirOption,
    engine_options,
)
from rlsguard.errors import RlsguardError

matrix_app = typer.Typer(
    help="The access matrix: who may read, insert, update and delete which rows.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

MatrixPath = Annotated[
    Path | None,
    typer.Option(
        "--matrix",
        help="The matrix file (default: `matrix` from the rlsguard config, "
        "fixtures/rls_matrix.yaml).",
        dir_okay=False,
    ),
]
_STATUS = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "error": "[red]ERROR[/]"}


@contextmanager
def _errors_exit_2() -> Iterator[None]:
    try:
        yield
    except RlsguardError as exc:
        print_error(err_console, exc)
        raise typer.Exit(2) from exc


def _engine(
    supabase_dir: Path | None,
    backend: BackendChoice | None = None,
    dsn: str | None = None,
    allow_destructive: str | None = None,
    no_cache: bool = False,
    stand_in: list[str] | None = None,
    pg_bin: str | None = None,
) -> Any:
    """The project's engine: its config is read, nothing is started yet (or, when the
    project's dev server runs, an engine attached to it: nothing to start)."""
    from rlsguard.harness.devserver import attach_for
    from rlsguard.harness.engine import Engine

    options = engine_options(
        supabase_dir,
        no_cache=no_cache,
        backend=backend,
        dsn=dsn,
        allow_destructive=allow_destructive,
        stand_in=stand_in,
        pg_bin=pg_bin,
    )
    return attach_for(options) or Engine(options=options)


@contextmanager
def _database(engine: Any) -> Iterator[Any]:
    """The project's prepared database, cloned for this command and dropped after (on a
    live database: the database itself in a transaction that is rolled back)."""
    if getattr(engine, "dev_server", False):  # attached: the dev server owns the cluster
        with engine.cloned_database() as db:
            yield db
        return
    with engine, engine.cloned_database() as db:
        yield db


def _schemas(engine: Any) -> list[str]:
    return list(engine.load_project().config.api_schemas)


@matrix_app.command()
def check(
    supabase_dir: SupabaseDirOption = None,
    backend: BackendOption = None,
    dsn: DsnOption = None,
    allow_destructive: AllowDestructiveOption = None,
    matrix: MatrixPath = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List passing cells too.")
    ] = False,
    stand_in: StandInOption = None,
    pg_bin: PgBinOption = None,
    allow_empty: Annotated[
        bool,
        typer.Option("--allow-empty", help="Exit 0 even when the matrix has no cells."),
    ] = False,
) -> None:
    """Check every cell of the matrix; exit 1 when any cell fails or there is none."""
    from rlsguard.matrix.check import Checker
    from rlsguard.matrix.load import load_matrix

    with _errors_exit_2():
        engine = _engine(supabase_dir, backend, dsn, allow_destructive, False, stand_in, pg_bin)
        # The file first: a mistake in it costs no server start.
        path = matrix or engine.config.matrix
        loaded = load_matrix(path, engine.personas.names)
        if not loaded.cells() and not allow_empty:
            err_console.print(
                f"[red]nothing was checked:[/] {escape(str(path))} has no cells. "
                "Add expectations, or pass --allow-empty if that is intended."
            )
            raise typer.Exit(1)
        with _database(engine) as db:
            run = Checker(db, loaded, schemas=_schemas(engine)).run()
    raise typer.Exit(report_check(run, as_json=as_json, verbose=verbose))


def report_check(run: Any, *, as_json: bool = False, verbose: bool = False) -> int:
    """Print what ``matrix check`` prints for ``run``; the exit code (also for the dev server,
    which answers from a run it computed when the files were saved)."""
    from rlsguard.matrix.report import explain

    problems = run.problems
    if as_json:
        typer.echo(json.dumps(_as_json(run), indent=2))
        return 2 if problems else 0 if run.ok else 1
    if problems:
        # The file is wrong, not the policies: say each thing once, like a load error.
        for problem in problems:
            err_console.print(f"[red]error[/]: {escape(str(problem))}")
        err_console.print(
            f"[red]{len(problems)} problem(s) in the matrix file[/]; fix it and run again "
            "(no cell was judged against a file the database does not match)."
        )
        return 2
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
    for column in ("persona", "table", "operation", "", "rows"):
        table.add_column(column, overflow="fold")
    for result in run.results.values():
        if result.passed and not verbose:
            continue
        cell = result.cell
        table.add_row(
            escape(cell.persona),
            escape(cell.table),
            escape(cell.operation),
            _STATUS[result.status],
            escape(result.summary()),
        )
    if table.row_count:
        console.print(table)
    for result in run.failed:
        typer.echo("")
        typer.echo(explain(result), nl=False)  # plain text: long SQL must not be re-wrapped
    typer.echo("")
    failed = len(run.failed)
    color = "red" if failed else "green"
    console.print(
        f"[{color}]{len(run.results)} cell(s) checked, {failed} failed[/] "
        f"[dim]({run.statements} statements in {run.round_trips} round trip(s), "
        f"{run.seconds * 1000:.0f} ms)[/]"
    )
    for line in run.untested.lines():
        console.print(f"[yellow]untested[/]: {escape(line)}")
    for line in run.warnings:
        console.print(f"[yellow]warning[/]: {escape(line)}")
    return 0 if run.ok else 1


def _candidate(candidate: Any) -> dict[str, Any]:
    """What happened to one insert candidate or change, as a person reads it."""
    return {
        "index": candidate.index,
        "name": candidate.name,
        "label": candidate.label,
        "expected": "accepted" if candidate.expected else "refused",
        "outcome": candidate.outcome,
        "sqlstate": candidate.sqlstate,
        "message": candidate.message,
        "values": dict(candidate.values),
    }


def _as_json(run: Any) -> dict[str, Any]:
    return {
        "file": run.matrix.file,
        "ok": run.ok,
        "cells": [
            {
                "id": r.cell.id,
                "persona": r.cell.persona,
                "table": r.cell.table,
                "operation": r.cell.operation,
                "status": r.status,
                "kinds": r.kinds,
                "summary": r.summary(),
                "unexpected": sorted(list(k) for k in r.unexpected),
                "missing": sorted(list(k) for k in r.missing),
                **(
                    {"candidates": [_candidate(c) for c in r.candidates]}
                    if r.cell.operation in ("insert", "changes")
                    else {}
                ),
            }
            for r in run.results.values()
        ],
        "problems": [str(p) for p in run.problems],
        "warnings": run.warnings,
        "untested": run.untested.as_dict(),
        "statements": run.statements,
        "round_trips": run.round_trips,
        "seconds": round(run.seconds, 4),
    }


@matrix_app.command()
def record(
    supabase_dir: SupabaseDirOption = None,
    backend: BackendOption = None,
    dsn: DsnOption = None,
    allow_destructive: AllowDestructiveOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Where to write (default: the config's matrix path; - prints)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    stand_in: StandInOption = None,
    pg_bin: PgBinOption = None,
) -> None:
    """Write a starter matrix from what each persona can do today (review it before use)."""
    from rlsguard.matrix.record import record as observe
    from rlsguard.matrix.record import render

    with _errors_exit_2():
        engine = _engine(supabase_dir, backend, dsn, allow_destructive, False, stand_in, pg_bin)
        target = output or engine.config.matrix
        if str(target) != "-" and Path(target).exists() and not force:
            raise RlsguardError(
                f"{target} exists; pass --force to overwrite it or -o to write elsewhere"
            )
        with _database(engine) as db:
            recording = observe(db, schemas=_schemas(engine))
            text = render(recording, source=str(engine.supabase_dir))
    if str(target) == "-":
        typer.echo(text, nl=False)
        return
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(text, encoding="utf-8")
    cells = sum(len(v) for ops in recording.tables.values() for v in ops.values())
    console.print(
        f"[green]wrote[/] {escape(str(target))}: {len(recording.personas)} persona(s), "
        f"{len(recording.tables)} table(s), {cells} cell(s). Review every entry marked "
        "# recorded."
    )


@matrix_app.command()
def schema() -> None:
    """Print the JSON Schema of the matrix file format."""
    from rlsguard.matrix.model import json_schema_text

    typer.echo(json_schema_text(), nl=False)
