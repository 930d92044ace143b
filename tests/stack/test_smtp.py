"""The SMTP sink: recording, waiting, and every fault switch, with smtplib as the client."""

from __future__ import annotations

import json
import smtplib
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage

import psutil
import pytest

from rlsguard.errors import ServerError
from rlsguard.stack import ServiceUser, SmtpSink, Stack, State
from rlsguard.stack.pychild import python_unreachable
from tests.stack.conftest import listening_addresses


@pytest.fixture(scope="module")
def module_sink(rlsguard_stack: Stack) -> Iterator[SmtpSink]:
    server = rlsguard_stack.smtp(rlsguard_stack.unique_name("smtp"))
    yield server
    rlsguard_stack.discard(server.name)


@pytest.fixture
def sink(module_sink: SmtpSink) -> SmtpSink:
    """The shared sink, running, accepting and empty."""
    if not module_sink.is_running:
        module_sink.restart()
    module_sink.accept()
    module_sink.clear()
    return module_sink


def otp_email(code: str = "123456", to: str = "student@school.test") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "auth@school.test"
    msg["To"] = to
    msg["Subject"] = f"Your login code is {code}"
    msg.set_content(f"Enter {code} to sign in.\n")
    return msg


def send(sink: SmtpSink, msg: EmailMessage | None = None, timeout: float = 5.0) -> None:
    with smtplib.SMTP(sink.host, sink.port, timeout=timeout) as client:
        client.send_message(msg or otp_email())


def test_records_envelope_headers_and_body(sink: SmtpSink) -> None:
    send(sink, otp_email("424242", to="teacher@school.test"))
    [message] = sink.wait_for(1)
    assert message.mail_from == "auth@school.test"
    assert message.rcpt_tos == ("teacher@school.test",)
    assert message.subject == "Your login code is 424242"
    assert message.header("to") == "teacher@school.test"
    assert message.text is not None
    assert "Enter 424242" in message.text
    assert b"424242" in message.data
    assert message.message["Subject"] == message.subject
    assert sink.messages() == [message]


def test_each_message_is_one_json_file(sink: SmtpSink) -> None:
    send(sink)
    send(sink)
    sink.wait_for(2)
    files = sorted(sink.messages_dir.glob("*.json"))
    assert [json.loads(f.read_text())["seq"] for f in files] == [m.seq for m in sink.messages()]
    assert not list(sink.messages_dir.glob(".*"))  # no temporary files left behind


def test_raw_bytes_survive_exactly(sink: SmtpSink) -> None:
    raw = b"From: a@school.test\r\nTo: b@school.test\r\nSubject: caf\xe9\r\n\r\nna\xefve \xff\r\n"
    with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
        client.sendmail("a@school.test", ["b@school.test"], raw)
    [message] = sink.wait_for(1)
    assert message.data == raw


def test_wait_for_returns_once_enough_messages_arrived(sink: SmtpSink) -> None:
    send(sink)
    sender = threading.Thread(target=send, args=(sink,))
    sender.start()
    try:
        assert len(sink.wait_for(2, timeout=10)) == 2
    finally:
        sender.join()


def test_wait_for_times_out_when_nothing_comes(sink: SmtpSink) -> None:
    with pytest.raises(TimeoutError, match="0 message"):
        sink.wait_for(1, timeout=0.05)


def test_clear_forgets_everything(sink: SmtpSink) -> None:
    send(sink)
    send(sink)
    sink.wait_for(2)
    assert sink.clear() == 2
    assert sink.messages() == []
    assert not list(sink.messages_dir.glob("*.json"))


def test_refuse_then_accept_on_the_same_port(sink: SmtpSink) -> None:
    port = sink.port
    sink.refuse()
    assert sink.mode == "refuse"
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(sink.host, port, timeout=2)
    sink.accept()
    send(sink)
    assert sink.port == port
    assert len(sink.wait_for(1)) == 1


@pytest.mark.parametrize(
    ("stage", "error"),
    [
        ("mail", smtplib.SMTPSenderRefused),
        ("rcpt", smtplib.SMTPRecipientsRefused),
        ("data", smtplib.SMTPDataError),
    ],
)
def test_fail_with_answers_the_chosen_code(
    sink: SmtpSink, stage: str, error: type[smtplib.SMTPException]
) -> None:
    sink.fail_with(451, "4.3.0 mail system unavailable", stage=stage)
    with pytest.raises(error) as caught:
        send(sink)
    if isinstance(caught.value, smtplib.SMTPRecipientsRefused):
        code, text = caught.value.recipients["student@school.test"]
    else:
        code, text = caught.value.smtp_code, caught.value.smtp_error  # type: ignore[attr-defined]
    assert (code, text) == (451, b"4.3.0 mail system unavailable")
    assert sink.messages() == []
    sink.accept()
    send(sink)
    assert len(sink.wait_for(1)) == 1


def test_fail_with_rejects_a_success_code(sink: SmtpSink) -> None:
    with pytest.raises(ServerError, match="4xx or 5xx"):
        sink.fail_with(250)
    with pytest.raises(ValueError, match="stage"):
        sink.fail_with(451, stage="helo")


def test_stall_hangs_clients_until_accept_greets_them(sink: SmtpSink) -> None:
    sink.stall()
    with pytest.raises((TimeoutError, smtplib.SMTPServerDisconnected), match="timed out"):
        smtplib.SMTP(sink.host, sink.port, timeout=0.3)
    with socket.create_connection((sink.host, sink.port), timeout=0.2) as held:
        with pytest.raises(TimeoutError):
            held.recv(64)  # connected, but no greeting
        held.settimeout(5)
        sink.accept()
        assert held.recv(64).startswith(b"220 ")  # the stalled connection is released
    send(sink)
    assert len(sink.wait_for(1)) == 1


def test_kill_and_restart_keep_recorded_messages(sink: SmtpSink) -> None:
    send(sink)
    [before] = sink.wait_for(1)
    sink.kill()
    assert sink.state is State.CRASHED
    assert sink.messages() == [before]  # read from disk while the sink is down
    sink.restart()
    assert sink.mode == "accept"
    send(sink)
    first, second = sink.wait_for(2)
    assert first == before
    assert second.seq > before.seq


def test_listens_on_loopback_only(sink: SmtpSink) -> None:
    assert sink.pid is not None
    assert listening_addresses(sink.pid) == {"127.0.0.1"}


def test_runs_as_the_service_user_when_it_can_run_python(
    sink: SmtpSink, rlsguard_stack: Stack
) -> None:
    assert rlsguard_stack.user is not None
    if python_unreachable(rlsguard_stack.user, ("aiosmtpd",)) is None:
        assert sink.run_as == rlsguard_stack.user
    else:  # e.g. a venv under /root: the reason is logged and we run as ourselves
        assert sink.run_as == ServiceUser.current()
    assert sink.pid is not None
    assert psutil.Process(sink.pid).uids().real == sink.run_as.uid


def test_the_current_user_can_always_run_python() -> None:
    assert python_unreachable(ServiceUser.current(), ("aiosmtpd", "uvicorn")) is None
