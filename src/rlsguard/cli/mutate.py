"""``rlsguard mutate``: the mutation score of the project's checks on its live surface.

This entry point wires the floors together: the harness clones one database per job, the
mutate package generates and runs the mutants, and the judge below hands it the project's
checks (the access matrix, then lint) without the mutate package importing either.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from rlsguard.cli.console import print_error
from rlsguard.cli.options import SupabaseDirOption
from rlsguard.errors import RlsguardError

err_console = Console(stderr=True)


class _ResolvedOnce:
    """The project's personas, each resolved once: a mutant changes policies and grants,
    never ``auth.users``, so looking every user up again for each check is wasted."""

    def __init__(self, personas: Any) -> None:
        self._personas = personas
        self._found: dict[str, Any] = {}

    def resolve(self, conn: Any, name: str, **claims: Any) -> Any:
        if claims:
            return self._personas.resolve(conn, name, **claims)
        if name not in self._found:
            self._found[name] = self._personas.resolve(conn, name)
        return self._found[name]

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._personas, attr)


class _JudgeDatabase:
    """The cloned database as the checks see it, with personas resolved once."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self.personas = _ResolvedOnce(db.personas)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._db, attr)


class MatrixJudge:
    """The project's checks on one database: the matrix cells of the mutated table first,
    then lint (a finding the original does not have kills too), then the cells of the
    tables that read the mutated object."""

    def __init__(
        self,
        db: Any,
        matrix: Any,
        schemas: Sequence[str],
        baseline_lint: frozenset[Any],
        dependents: Any = None,
    ) -> None:
        self.db = _JudgeDatabase(db)
        self.conn = db.conn
        self.matrix = matrix
        self.schemas = list(schemas)
        self.cells = matrix.cells()
        self.baseline_lint = baseline_lint
        self.dependents = dependents  # rlsguard.mutate.depends.Dependents; None: every cell
        self._baseline: dict[str, Any] = {}

    def _run(self, cells: list[Any]) -> tuple[str, ...]:
        from rlsguard.matrix.check import Checker

        if not cells:
            return ()
        run = Checker(self.db, self.matrix, schemas=self.schemas, context=False).run(cells)
        return tuple(f"matrix:{r.cell.id}" for r in run.failed)

    def failing(self, mutant: Any) -> tuple[str, ...]:
        ops = list(mutant.commands)
        table = [c for c in self.cells if c.table in mutant.tables]
        stages = [
            [c for c in table if ops and c.operation == ops[0]],  # the command's own cells
            [c for c in table if not ops or c.operation in ops[1:]],
        ]
        tried = {c for stage in stages for c in stage}
        reached = self.dependents.tables(mutant) if self.dependents is not None else None
        rest = [c for c in self.cells if c not in tried and (reached is None or c.table in reached)]
        # Cheapest first: the command's cells, the table's other cells, lint (a catalog
        # read and every rule: dearer than a table's cells), then the cells of every table
        # that reads the mutated object (a helper or a view changes tables it does not name;
        # see rlsguard.mutate.depends).
        killed = self._run(stages[0]) or self._run(stages[1])
        if killed:
            return killed
        new = lint_keys(self.conn, self.schemas) - self.baseline_lint
        if new:
            return tuple(f"lint:{rule}:{obj}" for rule, obj in sorted(new))
        return self._run(rest)

    def suggest(self, mutant: Any) -> str:
        """Record what each persona reaches under the mutant and under the original; the
        original's rows where they differ are the cells that would kill it."""
        from rlsguard.matrix.record import record

        tables = [t for t in mutant.tables if t in self.matrix.spec.tables] or list(
            self.matrix.spec.tables
        )
        personas = [p for p in self.matrix.personas if p in self.db.personas.names]
        try:
            observed = record(
                self.db, personas=personas, tables=tables, schemas=self.schemas
            ).tables
            missing = [t for t in tables if t not in self._baseline]
            if missing:
                self.conn.rollback()  # the original, for the baseline
                self._baseline.update(
                    record(self.db, personas=personas, tables=missing, schemas=self.schemas).tables
                )
                self.conn.execute("BEGIN")
                for statement in mutant.apply:
                    self.conn.execute(statement)
        except RlsguardError as exc:
            return f"# no suggestion: {exc}"
        cells: dict[str, dict[str, dict[str, Any]]] = {}
        for table in tables:
            for operation, found in observed.get(table, {}).items():
                original = self._baseline.get(table, {}).get(operation, {})
                for persona, value in found.items():
                    if original.get(persona) != value and persona in original:
                        cells.setdefault(table, {}).setdefault(operation, {})[persona] = (
                            _yaml_value(original[persona])
                        )
        if not cells:
            return (
                "# no persona reads, updates or deletes other rows under this mutant; kill it "
                "with an insert: or changes: candidate the mutant accepts, a persona it "
                "affects, or a waiver"
            )
        text = yaml.safe_dump({"tables": cells}, sort_keys=False, default_flow_style=None)
        return "# what the original allows and the mutant does not (add to the matrix)\n" + text


