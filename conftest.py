"""Repository root: makes ``tests`` importable as a package for shared test helpers, and runs
the whole suite on every core.

Plain ``pytest`` (no arguments) is the suite CI and contributors run: it pays for xdist workers
(about half the wall time on two cores). Any selection — ``pytest -m rls``, ``-k``, a path, an
explicit ``-n`` — runs as asked, so the inner loop never waits for workers to start.
"""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    cores = min(4, os.cpu_count() or 1)
    whole_suite = not config.invocation_params.args
    if whole_suite and cores > 1 and config.pluginmanager.has_plugin("xdist"):
        config.option.numprocesses = cores
