"""Ctrl-C ends every command with exit 130 and one line, and nothing is left running.

Signals are real, sent to real processes; every wait is on something observable (a line
printed, a file present, a record in the run's Postgres log), never a sleep. Children get
their signal dispositions set explicitly: pytest itself may run with SIGINT ignored.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.reliability.clirun import (
    COMMAND,
    copy_notes,
    default_signals,
    environment,
    kill_group,
    leftovers,
    wait_for,
)

INTERRUPTED = "rlsguard: interrupted (Ctrl-C); everything it started was stopped"
PAUSED = "rlsguard-test: paused inside a query"

# A restrictive policy whose check pauses: any persona reading notes stops in the server,
# and says so in the run's Postgres log (log_min_messages = warning).
PAUSE_SQL = f"""
create function public.rlsguard_pause() returns boolean language plpgsql volatile as $$
begin
  raise warning '{PAUSED}';
  perform pg_sleep(120);
  return true;
end $$;
grant execute on function public.rlsguard_pause() to anon, authenticated;
create policy "pause" on public.notes as restrictive for select to authenticated
  using (public.rlsguard_pause());
"""


def pausing_project(dest: Path) -> Path:
    project = copy_notes(dest)
    migrations = project / "supabase" / "migrations"
    first = migrations / "20250101000000_notes.sql"
    # The notes project caps authenticated at 7 s: the pause must outlast any slow machine.
    first.write_text(
        first.read_text().replace("alter role authenticated set statement_timeout to '7s';", "")
    )
    (migrations / "20250102000000_pause.sql").write_text(PAUSE_SQL)
    return project


def paused(run_root: Path) -> bool:
    for log in run_root.glob("rlsguard-*/**/postgresql.*"):
        try:
            if PAUSED in log.read_text(errors="replace"):
                return True
        except OSError:
            continue
    return False


@contextmanager
def started(
    args: list[str], cwd: Path, env: dict[str, str], *, sigint_ignored: bool = False
) -> Iterator[subprocess.Popen[str]]:
    """``rlsguard *args`` in its own process group (a terminal's Ctrl-C reaches the group).

    ``sigint_ignored``: start it the way ``cmd &`` in a script does, SIGINT ignored.
    """

    def dispositions() -> None:
        default_signals()
        if sigint_ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(
        [*COMMAND, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=dispositions,
    )
    try:
        yield proc
    finally:
        kill_group(proc)


def ctrl_c(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, stdout, stderr


@pytest.mark.slow  # a real server, a real Ctrl-C: ~5 s
def test_ctrl_c_during_probe_exits_130_with_one_line(
    tmp_path: Path, template_cache_dir: Path, run_root: Path
) -> None:
    project = pausing_project(tmp_path / "p")
    env = environment(template_cache_dir, run_root)
    with started(["probe"], project, env) as proc:
        wait_for(lambda: paused(run_root) or proc.poll() is not None, "the probe to pause")
        assert proc.poll() is None, proc.communicate()
        code, _, stderr = ctrl_c(proc)
    assert code == 130, stderr
    assert stderr.strip().splitlines() == [INTERRUPTED], stderr
    assert leftovers(run_root, proc.pid) == []


@pytest.mark.slow  # builds two projects and runs the gate up to its probe: ~30 s here
def test_gate_shows_the_interrupted_step_and_exits_130(
    tmp_path: Path, template_cache_dir: Path, run_root: Path
) -> None:
    base = copy_notes(tmp_path / "base")
    head = pausing_project(tmp_path / "head")
    env = environment(template_cache_dir, run_root)
    args = ["gate", "--base", str(base / "supabase"), "--head", str(head / "supabase")]
    with started([*args, "--supabase-dir", str(head / "supabase")], head, env) as proc:
        wait_for(lambda: paused(run_root) or proc.poll() is not None, "the gate's probe to pause")
        assert proc.poll() is None, proc.communicate()
        code, _, stderr = ctrl_c(proc)
    assert code == 130, stderr
    probe_line = next(line for line in stderr.splitlines() if "probe" in line.lower())
    assert "✓" not in probe_line, stderr
    assert "interrupted" in probe_line, stderr
    assert stderr.strip().splitlines()[-1] == INTERRUPTED, stderr
    assert leftovers(run_root, proc.pid) == []


def test_ctrl_c_during_imports_prints_one_line(tmp_path: Path) -> None:
    """The console entry point handles a Ctrl-C before the CLI is even imported."""
    shadow = tmp_path / "shadow" / "typer"
    shadow.mkdir(parents=True)
    marker = tmp_path / "importing"
    # Stands in for a slow import (typer, rich, pydantic: about a second on a cold start).
    shadow.joinpath("__init__.py").write_text(
        "import pathlib, time\n"
        f"pathlib.Path({str(marker)!r}).write_text('x')\n"
        "while True:\n    time.sleep(0.01)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow.parent), *sys.path])}
    with started(["version"], tmp_path, env) as proc:
        wait_for(lambda: marker.exists() or proc.poll() is not None, "the import to start")
        code, _, stderr = ctrl_c(proc)
    assert code == 130, stderr
    assert stderr.strip().splitlines() == [INTERRUPTED], stderr


@pytest.mark.slow  # a real server, a real Ctrl-C: ~5 s
def test_up_started_with_sigint_ignored_still_stops_on_sigint(
    tmp_path: Path, template_cache_dir: Path, run_root: Path
) -> None:
    """``rlsguard up &`` from a script: SIGINT arrives ignored; up installs its own handler."""
    project = copy_notes(tmp_path / "p")
    env = environment(template_cache_dir, run_root)
    with started(["up"], project, env, sigint_ignored=True) as proc:
        assert proc.stdout is not None
        ready = next((line for line in proc.stdout if line.startswith("psql ")), None)
        assert ready is not None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    assert leftovers(run_root, proc.pid) == []


def test_a_helper_child_dies_with_its_owner(tmp_path: Path) -> None:
    """initdb, tar and cp run through run_tied: a SIGKILLed owner takes them along."""
    ready = tmp_path / "ready"
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from rlsguard.stack.runtime import run_tied; "
            f"run_tied(['sh', '-c', 'echo $$ > {ready}.tmp && mv {ready}.tmp {ready}; "
            "exec sleep 300'])",
        ],
        start_new_session=True,
        preexec_fn=default_signals,
    )
    helper = 0
    try:
        wait_for(lambda: ready.exists() or owner.poll() is not None, "the helper to start")
        helper = int(ready.read_text())
        owner.kill()
        owner.wait()
        wait_for(lambda: not Path(f"/proc/{helper}").exists() or _zombie(helper), "the helper")
    finally:
        if helper and Path(f"/proc/{helper}").exists():
            os.kill(helper, signal.SIGKILL)
        kill_group(owner)  # type: ignore[arg-type]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def test_run_tied_is_what_the_server_module_uses_for_helpers() -> None:
    import rlsguard.stack.postgres as postgres
    from rlsguard.stack.runtime import run_tied

    source = Path(postgres.__file__).read_text()
    assert "subprocess.run(" not in source
    assert source.count("run_tied(") >= 3  # initdb, tar -x, tar -c (cp -a too)
    assert run_tied is postgres.run_tied
