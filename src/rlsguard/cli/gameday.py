"""``rlsguard gameday``: run the drills, show each phase live, write the reports.

Exit codes: 0 every drill detected and recovered within budget, leaving nothing behind;
1 otherwise; 2 bad input (an invalid scenario, a refused target, a missing file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from rlsguard.cli.console import print_error
from rlsguard.errors import RlsguardError

err = Console(stderr=True, highlight=False)
DEFAULT_DIR = Path("fixtures") / "gameday"


def gameday(
    scenarios: Annotated[
        list[Path] | None,
        typer.Argument(help="Scenario files or folders (default: fixtures/gameday)."),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="Opt in to destructive faults on the --dsn database, named exactly as "
            "host:port/dbname. Anything else is refused.",
        ),
    ] = None,
    dsn: Annotated[
        str | None,
        typer.Option("--dsn", help="Drill on this database instead of a private local cluster."),
    ] = None,
    scratch: Annotated[
        str | None,
        typer.Option(
            "--scratch-dsn",
            help="Drill on databases rlsguard creates (and drops) on this scratch server.",
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write journals and reports here.")
    ] = None,
    do_cleanup: Annotated[
        bool,
        typer.Option("--cleanup", help="Revert every fault a killed drill left, then exit."),
    ] = False,
    ledger: Annotated[
        Path | None, typer.Option("--ledger", help="The local fault ledger file.")
    ] = None,
) -> None:
    """Game day: inject the runbook's incidents, detect, remediate, verify, report."""
    from rlsguard.config import load_config
    from rlsguard.gameday.report import write_reports
    from rlsguard.gameday.run import GameDay, cleanup, default_ledger_path, project_root
    from rlsguard.gameday.scenario import load_scenarios
    from rlsguard.journal.progress import LiveProgress

    try:
        config = load_config()
        if dsn is None and config.backend == "dsn" and config.dsn:
            from rlsguard.stack.backends import expand_env

            dsn = expand_env(config.dsn)  # the configured target
        if target is not None and dsn is None:
            raise RlsguardError(
                f"--target {target} names a database rlsguard did not start, but none is "
                "configured: give its --dsn (or set backend = 'dsn' and dsn in the config). "
                "Without them, drills run on a private local cluster and need no --target."
            )
        ledger_path = ledger or default_ledger_path()
        if do_cleanup:
            reverted, notes = cleanup(config, dsn=dsn, target_name=target, ledger=ledger_path)
            for item in reverted:
                err.print(f"[green]reverted[/] {escape(item.scenario)}: {escape(item.summary)}")
            for note in notes:
                err.print(f"[yellow]note[/] {escape(note)}")
            if not reverted and not notes:
                err.print("nothing to clean up")
            raise typer.Exit(0)
        folder = project_root(config) / DEFAULT_DIR
        paths = [_resolve(p, folder) for p in scenarios] if scenarios else [folder]
        loaded = load_scenarios(paths)
        if not loaded:
            raise RlsguardError(f"no scenario in {', '.join(map(str, paths))}")

        def on_result(result) -> None:  # type: ignore[no-untyped-def]
            s = result.journal.summary
            mark = "[green]PASS[/]" if result.ok else "[red]FAIL[/]"
            ttd = "n/a" if s.get("ttd_s") is None else f"{s['ttd_s']:.3f} s"
            ttr = "n/a" if s.get("ttr_s") is None else f"{s['ttr_s']:.3f} s"
            err.print(f"{mark} {escape(result.scenario.name)}: TTD {ttd}, TTR {ttr}")
            if result.error:
                err.print(f"  [red]{escape(result.error)}[/]")

        day = GameDay(
            config,
            loaded,
            dsn=dsn,
            scratch_dsn=scratch,
            target_name=target,
            report_dir=report,
            ledger=ledger_path,
            reporter_for=lambda s: LiveProgress(err, prefix=f"{s.name}: "),
            on_result=on_result,
            on_skip=lambda s, why: err.print(f"[yellow]SKIP[/] {escape(s.name)}: {escape(why)}"),
        )
        from rlsguard.gameday.run import run_gameday

        results = run_gameday(day)
    except RlsguardError as exc:
        print_error(err, exc)
        raise typer.Exit(2) from exc
    if report is not None:
        write_reports(results, report)
        err.print(f"reports written to {escape(str(report))}")
    raise typer.Exit(0 if results and all(r.ok for r in results) else 1)


def _resolve(given: Path, folder: Path) -> Path:
    """A path as given, or a scenario's name (``using-false``) in the project's folder."""
    if given.exists() or given.suffix:
        return given
    named = folder / f"{given.name}.yaml"
    return named if named.exists() else given


def register(app: typer.Typer) -> None:
    app.command(name="gameday")(gameday)
