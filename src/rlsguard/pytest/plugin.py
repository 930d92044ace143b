"""pytest plugin: real servers and a Supabase-like database for every test, cheaply.

Fixtures compose from small parts, as in pytest-postgresql:

- ``rlsguard_stack`` (session): the process supervisor; servers started through
  it stop with the session.
- ``rlsguard_engine`` (session): the prepared template cluster of the project
  in ``--supabase-dir`` (built once, then cached on disk).
- ``rlsguard_db`` (test): a :class:`~rlsguard.database.Database` inside a
  transaction that is rolled back after the test (a fraction of a millisecond).
- ``rlsguard_clone`` (test): a database of its own, cloned from the template,
  for tests that commit, run DDL or open several connections; dropped after.
- ``rlsguard_personas`` (session), ``private_postgres`` (test).
- ``rlsguard_auth`` (session): the auth API under test, the reference service
  (:mod:`rlsguard.authservice`) or an external Supabase Auth (``--rlsguard-auth-url``).

The project's access matrix (``fixtures/rls_matrix.yaml``, see
:mod:`rlsguard.pytest.matrix`) becomes one ``rls`` item per persona x table x
operation; the project's pgTAP files (``supabase/tests/**/*.sql``, see
:mod:`rlsguard.pytest.pgtap`) become one ``pgtap`` item per file. The engine is opened
once per process, on first use, by whoever needs it first (a fixture, a matrix item,
the xdist controller).

Under pytest-xdist the controller builds the template once and owns the
cluster; each worker attaches to it and works in a database of its own.
"""

from __future__ import annotations

import atexit
import gc
from pathlib import Path
from typing import Any

import pytest

