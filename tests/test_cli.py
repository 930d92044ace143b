"""The command line: doctor reports what it finds, up serves the project until Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from rlsguard.cli import app
from rlsguard.stack.runtime import OWNER_ENV, tagged_processes
from tests.reliability.clirun import default_signals

runner = CliRunner()


def test_doctor_json_reports_every_check(notes_project: Path) -> None:
    result = runner.invoke(app, ["doctor", "--supabase-dir", str(notes_project), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    names = [c["name"] for c in report["checks"]]
    assert names == [
        "rlsguard", "config", "supabase project", "postgres", "redis", "run directory",
        "server user", "docker backend", "template cache", "leftovers",
    ]  # fmt: skip
    by_name = {c["name"]: c for c in report["checks"]}
    assert "1 migration(s), 1 seed file(s)" in by_name["supabase project"]["summary"]
    assert "personas: alice, alice_mfa, bob, ghost" in by_name["config"]["details"]
    assert by_name["postgres"]["status"] == "ok"
    # This machine has the docker CLI but no engine: the reason must say so.
    assert by_name["docker backend"]["status"] in ("ok", "info")


def test_doctor_fails_on_a_bad_config_and_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "supabase").mkdir()
    (tmp_path / "rlsguard.toml").write_text('[postgres]\nmax_connections = "many"\n')
    result = runner.invoke(app, ["doctor", "--supabase-dir", str(tmp_path / "supabase")])
    assert result.exit_code == 1
    assert "postgres.max_connections" in result.output


def test_up_serves_until_ctrl_c_and_leaves_nothing(
    notes_project: Path, template_cache_dir: Path
) -> None:
    env = {**os.environ, "RLSGUARD_CACHE_DIR": str(template_cache_dir), "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlsguard.cli", "up", "--supabase-dir", str(notes_project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_signals,  # whatever pytest's own SIGINT disposition is
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("psql "):
                break
        assert lines, proc.stderr.read() if proc.stderr else ""
        conninfo = lines[-1].removeprefix("psql ").strip().strip("'")
        with psycopg.connect(conninfo) as conn:
            assert conn.execute("select count(*) from public.notes").fetchone() == (3,)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:  # never leak the server: its parent-death signal follows
                proc.kill()
                proc.wait()
    assert proc.returncode == 0
    owner = f"{proc.pid}:"
    assert not [p for p, e in tagged_processes().items() if e.get(OWNER_ENV, "").startswith(owner)]
