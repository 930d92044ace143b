"""The plugin costs nothing in a project that does not use rlsguard."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys

def test_what_the_plugin_imported():
    loaded = sorted(m for m in ("rlsguard.config", "pydantic", "psycopg") if m in sys.modules)
    print("LOADED", loaded)
"""


def _loaded(folder: Path) -> str:
    (folder / "test_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLSGUARD_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_probe.py"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return next(line for line in done.stdout.splitlines() if "LOADED" in line)


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        (None, "LOADED []"),
        pytest.param(  # the probe sees an import when there is one
            "rlsguard.toml", "LOADED ['pydantic', 'rlsguard.config']", marks=pytest.mark.slow
        ),
    ],
)
def test_config_is_read_only_in_projects_that_have_one(
    tmp_path: Path, marker: str | None, expected: str
) -> None:
    (tmp_path / ".git").mkdir()  # the repository root: the lookup stops here
    if marker:
        (tmp_path / marker).write_text("")
    assert _loaded(tmp_path).endswith(expected)
