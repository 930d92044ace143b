"""Reading a git repository: the one place rlsguard runs ``git`` (read-only verbs only)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from rlsguard.errors import SourceError


def git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    """``git -C repo args``'s output; :class:`SourceError` with git's own words on failure."""
    try:
        result = subprocess.run(
            ["git", "-C", str(repo), *args], input=input, capture_output=True, check=False
        )
    except FileNotFoundError as exc:
        raise SourceError("git is not installed, so a git ref cannot be read") from exc
    if result.returncode != 0:
        raise SourceError(result.stderr.decode(errors="replace").strip() or f"git {args[0]} failed")
    return result.stdout


def repository_root(path: Path) -> Path | None:
    """The top of the git work tree holding ``path``, or None outside a repository."""
    try:
        return Path(git(path, "rev-parse", "--show-toplevel").decode().strip())
    except SourceError:
        return None


def commit_of(repo: Path, ref: str) -> str | None:
    """The commit ``ref`` names in ``repo`` (None when it names none)."""
    try:
        out = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except SourceError:
        return None
    return out.decode().strip() or None


def file_at(repo: Path, ref: str, path: Path) -> str | None:
    """A file's text as committed in ``ref`` (None when it is not there, or no repository)."""
    top = repository_root(repo)
    if top is None:
        return None
    try:
        relative = path.resolve().relative_to(top.resolve()).as_posix()
        return git(repo, "show", f"{ref}:{relative}").decode(errors="replace")
    except (ValueError, SourceError):
        return None
