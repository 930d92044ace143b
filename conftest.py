"""Repository root: makes ``tests`` importable as a package for shared test helpers, and runs
the whole suite on xdist workers.

Plain ``pytest`` (no paths, no ``-k``/``-m`` of one's own) is the run CI and contributors wait
for, and it pays for workers. Everything else runs exactly as asked: a path, ``-k``, ``-m rls``,
``--pdb``, ``-s`` or ``--collect-only`` stays serial, so the inner loop never waits for workers
to start, and an explicit ``-n``/``--dist``/``-p no:xdist`` wins.

``RLSGUARD_TEST_WORKERS`` overrides the choice: ``0`` for serial, a number for that many
workers. The outermost run then sets it to ``0`` for every process it starts, so the suite's
own ``pytest`` subprocesses (run on throwaway projects) never start workers of their own; a
run started from inside a test (``PYTEST_CURRENT_TEST`` or ``PYTEST_XDIST_WORKER`` set) never
does either.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest

WORKERS_ENV = "RLSGUARD_TEST_WORKERS"
MAX_WORKERS = 4
# The suite's default selection (pyproject's addopts): anything else is the user's own choice.
DEFAULT_MARKEXPR = "not slow"
_BY_FOLDER = pytest.StashKey[bool]()


@pytest.hookimpl(tryfirst=True)  # before xdist turns -n into workers
def pytest_cmdline_main(config: pytest.Config) -> None:
    workers = _workers(config, os.environ)
    os.environ[WORKERS_ENV] = "0"  # inherited by every process this run starts
    if workers > 1:
        config.option.numprocesses = workers
        config.option.dist = "loadscope"
        config.stash[_BY_FOLDER] = True


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """Workers chosen here: one folder of ``tests/`` per worker at a time (see scope_of)."""
    if not config.stash.get(_BY_FOLDER, False):
        return None  # the user's own --dist
    from xdist.scheduler import LoadScopeScheduling

    class _Scheduler(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return _Scheduler(config, log)


def scope_of(nodeid: str) -> str:
    """The unit of work a worker gets: a folder of ``tests/``, or any other file on its own.

    Folders' session fixtures (a bootstrapped cluster in tests/supabase, the gate's workspace
    and known-bad heads in tests/gate) are then built once, not once per worker; a module's
    fixtures too (private clusters, servers). The matrix, pgTAP files and the top-level test
    modules are scopes of their own.
    """
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0] == "tests" and len(parts) > 2 else path


def _workers(config: pytest.Config, environ: Mapping[str, str]) -> int:
    """How many workers this run gets: 0 leaves it as the command line said."""
    if "PYTEST_CURRENT_TEST" in environ or "PYTEST_XDIST_WORKER" in environ:
        return 0  # started by a test of an outer run: never more workers
    wanted = environ.get(WORKERS_ENV, "").strip()
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return 0
    option = config.option
    if option.numprocesses is not None or option.dist != "no" or option.tx:
        return 0  # the user's own -n / --dist / --tx
    if _interactive_or_not_running(config):
        return 0
    if wanted:
        try:
            return max(0, int(wanted))
        except ValueError:
            raise pytest.UsageError(
                f"{WORKERS_ENV}={wanted!r}: expected a number of xdist workers "
                "(0 runs the suite serially)"
            ) from None
    if config.args_source is not pytest.Config.ArgsSource.TESTPATHS:
        return 0  # paths given, or run from a subfolder: a selection
    if (
        option.keyword
        or option.markexpr != DEFAULT_MARKEXPR
        or getattr(option, "lf", False)
        or getattr(option, "failedfirst", False)
    ):
        return 0
    return min(MAX_WORKERS, _cores())


def _cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _interactive_or_not_running(config: pytest.Config) -> bool:
    option = config.option
    return bool(
        getattr(option, "usepdb", False)
        or getattr(option, "trace", False)
        or getattr(option, "capture", "fd") == "no"
        or option.collectonly
        or getattr(option, "showfixtures", False)
        or getattr(option, "show_fixtures_per_test", False)
        or getattr(option, "markers", False)
        or getattr(option, "setuponly", False)
        or getattr(option, "setupplan", False)
    )
