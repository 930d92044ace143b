"""The email outbox against a real database and the SMTP sink's outage modes.

"Exactly once" as :mod:`rlsguard.authservice.outbox` defines it: every queued message reaches
the sink, and all copies of one message carry its Message-ID, so deduplicated by Message-ID
each is delivered once (no duplicate at all unless the sender died between 250 and commit).
"""

from __future__ import annotations

import random
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from rlsguard.authservice.mailer import SendFailed, SmtpMailer
from rlsguard.authservice.outbox import (
    TABLE,
    OutboxSender,
    backoff_s,
    enqueue,
    ensure_table,
    outbox_status,
)
from rlsguard.authservice.server import AUTH_ADMIN
from rlsguard.clock import ManualClock

pytestmark = [pytest.mark.auth, pytest.mark.auth_internal]


@pytest.fixture(scope="module")
def database(rlsguard_engine: Any) -> Iterator[str]:
    name = f"rlsguard_outbox_{uuid.uuid4().hex[:8]}"
    rlsguard_engine.clone(name)
    yield rlsguard_engine.conninfo(name, user=AUTH_ADMIN)
    rlsguard_engine.drop(name)


@pytest.fixture(scope="module")
def pool(database: str) -> Iterator[ConnectionPool[Any]]:
    with ConnectionPool(database, min_size=1, max_size=2, kwargs={"autocommit": True}) as p:
        with p.connection() as conn:
            ensure_table(conn)
        yield p


@pytest.fixture(scope="module")
def sink(rlsguard_stack: Any) -> Iterator[Any]:
    server = rlsguard_stack.smtp(rlsguard_stack.unique_name("outbox-smtp"))
    yield server
    rlsguard_stack.discard(server.name)


@pytest.fixture
def smtp(sink: Any, pool: ConnectionPool[Any]) -> Any:
    sink.accept()
    sink.clear()
    with pool.connection() as conn:
        conn.execute(f"DELETE FROM {TABLE}")
    return sink


def queue(
    pool: ConnectionPool[Any], clock: ManualClock, n: int = 1, expiry: float = 3600
) -> list[str]:
    with pool.connection() as conn, conn.transaction():
        return [
            enqueue(conn, f"u{i}@outbox.test", "Your code", f"code {i}", clock.now(), expiry)
            for i in range(n)
        ]


def sender(
    pool: ConnectionPool[Any], smtp: Any, clock: ManualClock, timeout_s: float = 10.0, **kw: Any
) -> OutboxSender:
    """``timeout_s``: generous (a loaded machine answers slowly, and a send that times out
    would count as an outage); short only where the test stalls the server on purpose."""
    transport = kw.pop("transport", None) or SmtpMailer(smtp.host, smtp.port, timeout_s=timeout_s)
    return OutboxSender(pool, transport, clock, base_s=1.0, max_s=8.0, **kw)


def delivered(smtp: Any) -> Counter[str]:
    return Counter(m.header("Message-ID") or "" for m in smtp.messages())


def status(pool: ConnectionPool[Any], clock: ManualClock) -> dict[str, Any]:
    with pool.connection() as conn:
        return outbox_status(conn, clock.now())


def test_sent_with_its_message_id_and_the_otp_erased(pool: Any, smtp: Any) -> None:
    clock = ManualClock()
    [mid] = queue(pool, clock)
    assert sender(pool, smtp, clock).run_once() == 1
    assert delivered(smtp) == {mid: 1}
    with pool.connection() as conn:
        row = conn.execute(f"SELECT status, body FROM {TABLE} WHERE message_id = %s", (mid,))
        assert row.fetchone() == ("sent", None)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_s(n, 1.0, 8.0) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


