"""The thin client of a running ``rlsguard dev``: hand it the command, print what it answers.

A warm dev server has psycopg, pydantic, the project's config and its cluster loaded already;
``rlsguard matrix check`` then costs a Python start, this module (standard library only) and
one request over a Unix socket instead of half a second of imports. Anything the client is
unsure of (another command, an option it does not pass on, no server, a server that died)
falls back to the full command line, which attaches or starts a cluster as usual.

Which server: ``rlsguard dev`` writes ``dev/root-<hash of the project folder>.json`` into the
default cache folder (``$RLSGUARD_CACHE_DIR``, else ``$XDG_CACHE_HOME/rlsguard``, else
``~/.cache/rlsguard``) with its pid, start time and socket; the client finds the project
folder as the config lookup does (``rlsguard.toml`` or ``[tool.rlsguard]`` upwards, stopping
at the repository root; else the current folder when it has ``supabase/``), and trusts the
file only while that pid runs with that start time.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

PASSED_ON = {"--json", "--verbose", "-v"}


def cache_root() -> Path:
    env = os.environ.get("RLSGUARD_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "rlsguard"


def index_path(root: Path) -> Path:
    digest = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return cache_root() / "dev" / f"root-{digest}.json"


def project_root(start: Path) -> Path | None:
    """The folder whose config ``rlsguard`` would read from ``start`` (None: no project)."""
    for directory in (start, *start.parents):
        if (directory / "rlsguard.toml").is_file():
            return directory
        pyproject = directory / "pyproject.toml"
        try:
            if pyproject.is_file() and "[tool.rlsguard" in pyproject.read_text("utf-8"):
                return directory
        except (OSError, UnicodeDecodeError):
            return None
        if (directory / ".git").exists() or (directory / ".hg").exists():
            break
    return start if (start / "supabase").is_dir() else None


def process_start(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def live_server(root: Path) -> dict[str, Any] | None:
    try:
        entry = json.loads(index_path(root).read_text())
        pid, start, sock = int(entry["pid"]), entry["start"], entry["socket"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if start is None or process_start(pid) != start or not isinstance(sock, str):
        return None
    return entry  # type: ignore[no-any-return]


def request(argv: list[str]) -> tuple[int, str, str] | None:
    """Run ``argv`` on the project's dev server: (exit code, stdout, stderr), or None."""
    if argv[:2] != ["matrix", "check"]:
        return None
    args: list[str] = []
    rest = iter(argv[2:])
    for arg in rest:
        if arg in PASSED_ON:
            args.append(arg)
        elif arg == "--matrix" or arg.startswith("--matrix="):
            value = arg.split("=", 1)[1] if "=" in arg else next(rest, None)
            if not value:
                return None
            args += ["--matrix", str(Path(value).resolve())]
        else:
            return None  # --supabase-dir, --backend ...: the full command line decides
    root = project_root(Path.cwd())
    answer = ask(root, {"argv": ["matrix", "check", *args]}) if root is not None else None
    try:
        return int(answer["code"]), str(answer["stdout"]), str(answer["stderr"])  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        return None  # no server, or it went away mid-way: run the command here


def ask(root: Path, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The answer of the dev server of the project at ``root``; None when there is none or
    it failed (the caller then does the work itself)."""
    server = live_server(root)
    if server is None:
        return None
    data = json.dumps({**payload, "root": str(root)}).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(server["socket"])
            conn.sendall(data + b"\n")
            conn.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := conn.recv(1 << 20):
                chunks.append(chunk)
        answer = json.loads(b"".join(chunks))
    except (OSError, ValueError):
        return None
    if not isinstance(answer, dict):
        return None
    if "failed" in answer and "argv" not in payload:
        return None  # the server could not answer a pytest question: pytest does the work
    return answer


def main(argv: list[str]) -> int | None:
    """The exit code when the dev server ran the command, None to run it here."""
    answered = request(argv)
    if answered is None:
        return None
    code, out, err = answered
    sys.stdout.write(out)
    sys.stderr.write(err)
    sys.stdout.flush()
    sys.stderr.flush()
    return code
