"""``rlsguard up`` serves the auth service too, prints it like ``supabase start``, and Ctrl-C
stops every process it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from rlsguard.stack.runtime import OWNER_ENV, tagged_processes

pytestmark = [pytest.mark.auth, pytest.mark.auth_internal]

REPO = Path(__file__).resolve().parents[2]


def test_up_prints_urls_and_keys_and_ctrl_c_stops_everything() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlsguard.cli", "up", "--supabase-dir", str(REPO / "supabase")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},
    )
    status: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            match = re.match(r"^\s*([A-Za-z_ ]+?): (\S+)$", line.rstrip("\n"))
            if match:
                status[match[1]] = match[2]
            if line.lstrip().startswith("service_role key:"):
                break
        assert "API URL" in status, proc.stderr.read() if proc.stderr else ""
        assert status["DB URL"].startswith("postgresql://")
        assert status["SMTP URL"].startswith("smtp://127.0.0.1:")
        response = httpx.post(
            status["API URL"] + "/auth/v1/token",
            params={"grant_type": "password"},
            headers={"apikey": status["anon key"]},
            json={"email": "teacher@school.test", "password": "password123"},
        )
        assert response.status_code == 200, response.text
        assert len(status["JWT secret"]) >= 32
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    owner = f"{proc.pid}:"
    left = [p for p, e in tagged_processes().items() if e.get(OWNER_ENV, "").startswith(owner)]
    assert left == []
    with pytest.raises(httpx.TransportError):
        httpx.get(status["API URL"] + "/auth/v1/health", timeout=2)
