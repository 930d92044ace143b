"""Loopback ports and the cheap raw-socket probes servers are polled with.

Readiness is polled every millisecond, so a probe must not build a client,
a connection pool or an event loop: one connect, one short exchange, one close.
A refused or missing socket answers False at once; a server that accepted but
does not answer (frozen, stalled) costs at most ``timeout``.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

LOOPBACK = "127.0.0.1"
PROBE_TIMEOUT_S = 0.5


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on right now (the kernel's pick; the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _exchange(sock: socket.socket, address: object, request: bytes, want: int) -> bytes | None:
    """Connect, send ``request`` and read until ``want`` bytes or EOF; None on any error."""
    try:
        sock.connect(address)  # type: ignore[arg-type]
        if request:
            sock.sendall(request)
        reply = b""
        while len(reply) < want:
            chunk = sock.recv(want - len(reply))
            if not chunk:
                break
            reply += chunk
        return reply
    except OSError:
        return None
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def tcp_accepts(port: int, host: str = LOOPBACK, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether something listens on ``host:port`` (the handshake completes)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def resp_ping(unix_socket: Path, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """A Redis/Valkey ``PING`` over its unix socket: True only on ``+PONG``.

    A server still loading its data answers ``-LOADING``, which is not ready.
    """
    if not unix_socket.exists():
        return False
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    reply = _exchange(sock, str(unix_socket), b"*1\r\n$4\r\nPING\r\n", len(b"+PONG\r\n"))
    return reply == b"+PONG\r\n"


def http_status(
    port: int, path: str = "/", host: str = LOOPBACK, timeout: float = PROBE_TIMEOUT_S
) -> int | None:
    """The status code of ``GET path`` over HTTP/1.1, or None if nothing answered."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: rlsguard-probe\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii")
    reply = _exchange(sock, (host, port), request, len(b"HTTP/1.1 200"))
    if reply is None or not reply.startswith(b"HTTP/"):
        return None
    parts = reply.split(b" ")
    if len(parts) < 2 or not parts[1][:3].isdigit():
        return None
    return int(parts[1][:3])
