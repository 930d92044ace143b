"""Errors that are not rlsguard's own: name the file and the fix, exit 2, fail pytest once."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from rlsguard.errors import InputFileError, ServerError
from rlsguard.harness.templates import CacheFullWarning, TemplateCache
from rlsguard.stack.postgres import archive_datadir, copy_datadir
from rlsguard.supabase.project import SupabaseProject
from tests.matrix.conftest import DATA
from tests.pytest.test_matrix import make_project, pytest_in

LATIN1 = "-- caf\xe9\ncreate table public.t (id int);\n".encode("latin-1")

# The console script, whichever module holds it.
RLSGUARD = [sys.executable, "-c", "from rlsguard.__main__ import main; main()"]


def supabase_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "supabase"
    (folder / "migrations").mkdir(parents=True)
    (folder / "migrations" / "0001_ok.sql").write_text("select 1;\n")
    return folder


def test_a_non_utf8_migration_names_file_and_line(tmp_path: Path) -> None:
    folder = supabase_dir(tmp_path)
    (folder / "migrations" / "0002_latin1.sql").write_bytes(b"select 1;\n" + LATIN1)
    with pytest.raises(InputFileError) as info:
        SupabaseProject.load(folder)
    assert str(info.value).startswith("supabase/migrations/0002_latin1.sql:2: is not UTF-8")
    assert "Save it as UTF-8" in str(info.value)


def test_a_dangling_symlink_is_named_not_skipped(tmp_path: Path) -> None:
    folder = supabase_dir(tmp_path)
    (folder / "migrations" / "0002_gone.sql").symlink_to(tmp_path / "nowhere.sql")
    with pytest.raises(InputFileError, match=r"^supabase/migrations/0002_gone.sql: is a symbolic"):
        SupabaseProject.load(folder)
    (folder / "migrations" / "0002_gone.sql").unlink()
    (folder / "seed.sql").symlink_to(tmp_path / "nowhere.sql")  # used to be skipped silently
    with pytest.raises(InputFileError, match=r"seed.sql: is a symbolic link to .*nowhere.sql"):
        SupabaseProject.load(folder)


def test_a_non_utf8_config_toml_is_named(tmp_path: Path) -> None:
    folder = supabase_dir(tmp_path)
    (folder / "config.toml").write_bytes('project_id = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(InputFileError, match=r"config.toml:1: is not UTF-8"):
        SupabaseProject.load(folder)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file: needs an unprivileged user")
def test_an_unreadable_migration_says_chmod(tmp_path: Path) -> None:
    folder = supabase_dir(tmp_path)
    locked = folder / "migrations" / "0002_locked.sql"
    locked.write_text("select 1;\n")
    locked.chmod(0)
    with pytest.raises(InputFileError, match="permission denied"):
        SupabaseProject.load(folder)


def test_the_cli_exits_2_naming_the_file(tmp_path: Path) -> None:
    folder = supabase_dir(tmp_path)
    (folder / "migrations" / "0002_latin1.sql").write_bytes(LATIN1)
    proc = subprocess.run(
        [*RLSGUARD, "lint", "--supabase-dir", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "0002_latin1.sql:1: is not UTF-8" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_pytest_fails_once_for_a_non_utf8_migration(
    tmp_path: Path, notes_project: Path, template_cache_dir: Path
) -> None:
    project = make_project(tmp_path / "repo", notes_project, DATA / "notes.yaml")
    (project / "supabase" / "migrations" / "99999999999999_latin1.sql").write_bytes(LATIN1)
    result = pytest_in(project, cache=template_cache_dir)
    out = result.stdout + result.stderr
    assert result.returncode == 3, out
    assert out.count("99999999999999_latin1.sql:1: is not UTF-8") == 1, out
    assert "UnicodeDecodeError" not in out


# -- the template cache ------------------------------------------------------------------------


@pytest.fixture
def datadir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "PG_VERSION").write_text("15\n")
    (data / "base").mkdir()
    (data / "base" / "1").write_bytes(os.urandom(64 * 1024))
    return data


def test_a_damaged_cache_entry_is_detected_and_dropped(tmp_path: Path, datadir: Path) -> None:
    cache = TemplateCache(tmp_path / "templates")
    key = "0123456789abcdef01234567"
    stored = cache.store(key, datadir, {"key": key})
    assert stored is not None
    assert cache.lookup(key) == stored
    with open(stored, "r+b") as fh:  # a truncated archive (an interrupted copy, a full disk)
        fh.truncate(stored.stat().st_size // 2)
    assert cache.lookup(key) is None
    assert not (cache.root / key).exists()  # so the next build stores it again
    stored = cache.store(key, datadir, {"key": key})
    assert stored is not None
    with open(stored, "r+b") as fh:  # one flipped byte
        fh.seek(1024)
        byte = fh.read(1)
        fh.seek(1024)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert cache.lookup(key) is None


def test_a_full_disk_runs_uncached_with_a_warning(
    tmp_path: Path, datadir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tar writing to /dev/full gets the kernel's real ENOSPC."""
    import rlsguard.harness.templates as templates

    monkeypatch.setattr(
        templates, "archive_datadir", lambda src, _dst: archive_datadir(src, Path("/dev/full"))
    )
    cache = TemplateCache(tmp_path / "templates")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cache.store("0123456789abcdef01234567", datadir, {}) is None
    assert any(issubclass(w.category, CacheFullWarning) for w in caught)
    assert "uncached" in str(caught[0].message)
    assert list(cache.root.iterdir()) == []  # the staging folder went too


def test_an_archive_that_cannot_be_unpacked_names_it(tmp_path: Path, datadir: Path) -> None:
    archive = tmp_path / "entry" / "data.tar"
    archive_datadir(datadir, archive)
    with open(archive, "r+b") as fh:
        fh.truncate(archive.stat().st_size // 2)  # inside base/1
    with pytest.raises(ServerError, match=r"cached template .*data.tar cannot be unpacked"):
        copy_datadir(archive, tmp_path / "out" / "data")
