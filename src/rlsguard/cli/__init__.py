"""The ``rlsguard`` command: the same engine as the pytest plugin, from a shell.

The top floor: one module per command group (:mod:`.policy`, :mod:`.audit`,
:mod:`.matrix`, :mod:`.gate`); options they share in :mod:`.options`.
"""

from __future__ import annotations

import json
import logging
import shlex
import signal
import warnings
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rlsguard import __version__
from rlsguard.cli import audit as audit_cli
from rlsguard.cli import dev as dev_cli
from rlsguard.cli import gameday as gameday_cli
from rlsguard.cli import gate as gate_cli
from rlsguard.cli import mutate as mutate_cli
from rlsguard.cli import pgtap as pgtap_cli
from rlsguard.cli import policy as policy_cli
from rlsguard.cli.console import print_error
from rlsguard.cli.matrix import matrix_app
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
from rlsguard.errors import RlsguardError, RlsguardWarning, format_warning

app = typer.Typer(
    name="rlsguard",
    help="RLS and auth regression and chaos suite for Supabase-style Postgres.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(matrix_app, name="matrix")
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _setup() -> None:
    """RLS and auth regression and chaos suite for Supabase-style Postgres."""
    warnings.showwarning = _show_warning  # "your-file:line: warning: what to do"


_STATUS_STYLE = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]",
                 "info": "[blue]info[/]"}  # fmt: skip


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"rlsguard {__version__}")


@app.command()
def doctor(
    supabase_dir: SupabaseDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    backend: BackendOption = None,
    dsn: DsnOption = None,
    allow_destructive: AllowDestructiveOption = None,
) -> None:
    """Show which binaries, backends and settings rlsguard finds here, and why."""
    from rlsguard.harness.doctor import diagnose

    diagnosis = diagnose(
        supabase_dir=supabase_dir.resolve() if supabase_dir else None,
        overrides=engine_options(backend=backend, dsn=dsn, allow_destructive=allow_destructive),
    )
    if as_json:
        typer.echo(json.dumps(diagnosis.as_dict(), indent=2))
    else:
        table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
        table.add_column("check")
        table.add_column("")
        table.add_column("finding", overflow="fold")
        for check in diagnosis.checks:
            detail = "".join(f"\n  [dim]{escape(d)}[/]" for d in check.details)
            table.add_row(
                escape(check.name), _STATUS_STYLE[check.status], escape(check.summary) + detail
            )
        console.print(table)
        if not diagnosis.ok:
            err_console.print("[red]Some checks failed: fix those lines first.[/]")
    raise typer.Exit(0 if diagnosis.ok else 1)


@app.command()
def up(
    supabase_dir: SupabaseDirOption = None,
    no_cache: NoCacheOption = False,
    backend: BackendOption = None,
    dsn: DsnOption = None,
    allow_destructive: AllowDestructiveOption = None,
    stand_in: StandInOption = None,
    pg_bin: PgBinOption = None,
    auth: Annotated[
        bool, typer.Option("--auth/--no-auth", help="Also start Redis, SMTP and the auth service.")
    ] = True,
) -> None:
    """Start the project's database, Redis, SMTP and the API (REST + auth on one URL); Ctrl-C
    stops them."""
    from rlsguard.harness.engine import Engine

    # Our own handler: started from a script (`rlsguard up &`), SIGINT arrives ignored and
    # Ctrl-C or `kill -INT` would never stop the server.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    options = engine_options(
        supabase_dir, no_cache=no_cache, backend=backend, dsn=dsn,
        allow_destructive=allow_destructive, stand_in=stand_in, pg_bin=pg_bin,
    )  # fmt: skip
    try:
        engine = Engine(options=options).open()
    except RlsguardError as exc:
        print_error(err_console, exc)
        raise typer.Exit(2) from exc
    try:
        prepared = engine.prepared
        if prepared is not None:
            how = "from the cache" if prepared.cache_hit else "built"
            console.print(
                f"[green]ready[/] ({how} in {prepared.seconds:.2f}s): "
                f"{escape(prepared.server.binaries.describe())}"
            )
            typer.echo(f"psql '{engine.conninfo('postgres')}'")
            typer.echo(f"url {prepared.server.url()}")
        else:
            what = {"live": "a live Supabase database, nothing written", "scratch": "migrated"}
            console.print(
                f"[green]ready[/] ({engine.backend} backend, {engine.mode}: "
                f"{what.get(engine.mode, '')}): database {escape(engine.template_db)}"
            )
            typer.echo(f"psql {shlex.quote(_redacted(engine.conninfo(engine.template_db)))}")
        typer.echo(f"anon key {engine.signer.anon_key}")
        typer.echo(f"service_role key {engine.signer.service_role_key}")
        if auth and engine.mode != "local":
            err_console.print(
                "[yellow]note:[/] the auth service starts with the local backend only (it logs "
                "in as supabase_auth_admin, whose password a dsn target does not give us)"
            )
        elif auth:
            from rlsguard.authservice.up import format_status, start_local_services
            from rlsguard.refapp.gateway import start_gateway

            services = start_local_services(engine)
            # One API URL, as Supabase's gateway: REST and /auth/v1 on the same app.
            gateway, services.auth = start_gateway(engine, services.auth)
            rows = services.lines(engine.signer.secret)
            rows.insert(1, ("REST URL", f"{gateway.url}/rest/v1"))
            typer.echo("\nStarted rlsguard local development setup.\n")
            typer.echo(format_status(rows))
            for note in services.notes:
                err_console.print(f"[yellow]note:[/] {escape(note)}")
        typer.echo("Press Ctrl-C to stop.", err=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        engine.close()


def _redacted(conninfo: str) -> str:
    """A connection string without its password (the user has it; logs need not)."""
    import psycopg

    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    if params.get("password"):
        params["password"] = "***"
    return psycopg.conninfo.make_conninfo(**params)


policy_cli.register(app)  # snapshot, diff, blame, rollback
audit_cli.register(app)  # lint, probe
gate_cli.register(app)  # gate
gameday_cli.register(app)  # gameday
dev_cli.register(app)  # dev, watch
mutate_cli.register(app)  # mutate
pgtap_cli.register(app)  # test-db


def _show_progress() -> None:
    """Progress notes (e.g. a migration still running after a second) go to stderr."""
    logger = logging.getLogger("rlsguard.progress")
    if not logger.handlers:
        handler = logging.StreamHandler()  # stderr
        handler.setFormatter(logging.Formatter("rlsguard: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning as one line: the user needs the message (and, for rlsguard's warnings, the
    place in their files), never our source line."""
    if issubclass(category, RlsguardWarning):
        text = format_warning(message, category, filename, lineno)
    else:
        text = f"warning: {' '.join(str(message).split())}"
    where, _, what = text.partition("warning: ")
    err_console.print(f"{escape(where)}[yellow]warning:[/] {escape(what.rstrip())}", soft_wrap=True)


def run() -> None:
    """The application, with rlsguard's own errors as one line and exit code 2."""
    warnings.showwarning = _show_warning
    # psycopg logs "error ignored terminating <Pipeline>" after an error we report ourselves.
    logging.getLogger("psycopg").addHandler(logging.NullHandler())
    _show_progress()
    try:
        app()
    except RlsguardError as exc:
        print_error(err_console, exc)
        raise SystemExit(2) from exc
    except OSError as exc:  # the environment, not a finding: exit 2 with the file, no traceback
        print_error(err_console, exc)
        raise SystemExit(2) from exc
