"""Shared pieces of the auth tests: an HTTP client on the auth API, unique users."""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest

PASSWORD = "correct-horse-9"  # long enough for minimum_password_length = 8
_seq = itertools.count(1)


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{os.getpid()}-{next(_seq)}-{uuid.uuid4().hex[:6]}@auth.test"


def client_address() -> str:
    """A made-up client address: each test is its own client for the rate limiter."""
    n = next(_seq)
    return f"10.{os.getpid() % 250}.{n // 250 % 250}.{n % 250}"


@pytest.fixture
def auth_api(rlsguard_auth: Any) -> Iterator[httpx.Client]:
    """httpx on ``/auth/v1`` with the anon key, as supabase clients call it."""
    headers = {"apikey": rlsguard_auth.anon_key, "X-Forwarded-For": client_address()}
    with httpx.Client(base_url=rlsguard_auth.auth_url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def auth_db(rlsguard_auth: Any, rlsguard_engine: Any) -> Iterator[psycopg.Connection[Any]]:
    """A superuser connection to the service's database (internal tests only)."""
    with rlsguard_engine.connect(rlsguard_auth.dbname, autocommit=True) as conn:
        yield conn


def sign_up(api: httpx.Client, email: str, password: str = PASSWORD, **data: Any) -> httpx.Response:
    return api.post("/signup", json={"email": email, "password": password, "data": data})


def sign_in(api: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return api.post(
        "/token", params={"grant_type": "password"}, json={"email": email, "password": password}
    )


def refresh(api: httpx.Client, token: str) -> httpx.Response:
    return api.post("/token", params={"grant_type": "refresh_token"}, json={"refresh_token": token})


def signed_up(api: httpx.Client, tag: str = "user", **data: Any) -> tuple[str, dict[str, Any]]:
    """A new confirmed user (autoconfirm) and its first session."""
    email = unique_email(tag)
    response = sign_up(api, email, **data)
    assert response.status_code == 200, response.text
    return email, response.json()


def error_code(response: httpx.Response) -> str | None:
    """GoTrue's error code in either body shape."""
    body = response.json()
    return body.get("error_code") or (body["code"] if isinstance(body.get("code"), str) else None)


@pytest.fixture
def auth_clock(rlsguard_auth: Any) -> Iterator[Any]:
    """The service's clock; back to real time after the test."""
    try:
        yield rlsguard_auth.clock
    finally:
        rlsguard_auth.clock.reset()


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on a real loopback socket, in this process (its clock is ours)."""
    import uvicorn

    from rlsguard.stack.net import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="auth-in-process", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the in-process auth app did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
