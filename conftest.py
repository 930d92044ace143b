"""Repository root: makes ``tests`` importable as a package for shared test helpers, and runs
the whole suite on every core.

Plain ``pytest`` (no paths, no ``-m``, ``-k`` or ``-n``) is the suite CI and contributors run:
it pays for xdist workers. Any selection — ``pytest -m rls``, ``-k``, a path, an explicit
``-n`` — runs as asked, so the inner loop never waits for workers to start.
"""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    cores = min(4, os.cpu_count() or 1)
    whole_suite = (
        config.args_source == pytest.Config.ArgsSource.TESTPATHS  # no paths given
        and not config.option.keyword
        and config.option.markexpr == "not slow"  # the default from addopts
        and config.option.numprocesses is None
    )
    if whole_suite and cores > 1 and config.pluginmanager.has_plugin("xdist"):
        config.option.numprocesses = cores
