"""``rlsguard lint`` and ``rlsguard probe``: findings without writing an expectation.

Exit codes: 0 no finding at or above ``--fail-on`` (waived findings never count); 1 at least
one; 2 usage or infrastructure error, with the reason.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

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
from rlsguard.vocab import FailOn

if TYPE_CHECKING:
    from rlsguard.audit.findings import Check, Finding

err = Console(stderr=True, highlight=False)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    markdown = "markdown"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="text, json, sarif (2.1.0) or markdown.")
]
FailOnOption = Annotated[
    FailOn,
    typer.Option("--fail-on", help="Exit 1 when an unwaived finding is at this level or above."),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the report to this file instead of stdout."),
]
NoCacheOption = Annotated[
    bool, typer.Option("--no-cache", help="Rebuild the template instead of reusing it.")
]


@contextmanager
def _prepared(
    supabase_dir: Path | None,
    no_cache: bool,
    backend: BackendChoice | None = None,
    dsn: str | None = None,
    allow_destructive: str | None = None,
    stand_in: list[str] | None = None,
    pg_bin: str | None = None,
    *,
    read_only: bool = False,
) -> Iterator[tuple[Any, Any]]:
    """The engine and a throwaway database (a clone, or the live database in a transaction
    rolled back); errors exit with 2."""
    from rlsguard.harness.engine import Engine

    options = engine_options(
        supabase_dir, no_cache=no_cache, backend=backend, dsn=dsn,
        allow_destructive=allow_destructive, stand_in=stand_in, pg_bin=pg_bin,
    )  # fmt: skip
    try:
        with Engine(options=options) as engine, engine.cloned_database(read_only=read_only) as db:
            yield engine, db
    except RlsguardError as exc:
        print_error(err, exc)
        raise typer.Exit(2) from exc


def _report(
    findings: list[Finding],
    *,
    check: Check,
    fmt: OutputFormat,
    fail_on: FailOn,
    output: Path | None,
    default_uri: str | None,
    notes: list[str] | None = None,
) -> None:
    from rlsguard.audit.findings import failing
    from rlsguard.audit.formats import print_text, render

    title = f"rlsguard {check}"
    if fmt == OutputFormat.text and output is None:
        print_text(Console(), findings, title=title, notes=notes or ())
    else:
        text = render(
            findings,
            fmt.value,  # type: ignore[arg-type]
            checks=(check,),
            title=title,
            default_uri=default_uri,
            notes=notes or (),
        )
        if output is None:
            sys.stdout.write(text)
        else:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
    if failing(findings, fail_on):
        raise typer.Exit(1)


def _default_uri(engine: Any) -> str | None:
    project = engine.load_project()
    config = project.supabase_dir / "config.toml"
    return config.relative_to(project.root).as_posix() if config.is_file() else None


def lint(
    supabase_dir: SupabaseDirOption = None,
    fmt: FormatOption = OutputFormat.text,
    fail_on: FailOnOption = "error",
    output: OutputOption = None,
    no_cache: NoCacheOption = False,
    backend: BackendOption = None,
    dsn: DsnOption = None,
    allow_destructive: AllowDestructiveOption = None,
    stand_in: StandInOption = None,
    pg_bin: PgBinOption = None,
) -> None:
    """Lint the security surface the migrations build (splinter's checks and more)."""
    from rlsguard.audit.api import lint_project

    with _prepared(
        supabase_dir, no_cache, backend, dsn, allow_destructive, stand_in, pg_bin, read_only=True
    ) as (engine, db):
        findings = lint_project(db, engine.context())
        default_uri = _default_uri(engine)
    _report(
        findings,
        check="lint",
        fmt=fmt,
        fail_on=fail_on,
        output=output,
        default_uri=default_uri,
    )


def probe(
    supabase_dir: SupabaseDirOption = None,
    fmt: FormatOption = OutputFormat.text,
    fail_on: FailOnOption = "error",
    output: OutputOption = None,
    persona: Annotated[
        list[str] | None,
        typer.Option(
            "--persona", help="Act as these personas only (repeatable; default: all of them)."
        ),
    ] = None,
    no_cache: NoCacheOption = False,
    backend: BackendOption = None,
    dsn: DsnOption = None,
    allow_destructive: AllowDestructiveOption = None,
    stand_in: StandInOption = None,
    pg_bin: PgBinOption = None,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty",
            help="Exit 0 even when nothing (or not every exposed table) was probed: no "
            "persona could act, or a table got 0 attempts.",
        ),
    ] = False,
) -> None:
    """Try privilege escalation and cross-tenant reads and writes as every persona.

    Exits 1 when a finding fails (see --fail-on), when nothing was probed, or when a table got
    0 attempts (each is named with the reason); --allow-empty accepts the last two.
    """
    from rlsguard.audit.api import probe_project

    with _prepared(supabase_dir, no_cache, backend, dsn, allow_destructive, stand_in, pg_bin) as (
        engine,
        db,
    ):
        try:
            report = probe_project(db, engine.context(), personas=persona or None)
        except RlsguardError as exc:
            print_error(err, exc)
            raise typer.Exit(2) from exc
        default_uri = _default_uri(engine)
    notes = [
        f"acted as {', '.join(report.actors) or 'nobody'} on {len(report.tables)} table(s); "
        f"{report.attempts} attempt(s), all rolled back",
        *report.notes,
    ]
    if report.attempts == 0 and not allow_empty:
        # A security check that checked nothing must not look like a pass.
        _report(report.findings, check="probe", fmt=fmt, fail_on="none", output=output,
                default_uri=default_uri, notes=notes)  # fmt: skip
        # Every cause, not the last note: a project whose grants close every table used to be
        # told about storage.objects only, and to seed users it already had.
        causes = "; ".join(report.notes) or "no exposed table or actor"
        err.print(
            f"[red]nothing was checked:[/] the probe made 0 attempts ({escape(causes)}). "
            "Fix the causes that name a gap, or pass --allow-empty if nothing here is meant "
            "to be tried.",
            markup=True,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    if report.untested and not allow_empty:
        # A table the probe could not try is as unchecked as a whole empty run, only smaller.
        _report(report.findings, check="probe", fmt=fmt, fail_on="none", output=output,
                default_uri=default_uri, notes=notes)  # fmt: skip
        gaps = "; ".join(f"{table}: {why}" for table, why in sorted(report.untested.items()))
        err.print(
            f"[red]not every table was checked:[/] 0 attempts on {len(report.untested)} "
            f"table(s) ({escape(gaps)}). Give each an owner the probe can read, or pass "
            "--allow-empty if that is intended.",
            markup=True,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    _report(
        report.findings,
        check="probe",
        fmt=fmt,
        fail_on=fail_on,
        output=output,
        default_uri=default_uri,
        notes=notes,
    )


def register(app: typer.Typer) -> None:
    """Add ``lint`` and ``probe`` to the ``rlsguard`` application."""
    app.command("lint")(lint)
    app.command("probe")(probe)