from rlsguard.errors import RlsguardError, install_warning_format, uninstall_warning_format
from rlsguard.pytest import session
from rlsguard.pytest.fixtures import (  # noqa: F401 -- declared here, where pytest looks
    _rlsguard_pool,
    _rlsguard_worker_db,
    private_postgres,
    rlsguard_auth,
    rlsguard_clone,
    rlsguard_db,
    rlsguard_engine,
    rlsguard_isolation,
    rlsguard_personas,
    rlsguard_stack,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rlsguard", "rlsguard: RLS and auth regression suite")
    group.addoption(
        "--supabase-dir",
        default=None,
        help="the project's supabase/ folder (default: from rlsguard config, else ./supabase)",
    )
    group.addoption(
        "--rlsguard-backend",
        choices=("local", "dsn", "docker"),
        default=None,
        help="where Postgres comes from (default: RLSGUARD_BACKEND, else the config's, else "
        "local server binaries)",
    )
    group.addoption(
        "--rlsguard-dsn",
        default=None,
        metavar="URL",
        help="the server URL for the dsn backend: a scratch server (rlsguard works in databases "
        "of its own there) or a live Supabase database (checked in rolled-back transactions)",
    )
    group.addoption(
        "--rlsguard-pg-bin", default=None, help="directory of the Postgres server binaries"
    )
    group.addoption(
        "--rlsguard-stand-in",
        action="append",
        default=[],
        metavar="NAME",
        help="replace this missing extension with rlsguard's stand-in (repeatable, or 'all'); "
        "added to stand_ins from rlsguard.toml",
    )
    group.addoption(
        "--rlsguard-no-cache",
        action="store_true",
        default=False,
        help="rebuild the template database instead of reusing the cached one",
    )
    group.addoption(
        "--rlsguard-allow-destructive",
        default=None,
        metavar="HOST:PORT/DB",
        help="allow destructive actions on this one database of a server rlsguard did not start",
    )
    group.addoption(
        "--rlsguard-allow-empty",
        action="store_true",
        default=False,
        help="accept a configured access matrix with no cells (by default that fails: "
        "nothing would be checked)",
    )
    group.addoption(
        "--rlsguard-matrix",
        default=None,
        metavar="PATH",
        help="check this access matrix file (default: the project's matrix, when pytest runs "
        "without path arguments or is given the file or its folder)",
    )
    group.addoption(
        "--rlsguard-auth-url",
        default=None,
        help="run the black-box auth tests against this Supabase project URL instead of the "
        "reference auth service (env RLSGUARD_AUTH_URL)",
    )
    group.addoption(
        "--rlsguard-anon-key",
        default=None,
        help="the anon key for --rlsguard-auth-url (env RLSGUARD_ANON_KEY)",
    )
    from rlsguard.pytest.pgtap import add_options

    add_options(group)


def pytest_configure(config: pytest.Config) -> None:
    install_warning_format()  # rlsguard warnings: one line, at the user's file
    # Runs after every other exit handler registered later: the interpreter's final garbage
    # collections then skip what pytest leaves alive (its teardown took ~0.3 s).
    atexit.register(gc.freeze)
    for marker, doc in (
        ("rls", "row level security checks: the access matrix and targeted RLS tests"),
        ("auth", "auth flows against the reference auth service (or --rlsguard-auth-url)"),
        ("auth_internal", "auth tests that need the reference service's database or clock"),
        ("chaos", "injects a fault into a private server and reverts it, even on failure"),
        ("pgtap", "pgTAP files of supabase/tests, one item per file (rlsguard.pytest.pgtap)"),
        ("slow", "longer tests, left out of plain pytest; run them with -m slow"),
    ):
        config.addinivalue_line("markers", f"{marker}: {doc}")
    session.install(config)
    if not _may_use_rlsguard(config):
        return  # a project without rlsguard: no config read, nothing imported, nothing collected
    from rlsguard.pytest.devmatrix import configure_dev_matrix

    served = configure_dev_matrix(config)  # a running `rlsguard dev` has it all loaded
    if served is not None:
        config.stash[_freeze_key] = True
    if served is not None and not served.get("others"):
        return  # nothing but the matrix: no config, YAML or database work in this process
    from rlsguard.pytest.drift import configure_drift
    from rlsguard.pytest.matrix import configure_matrix

    project, problem = _project_config(config)  # read once, for every collector
    if served is None:
        configure_matrix(config, project, problem)
    elif project is None:
        raise pytest.UsageError(str(problem))
    configure_drift(config, project)  # fixtures/policies.snapshot.json: the approved surface
    from rlsguard.pytest.pgtap import configure_pgtap

    configure_pgtap(config, project)  # supabase/tests/**/*.sql: pgTAP files as items


_freeze_key = pytest.StashKey[bool]()


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """On a dev server's run, move what start-up left alive out of the collector's reach.

    pytest collects garbage fully twice at its end (to report unraisable exceptions), and
    every full collection walks every object the imports made (~0.1 s of CPU here); objects
    made by the tests are still collected and reported as before.
    """
    if session.config.stash.get(_freeze_key, False):
        gc.freeze()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("auth_internal") is not None:
        from rlsguard.authservice.harness import external_auth

        target = external_auth(item.config)
        if target is not None:
            pytest.skip(
                f"needs the reference auth service's database, secret or clock; "
                f"{target.url} is an external Supabase Auth"
            )


_OPTIONS = ("--supabase-dir", "--rlsguard-matrix", "--rlsguard-backend", "--rlsguard-dsn")
_MARKS = (
    "rlsguard.toml",
    "supabase",
    "fixtures/rls_matrix.yaml",
    "fixtures/policies.snapshot.json",
)


def _may_use_rlsguard(config: pytest.Config) -> bool:
    """Cheap: could this run collect a matrix or a snapshot? (No pydantic, no TOML parser.)

    True for an rlsguard option, or an rlsguard config, a ``supabase/`` folder or the default
    matrix or snapshot file in the invocation folder or above it (up to the repository root,
    where the config lookup stops too). Fixtures work either way: they read the config when
    a test asks for one.
    """
    if any(config.getoption(name, None) for name in _OPTIONS):
        return True
    origin = Path(config.invocation_params.dir).resolve()
    for directory in (origin, *origin.parents):
        if any((directory / mark).exists() for mark in _MARKS):
            return True
        pyproject = directory / "pyproject.toml"
        try:
            if pyproject.is_file() and "[tool.rlsguard" in pyproject.read_text("utf-8"):
                return True
        except (OSError, UnicodeDecodeError):
            return True  # let the real reader report it
        if (directory / ".git").exists() or (directory / ".hg").exists():
            return False
    return False


def _project_config(config: pytest.Config) -> tuple[Any, RlsguardError | None]:
    """The project's config, or why it cannot be read (the session then fails once)."""
    from rlsguard.config import load_config
    from rlsguard.errors import ConfigError

    supabase_dir = config.getoption("--supabase-dir", None)
    if supabase_dir and not Path(supabase_dir).expanduser().is_dir():
        folder = (config.invocation_params.dir / Path(supabase_dir).expanduser()).resolve()
        return None, ConfigError(
            "--supabase-dir", "", f"no such folder: {folder}. Point it at the project's supabase/"
        )
    try:
        return load_config(
            supabase_dir=Path(supabase_dir).resolve() if supabase_dir else None
        ), None
    except RlsguardError as exc:
        return None, exc


def pytest_unconfigure(config: pytest.Config) -> None:
    uninstall_warning_format()
    session.uninstall(config)
