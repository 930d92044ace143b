"""``rlsguard dev`` and ``rlsguard watch``: the edit -> verdict loop without the start-up.

``dev`` keeps the project's prepared cluster running and announces it (see
:mod:`rlsguard.harness.devserver`); ``matrix check`` and ``pytest -m rls`` attach to it.
``watch`` re-checks the matrix on every save of ``supabase/`` or of the matrix file and prints
only the cells that flipped, with persona, table and rows. Its file-change source is injected
(:func:`watch_loop`): tests feed it changes, the command polls modification times.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from rlsguard.cli.options import (
    PgBinOption,
    StandInOption,
    SupabaseDirOption,
    engine_options,
)
from rlsguard.errors import InvalidArgument, RlsguardError

POLL_SECONDS = 0.2


def _cache_dir(engine: Any) -> Path | None:
    return Path(engine.config.cache.dir) if engine.config.cache.dir else None


def dev(
    supabase_dir: SupabaseDirOption = None,
    stand_in: StandInOption = None,
    pg_bin: PgBinOption = None,
) -> None:
    """Keep the project's database running for `matrix check`, `watch` and `pytest -m rls`."""
    from rlsguard.harness import devserver
    from rlsguard.harness.engine import Engine

    signal.signal(signal.SIGINT, signal.default_int_handler)
    options = engine_options(supabase_dir, stand_in=stand_in, pg_bin=pg_bin)
    from rlsguard.cli.devservice import DevService

    engine = Engine(options=options).open()
    service = None
    try:
        path = devserver.state_path(_cache_dir(engine), Path(engine.supabase_dir))
        with devserver.serving(engine, path):
            service = DevService(engine)
            service.refresh()  # the first verdict before anyone asks
            with _commands(service, path) as server:
                # Every save: layers rebuilt and the matrix checked before anyone asks.
                service.watch(PollingChanges(service.watched()).poll)
                typer.echo(f"dev server ready: {engine.conninfo(engine.template_db)}")
                typer.echo("`rlsguard matrix check`, `rlsguard watch` and `pytest -m rls` "
                           "attach to it. Press Ctrl-C to stop.", err=True)  # fmt: skip
                server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if service is not None:
            service.close()
        engine.close()


def run_here(argv: list[str]) -> tuple[int, str, str]:
    """Run a command of this CLI in this process, its output captured (for a thin client)."""
    import contextlib
    import io

    from rlsguard.cli import app

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            returned = app(argv, standalone_mode=False)
            code = returned if isinstance(returned, int) else 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except typer.Exit as exc:
            code = exc.exit_code
        except RlsguardError as exc:
            from rich.console import Console

            from rlsguard.cli.console import print_error

            print_error(Console(stderr=True), exc)
            code = 2
    return code, out.getvalue(), err.getvalue()


def check_here(service: Any, argv: list[str]) -> tuple[int, str, str]:
    """``matrix check`` from the service's verdict for the files as they are now.

    Only a verdict is answered this way; anything else (an error, an empty matrix) runs the
    whole command here, so its messages are the command's own.
    """
    import io

    from rlsguard.cli.matrix import report_check

    as_json = "--json" in argv
    verbose = "--verbose" in argv or "-v" in argv
    path = Path(argv[argv.index("--matrix") + 1]) if "--matrix" in argv else None
    found = service.verdict((path or service.default_matrix()).resolve())
    if found.run is None or not found.run.results:
        return run_here(argv)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = report_check(found.run, as_json=as_json, verbose=verbose)
    return code, out.getvalue(), err.getvalue()


def answer(service: Any, ask: dict[str, Any]) -> dict[str, Any]:
    """One request of a client: ``matrix check`` (a thin CLI), or pytest's cells and verdict."""
    op = ask.get("op", "argv")
    if op == "cells":
        return service.cells(ask.get("matrix"))
    if op == "verdict":
        return service.pytest_verdict(str(ask["matrix"]), str(ask["digest"]))
    argv = [str(a) for a in ask["argv"]]
    if argv[:2] != ["matrix", "check"]:
        raise InvalidArgument(f"the dev server runs `matrix check` only, not {argv}")
    with service.lock:
        code, out, err = check_here(service, argv)
    return {"code": code, "stdout": out, "stderr": err}


