"""pytest items from pgTAP files: one ``pgtap`` item per ``supabase/tests/**/*.sql`` file.

When the files are collected
    - when pytest runs without path arguments (``pytest``, ``pytest -m pgtap``), if the
      project's tests folder exists (``[pgtap].tests``, default ``supabase/tests``);
    - when a path argument is that folder, a folder above it or one of its files.

How items run
    The first item a process runs clones the project's template into a database of the
    process's own (so ``-n`` workers never share one) and installs pgTAP there: the server's
    extension, or rlsguard's implementation where the server has none (``--rlsguard-pgtap``
    or ``[pgtap].implementation`` choose). Each file then runs as ``postgres`` in a transaction
    rolled back afterwards. A failing item lists each failing assertion at its file and line,
    with pgTAP's diagnostics (``have:``/``want:``); the whole TAP is in the report's ``tap``
    section (``pytest -rA`` shows it for passing files too).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rlsguard.errors import RlsguardError
from rlsguard.pytest.session import fail_session, session_engine, worker_id

if TYPE_CHECKING:
    from rlsguard.config import ProjectConfig
    from rlsguard.pgtap.database import TestDatabase
    from rlsguard.pgtap.runner import FileResult

PLUGIN_NAME = "rlsguard-pgtap"
ASSERTIONS_PROPERTY = "pgtap_assertions"


def add_options(group: Any) -> None:
    group.addoption(
        "--rlsguard-pgtap",
        choices=("auto", "server", "rlsguard"),
        default=None,
        help="which pgTAP runs the supabase/tests files: the server's extension, rlsguard's "
        "own implementation, or auto (the server's when installed; default from config)",
    )


def configure_pgtap(config: pytest.Config, project: ProjectConfig | None) -> None:
    """Collect the project's pgTAP files when the folder exists (see module docs)."""
    if project is None:
        return
    from rlsguard.pgtap.collect import find_test_files, tests_folder

    folder = tests_folder(project)
    files = find_test_files(folder, project.pgtap.pattern)
    if not files:
        return
    implementation = config.getoption("--rlsguard-pgtap", None) or project.pgtap.implementation
    plugin = PgtapPlugin(config, folder, files, implementation, project.pgtap.schema_)
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args.append(str(folder))


class PgtapFailed(Exception):
    """A file's TAP says it failed (or a statement stopped it)."""

    def __init__(self, result: FileResult) -> None:
        super().__init__(f"{result.path.name}: failed")
        self.result = result


class PgtapFile(pytest.File):
    """A pgTAP file as a collector of one item (the file is the test, as in pg_prove)."""

    def collect(self) -> Iterator[PgtapItem]:
        yield PgtapItem.from_parent(self, name="pgtap")


class PgtapItem(pytest.Item):
    """One pgTAP file, run in a rolled-back transaction."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker(pytest.mark.pgtap)

    def runtest(self) -> None:
        plugin: PgtapPlugin = self.config.pluginmanager.getplugin(PLUGIN_NAME)
        result = plugin.run(self)
        tap = result.tap
        self.user_properties.append(
            (ASSERTIONS_PROPERTY, (len(tap.assertions), len(tap.failed), plugin.provider_name))
        )
        self.add_report_section("call", "tap", tap.text())
        if result.passed and tap.skip_all is not None:
            pytest.skip(f"the file skips all its tests: {tap.skip_all}")
        if not result.passed:
            raise PgtapFailed(result)

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> Any:
        if isinstance(excinfo.value, PgtapFailed):
            return explain(excinfo.value.result, _display(self.path, self.config))
        if isinstance(excinfo.value, RlsguardError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"pgtap {self.path.name}"


def explain(result: FileResult, display: str) -> str:
    """Each failing assertion where it is written, with pgTAP's diagnostics, then the verdict."""
    lines: list[str] = []
    for assertion in result.tap.failed:
        where = f"{display}:{assertion.line}" if assertion.line else display
        head = f"{where}: not ok {assertion.number}"
        if assertion.description:
            head += f" - {assertion.description}"
        lines.append(head)
        lines.extend(f"    {text}" for text in assertion.diagnostics)
    problems = result.problems()
    if result.error is not None:
        problems[0] = result.error.render(display)
    lines.extend(problems)
    summary = [d for d in result.tap.diagnostics if "Looks like" in d]
    lines.extend(summary)
    return "\n".join(lines)


class PgtapPlugin:
    """Per process: one cloned database with pgTAP, the files run in it, dropped at the end."""

    def __init__(
        self,
        config: pytest.Config,
        folder: Path,
        files: list[Path],
        implementation: str,
        schema: str,
    ) -> None:
        self.config = config
        self.folder = folder
        self.files = set(files)
        self.implementation = implementation
        self.schema = schema
        self._db: TestDatabase | None = None
        self._dbname: str | None = None
        self._engine: Any = None
        self.error: BaseException | None = None
        self.counts = [0, 0, 0]  # files, assertions, failed assertions (from reports: xdist too)
        self.providers: set[str] = set()

    @property
    def provider_name(self) -> str:
        return self._db.provider.describe() if self._db is not None else ""

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> Any:
        if file_path.suffix == ".sql" and file_path.resolve() in self.files:
            return PgtapFile.from_parent(parent, path=file_path)
        return None

    def run(self, item: PgtapItem) -> FileResult:
        database = self._database()
        return database.run(item.path)

    def _database(self) -> TestDatabase:
        if self.error is not None:
            raise self.error
        if self._db is not None:
            return self._db
        from rlsguard.pgtap.database import TestDatabase

        try:
            engine = session_engine(self.config)
        except RlsguardError as exc:
            fail_session(exc)
        name = f"rlsguard_pgtap_{worker_id(self.config)}_{os.getpid()}"
        try:
            engine.clone(name)  # refused on a live dsn target: the files need a database
        except RlsguardError as exc:
            self.error = exc
            raise
        self._engine, self._dbname = engine, name
        try:
            self._db = TestDatabase(
                engine.conninfo(name),
                engine.conninfo(name, user="postgres"),
                implementation=self.implementation,  # type: ignore[arg-type]
                schema=self.schema,
                stand_ins=engine.stand_ins,
            )
        except RlsguardError as exc:
            self.error = exc
            raise
        return self._db

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._engine is not None and self._dbname is not None:
            self._engine.drop(self._dbname)
            self._dbname = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == ASSERTIONS_PROPERTY:
                assertions, failed, provider = value
                self.counts[0] += 1
                self.counts[1] += assertions
                self.counts[2] += failed
                self.providers.add(provider)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        files, assertions, failed = self.counts
        if not files:
            return
        terminalreporter.section("rlsguard pgtap")
        terminalreporter.write_line(
            f"{files} file(s), {assertions} assertion(s), {failed} failed; "
            + "; ".join(sorted(self.providers))
        )

    def pytest_report_header(self, config: pytest.Config) -> str:
        return f"rlsguard pgtap: {_display(self.folder, config)} ({len(self.files)} file(s))"


def _display(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(config.rootpath))
    except ValueError:
        return str(path)