@pytest.mark.parametrize("outage", ["refuse", "fail_451", "bounce_550", "stall"])
def test_an_outage_delays_then_each_message_goes_exactly_once(
    pool: Any, smtp: Any, outage: str
) -> None:
    clock = ManualClock()
    ids = queue(pool, clock, 3)
    out = sender(pool, smtp, clock, timeout_s=0.5 if outage == "stall" else 10.0)
    if outage == "refuse":
        smtp.refuse()
    elif outage == "fail_451":
        smtp.fail_with(451, "4.3.0 try again later")
    elif outage == "bounce_550":
        smtp.fail_with(550, "5.7.1 relay denied", stage="rcpt")
    else:
        smtp.stall()
    assert out.run_once() == 0  # three failures in a row: the round stops
    assert out.run_once() == 0  # all three are backing off: nothing is tried
    pending = status(pool, clock)
    assert pending["pending"] == 3
    assert pending["failures"] == 3
    assert pending["bounces"] == (3 if outage == "bounce_550" else 0)
    smtp.accept()
    assert out.run_once() == 0  # still backing off (1 s after the first failure)
    clock.advance(1.0)
    assert out.run_once() == 3
    assert delivered(smtp) == dict.fromkeys(ids, 1)
    assert status(pool, clock)["pending"] == 0


def test_a_crash_between_send_and_mark_resends_the_same_message_id(pool: Any, smtp: Any) -> None:
    class Crash(BaseException):
        pass

    def crash(message_id: str) -> None:
        raise Crash(message_id)

    clock = ManualClock()
    [mid] = queue(pool, clock)
    with pytest.raises(Crash):
        sender(pool, smtp, clock, after_send=crash).run_once()
    assert status(pool, clock)["pending"] == 1  # the mark rolled back with the crash
    assert sender(pool, smtp, clock).run_once() == 1  # the restarted sender
    assert delivered(smtp) == {mid: 2}  # two copies, one Message-ID: a consumer dedupes
    assert len(set(delivered(smtp))) == 1


CRASHING_SENDER = """
import os, sys
from psycopg_pool import ConnectionPool
from rlsguard.authservice.mailer import SmtpMailer
from rlsguard.authservice.outbox import OutboxSender
from rlsguard.clock import SystemClock
with ConnectionPool(sys.argv[1], min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
    def die(message_id):
        os._exit(9)  # SIGKILL-like: no rollback, no cleanup; the server sees the socket close
    OutboxSender(pool, SmtpMailer("127.0.0.1", int(sys.argv[2])), SystemClock(),
                 after_send=die).run_once()
"""


def test_a_sender_process_killed_after_the_250_loses_nothing(
    pool: Any, smtp: Any, database: str
) -> None:
    clock = ManualClock(__import__("time").time() - 5)
    [mid] = queue(pool, clock)
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_SENDER, database, str(smtp.port)], timeout=60
    )
    assert done.returncode == 9
    assert delivered(smtp) == {mid: 1}
    assert status(pool, clock)["pending"] == 1
    assert sender(pool, smtp, clock).run_once() == 1
    assert delivered(smtp) == {mid: 2}


class Flaky:
    """The real SMTP transport, failing a seeded 30% of attempts before connecting."""

    def __init__(self, inner: SmtpMailer, rate: float, seed: int) -> None:
        self.inner = inner
        self.rate = rate
        self.random = random.Random(seed)

    def send(self, message_id: str, to: str, subject: str, body: str) -> None:
        if self.random.random() < self.rate:
            raise SendFailed("injected: 421 service not available")
        self.inner.send(message_id, to, subject, body)


def test_no_otp_lost_with_smtp_failing_30_percent(pool: Any, smtp: Any) -> None:
    clock = ManualClock()
    ids = queue(pool, clock, 60)
    out = sender(pool, smtp, clock, transport=Flaky(SmtpMailer(smtp.host, smtp.port), 0.3, 16))
    for _ in range(200):
        out.run_once()
        if status(pool, clock)["pending"] == 0:
            break
        clock.advance(1.0)
    assert delivered(smtp) == dict.fromkeys(ids, 1)
    assert out.stats.failed > 0


def test_a_message_whose_otp_expired_is_marked_not_sent(pool: Any, smtp: Any) -> None:
    clock = ManualClock()
    [mid] = queue(pool, clock, expiry=60)
    smtp.refuse()
    out = sender(pool, smtp, clock)
    out.run_once()
    clock.advance(61)
    out.run_once()
    smtp.accept()
    assert out.run_once() == 0
    assert delivered(smtp) == {}
    with pool.connection() as conn:
        row = conn.execute(f"SELECT status, body FROM {TABLE} WHERE message_id = %s", (mid,))
        assert row.fetchone() == ("expired", None)
