"""The command line: doctor reports what it finds, up serves the project until Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
from typer.testing import CliRunner

from rlsguard.cli import app
from rlsguard.harness.templates import TemplateCache
from rlsguard.stack.runtime import OWNER_ENV, tagged_processes
from tests.reliability.clirun import default_signals

runner = CliRunner()


def test_doctor_json_reports_every_check(notes_project: Path) -> None:
    result = runner.invoke(app, ["doctor", "--supabase-dir", str(notes_project), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    names = [c["name"] for c in report["checks"]]
    assert names == [
        "rlsguard", "config", "supabase project", "postgres", "pgtap", "extensions", "redis",
        "pgbouncer", "run directory",
        "server user", "docker backend", "backend", "template cache", "leftovers",
    ]  # fmt: skip
    by_name = {c["name"]: c for c in report["checks"]}
    assert "1 migration(s), 1 seed file(s)" in by_name["supabase project"]["summary"]
    assert "personas: alice, alice_mfa, bob, ghost" in by_name["config"]["details"]
    assert by_name["postgres"]["status"] == "ok"
    extensions = by_name["extensions"]
    assert extensions["summary"].startswith("stand_ins: none")
    servers = [d for d in extensions["details"] if d.startswith("PostgreSQL ")]
    assert servers  # every discovered server, with what it has and lacks
    assert any(d.strip().startswith("has ") and "plpgsql" in d for d in extensions["details"])
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
        status: dict[str, str] = {}
        for line in proc.stdout:  # the supabase-start-like summary, up to the last key
            label, _, value = line.strip().partition(": ")
            status[label] = value
            if label == "service_role key":
                break
        api = status["API URL"]
        assert status["Auth URL"] == f"{api}/auth/v1"
        assert status["REST URL"] == f"{api}/rest/v1"
        key = status["anon key"]
        headers = {"apikey": key, "Authorization": f"Bearer {key}"}
        # one URL answers both: the auth service mounted in the app, and the app's REST reads
        health = httpx.get(f"{api}/auth/v1/health", headers=headers, timeout=10)
        assert health.status_code == 200, health.text
        service = status["service_role key"]
        as_service = {"apikey": service, "Authorization": f"Bearer {service}"}
        notes = httpx.get(f"{api}/rest/v1/notes", headers=as_service, timeout=10)
        assert notes.status_code == 200, notes.text
        assert len(notes.json()) == 3  # the seed's notes, through the app's REST read
        denied = httpx.get(f"{api}/rest/v1/notes", headers=headers, timeout=10)
        assert denied.status_code == 403  # anon holds no grant on notes: the API runs as anon
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


def _two_configs(root: Path) -> None:
    """rlsguard.toml shadows pyproject's [tool.rlsguard] (line 4): a ConfigWarning."""
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n\n[tool.rlsguard]\n")
    (root / "rlsguard.toml").write_text("")


def test_a_warning_is_one_line_at_the_users_file(tmp_path: Path) -> None:
    _two_configs(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "rlsguard.cli", "snapshot", "--supabase-dir", "missing"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    [warning] = [line for line in lines if "warning:" in line]
    assert warning.startswith("pyproject.toml:4: warning: ")
    assert "[tool.rlsguard]" in warning
    assert "keep the configuration in one place" in warning
    assert "rlsguard/config.py" not in result.stderr
    assert "warnings.warn" not in result.stderr


PUBLIC = Path(__file__).parent / "projects" / "public"


def test_doctor_shows_the_configured_stand_ins(tmp_path: Path) -> None:
    shutil.copytree(PUBLIC / "vault_webhooks", tmp_path / "p")
    result = runner.invoke(
        app, ["doctor", "--supabase-dir", str(tmp_path / "p" / "supabase"), "--json"]
    )
    checks = {c["name"]: c for c in json.loads(result.output)["checks"]}
    assert "stand_ins = ['pg_net', 'supabase_vault']" in checks["extensions"]["summary"]


def test_the_stand_in_option_the_error_names_applies_the_project(
    tmp_path: Path, template_cache_dir: Path
) -> None:
    """rlsguard snapshot on a pgvector project: the error names --stand-in; following it works."""
    shutil.copytree(PUBLIC / "rag_vector", tmp_path / "p")
    (tmp_path / "p" / "rlsguard.toml").unlink()
    folder = str(tmp_path / "p" / "supabase")
    env = {"RLSGUARD_CACHE_DIR": str(template_cache_dir), "COLUMNS": "400"}
    failed = runner.invoke(app, ["snapshot", "--supabase-dir", folder], env=env)
    assert failed.exit_code != 0
    text = str(failed.exception) + failed.output
    hint = re.search(r"pass (--stand-in [\w-]+) to rlsguard", text)
    assert hint, text
    option = hint.group(1).split()
    done = runner.invoke(app, ["snapshot", "--supabase-dir", folder, *option], env=env)
    assert done.exit_code == 0, str(done.exception) + done.output
    assert "document_sections" in done.output
    # Another set of stand-ins is another template (the stand-ins are part of the cache key).
    cache = TemplateCache(template_cache_dir / "templates")
    before = set(cache.entries())
    more = runner.invoke(
        app, ["snapshot", "--supabase-dir", folder, *option, "--stand-in", "http"], env=env
    )
    assert more.exit_code == 0, str(more.exception) + more.output
    # A new entry (compared by name: the cache is bounded and may evict an old one).
    assert len(set(cache.entries()) - before) == 1