@contextlib.contextmanager
def _commands(service: Any, state: Path) -> Iterator[Any]:
    """A Unix socket that answers thin clients (one request at a time)."""
    import json
    import os
    import socketserver

    from rlsguard.harness import devclient, devserver

    engine = service.base
    sock = state.with_suffix(".sock")
    sock.unlink(missing_ok=True)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            try:
                reply = answer(service, json.loads(self.rfile.read()))
            except Exception as exc:  # the client falls back to running the command itself
                message = f"error: the dev server could not run it: {exc}\n"
                reply = {"code": 2, "stdout": "", "stderr": message, "failed": message}
            self.wfile.write(json.dumps(reply).encode())

    server = socketserver.UnixStreamServer(str(sock), Handler)
    os.chmod(sock, 0o600)
    root = Path(engine.config.source).parent if engine.config.source else None
    index = devclient.index_path(root or Path(engine.supabase_dir).parent)
    index.parent.mkdir(parents=True, exist_ok=True)
    entry = {"pid": os.getpid(), "start": devserver.process_start(os.getpid()), "socket": str(sock)}
    index.write_text(json.dumps(entry))
    try:
        yield server
    finally:
        server.server_close()
        sock.unlink(missing_ok=True)
        with contextlib.suppress(OSError, ValueError):
            if json.loads(index.read_text()).get("pid") == os.getpid():
                index.unlink()


class PollingChanges:
    """Batches of changed files under ``paths``, by modification time (the command's source)."""

    def __init__(
        self,
        paths: Iterable[Path],
        *,
        sleep: Callable[[float], None] = time.sleep,
        interval: float = POLL_SECONDS,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.sleep = sleep
        self.interval = interval
        self.seen = self._snapshot()

    def _snapshot(self) -> dict[Path, float]:
        found: dict[Path, float] = {}
        for root in self.paths:
            files = [root] if root.is_file() else (p for p in root.rglob("*") if p.is_file())
            for path in files:
                try:
                    found[path] = path.stat().st_mtime_ns
                except OSError:
                    continue
        return found

    def poll(self) -> set[Path]:
        now = self._snapshot()
        changed = {p for p in now.keys() | self.seen.keys() if now.get(p) != self.seen.get(p)}
        self.seen = now
        return changed

    def __iter__(self) -> Iterator[set[Path]]:
        while True:
            changed = self.poll()
            if changed:
                yield changed
            else:
                self.sleep(self.interval)


def watch_loop(
    engine: Any,
    matrix_path: Path,
    changes: Iterable[set[Path]],
    echo: Callable[[str], None],
) -> list[Any]:
    """Check the matrix, then again after every batch of changes; print what flipped.

    ``engine`` runs the project's cluster (its own or a dev server's); each round rebuilds
    only the migration layers that changed. Errors (a broken migration, a bad matrix) are
    printed and the loop waits for the next save. Returns the runs, for tests.
    """
    from rlsguard.harness.devserver import ensure_template
    from rlsguard.matrix.check import Checker
    from rlsguard.matrix.flips import flips
    from rlsguard.matrix.load import load_matrix

    runs: list[Any] = []
    previous = None

    def check(reason: str) -> None:
        nonlocal previous
        started = time.perf_counter()
        try:
            engine.project = None  # read supabase/ again
            engine.template_db = ensure_template(engine)
            loaded = load_matrix(matrix_path, engine.personas.names)
            schemas = list(engine.load_project().config.api_schemas)
            with engine.cloned_database() as db:
                run = Checker(db, loaded, schemas=schemas).run()
        except RlsguardError as exc:
            echo(f"{reason}: error: {exc}")
            return
        except Exception as exc:  # a broken migration surfaces as a database error
            echo(f"{reason}: error: {type(exc).__name__}: {exc}")
            return
        runs.append(run)
        changed = flips(previous, run)
        seconds = time.perf_counter() - started
        failed = len(run.failed)
        echo(f"{reason}: {len(run.results)} cell(s), {failed} failed, "
             f"{len(changed)} changed ({seconds:.2f}s)")  # fmt: skip
        for flip in changed:
            echo(f"  {flip.line()}")
        previous = run

    check("start")
    for batch in changes:
        names = ", ".join(sorted(p.name for p in batch))
        check(f"changed {names}")
    return runs


def watch(
    supabase_dir: SupabaseDirOption = None,
    matrix: Annotated[
        Path | None, typer.Option("--matrix", help="The matrix file (default: the config's).")
    ] = None,
    stand_in: StandInOption = None,
    pg_bin: PgBinOption = None,
) -> None:
    """Re-check the matrix on every save of supabase/ or the matrix; print what flipped."""
    from rlsguard.harness.engine import Engine

    signal.signal(signal.SIGINT, signal.default_int_handler)
    from rlsguard.harness.devserver import attach_for

    options = engine_options(supabase_dir, stand_in=stand_in, pg_bin=pg_bin)
    engine = attach_for(options)
    own = engine is None
    if engine is None:
        engine = Engine(options=options).open()
    try:
        path = Path(matrix or engine.config.matrix)
        source = PollingChanges([Path(engine.supabase_dir), path])
        watch_loop(engine, path, source, typer.echo)
    except KeyboardInterrupt:
        pass
    finally:
        if own:
            engine.close()


def register(app: typer.Typer) -> None:
    app.command()(dev)
    app.command()(watch)
