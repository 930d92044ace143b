"""Matrix items answered by the project's running ``rlsguard dev``.

With a dev server up, ``pytest -m rls`` neither reads the config (pydantic), nor parses the
matrix (YAML), nor connects to Postgres (psycopg): at configure time it asks the server for the
matrix's cells (one round trip; collection makes one item per cell, as without a server), and
the first item asks for the verdict of every cell (one more; the server usually has it ready,
since it checks again on every save, see :mod:`rlsguard.cli.devservice`). Each item still
reports its own cell, with the explanation and the offending rows when it fails.

Only a plain run attaches: any option or environment variable that chooses another database
(``--supabase-dir``, ``--rlsguard-backend``, ``RLSGUARD_DSN`` ...) or an xdist run reads
everything itself. A server that is gone or cannot answer is never an error: at configure time
the plugin then reads the project itself; at the first item, the items check their cells here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlsguard.errors import Relayed, RlsguardError
from rlsguard.pytest.matrix import CELL_PROPERTY, PLUGIN_NAME, MatrixPlugin

ENGINE_OPTIONS = (
    "--supabase-dir",
    "--rlsguard-backend",
    "--rlsguard-dsn",
    "--rlsguard-pg-bin",
    "--rlsguard-stand-in",
    "--rlsguard-no-cache",
    "--rlsguard-allow-destructive",
)
ENGINE_ENVIRONMENT = ("RLSGUARD_BACKEND", "RLSGUARD_DSN", "RLSGUARD_ALLOW_DESTRUCTIVE",
                      "RLSGUARD_PG_BIN")  # fmt: skip


def configure_dev_matrix(config: pytest.Config) -> dict[str, Any] | None:
    """Collect the matrix from the project's dev server when one answers.

    Returns the server's answer (``others``: the project also has a policy snapshot or pgTAP
    files, which the plugin collects itself), or None: no dev server for this run.
    """
    if any(config.getoption(name, None) for name in ENGINE_OPTIONS):
        return None
    if any(os.environ.get(name) for name in ENGINE_ENVIRONMENT):
        return None
    if getattr(config.option, "dist", "no") != "no" or hasattr(config, "workerinput"):
        return None  # xdist: the controller hands workers its own engine
    from rlsguard.harness.devclient import ask, project_root

    origin = Path(config.invocation_params.dir).resolve()
    root = project_root(origin)
    if root is None:
        return None
    explicit = config.getoption("--rlsguard-matrix", None)
    if explicit:
        path = Path(explicit).expanduser()
        path = (path if path.is_absolute() else origin / path).resolve()
        if not path.is_file():
            raise pytest.UsageError(f"--rlsguard-matrix: no such file: {path}")
        explicit = str(path)
    answer = ask(root, {"op": "cells", "matrix": explicit})
    if answer is None:
        return None
    if "usage" in answer:
        raise pytest.UsageError(str(answer["usage"]))
    if answer.get("matrix"):
        plugin = DevMatrixPlugin(config, Path(answer["matrix"]), root, answer)
        config.pluginmanager.register(plugin, PLUGIN_NAME)
        if explicit or config.args_source != pytest.Config.ArgsSource.ARGS:
            config.args.append(str(answer["matrix"]))
    return answer


class DevMatrixFile(pytest.File):
    """The matrix file, its cells as the dev server read them."""

    def collect(self) -> Iterator[DevMatrixItem]:
        plugin: DevMatrixPlugin = self.config.pluginmanager.getplugin(PLUGIN_NAME)
        answer = plugin.answer
        if "collect_error" in answer:
            raise Relayed(str(answer["collect_error"]))
        cells = answer.get("cells") or []
        if not cells and not self.config.getoption("--rlsguard-allow-empty", False):
            raise Relayed(
                f"{self.path}: the matrix has no cells, so nothing would be checked. Add "
                "expectations, or pass --rlsguard-allow-empty if an empty matrix is intended."
            )
        for cell_id, line in cells:
            item = DevMatrixItem.from_parent(
                self, name=f"test_access[{cell_id}]", cell_id=cell_id, line=line
            )
            plugin.nodeids.add(item.nodeid)
            yield item

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        if isinstance(excinfo.value, Relayed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class DevMatrixItem(pytest.Item):
    """One persona x table x operation, judged by the dev server."""

    def __init__(self, *, cell_id: str, line: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cell_id = cell_id
        self.line = line
        self.add_marker(pytest.mark.rls)
        self.user_properties.append((CELL_PROPERTY, cell_id))

    def runtest(self) -> None:
        plugin: DevMatrixPlugin = self.config.pluginmanager.getplugin(PLUGIN_NAME)
        passed, text = plugin.outcome(self)
        if not passed:
            raise Relayed(text)

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> Any:
        if isinstance(excinfo.value, RlsguardError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.line - 1 if self.line else None), self.name


class DevMatrixPlugin(MatrixPlugin):
    """The matrix plugin, with the dev server doing the loading and the checking."""

    def __init__(
        self, config: pytest.Config, path: Path, root: Path, answer: dict[str, Any]
    ) -> None:
        super().__init__(config, path, [])
        self.root = root
        self.answer = answer
        self.verdicts: dict[str, list[Any]] | None = None
        self.where = "on the dev server"

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> Any:
        if file_path.name == self.path.name and file_path.resolve() == self.path:
            return DevMatrixFile.from_parent(parent, path=file_path)
        return None

    def outcome(self, item: DevMatrixItem) -> tuple[bool, str]:
        if self.verdicts is None and self.error is None:
            self._verdict(item.session)
        if self.error is not None:
            raise self.error
        assert self.verdicts is not None
        found = self.verdicts.get(item.cell_id)
        if found is None:
            raise RlsguardError(f"{self.path}: no verdict for {item.cell_id}; run pytest again")
        return bool(found[0]), str(found[1])

    def _verdict(self, session: pytest.Session) -> None:
        from rlsguard.harness.devclient import ask

        started = time.perf_counter()
        answer = ask(
            self.root, {"op": "verdict", "matrix": str(self.path), "digest": self.answer["digest"]}
        )
        if answer is None:  # the server went away: check the cells here
            self.where = "here, as the dev server did not answer,"
            self._check_here(session)
        elif answer.get("error"):
            self.error = RlsguardError(str(answer["error"]))
        else:
            self.verdicts = answer["results"]
            self.untested = list(answer["untested"])
        self.check_seconds = time.perf_counter() - started

    def _check_here(self, session: pytest.Session) -> None:
        """The items' cells checked in this process, as without a dev server."""
        from rlsguard.config import load_config
        from rlsguard.matrix.report import explain

        try:
            self.personas = list(load_config().personas)
            by_id = {cell.id: cell for cell in self.load().cells()}
            wanted = [i.cell_id for i in session.items if isinstance(i, DevMatrixItem)]
            missing = [cell_id for cell_id in wanted if cell_id not in by_id]
            if missing:
                raise RlsguardError(f"{self.path} changed during the run; run pytest again")
        except RlsguardError as exc:
            self.error = exc
            return
        self.check_cells(session, [by_id[cell_id] for cell_id in wanted])
        if self.run is not None:
            self.verdicts = {
                r.cell.id: [r.passed, "" if r.passed else explain(r)]
                for r in self.run.results.values()
            }

    def timing(self, checked: int) -> str:
        if not self._span or self.verdicts is None:
            return ""
        per_item = (self._span[1] - self._span[0] - self.check_seconds) / checked
        return (
            f" (checked {self.where} in {self.check_seconds:.3f} s; "
            f"then {max(per_item, 0) * 1000:.2f} ms per item)"
        )
