"""pytest items from the access matrix: one ``rls`` item per persona x table x operation.

When the matrix is collected
    - always with ``--rlsguard-matrix PATH`` (that file);
    - when pytest runs without path arguments (``pytest``, ``pytest -m rls``; testpaths
      or the current directory), if the project's matrix file exists: ``matrix`` in the
      rlsguard config (default ``fixtures/rls_matrix.yaml`` beside it), where the config
      is the one beside ``--supabase-dir`` or the nearest one above the current directory;
    - when a path argument is that file or a folder holding it (``pytest fixtures/``).

    ``pytest tests/test_x.py`` therefore runs only that file, and ``-m "not rls"`` or
    ``-k`` deselect matrix items like any others.

How items run
    The first matrix item to run checks every selected cell at once (a few round trips
    in a database cloned for it, see :mod:`rlsguard.matrix.check`); each item then
    reports its own cell, so an item costs a dictionary lookup. Under pytest-xdist each
    worker checks the cells once for itself.

The terminal summary lists the cells checked and what the file leaves untested.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rlsguard.errors import CellFailed, RlsguardError
from rlsguard.pytest.session import fail_session, session_engine

if TYPE_CHECKING:
    from rlsguard.config import ProjectConfig
    from rlsguard.matrix.load import Cell, Matrix
    from rlsguard.matrix.results import CellResult, MatrixRun

PLUGIN_NAME = "rlsguard-matrix"
WORKER_OUTPUT = "rlsguard_matrix"
CELL_PROPERTY = "rlsguard_cell"


def configure_matrix(
    config: pytest.Config, project: ProjectConfig | None, problem: RlsguardError | None
) -> None:
    """Decide whether this run collects a matrix, and from which file (see module docs).

    ``project`` is the project config the plugin read, or None with the ``problem``.
    """
    explicit = config.getoption("--rlsguard-matrix", None)
    if project is None:
        # A broken config must not quietly drop the matrix (a green run that checked
        # nothing): the session fails once, with the message the CLI prints.
        raise pytest.UsageError(str(problem)) from None
    if explicit:
        path = Path(explicit).expanduser()
        path = (path if path.is_absolute() else config.invocation_params.dir / path).resolve()
        if not path.is_file():
            raise pytest.UsageError(f"--rlsguard-matrix: no such file: {path}")
    else:
        path = Path(project.matrix).resolve()
        if not path.is_file():
            if "matrix" in project.model_fields_set:  # configured, so it must exist
                where = str(project.source) if project.source else "rlsguard config"
                raise pytest.UsageError(
                    f"{where}: matrix: no such file: {path}. Fix the path, or remove the key "
                    "to use the default (fixtures/rls_matrix.yaml)."
                )
            return
    config.pluginmanager.register(MatrixPlugin(config, path, list(project.personas)), PLUGIN_NAME)
    if explicit or config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args.append(str(path))


class MatrixFile(pytest.File):
    """The matrix YAML as a collector: one item per cell."""

    def collect(self) -> Iterator[MatrixItem]:
        plugin: MatrixPlugin = self.config.pluginmanager.getplugin(PLUGIN_NAME)
        matrix = plugin.load()
        cells = list(matrix.cells())
        if not cells and not self.config.getoption("--rlsguard-allow-empty", False):
            from rlsguard.matrix.load import MatrixError, Problem

            reason = (
                "the matrix has no cells, so nothing would be checked. Add expectations, "
                "or pass --rlsguard-allow-empty if an empty matrix is intended."
            )
            raise MatrixError([Problem(str(self.path), "", reason)])
        for cell in cells:
            item = MatrixItem.from_parent(
                self, name=f"test_access[{cell.id}]", cell=cell, line=matrix.line(cell.key)
            )
            plugin.nodeids.add(item.nodeid)
            yield item

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        from rlsguard.errors import MatrixError

        if isinstance(excinfo.value, MatrixError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class MatrixItem(pytest.Item):
    """One persona x table x operation of the matrix."""

    def __init__(self, *, cell: Cell, line: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cell = cell
        self.line = line
        self.add_marker(pytest.mark.rls)
        self.user_properties.append((CELL_PROPERTY, cell.id))

    def runtest(self) -> None:
        plugin: MatrixPlugin = self.config.pluginmanager.getplugin(PLUGIN_NAME)
        result = plugin.result(self)
        if not result.passed:
            raise CellFailed(result)

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> Any:
        if isinstance(excinfo.value, CellFailed):
            from rlsguard.matrix.report import explain

            return explain(excinfo.value.result)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.line - 1 if self.line else None), self.name


class MatrixPlugin:
    """Per process: loads the file, checks the selected cells once, prints the summary."""

    def __init__(self, config: pytest.Config, path: Path, personas: list[str]) -> None:
        """``personas``: the project's (the built-in anon and service_role are added)."""
        self.config = config
        self.path = path
        self.personas = personas
        self._matrix: Matrix | None = None
        self.run: MatrixRun | None = None
        self.error: BaseException | None = None
        self.passed = 0
        self.failed = 0
        self.untested: list[str] | None = None
        self.check_seconds = 0.0
        self._span: list[float] = []  # first start, last finish of a matrix item
        self.nodeids: set[str] = set()  # of the items collected in this process

    # -- collection --------------------------------------------------------------------
    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> Any:
        if file_path.name == self.path.name and file_path.resolve() == self.path:
            return MatrixFile.from_parent(parent, path=file_path)
        return None

    def load(self) -> Matrix:
        if self._matrix is None:
            from rlsguard.identity.personas import BUILTIN_PERSONAS
            from rlsguard.matrix.load import load_matrix

            self._matrix = load_matrix(self.path, [*BUILTIN_PERSONAS, *self.personas])
        return self._matrix

    # -- running -----------------------------------------------------------------------
    def result(self, item: MatrixItem) -> CellResult:
        if self.run is None and self.error is None:
            self._check(item.session)
        if self.error is not None:
            raise self.error
        assert self.run is not None
        return self.run.results[item.cell]

    def _check(self, session: pytest.Session) -> None:
        self.check_cells(session, [i.cell for i in session.items if isinstance(i, MatrixItem)])

    def check_cells(self, session: pytest.Session, cells: list[Cell]) -> None:
        from rlsguard.matrix.check import Checker

        started = time.perf_counter()
        try:
            engine = session_engine(self.config)
        except RlsguardError as exc:
            fail_session(exc)
        try:
            with engine.cloned_database(f"rlsguard_matrix_{os.getpid()}") as db:
                self.run = Checker(db, self.load(), schemas=_schemas(engine)).run(cells)
        except Exception as exc:
            self.error = exc
        self.check_seconds = time.perf_counter() - started

    # -- reporting ---------------------------------------------------------------------
    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        if not self._span and nodeid in self.nodeids:
            self._span = [time.perf_counter()] * 2

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        if self._span and nodeid in self.nodeids:
            self._span[1] = time.perf_counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and not (report.when == "setup" and report.failed):
            return
        if any(name == CELL_PROPERTY for name, _ in report.user_properties):
            if report.passed:
                self.passed += 1
            elif report.failed:
                self.failed += 1

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None and self.run is not None:
            workeroutput[WORKER_OUTPUT] = json.dumps(self.run.untested.lines())

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        found = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
        if found is not None and self.untested is None:
            self.untested = json.loads(found)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        checked = self.passed + self.failed
        if not checked:
            return
        untested = self.run.untested.lines() if self.run is not None else self.untested
        write = terminalreporter.write_line
        terminalreporter.section("rlsguard access matrix")
        line = (
            f"{_display(self.path, self.config)}: {checked} cell(s) checked, {self.failed} failed"
        )
        write(line + self.timing(checked))
        if untested is None:
            return
        if not untested:
            write("every persona, exposed table and operation is covered")
        for line in untested:
            write(f"untested: {line}")

    def timing(self, checked: int) -> str:
        """Where the time went, for the summary line ("" when there is nothing to say)."""
        if self.run is None or not self._span:
            return ""
        # Items of other tests may run in between; then the figure is an upper bound.
        per_item = (self._span[1] - self._span[0] - self.check_seconds) / checked
        return (
            f" (database {self.check_seconds:.3f} s for all cells, engine start included; "
            f"then {max(per_item, 0) * 1000:.2f} ms per item)"
        )


def _schemas(engine: Any) -> list[str]:
    try:
        return list(engine.context().exposed_schemas)
    except RlsguardError:
        return ["public"]


def _display(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(config.rootpath))
    except ValueError:
        return str(path)
