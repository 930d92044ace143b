"""The SMTP sink's own process: ``python -m rlsguard.stack._smtp_child --port N --workdir DIR``.

An aiosmtpd server on 127.0.0.1 that accepts every message and writes it to
``DIR/messages/<seq>.json`` before answering ``250``, so a message the client
saw accepted survives a crash of the sink. A control socket (``DIR/control.sock``,
one JSON object per line each way) lets the parent list, clear and wait for
messages, and switch the fault modes the email drills use:

- ``accept``: normal service.
- ``refuse``: the listening socket is closed, so connects get ECONNREFUSED;
  ``accept`` binds the same port again.
- ``error``: sessions open normally, and the chosen stage (``mail`` = MAIL FROM,
  the default; ``rcpt``; or ``data`` = after the message body) is answered with
  the chosen code and text, e.g. ``451 4.3.0 try again later``. Nothing is recorded.
- ``stall``: new connections complete the TCP handshake (the kernel queues them)
  but are never accepted, so clients wait for a greeting that does not come;
  ``accept`` (or ``error``) accepts the queued ones and greets them. Sessions
  already open are left alone.

The mode is not persisted: a restarted sink accepts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import json
import logging
import os
import signal
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from rlsguard.errors import InvalidArgument
from rlsguard.stack.smtp import CONTROL_SOCKET, MESSAGES_DIR, MODES, STAGES

log = logging.getLogger("rlsguard.smtp_sink")

HOSTNAME = "rlsguard-smtp-sink"
BACKLOG = 128


def message_record(
    seq: int, envelope: Envelope, peer: object, received_at: float
) -> dict[str, Any]:
    """The JSON written for one message; raw bytes survive via ``surrogateescape``."""
    raw = envelope.original_content or b""
    record: dict[str, Any] = {
        "seq": seq,
        "id": uuid.uuid4().hex,
        "mail_from": envelope.mail_from,
        "rcpt_tos": list(envelope.rcpt_tos),
        "data": raw.decode("utf-8", "surrogateescape"),
        "received_at": received_at,
        "peer": list(peer) if isinstance(peer, tuple) else peer,
        "subject": None,
        "headers": [],
        "text": None,
    }
    try:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        record["headers"] = [[name, str(value)] for name, value in parsed.items()]
        record["subject"] = parsed.get("Subject")
        body = parsed.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        if body is not None:
            record["text"] = body.get_content()
    except Exception as exc:  # a malformed message is still recorded raw
        log.warning("message %d could not be parsed: %s", seq, exc)
    if record["subject"] is not None:
        record["subject"] = str(record["subject"])
    return record


class MessageStore:
    """The recorded messages, in memory and one JSON file each (written atomically)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(mode=0o700, exist_ok=True)
        self.records: list[dict[str, Any]] = []
        for path in sorted(directory.glob("*.json")):
            try:
                self.records.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                log.warning("skipping unreadable %s: %s", path, exc)
        self.records.sort(key=lambda r: r["seq"])
        self.next_seq = (self.records[-1]["seq"] + 1) if self.records else 1
        self.changed = asyncio.Condition()

    async def add(self, envelope: Envelope, peer: object) -> dict[str, Any]:
        seq = self.next_seq
        self.next_seq += 1
        record = message_record(seq, envelope, peer, time.time())
        final = self.directory / f"{seq:08d}.json"
        tmp = self.directory / f".{seq:08d}.json.tmp"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, final)
        async with self.changed:
            self.records.append(record)
            self.changed.notify_all()
        return record

    async def clear(self) -> int:
        async with self.changed:
            count = len(self.records)
            for path in self.directory.glob("*.json"):
                path.unlink(missing_ok=True)
            self.records.clear()
            self.changed.notify_all()
            return count

    async def wait(self, count: int, timeout: float) -> bool:
        """True once at least ``count`` messages are recorded, False after ``timeout``."""
        async with self.changed:
            try:
                await asyncio.wait_for(
                    self.changed.wait_for(lambda: len(self.records) >= count), timeout
                )
            except TimeoutError:
                return False
            return True


