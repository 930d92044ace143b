"""``rlsguard test-db``: the project's pgTAP files, like ``supabase test db``, without Docker.

Exit codes: 0 every file passed; 1 a file failed (an assertion, its plan, or a statement that
stopped it); 2 usage or infrastructure error (no test files, a broken migration, pgTAP asked
for and not installed). TAP goes to stdout (or ``--output``); ``--junit PATH`` also writes
JUnit XML for CI servers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape

from rlsguard.cli.options import NoCacheOption, SupabaseDirOption
from rlsguard.errors import RlsguardError

if TYPE_CHECKING:
    from rlsguard.config import ProjectConfig

err = Console(stderr=True, highlight=False)


def run_test_db(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Test files or folders (default: [pgtap].tests, else supabase/tests).",
            show_default=False,
        ),
    ] = None,
    supabase_dir: SupabaseDirOption = None,
    implementation: Annotated[
        str | None,
        typer.Option(
            "--pgtap",
            help="auto (the server's pgtap extension when installed, else rlsguard's), "
            "server, or rlsguard (default: [pgtap].implementation).",
        ),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write JUnit XML to this file.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the TAP here, not to stdout.")
    ] = None,
    no_cache: NoCacheOption = False,
) -> None:
    """Run supabase/tests/**/*.sql (pgTAP) against the project's database; TAP and JUnit."""
    from rlsguard.config import load_config
    from rlsguard.harness.engine import Engine, EngineOptions
    from rlsguard.pgtap.database import TestDatabase
    from rlsguard.pgtap.report import junit_report, tap_report

    if implementation not in (None, "auto", "server", "rlsguard"):
        err.print(
            f"[red]error:[/] --pgtap must be auto, server or rlsguard, not {implementation!r}"
        )
        raise typer.Exit(2)
    try:
        folder_dir = supabase_dir.resolve() if supabase_dir else None
        config = load_config(supabase_dir=folder_dir)
        files = _files(paths, config)
        chosen: Literal["auto", "server", "rlsguard"] = (
            implementation or config.pgtap.implementation  # type: ignore[assignment]
        )
        options = EngineOptions(supabase_dir=folder_dir, no_cache=no_cache)
        with Engine(config, options) as engine:
            name = "rlsguard_test_db"
            engine.clone(name)
            try:
                with TestDatabase(
                    engine.conninfo(name),
                    engine.conninfo(name, user="postgres"),
                    implementation=chosen,
                    schema=config.pgtap.schema_,
                    stand_ins=engine.stand_ins,
                ) as database:
                    err.print(f"pgTAP: {escape(database.provider.describe())}")
                    results = [database.run(path) for path in files]
            finally:
                engine.drop(name)
    except RlsguardError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    root = Path.cwd()
    text = tap_report(results, root)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)
    if junit is not None:
        junit.write_text(junit_report(results, root), encoding="utf-8")
    failed = [r for r in results if not r.passed]
    assertions = sum(len(r.tap.assertions) for r in results)
    verdict = "[red]FAIL[/]" if failed else "[green]PASS[/]"
    err.print(
        f"{verdict} {len(results) - len(failed)}/{len(results)} file(s) passed, "
        f"{assertions} assertion(s)"
    )
    raise typer.Exit(1 if failed else 0)


def _files(paths: list[Path] | None, config: ProjectConfig) -> list[Path]:
    """The files to run: the arguments (files, or folders globbed), else the tests folder."""
    from rlsguard.pgtap.collect import find_test_files, tests_folder

    pattern = config.pgtap.pattern
    if not paths:
        folder = tests_folder(config)
        found = find_test_files(folder, pattern)
        if not found:
            raise RlsguardError(
                f"no pgTAP test files in {folder} ({pattern}); write them there, as for "
                "`supabase test db`, or set [pgtap].tests in rlsguard.toml"
            )
        return found
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(find_test_files(path.resolve(), pattern))
        elif path.is_file():
            out.append(path.resolve())
        else:
            raise RlsguardError(f"{path}: no such test file or folder")
    if not out:
        raise RlsguardError(f"no pgTAP test files under {', '.join(map(str, paths))}")
    return out


def register(app: typer.Typer) -> None:
    app.command("test-db")(run_test_db)
