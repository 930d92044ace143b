"""The docker backend: engine detection over real sockets, the container spec, and the real thing.

The spec is tested without Docker. Detection is tested against real unix
sockets: a missing one, a dead one, one that accepts and never answers, and a
tiny HTTP server that answers ``/_ping`` like an engine.
"""

from __future__ import annotations

import http.server
import os
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rlsguard.errors import BackendUnavailable
from rlsguard.stack import PostgresSettings, Stack, State
from rlsguard.stack.docker import (
    DEFAULT_IMAGE,
    LABEL_HOST,
    LABEL_OWNER,
    LABEL_RUN_ID,
    LABEL_SERVER,
    PGDATA,
    DockerPostgres,
    container_spec,
    docker_engine_available,
    probe_docker_engine,
    stale_container_ids,
    this_host_id,
)
from rlsguard.stack.runtime import owner_tag

# -- the container spec --------------------------------------------------------------


def settings_of(command: tuple[str, ...]) -> dict[str, str]:
    pairs = [command[i + 1] for i, arg in enumerate(command) if arg == "-c"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_spec_runs_the_supabase_image_with_durable_commits() -> None:
    spec = container_spec(run_id="r1", name="pg", password="pw")
    assert spec.image == DEFAULT_IMAGE == "supabase/postgres:17.6.1.132"
    assert spec.command[:3] == ("postgres", "-D", "/etc/postgresql")  # the image's config dir
    gucs = settings_of(spec.command)
    assert gucs["fsync"] == "off"
    assert gucs["full_page_writes"] == "off"
    assert gucs["synchronous_commit"] == "on"
    assert gucs["max_connections"] == "100"


def test_spec_env_password_and_data_directory() -> None:
    spec = container_spec(run_id="r1", name="pg", password="pw")
    assert spec.env["POSTGRES_PASSWORD"] == "pw"
    assert spec.env["PGDATA"] == PGDATA
    assert "POSTGRES_USER" not in spec.env  # the image's supabase_admin stays the superuser
    assert "pw" not in repr(spec)


def test_spec_publishes_on_loopback_only() -> None:
    spec = container_spec(run_id="r1", name="pg", password="pw")
    assert spec.ports == {"5432/tcp": ("127.0.0.1", None)}
    assert spec.create_kwargs()["ports"] == {"5432/tcp": ("127.0.0.1", None)}


def test_spec_labels_tag_the_run_for_reaping() -> None:
    spec = container_spec(run_id="r1", name="pg", password="pw")
    assert spec.labels[LABEL_RUN_ID] == "r1"
    assert spec.labels[LABEL_SERVER] == "r1/pg"
    assert spec.labels[LABEL_OWNER] == owner_tag()
    assert spec.labels[LABEL_HOST] == this_host_id()
    assert spec.name == "rlsguard-r1-pg"


def test_spec_puts_pgdata_on_tmpfs_unless_asked_not_to() -> None:
    fast = container_spec(run_id="r1", name="pg", password="pw", tmpfs_size="512m")
    assert list(fast.tmpfs) == [PGDATA]
    assert "size=512m" in fast.tmpfs[PGDATA]
    durable = container_spec(run_id="r1", name="pg", password="pw", pgdata_tmpfs=False)
    assert durable.tmpfs == {}


def test_spec_takes_settings_and_image() -> None:
    spec = container_spec(
        run_id="r1",
        name="odd/name",
        password="pw",
        image="supabase/postgres:15.8.1.085",
        settings=PostgresSettings(max_connections=12, gucs={"work_mem": "8MB", "jit": False}),
    )
    gucs = settings_of(spec.command)
    assert gucs["max_connections"] == "12"
    assert gucs["work_mem"] == "8MB"
    assert gucs["jit"] == "off"
    assert spec.image == "supabase/postgres:15.8.1.085"
    assert spec.name == "rlsguard-r1-odd-name"  # a valid container name


def test_spec_kwargs_match_what_docker_create_takes() -> None:
    kwargs = container_spec(run_id="r1", name="pg", password="pw").create_kwargs()
    assert set(kwargs) == {
        "image",
        "name",
        "command",
        "environment",
        "ports",
        "labels",
        "tmpfs",
        "shm_size",
    }
    assert isinstance(kwargs["command"], list)


def test_stale_containers_are_those_whose_owner_is_gone() -> None:
    host = this_host_id()
    mine = {LABEL_RUN_ID: "a", LABEL_OWNER: owner_tag(), LABEL_HOST: host}
    dead = {LABEL_RUN_ID: "b", LABEL_OWNER: "999999999:1", LABEL_HOST: host}
    elsewhere = {LABEL_RUN_ID: "c", LABEL_OWNER: "999999999:1", LABEL_HOST: "other/boot"}
    untagged = {LABEL_OWNER: "999999999:1", LABEL_HOST: host}
    found = stale_container_ids(
        [("mine", mine), ("dead", dead), ("elsewhere", elsewhere), ("untagged", untagged)]
    )
    assert found == ["dead"]


def test_major_version_comes_from_the_image_tag_before_start() -> None:
    assert DockerPostgres("pg", "r1").major == 17
    assert DockerPostgres("pg", "r1", image="supabase/postgres:15.8.1.085").major == 15


# -- engine detection ----------------------------------------------------------------


class _PingHandler(http.server.BaseHTTPRequestHandler):
    answer: tuple[int, bytes] = (200, b"OK")

    def do_GET(self) -> None:
        status, body = self.answer if self.path == "/_ping" else (404, b"not found")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:  # unix sockets have no client address
        return "unix"

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(path: Path, answer: tuple[int, bytes]) -> Iterator[Path]:
    handler = type("Handler", (_PingHandler,), {"answer": answer})
    server = socketserver.ThreadingUnixStreamServer(str(path), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def engine_socket(tmp_path: Path) -> Iterator[Path]:
    yield from _serve(tmp_path / "docker.sock", (200, b"OK"))


@pytest.fixture
def teapot_socket(tmp_path: Path) -> Iterator[Path]:
    yield from _serve(tmp_path / "teapot.sock", (418, b"I'm a teapot"))


def test_no_engine_on_this_machine() -> None:
    available, reason = docker_engine_available()
    if available:
        pytest.skip(f"a Docker engine answers here: {reason}")
    assert reason  # says exactly what failed
    if not os.environ.get("DOCKER_HOST"):
        assert "/var/run/docker.sock" in reason


def test_missing_socket(tmp_path: Path) -> None:
    path = tmp_path / "nothing.sock"
    available, reason = docker_engine_available(env={"DOCKER_HOST": f"unix://{path}"})
    assert not available
    assert reason == f"DOCKER_HOST=unix://{path}: {path} does not exist"


def test_socket_nobody_listens_on(tmp_path: Path) -> None:
    path = tmp_path / "dead.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()  # the file stays, nothing listens
    available, reason = docker_engine_available(env={"DOCKER_HOST": f"unix://{path}"})
    assert not available
    assert "refused the connection" in reason


def test_socket_that_accepts_but_never_answers(tmp_path: Path) -> None:
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
        sock.listen(1)  # the kernel completes the connect; nobody ever reads
        available, reason = docker_engine_available(
            timeout=0.2, env={"DOCKER_HOST": f"unix://{path}"}
        )
    assert not available
    assert "did not answer GET /_ping within 0.2s" in reason


def test_real_ping_server_counts_as_an_engine(engine_socket: Path) -> None:
    probe = probe_docker_engine(env={"DOCKER_HOST": f"unix://{engine_socket}"})
    assert probe.ok, probe.reason
    assert probe.docker_host == f"unix://{engine_socket}"
    assert str(engine_socket) in probe.reason


def test_found_among_default_sockets_without_docker_host(engine_socket: Path) -> None:
    # Rootless Docker lives at $XDG_RUNTIME_DIR/docker.sock.
    if Path("/var/run/docker.sock").exists():
        pytest.skip("the system socket exists here and is tried first")
    probe = probe_docker_engine(env={"XDG_RUNTIME_DIR": str(engine_socket.parent)})
    assert probe.ok, probe.reason
    assert probe.docker_host == f"unix://{engine_socket}"


def test_server_that_is_not_docker(teapot_socket: Path) -> None:
    available, reason = docker_engine_available(env={"DOCKER_HOST": f"unix://{teapot_socket}"})
    assert not available
    assert "HTTP 418" in reason


def test_tcp_port_nobody_listens_on() -> None:
    with socket.socket() as sock:  # a port that is certainly closed: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        available, reason = docker_engine_available(env={"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})
    assert not available
    assert f"127.0.0.1:{port} refused the connection" in reason


def test_ssh_and_unknown_schemes_say_why() -> None:
    ok, reason = docker_engine_available(env={"DOCKER_HOST": "ssh://me@build-box"})
    assert not ok
    assert "ssh" in reason
    ok, reason = docker_engine_available(env={"DOCKER_HOST": "npipe:////./pipe/docker_engine"})
    assert not ok
    assert "unsupported scheme 'npipe'" in reason


def test_start_without_an_engine_says_what_to_do() -> None:
    available, reason = docker_engine_available()
    if available:
        pytest.skip(f"a Docker engine answers here: {reason}")
    server = DockerPostgres("pg", "r1")
    with pytest.raises(BackendUnavailable, match="--rlsguard-backend local") as info:
        server.start()
    assert reason in str(info.value)
    assert server.state is State.STOPPED


# -- the real container --------------------------------------------------------------

_ENGINE, _WHY = docker_engine_available()


@pytest.mark.skipif(not _ENGINE, reason=f"no Docker engine: {_WHY}")
def test_container_lifecycle(rlsguard_stack: Stack) -> None:
    server = DockerPostgres(rlsguard_stack.unique_name("docker"), rlsguard_stack.run_id)
    rlsguard_stack.add(server, start=False)  # type: ignore[type-var]
    try:
        server.start()
        with server.connect() as conn:
            assert conn.execute("show synchronous_commit").fetchone() == ("on",)
            assert conn.execute("select current_user").fetchone() == ("supabase_admin",)
        server.create_database("rlsguard_docker_a", template="template1")
        server.drop_database("rlsguard_docker_a")
        server.freeze()
        assert server.state is State.FROZEN
        server.thaw()
        server.wait_ready(30)
        server.kill()
        assert server.state is State.CRASHED
        server.restart()
        with psycopg.connect(server.conninfo()) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        rlsguard_stack.discard(server.name)
    assert server.container_id is None
