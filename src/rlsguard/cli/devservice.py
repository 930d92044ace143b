"""What a running ``rlsguard dev`` answers: matrix verdicts, computed once per state of the files.

A verdict is keyed by everything it depends on: the template (the content-hash chain of the
bootstrap, every migration and the seed, see :mod:`rlsguard.harness.devserver`), the matrix
file's bytes and the rlsguard config's bytes (personas, schemas). A request recomputes the key
from the files as they are now, so an answer is never older than the files; a save only makes
the next answer come sooner, because a watcher thread rebuilds the layers and checks the
project's matrix as soon as a file changes (before anyone asks).

Clients: ``pytest -m rls`` (cells at collection, verdicts at the first item, see
:mod:`rlsguard.pytest.devmatrix`) and ``rlsguard matrix check`` (the thin client of
:mod:`rlsguard.harness.devclient`). All database work runs under one lock, one at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlsguard.errors import RlsguardError

WATCH_SECONDS = 0.05  # how often the watcher looks at modification times (a few stat calls)
KEEP_MATRICES = 4


def digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:24]
    except OSError:
        return "missing"


@dataclass
class Verdict:
    """One check of one matrix against one template: the run, or why there is none."""

    key: tuple[str, ...]
    run: Any | None
    error: str | None
    seconds: float
    payload: dict[str, Any] | None = None  # what pytest clients get, built on first ask


class DevService:
    """The dev server's engine plus the verdicts it has computed (see module docs)."""

    def __init__(self, engine: Any) -> None:
        self.base = engine
        self.lock = threading.RLock()  # database work: building layers, checking cells
        self._files = threading.RLock()  # the config and matrices: answers that need no database
        self._retired: list[Any] = []
        self.config_source = Path(engine.config.source) if engine.config.source else None
        self._engine = engine
        self._config_digest = self._config_now()
        self._matrices: dict[tuple[str, str], Any] = {}
        self._verdicts: dict[tuple[str, ...], Verdict] = {}
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # -- state of the files ----------------------------------------------------------
    def _config_now(self) -> str:
        return digest(self.config_source) if self.config_source else "none"

    def engine(self) -> Any:
        """The engine for the config as it is now (a new attached one after a config edit)."""
        with self._files:
            now = self._config_now()
            if now != self._config_digest:
                from rlsguard.harness.engine import Engine

                engine = Engine.attach(self.base.state())  # reads the config file again
                engine.dev_server = True
                if self._engine is not self.base:
                    self._retired.append(self._engine)  # a check may still be using it
                self._engine, self._config_digest = engine, now
            return self._engine

    def default_matrix(self) -> Path:
        return Path(self.engine().config.matrix).resolve()

    def matrix(self, path: Path, engine: Any) -> tuple[str, Any]:
        """The loaded matrix at ``path`` and its digest (parsed once per content)."""
        from rlsguard.matrix.load import load_matrix

        with self._files:
            key = (str(path), digest(path) + self._config_digest)
            if key not in self._matrices:
                loaded = load_matrix(path, engine.personas.names)
                while len(self._matrices) >= KEEP_MATRICES:
                    self._matrices.pop(next(iter(self._matrices)))
                self._matrices[key] = loaded
            return key[1], self._matrices[key]

    # -- verdicts ----------------------------------------------------------------------
    def verdict(self, path: Path, expect_digest: str | None = None) -> Verdict:
        """The check of every cell of the matrix at ``path`` against the files as they are."""
        from rlsguard.harness.devserver import ensure_template
        from rlsguard.matrix.check import Checker

        with self.lock:
            engine = self.engine()
            engine.project = None  # read supabase/ again: migrations may have changed
            started = time.perf_counter()
            try:
                engine.template_db = ensure_template(engine)
                matrix_digest, loaded = self.matrix(path, engine)
            except Exception as exc:  # a broken migration or matrix: the answer says so
                return Verdict(("error",), None, _describe(exc), time.perf_counter() - started)
            if expect_digest is not None and matrix_digest != expect_digest:
                return Verdict(("changed",), None, (
                    f"{path} changed after pytest collected its cells; run pytest again"
                ), 0.0)  # fmt: skip
            key = (engine.template_db, str(path), matrix_digest)
            found = self._verdicts.get(key)
            if found is not None:
                return found
            try:
                schemas = list(engine.load_project().config.api_schemas)
                with engine.cloned_database() as db:
                    run = Checker(db, loaded, schemas=schemas).run()
                found = Verdict(key, run, None, time.perf_counter() - started)
            except Exception as exc:
                return Verdict(key, None, _describe(exc), time.perf_counter() - started)
            self._verdicts = {key: found}  # only the newest: older files will not come back
            return found

    def cells(self, explicit: str | None) -> dict[str, Any]:
        """What pytest collects: the matrix's cells (id, line) and what else the project has."""
        from rlsguard.errors import MatrixError
        from rlsguard.pgtap.collect import find_test_files, tests_folder
        from rlsguard.policy.paths import default_snapshot_path

        with self._files:  # not the database lock: a check in progress does not delay it
            try:
                engine = self.engine()
            except RlsguardError as exc:
                return {"usage": str(exc)}
            config = engine.config
            others = bool(find_test_files(tests_folder(config), config.pgtap.pattern))
            with contextlib.suppress(RlsguardError):
                snapshot = default_snapshot_path(Path(config.supabase_dir), config)
                others = others or snapshot.is_file()
            answer: dict[str, Any] = {"others": others, "matrix": None}
            path = Path(explicit) if explicit else Path(config.matrix).resolve()
            if not path.is_file():
                if explicit is None and "matrix" in config.model_fields_set:
                    where = str(config.source) if config.source else "rlsguard config"
                    answer["usage"] = (
                        f"{where}: matrix: no such file: {path}. Fix the path, or remove the key "
                        "to use the default (fixtures/rls_matrix.yaml)."
                    )
                return answer
            answer["matrix"] = str(path)
            try:
                matrix_digest, loaded = self.matrix(path, engine)
            except MatrixError as exc:
                answer["collect_error"] = str(exc)
                return answer
            answer["digest"] = matrix_digest
            answer["cells"] = [[c.id, loaded.line(c.key)] for c in loaded.cells()]
            return answer

    def pytest_verdict(self, path: str, expect_digest: str) -> dict[str, Any]:
        """Every cell's pass/fail, with the full explanation of each failing cell."""
        from rlsguard.matrix.report import explain

        found = self.verdict(Path(path), expect_digest)
        if found.payload is None:
            if found.run is None:
                found.payload = {"error": found.error}
            else:
                run = found.run
                found.payload = {
                    "results": {
                        r.cell.id: [r.passed, "" if r.passed else explain(r)]
                        for r in run.results.values()
                    },
                    "untested": run.untested.lines(),
                    "seconds": round(run.seconds, 4),
                }
        return found.payload

    # -- the watcher -------------------------------------------------------------------
    def watched(self) -> list[Path]:
        """What a save of re-checks: ``supabase/``, the matrix and the config."""
        engine = self._engine
        found = [Path(engine.supabase_dir), Path(engine.config.matrix)]
        return found + ([self.config_source] if self.config_source else [])

    def watch(self, changed: Callable[[], object], interval: float = WATCH_SECONDS) -> None:
        """Re-check the project's matrix whenever ``changed()`` says so (a thread; the dev
        command passes a poll of modification times of :meth:`watched`)."""

        def loop() -> None:
            while not self._stop.wait(interval):
                if changed():
                    self.refresh()

        self._watcher = threading.Thread(target=loop, name="rlsguard-dev-watch", daemon=True)
        self._watcher.start()

    def refresh(self) -> None:
        with contextlib.suppress(Exception):  # the next request reports what went wrong
            self.verdict(self.default_matrix())

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=60)
        for engine in [*self._retired, self._engine]:
            if engine is not self.base:
                engine.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RlsguardError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
