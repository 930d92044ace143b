"""A tiny ASGI app that the HTTP service tests serve under uvicorn (imported by the child)."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def root(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def env(request: Request) -> JSONResponse:
    return JSONResponse({"value": os.environ.get(request.path_params["name"])})


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"pid": os.getpid(), "uid": os.getuid()})


async def unhealthy(request: Request) -> PlainTextResponse:
    return PlainTextResponse("not yet", status_code=503)


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/", root),
            Route("/env/{name}", env),
            Route("/whoami", whoami),
            Route("/unhealthy", unhealthy),
        ]
    )


app = create_app()