class Handler:
    """aiosmtpd hooks: record on DATA, or answer the configured error."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def _error(self, stage: str) -> str | None:
        if self.sink.mode == "error" and self.sink.error_stage == stage:
            return self.sink.error_reply
        return None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if error := self._error("mail"):
            return error
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if error := self._error("rcpt"):
            return error
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if error := self._error("data"):
            return error
        record = await self.sink.store.add(envelope, session.peer)
        log.info(
            "message %d from %s to %s: %s",
            record["seq"],
            record["mail_from"],
            ",".join(record["rcpt_tos"]),
            record["subject"],
        )
        return f"250 OK queued as {record['id']}"


class _Session(SMTP):
    """One SMTP connection, tracked so a stopping sink can close it."""

    def __init__(self, sink: Sink, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(sink.handler, hostname=HOSTNAME, enable_SMTPUTF8=True, loop=loop)
        self.sink = sink

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.sink.sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.sink.sessions.discard(self)
        super().connection_lost(error)


class Sink:
    """The listening socket, our own accept loop (so ``stall`` can stop accepting) and modes."""

    def __init__(self, host: str, port: int, store: MessageStore) -> None:
        self.host = host
        self.port = port
        self.store = store
        self.mode = "accept"
        self.error_stage = "mail"
        self.error_reply = ""
        self.handler = Handler(self)
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self.sessions: set[_Session] = set()

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def _listen(self) -> None:
        if self._listener is None:
            # SO_REUSEADDR (set by create_server) lets us bind the same port again at once.
            self._listener = socket.create_server((self.host, self.port), backlog=BACKLOG)
            self._listener.setblocking(False)

    def _unlisten(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _start_accepting(self) -> None:
        if self._accepting is None or self._accepting.done():
            assert self._listener is not None
            self._accepting = asyncio.get_running_loop().create_task(
                self._accept_loop(self._listener)
            )

    async def _stop_accepting(self) -> None:
        task, self._accepting = self._accepting, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _addr = await loop.sock_accept(listener)
            except OSError as exc:  # e.g. out of file descriptors: keep serving
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.01)
                continue
            # aiosmtpd writes a multi-line reply line by line: without this, Nagle and
            # the client's delayed ACK add 40 ms to every EHLO.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                await loop.connect_accepted_socket(self._protocol, conn)
            except OSError as exc:  # the client gave up while it was queued
                log.info("dropped a connection: %s", exc)
                conn.close()

    def _protocol(self) -> SMTP:
        return _Session(self, loop=asyncio.get_running_loop())

    async def set_mode(
        self, mode: str, *, code: int = 451, text: str = "", stage: str = "mail"
    ) -> None:
        if mode not in MODES:
            raise InvalidArgument(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
        if mode == "error":
            if not 400 <= code <= 599:
                raise InvalidArgument(f"an error reply needs a 4xx or 5xx code, not {code}")
            if stage not in STAGES:
                raise InvalidArgument(
                    f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}"
                )
            self.error_stage = stage
            text = " ".join((text or "rlsguard smtp sink fault").split())  # one line
            self.error_reply = f"{code} {text}"
        if mode in ("accept", "error"):
            self._listen()
            self._start_accepting()
        elif mode == "stall":
            await self._stop_accepting()
            self._listen()
        else:  # refuse
            await self._stop_accepting()
            self._unlisten()
        self.mode = mode
        log.info("mode %s%s", mode, f" ({self.error_reply} at {stage})" if mode == "error" else "")

    async def close(self) -> None:
        await self._stop_accepting()
        self._unlisten()
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()

    def status(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "listening": self.listening,
            "port": self.port,
            "count": len(self.store.records),
            "pid": os.getpid(),
        }


class Control:
    """JSON-lines requests on the control socket, one connection per request or many."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    reply = await self.handle(json.loads(line))
                except Exception as exc:  # a bad request must not kill the sink
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        sink, store = self.sink, self.sink.store
        if op == "ping":
            return {"ok": True, **sink.status()}
        if op == "messages":
            return {"ok": True, "messages": list(store.records)}
        if op == "clear":
            return {"ok": True, "cleared": await store.clear()}
        if op == "wait":
            count, timeout = int(request.get("count", 1)), float(request.get("timeout", 5.0))
            reached = await store.wait(count, timeout)
            return {"ok": True, "timed_out": not reached, "messages": list(store.records)}
        if op == "mode":
            await sink.set_mode(
                str(request.get("mode")),
                code=int(request.get("code", 451)),
                text=str(request.get("text", "")),
                stage=str(request.get("stage", "mail")),
            )
            return {"ok": True, **sink.status()}
        raise InvalidArgument(
            f"unknown op {op!r}: the SMTP sink and its client disagree; reinstall rlsguard"
        )


async def serve(host: str, port: int, workdir: Path) -> None:
    store = MessageStore(workdir / MESSAGES_DIR)
    sink = Sink(host, port, store)
    await sink.set_mode("accept")
    control_path = workdir / CONTROL_SOCKET
    control_path.unlink(missing_ok=True)
    control = await asyncio.start_unix_server(Control(sink).serve, path=str(control_path))
    control_path.chmod(0o600)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("smtp sink on %s:%d, %d message(s) on disk", host, port, len(store.records))
    await stop.wait()
    control.close()
    await sink.close()
    control_path.unlink(missing_ok=True)
    log.info("smtp sink stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    asyncio.run(serve(args.host, args.port, args.workdir))


if __name__ == "__main__":
    main()
