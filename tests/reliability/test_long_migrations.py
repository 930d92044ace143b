"""A long migration names itself and is bounded by the configured statement timeout."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlsguard.config import load_config
from rlsguard.errors import ConfigError

# The console script, whichever module holds it.
RLSGUARD = [sys.executable, "-c", "from rlsguard.__main__ import main; main()"]


def test_the_configured_timeout_reaches_the_migrations(
    tmp_path: Path, template_cache_dir: Path
) -> None:
    (tmp_path / "supabase" / "migrations").mkdir(parents=True)
    (tmp_path / "supabase" / "migrations" / "0001_slow.sql").write_text(
        "create table public.a (id int);\nselect pg_sleep(30);\n"
    )
    (tmp_path / "rlsguard.toml").write_text('[migrations]\nstatement_timeout = "100ms"\n')
    proc = subprocess.run(
        [*RLSGUARD, "lint", "--supabase-dir", str(tmp_path / "supabase")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "RLSGUARD_CACHE_DIR": str(template_cache_dir), "COLUMNS": "200"},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "supabase/migrations/0001_slow.sql:2:1: migration failed: ERROR 57014" in proc.stderr
    assert "statement_timeout (100ms)" in proc.stderr


@pytest.mark.parametrize(("value", "ok"), [("30s", True), (250, True), ("5 parsecs", False)])
def test_statement_timeout_is_a_duration(tmp_path: Path, value: object, ok: bool) -> None:
    literal = f'"{value}"' if isinstance(value, str) else str(value)
    (tmp_path / "rlsguard.toml").write_text(f"[migrations]\nstatement_timeout = {literal}\n")
    if ok:
        assert load_config(tmp_path).migrations.statement_timeout == str(value)
    else:
        with pytest.raises(ConfigError, match=r"migrations.statement_timeout: '5 parsecs' is not"):
            load_config(tmp_path)


def test_the_cli_prints_progress_on_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    from rlsguard.cli import _show_progress

    logger = logging.getLogger("rlsguard.progress")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    try:
        logger.handlers.clear()
        _show_progress()
        logger.info("applying migration %s ...", "supabase/migrations/0001_slow.sql")
        captured = capfd.readouterr()
        assert "rlsguard: applying migration supabase/migrations/0001_slow.sql ..." in captured.err
        assert captured.out == ""
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
