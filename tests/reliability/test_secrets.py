"""No secret in a repr, a traceback, a report or a server log - also when things fail.

The JWT signing secret and the service_role key are per run. A project whose service_role
sessions fail in their prologue (a role setting that only fails when applied) is run the
ways a user runs it - pytest with ``-l -vv`` (every frame's locals printed), the CLI - and
every output and the run's Postgres logs are searched for both.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rlsguard.harness.engine import Engine
from rlsguard.identity.tokens import TokenSigner
from tests.reliability.clirun import copy_notes, environment, kill_group, rlsguard

# Accepted by ALTER ROLE (a NOTICE), refused when a session applies it: the prologue fails.
FAILING_PROLOGUE = "alter role service_role set temp_tablespaces = 'no_such_tablespace';\n"

CHILD_CONFTEST = """
import os, pathlib, shutil
import pytest

OUT = pathlib.Path(os.environ["SECRETS_OUT"])


@pytest.fixture(scope="session", autouse=True)
def _reveal(rlsguard_engine):
    OUT.joinpath("secret").write_text(rlsguard_engine.signer.secret)
    OUT.joinpath("service_role_key").write_text(rlsguard_engine.signer.service_role_key)
    yield
    # The run directory goes at the end of the session: keep its server logs for the search.
    for i, log in enumerate(pathlib.Path(os.environ["RLSGUARD_RUN_ROOT"]).rglob("*")):
        if log.is_file() and log.suffix in (".log", ".json", ".csv"):
            shutil.copy(log, OUT / f"server-{i}{log.suffix}")
"""

CHILD_TESTS = """
def test_holds_the_engine_state(rlsguard_engine):
    state = rlsguard_engine.state()
    assert state.template_db == "not this one"


def test_service_role_session(rlsguard_db):
    with rlsguard_db.as_service_role() as session:
        session.fetch("select 1")
"""


def failing_project(dest: Path) -> Path:
    project = copy_notes(dest)
    migration = project / "supabase" / "migrations" / "20250102000000_prologue.sql"
    migration.write_text(FAILING_PROLOGUE, encoding="utf-8")
    return project


def key_without_signature() -> str:
    """header.payload of the service_role key: the same in every run, only the signature
    depends on the secret - finding it means the key was printed."""
    return TokenSigner(secret="x" * 40).service_role_key.rsplit(".", 1)[0]


def test_engine_state_repr_shows_no_secret(notes_engine: Engine) -> None:
    state = notes_engine.state()
    secret = notes_engine.signer.secret
    password = notes_engine.state().endpoint.get("password")
    for text in (repr(state), str(state)):
        assert secret not in text
        assert not password or password not in text
    assert "template_db" in repr(state)
    again = type(state)(**state.as_dict())  # what a worker receives still works
    assert again.as_dict() == state.as_dict()


@pytest.mark.slow  # a nested run with its own server: ~10 s
def test_a_failing_pytest_run_prints_and_logs_no_secret(
    tmp_path: Path, template_cache_dir: Path, run_root: Path
) -> None:
    project = failing_project(tmp_path / "p")
    (project / "conftest.py").write_text(CHILD_CONFTEST)
    (project / "test_secret_child.py").write_text(CHILD_TESTS)
    out = tmp_path / "out"
    out.mkdir()
    env = environment(template_cache_dir, run_root, SECRETS_OUT=str(out))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-l", "-vv", "-p", "no:cacheprovider", "-p",
         "no:randomly", "test_secret_child.py"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = proc.communicate(timeout=180)
    finally:
        kill_group(proc)  # type: ignore[arg-type]
    assert proc.returncode == 1, output
    assert "2 failed" in output, output
    assert "no_such_tablespace" in output, output  # the prologue really failed
    secret = (out / "secret").read_text()
    key = (out / "service_role_key").read_text()
    logs = sorted(out.glob("server-*"))
    assert logs, "the child found no server log"
    assert any("no_such_tablespace" in p.read_text(errors="replace") for p in logs)
    for name, text in [("pytest output", output)] + [(p.name, p.read_text()) for p in logs]:
        assert secret not in text, f"the JWT secret is in the {name}"
        assert key not in text, f"the service_role key is in the {name}"
        assert key_without_signature() not in text, f"a service_role key is in the {name}"


@pytest.mark.slow  # a nested run with its own server: ~10 s
def test_a_failing_cli_command_prints_no_key(
    tmp_path: Path, template_cache_dir: Path, run_root: Path
) -> None:
    project = failing_project(tmp_path / "p")
    matrix = project / "matrix.yaml"
    matrix.write_text(
        "personas: [service_role]\ntables:\n  public.notes:\n    select:\n      service_role: all\n"
    )
    ran = rlsguard(
        "matrix", "check", "--matrix", str(matrix), "-v",
        cwd=project, cache=template_cache_dir, run_root=run_root,
    )  # fmt: skip
    assert ran.code in (1, 2), ran
    assert "no_such_tablespace" in ran.output, ran
    assert key_without_signature() not in ran.output, ran
    assert ran.leftovers == []
