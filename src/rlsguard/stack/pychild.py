"""Servers that are Python processes: the SMTP sink, ASGI services.

They run this very interpreter (``sys.executable -m ...``) so they import the
same rlsguard and the same dependencies as the parent. As root they should
run as the unprivileged service user, like every server; but a virtualenv or
pyenv under ``/root`` (mode 700) cannot be read by that user. Then, and only
then, the child runs as the current user, and the reason is logged. Postgres
is the only server that refuses root, and it is not a Python child.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from importlib.util import find_spec
from pathlib import Path
from typing import ClassVar

import rlsguard
from rlsguard.stack.process import Context, Server
from rlsguard.stack.runtime import ServiceUser, user_can_execute

log = logging.getLogger("rlsguard.stack")


def _module_dir(module: str) -> Path | None:
    spec = find_spec(module)  # no import: no side effects
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def python_unreachable(user: ServiceUser, modules: Iterable[str] = ()) -> str | None:
    """Why ``user`` cannot run this interpreter with ``modules``; None when it can."""
    needed = [Path(sys.executable), Path(os.__file__).parent]
    for module in ("rlsguard", *modules):
        found = _module_dir(module)
        if found is not None:
            needed.append(found)
    for path in needed:
        if not user_can_execute(user, path):
            return f"{user.name} cannot reach {path.resolve()}"
    return None


def python_child_context(ctx: Context, modules: Iterable[str], server: str) -> Context:
    """``ctx``, with the current user instead of the service user if it cannot run Python."""
    if ctx.user.is_current:
        return ctx
    problem = python_unreachable(ctx.user, modules)
    if problem is None:
        return ctx
    current = ServiceUser.current()
    log.warning(
        "%s: running as %s instead of %s: %s (install Python where %s can read it to drop "
        "privileges)",
        server,
        current.name,
        ctx.user.name,
        problem,
        ctx.user.name,
    )
    return dataclasses.replace(ctx, user=current)


class PythonServer(Server):
    """A server whose process is ``sys.executable -m <module>``."""

    modules: ClassVar[tuple[str, ...]] = ()
    """Top-level packages the child imports (checked for the service user)."""

    def __init__(self, name: str, ctx: Context) -> None:
        self.service_user = ctx.user
        super().__init__(name, python_child_context(ctx, self.modules, name))

    @property
    def run_as(self) -> ServiceUser:
        """Who the child runs as (the service user, unless it cannot run Python)."""
        return self.ctx.user

    def python(self, module: str, *args: str) -> list[str]:
        return [sys.executable, "-m", module, *args]

    def environment(self) -> Mapping[str, str]:
        # The child must import this rlsguard, even from a source tree that is not installed.
        source_root = str(Path(rlsguard.__file__).resolve().parent.parent)
        inherited = os.environ.get("PYTHONPATH", "")
        pythonpath = os.pathsep.join(p for p in (source_root, inherited) if p)
        return {
            "PYTHONPATH": pythonpath,
            "PYTHONUNBUFFERED": "1",  # log lines reach the log file as they happen
            "PYTHONDONTWRITEBYTECODE": "1",  # the service user cannot write __pycache__
        }