def _yaml_value(value: Any) -> Any:
    if isinstance(value, str):
        return value
    keys, _total = value
    return {"keys": [list(k) for k in keys]}


def lint_keys(conn: Any, schemas: Sequence[str]) -> frozenset[tuple[str, str]]:
    from rlsguard.audit.lint import lint_database

    # Security findings only: a mutant that merely reads slower is not a bug the suite missed.
    found = lint_database(conn, exposed_schemas=schemas)
    return frozenset(f.key for f in found if f.category == "security")


@contextlib.contextmanager
def _clones(engine: Any, jobs: int) -> Iterator[list[Any]]:
    with contextlib.ExitStack() as stack:
        base = f"rlsguard_mutate_{os.getpid()}_{time.monotonic_ns() % 10**9}"
        yield [stack.enter_context(engine.cloned_database(f"{base}_{i}")) for i in range(jobs)]


def register(app: typer.Typer) -> None:
    @app.command()
    def mutate(
        supabase_dir: SupabaseDirOption = None,
        fmt: Annotated[
            str, typer.Option("--format", help="text, json, markdown or sarif.")
        ] = "text",
        min_score: Annotated[
            float | None,
            typer.Option("--min-score", help="Exit 1 when the score is below this percent."),
        ] = None,
        jobs: Annotated[
            int, typer.Option("--jobs", "-j", min=1, help="Cloned databases run in parallel.")
        ] = 2,
        matrix_path: Annotated[
            Path | None,
            typer.Option("--matrix", dir_okay=False, help="The matrix file (default: config)."),
        ] = None,
        only: Annotated[
            str | None,
            typer.Option("--only", help="Run only mutants whose id matches this glob."),
        ] = None,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write the report here.")
        ] = None,
        verbose: Annotated[
            bool, typer.Option("--verbose", "-v", help="List every mutant.")
        ] = False,
    ) -> None:
        """Mutate the live policies, grants and helpers; report which mutants the checks miss."""
        from rlsguard.mutate.report import FORMATS

        try:
            if fmt not in FORMATS:
                raise RlsguardError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
            text, ok = _run_mutate(supabase_dir, matrix_path, jobs, only, fmt, min_score, verbose)
        except RlsguardError as exc:
            print_error(err_console, exc)
            raise typer.Exit(2) from exc
        if output is not None:
            output.write_text(text, encoding="utf-8")
        else:
            typer.echo(text, nl=False)
        raise typer.Exit(0 if ok else 1)


def _run_mutate(
    supabase_dir: Path | None,
    matrix_path: Path | None,
    jobs: int,
    only: str | None,
    fmt: str,
    min_score: float | None,
    verbose: bool,
) -> tuple[str, bool]:
    import fnmatch

    from rlsguard.catalog.surface import read_catalog
    from rlsguard.harness.engine import Engine, EngineOptions
    from rlsguard.matrix.load import load_matrix
    from rlsguard.mutate.depends import Dependents, read_triggers
    from rlsguard.mutate.equivalence import WaiverRule, unused_waivers
    from rlsguard.mutate.execute import run_mutants, triage
    from rlsguard.mutate.generate import generate
    from rlsguard.mutate.report import render

    engine = Engine(
        options=EngineOptions(supabase_dir=supabase_dir.resolve() if supabase_dir else None)
    )
    matrix = load_matrix(matrix_path or engine.config.matrix, engine.personas.names)
    waivers = [WaiverRule(w.mutant, w.reason) for w in engine.config.mutate.waivers]
    threshold = min_score if min_score is not None else engine.config.mutate.min_score
    with engine:
        schemas = list(engine.load_project().config.api_schemas)
        with _clones(engine, jobs) as dbs:
            catalog = read_catalog(dbs[0].conn, schemas)
            mutants = generate(catalog)
            if only:
                mutants = [m for m in mutants if fnmatch.fnmatchcase(m.id, only)]
            decided, to_run = triage(mutants, catalog, waivers)
            baseline = lint_keys(dbs[0].conn, schemas)
            dependents = Dependents.build(catalog, *read_triggers(dbs[0].conn))
            judges = [MatrixJudge(db, matrix, schemas, baseline, dependents) for db in dbs]
            run = run_mutants(to_run, judges, decided=decided)
    unused = unused_waivers(mutants, waivers) if not only else []
    text = render(run, fmt, unused=unused, verbose=verbose)  # type: ignore[arg-type]
    ok = threshold is None or run.score >= threshold
    if not ok:
        err_console.print(f"mutation score {run.score:.1f}% is below --min-score {threshold}")
    return text, ok
