"""A local SMTP server that records every message, with switches for email outages.

The sink is its own process (see :mod:`rlsguard.stack._smtp_child`), so a
drill can crash it, freeze it or restart it like any other server. Messages
are written to disk before the client hears ``250``: what the sender saw
accepted is never lost, even across a ``kill -9``.

Fault modes, switched at run time over the control socket:

======================  ======================================================
``accept()``            normal service
``refuse()``            the port is closed: connects fail with ECONNREFUSED;
                        ``accept()`` opens the same port again
``fail_with(451, ...)`` every session is answered ``451 ...`` at MAIL FROM
                        (``stage="rcpt"`` or ``"data"`` to fail later);
                        smtplib raises ``SMTPSenderRefused`` with that code
``stall()``             connections are queued but never greeted, so clients
                        time out; ``accept()`` greets the queued ones
======================  ======================================================

A restarted sink is back in ``accept`` mode, with its recorded messages.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import socket
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, ClassVar

from rlsguard.errors import InvalidArgument, ServerError, WaitTimeout
from rlsguard.stack.net import LOOPBACK, free_port, tcp_accepts
from rlsguard.stack.process import Context
from rlsguard.stack.pychild import PythonServer

# Shared with the child process (rlsguard.stack._smtp_child).
MESSAGES_DIR = "messages"
CONTROL_SOCKET = "control.sock"
MODES = ("accept", "refuse", "error", "stall")
STAGES = ("mail", "rcpt", "data")

CONTROL_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class SmtpMessage:
    """One recorded message: its envelope, raw bytes and the parts tests look at."""

    seq: int
    id: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    subject: str | None
    headers: tuple[tuple[str, str], ...]
    text: str | None
    received_at: float

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SmtpMessage:
        return cls(
            seq=int(record["seq"]),
            id=str(record["id"]),
            mail_from=str(record["mail_from"]),
            rcpt_tos=tuple(record["rcpt_tos"]),
            data=str(record["data"]).encode("utf-8", "surrogateescape"),
            subject=record.get("subject"),
            headers=tuple((str(k), str(v)) for k, v in record.get("headers", [])),
            text=record.get("text"),
            received_at=float(record["received_at"]),
        )

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive)."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class SmtpSink(PythonServer):
    """An aiosmtpd server on 127.0.0.1 that records messages and can play an outage."""

    kind: ClassVar[str] = "smtp"
    modules: ClassVar[tuple[str, ...]] = ("aiosmtpd",)

    def __init__(self, name: str, ctx: Context) -> None:
        super().__init__(name, ctx)
        self.port = free_port()
        self.control_path = self.workdir / CONTROL_SOCKET
        self.messages_dir = self.workdir / MESSAGES_DIR

    @property
    def host(self) -> str:
        return LOOPBACK

    # -- lifecycle hooks -------------------------------------------------------
    def command(self) -> list[str]:
        return self.python(
            "rlsguard.stack._smtp_child",
            "--host", LOOPBACK,
            "--port", str(self.port),
            "--workdir", str(self.workdir),
        )  # fmt: skip

    def move_port(self) -> bool:
        self.port = free_port()
        return True

    def probe(self) -> bool:
        """The control socket answers and the SMTP port takes connections."""
        try:
            status = self._request({"op": "ping"}, timeout=PROBE_TIMEOUT_S)
        except ServerError:
            return False
        return bool(status.get("listening")) and tcp_accepts(self.port, timeout=PROBE_TIMEOUT_S)

    def before_spawn(self) -> None:
        self.control_path.unlink(missing_ok=True)

    # -- control channel -------------------------------------------------------
    def _request(
        self, payload: dict[str, Any], timeout: float = CONTROL_TIMEOUT_S
    ) -> dict[str, Any]:
        """One JSON line to the sink, one JSON line back."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(self.control_path))
            sock.sendall(json.dumps(payload).encode() + b"\n")
            with sock.makefile("rb") as reader:
                line = reader.readline()
        except OSError as exc:
            raise ServerError(f"{self.name}: control socket did not answer: {exc}") from exc
        finally:
            with contextlib.suppress(OSError):
                sock.close()
        if not line:
            raise ServerError(f"{self.name}: control socket closed without an answer")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise ServerError(f"{self.name}: {payload.get('op')} failed: {reply.get('error')}")
        return reply

    # -- messages --------------------------------------------------------------
    def messages(self) -> list[SmtpMessage]:
        """Every recorded message, oldest first, read from disk (works while the sink is down)."""
        found: list[SmtpMessage] = []
        for path in sorted(self.messages_dir.glob("*.json")):
            with contextlib.suppress(FileNotFoundError):  # cleared meanwhile
                found.append(SmtpMessage.from_record(json.loads(path.read_text("utf-8"))))
        return found

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[SmtpMessage]:
        """Block until at least ``count`` messages are recorded; return them all.

        The sink does the waiting, so this returns as soon as the message is on
        disk. Raises :class:`~rlsguard.errors.WaitTimeout` (a TimeoutError) when fewer
        arrived within ``timeout``.
        """
        reply = self._request(
            {"op": "wait", "count": count, "timeout": timeout}, timeout=timeout + CONTROL_TIMEOUT_S
        )
        messages = [SmtpMessage.from_record(r) for r in reply["messages"]]
        if reply["timed_out"]:
            raise WaitTimeout(
                f"{self.name}: {len(messages)} message(s) after {timeout}s, wanted {count}"
            )
        return messages

    def clear(self) -> int:
        """Forget every recorded message; returns how many there were."""
        return int(self._request({"op": "clear"})["cleared"])

    # -- faults ----------------------------------------------------------------
    @property
    def mode(self) -> str:
        return str(self._request({"op": "ping"})["mode"])

    def accept(self) -> None:
        """Normal service: listen (on the same port) and greet anything that was stalled."""
        self._request({"op": "mode", "mode": "accept"})

    def refuse(self) -> None:
        """Close the port: connection attempts get ECONNREFUSED."""
        self._request({"op": "mode", "mode": "refuse"})

    def fail_with(self, code: int, text: str = "", *, stage: str = "mail") -> None:
        """Answer ``code text`` at ``stage``: ``mail`` (MAIL FROM), ``rcpt`` or ``data``.

        Use 4xx for a temporary outage (``451 4.3.0 try again later``; senders
        should retry) and 5xx for a permanent refusal (``550``).
        """
        if stage not in STAGES:
            raise InvalidArgument(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
        self._request({"op": "mode", "mode": "error", "code": code, "text": text, "stage": stage})

    def stall(self) -> None:
        """Take TCP connections but never greet them, so clients hang until their timeout."""
        self._request({"op": "mode", "mode": "stall"})
