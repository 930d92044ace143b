"""ASGI apps under uvicorn as supervised servers: readiness, environment, crash and freeze."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from rlsguard.errors import ServerError
from rlsguard.stack import HttpService, ServiceUser, Stack, State
from rlsguard.stack.pychild import python_unreachable
from tests.stack.conftest import listening_addresses

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = "tests.stack.asgi_app:app"


@pytest.fixture(scope="module")
def service(rlsguard_stack: Stack) -> Iterator[HttpService]:
    server = rlsguard_stack.http(
        rlsguard_stack.unique_name("api"),
        APP,
        env={"RLSGUARD_TEST_GREETING": "hello from the parent"},
        app_dir=REPO_ROOT,
    )
    yield server
    rlsguard_stack.discard(server.name)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http:
        yield http


def test_ready_means_the_app_answers(service: HttpService, client: httpx.Client) -> None:
    assert service.state is State.RUNNING
    response = client.get(service.base_url + "/")
    assert (response.status_code, response.text) == (200, "ok")
    assert service.base_url == f"http://127.0.0.1:{service.port}"


def test_environment_reaches_the_app(service: HttpService, client: httpx.Client) -> None:
    response = client.get(service.url("/env/RLSGUARD_TEST_GREETING"))
    assert response.json() == {"value": "hello from the parent"}


def test_listens_on_loopback_only(service: HttpService) -> None:
    assert service.pid is not None
    assert listening_addresses(service.pid) == {"127.0.0.1"}


def test_runs_as_the_service_user_when_it_can_run_python(
    service: HttpService, rlsguard_stack: Stack, client: httpx.Client
) -> None:
    assert rlsguard_stack.user is not None
    if python_unreachable(rlsguard_stack.user, ("uvicorn",)) is None:
        assert service.run_as == rlsguard_stack.user
    else:
        assert service.run_as == ServiceUser.current()
    assert client.get(service.url("/whoami")).json()["uid"] == service.run_as.uid
    assert service.pid is not None
    assert psutil.Process(service.pid).uids().real == service.run_as.uid


def test_kill_then_restart_serves_again(service: HttpService, client: httpx.Client) -> None:
    old_pid = client.get(service.url("/whoami")).json()["pid"]
    service.kill()
    assert service.state is State.CRASHED
    with pytest.raises(httpx.ConnectError):
        client.get(service.base_url + "/")
    service.restart()
    assert client.get(service.url("/whoami")).json()["pid"] not in (old_pid, None)
    assert client.get(service.url("/env/RLSGUARD_TEST_GREETING")).json()["value"]


def test_frozen_service_times_out_then_thaws(service: HttpService, client: httpx.Client) -> None:
    service.freeze()
    try:
        with pytest.raises(httpx.TimeoutException):
            client.get(service.base_url + "/", timeout=0.3)
    finally:
        service.thaw()
    assert client.get(service.base_url + "/").status_code == 200


def test_factory_apps_are_supported(rlsguard_stack: Stack, client: httpx.Client) -> None:
    server = rlsguard_stack.http(
        rlsguard_stack.unique_name("factory"),
        "tests.stack.asgi_app:create_app",
        factory=True,
        app_dir=REPO_ROOT,
    )
    try:
        assert client.get(server.base_url + "/").text == "ok"
    finally:
        rlsguard_stack.discard(server.name)


def test_readiness_needs_an_answer_below_500(rlsguard_stack: Stack) -> None:
    server = rlsguard_stack.http(
        rlsguard_stack.unique_name("unready"), APP, path="/unhealthy", app_dir=REPO_ROOT,
        start=False,
    )  # fmt: skip
    try:
        with pytest.raises(ServerError, match="not ready"):
            server.start(timeout=0.5)
        server.path = "/no-such-route"  # a 404 proves the app is up
        deadline = time.monotonic() + 60  # a loaded machine imports uvicorn slowly
        while not server.probe():
            assert time.monotonic() < deadline, "the app never answered on its socket"
            time.sleep(0.02)
        server.path = "/unhealthy"
        assert server.probe() is False  # the app runs, and answers 503
    finally:
        rlsguard_stack.discard(server.name)


def test_bad_arguments_are_refused_early(rlsguard_stack: Stack) -> None:
    with pytest.raises(ValueError, match="import string"):
        rlsguard_stack.http("bad", "tests.stack.asgi_app", start=False)
    with pytest.raises(ValueError, match="start with '/'"):
        rlsguard_stack.http("bad", APP, path="health", start=False)
