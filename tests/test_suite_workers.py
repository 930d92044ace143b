"""The root conftest's choice of xdist workers: only the whole suite, never an inner run."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).parents[1]


def root_conftest() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rlsguard_root_conftest", ROOT / "conftest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROOT_CONFTEST = root_conftest()
WORKERS_ENV = ROOT_CONFTEST.WORKERS_ENV


def config(
    source: pytest.Config.ArgsSource = pytest.Config.ArgsSource.TESTPATHS,
    xdist: bool = True,
    **option: Any,
) -> Any:
    """What ``_workers`` reads of a pytest config: plain ``pytest`` unless told otherwise."""
    plain = {
        "numprocesses": None,
        "dist": "no",
        "tx": [],
        "keyword": "",
        "markexpr": "not slow",
        "usepdb": False,
        "trace": False,
        "capture": "fd",
        "collectonly": False,
    }
    return SimpleNamespace(
        option=SimpleNamespace(**{**plain, **option}),
        pluginmanager=SimpleNamespace(hasplugin=lambda name: xdist and name == "xdist"),
        args_source=source,
    )


def workers(cfg: Any, **environ: str) -> int:
    """The choice for a run a person started (not one a test started), on two cores."""
    return int(ROOT_CONFTEST._workers(cfg, {"PATH": "/usr/bin", **environ}))


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)


def test_plain_pytest_gets_one_worker_per_core() -> None:
    assert workers(config()) == 2


def test_at_most_four_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert workers(config()) == 4


@pytest.mark.parametrize(
    "selection",
    [
        {"source": pytest.Config.ArgsSource.ARGS},  # pytest tests/gate, pytest x.py::test
        {"source": pytest.Config.ArgsSource.INVOCATION_DIR},  # pytest from a subfolder
        {"keyword": "drill"},
        {"markexpr": "rls"},
        {"markexpr": "slow"},
        {"usepdb": True},
        {"capture": "no"},
        {"collectonly": True},
        {"numprocesses": 0},  # -n 0
        {"numprocesses": 3},  # the user's own -n wins, as given
        {"dist": "load"},
        {"xdist": False},  # -p no:xdist
    ],
)
def test_a_selection_or_an_explicit_choice_runs_as_asked(selection: dict[str, Any]) -> None:
    assert workers(config(**selection)) == 0


def test_the_environment_variable_overrides() -> None:
    assert workers(config(), **{WORKERS_ENV: "0"}) == 0
    assert workers(config(markexpr="rls"), **{WORKERS_ENV: "3"}) == 3
    assert workers(config(usepdb=True), **{WORKERS_ENV: "3"}) == 0  # xdist refuses --pdb
    with pytest.raises(pytest.UsageError, match=WORKERS_ENV):
        workers(config(), **{WORKERS_ENV: "two"})


@pytest.mark.parametrize("inner", ["PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER"])
def test_a_run_started_by_a_test_never_gets_workers(inner: str) -> None:
    # not even when the variable asks for them
    assert workers(config(), **{inner: "tests/x.py::test_y (call)", WORKERS_ENV: "2"}) == 0


def test_this_run_handed_its_children_a_serial_setting() -> None:
    """Whatever this run chose, the processes it starts (inner pytest runs) inherit ``0``."""
    assert os.environ.get(WORKERS_ENV) == "0"


def test_a_folder_of_tests_is_one_scope() -> None:
    scope_of = ROOT_CONFTEST.scope_of
    assert scope_of("tests/gate/test_run.py::test_a") == "tests/gate"
    assert scope_of("tests/gate/sub/test_b.py::test_b[x::y]") == "tests/gate"
    assert scope_of("tests/test_cli.py::test_up") == "tests/test_cli.py"
    assert scope_of("fixtures/rls_matrix.yaml::anon-notes-select") == "fixtures/rls_matrix.yaml"
    assert scope_of("supabase/tests/rls.sql::rls.sql") == "supabase/tests/rls.sql"


def test_the_folder_scheduler_only_when_the_workers_were_chosen_here() -> None:
    """An explicit ``--dist`` keeps xdist's own scheduler."""
    chosen = SimpleNamespace(stash={})
    assert ROOT_CONFTEST.pytest_xdist_make_scheduler(chosen, None) is None
