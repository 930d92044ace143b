"""Any ASGI app (the reference auth service, a test double) as a supervised uvicorn process.

The app is named by import string (``"package.module:app"``, or a factory with
``factory=True``), so it is imported fresh in the child and a crash, freeze or
restart of the service is real. It listens on 127.0.0.1 only, and is ready
once ``GET <path>`` answers anything below 500 (a 404 still proves the server
and the app are up; a 503 from a health route means "not yet").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from rlsguard.errors import InvalidArgument
from rlsguard.stack.net import LOOPBACK, free_port, http_status
from rlsguard.stack.process import Context
from rlsguard.stack.pychild import PythonServer

GRACEFUL_SHUTDOWN_S = 3


class HttpService(PythonServer):
    """``uvicorn <app>`` on a free loopback port, with the given environment."""

    kind: ClassVar[str] = "http"
    modules: ClassVar[tuple[str, ...]] = ("uvicorn",)

    def __init__(
        self,
        name: str,
        ctx: Context,
        app: str,
        *,
        path: str = "/",
        env: Mapping[str, str] | None = None,
        factory: bool = False,
        app_dir: str | os.PathLike[str] | None = None,
        workers: int = 1,
    ) -> None:
        if ":" not in app:
            raise InvalidArgument(
                f"app must be an import string like 'package.module:app', not {app!r}"
            )
        if not path.startswith("/"):
            raise InvalidArgument(f"the readiness path must start with '/', not {path!r}")
        super().__init__(name, ctx)
        self.app = app
        self.path = path
        self.env = dict(env or {})
        self.factory = factory
        self.app_dir = Path(app_dir).resolve() if app_dir is not None else None
        self.workers = workers  # > 1: uvicorn's supervisor and its worker processes (one tree)
        self.port = free_port()

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else f"/{path}")

    # -- lifecycle hooks -------------------------------------------------------
    def command(self) -> list[str]:
        args = [
            self.app,
            "--host", LOOPBACK,
            "--port", str(self.port),
            "--lifespan", "auto",
            "--log-level", "info",
            "--no-server-header",
            # A keep-alive client must not hold a stop up until the supervisor's SIGKILL.
            "--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_S),
        ]  # fmt: skip
        if self.factory:
            args.append("--factory")
        if self.workers > 1:
            args += ["--workers", str(self.workers)]
        if self.app_dir is not None:
            args += ["--app-dir", str(self.app_dir)]
        return self.python("uvicorn", *args)

    def environment(self) -> Mapping[str, str]:
        return {**super().environment(), **self.env}

    def move_port(self) -> bool:
        self.port = free_port()
        return True

    def probe(self) -> bool:
        status = http_status(self.port, self.path)
        return status is not None and status < 500
