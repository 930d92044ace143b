"""Where a security surface comes from: a snapshot file, a ``supabase/`` folder, or a git ref.

``--base HEAD~1`` means the ``supabase/`` folder as committed in ``HEAD~1``. It is read from
the object database (``git ls-tree`` and ``git cat-file``) into a temporary directory, so the
user's working tree, index and checked-out branch are never touched, and ``export-ignore``
attributes (which ``git archive`` honours) cannot hide a migration. A directory is used as it
is, uncommitted files included; a ``.json`` file is a snapshot written by
``rlsguard snapshot``.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rlsguard.errors import RlsguardError
from rlsguard.policy.snapshot import Snapshot
from rlsguard.stack.runtime import RunDir, ServiceUser, new_run_id

SourceKind = Literal["snapshot", "directory", "git"]


class SourceError(RlsguardError):
    """A --base/--head/--to value that names no snapshot, folder or commit."""


@dataclass(frozen=True)
class Source:
    """A resolved source: a snapshot already, or a ``supabase/`` folder to build."""

    kind: SourceKind
    label: str  # for people: "HEAD~1:supabase", "supabase", "fixtures/policies.snapshot.json"
    supabase_dir: Path | None = None
    snapshot: Snapshot | None = None


def _git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    try:
        result = subprocess.run(
            ["git", "-C", str(repo), *args],
            input=input,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise SourceError("git is not installed, so a git ref cannot be read") from exc
    if result.returncode != 0:
        raise SourceError(result.stderr.decode(errors="replace").strip() or f"git {args[0]} failed")
    return result.stdout


def repository_root(path: Path) -> Path | None:
    """The top of the git work tree holding ``path``, or None outside a repository."""
    try:
        return Path(_git(path, "rev-parse", "--show-toplevel").decode().strip())
    except SourceError:
        return None


def export_tree(repo: Path, ref: str, folder: str, target: Path) -> int:
    """Write ``folder`` as committed in ``ref`` under ``target``; returns the file count."""
    try:
        commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except SourceError as exc:
        raise SourceError(f"{ref!r} is not a commit in {repo}: {exc}") from exc
    commit_id = commit.decode().strip()
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", commit_id, "--", folder)
    entries = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, sha = meta.decode().split()
        if kind == "blob":
            entries.append((mode, sha, path.decode()))
    if not entries:
        raise SourceError(f"{ref} has no {folder}/ folder (nothing committed under it)")
    request = "".join(f"{sha}\n" for _, sha, _ in entries).encode()
    blobs = _git(repo, "cat-file", "--batch", input=request)
    offset = 0
    for mode, _sha, path in entries:
        header_end = blobs.index(b"\n", offset)
        size = int(blobs[offset:header_end].split()[2])
        content = blobs[header_end + 1 : header_end + 1 + size]
        offset = header_end + 1 + size + 1  # the content is followed by a newline
        destination = target / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":  # a symlink: git stores its target as the blob
            destination.symlink_to(content.decode())
        else:
            destination.write_bytes(content)
    return len(entries)


def display_path(path: Path | str) -> str:
    """``path`` relative to the current directory when it is below it (as a user typed it)."""
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


@contextlib.contextmanager
def open_source(spec: str | Path, *, supabase_dir: Path) -> Iterator[Source]:
    """Resolve ``spec`` (a ``.json`` snapshot, a directory, or a git ref).

    ``supabase_dir`` is the working tree's project folder: a git ref is read from its
    repository, at the same path. A temporary export is deleted when the block ends.
    """
    text = str(spec)
    path = Path(text).expanduser()
    if path.is_file():
        if path.suffix != ".json":
            raise SourceError(f"{text}: a file source must be a .json snapshot")
        yield Source("snapshot", text, snapshot=Snapshot.load(path))
        return
    if path.is_dir():
        folder = path.resolve()
        if folder.name != "supabase" and (folder / "supabase").is_dir():
            folder = folder / "supabase"
        yield Source("directory", display_path(folder), supabase_dir=folder)
        return
    if text.endswith(".json"):
        raise SourceError(f"{text}: no such snapshot file")
    supabase_dir = supabase_dir.resolve()
    repo = repository_root(supabase_dir if supabase_dir.is_dir() else supabase_dir.parent)
    if repo is None:
        raise SourceError(
            f"{text!r} is neither a file nor a directory, and {supabase_dir} is not in a git "
            "repository, so it cannot be a git ref either"
        )
    folder = supabase_dir.relative_to(repo.resolve()).as_posix()
    # A marked run directory (rlsguard-ref-<id>): deleted when the block ends, and
    # reaped by a later run if this process is killed before that; never a bare
    # mkdtemp a reaper could not tell from a user's folder.
    export = RunDir(f"ref-{new_run_id()}", Path(tempfile.gettempdir()))
    export.create(ServiceUser.current())
    tree = export.path / "tree"
    try:
        export_tree(repo, text, folder, tree)
        yield Source("git", f"{text}:{folder}", supabase_dir=tree / folder)
    finally:
        export.remove()
