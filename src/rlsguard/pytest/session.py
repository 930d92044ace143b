"""One engine per pytest process, opened on first use by whoever needs it first.

Fixtures, the matrix and drift items and the xdist controller all ask :func:`session_engine`;
a backend that cannot start ends the session once (:func:`fail_session`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rlsguard.errors import RlsguardError

ENGINE_KEY = "rlsguard_engine"
engines_key = pytest.StashKey["Engines"]()


def install(config: pytest.Config) -> None:
    """Give this pytest process its engine holder (and, in an xdist controller, the hook
    that hands workers a description of the template)."""
    config.stash[engines_key] = Engines(config)
    if _is_xdist_controller(config):
        config.pluginmanager.register(_XdistController(config), "rlsguard-xdist-controller")


def uninstall(config: pytest.Config) -> None:
    engines = config.stash.get(engines_key, None)
    if engines is not None:
        engines.close()


def session_engine(config: pytest.Config) -> Any:
    """The process's engine: opened (or attached, in an xdist worker) on first use."""
    return config.stash[engines_key].get()


class Engines:
    """One engine per pytest process, shared by fixtures, matrix items and the xdist controller."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.engine: Any = None
        self.error: str | None = None

    def get(self) -> Any:
        from rlsguard.harness.engine import Engine, EngineState

        if self.engine is not None:
            return self.engine
        if self.error is not None:
            raise RlsguardError(self.error)
        workerinput = getattr(self.config, "workerinput", None)
        try:
            if workerinput and ENGINE_KEY in workerinput:
                state = json.loads(workerinput[ENGINE_KEY])
                if "error" in state:
                    raise RlsguardError(state["error"])
                self.engine = Engine.attach(EngineState(**state))
            else:
                from rlsguard.harness.devserver import attach_for

                options = _engine_options(self.config)
                self.engine = attach_for(options) or Engine(options=options).open()
        except RlsguardError as exc:
            self.error = str(exc)
            raise
        except (OSError, UnicodeError) as exc:
            # Not our own error, but the session must still fail once, not per test
            # (and not rebuild the template for every test that asks).
            self.error = f"{type(exc).__name__}: {exc}"
            raise RlsguardError(self.error) from exc
        return self.engine

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


def _engine_options(config: pytest.Config) -> Any:
    from rlsguard.harness.engine import EngineOptions

    supabase_dir = config.getoption("--supabase-dir")
    return EngineOptions(
        supabase_dir=Path(supabase_dir).resolve() if supabase_dir else None,
        backend=config.getoption("--rlsguard-backend"),
        dsn=config.getoption("--rlsguard-dsn"),
        pg_bin=config.getoption("--rlsguard-pg-bin"),
        no_cache=config.getoption("--rlsguard-no-cache"),
        allow_destructive=config.getoption("--rlsguard-allow-destructive"),
        stand_ins=tuple(config.getoption("--rlsguard-stand-in") or ()),
    )


def _is_xdist_controller(config: pytest.Config) -> bool:
    return (
        config.pluginmanager.hasplugin("xdist")
        and getattr(config.option, "dist", "no") != "no"
        and not hasattr(config, "workerinput")
    )


def worker_id(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else "main"


def fail_session(exc: BaseException) -> None:
    """A backend that cannot start ends the session once, with the reason."""
    pytest.exit(f"rlsguard could not prepare its database: {exc}", returncode=3)


class _XdistController:
    """In the xdist controller: build the template once, hand workers a description of it."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_configure_node(self, node: Any) -> None:
        engines = self.config.stash[engines_key]
        try:
            state = engines.get().state().as_dict()
        except RlsguardError as exc:
            # Projects without a supabase/ folder still run their other tests.
            state = {"error": str(exc)}
        node.workerinput[ENGINE_KEY] = json.dumps(state)
