"""Auth emails through a transactional outbox, so an SMTP outage delays an OTP but never loses it.

The OTP's hash and its message are written in the same transaction (``auth.mail_outbox``):
either the user has a code and a message on the way, or neither. A sender then hands due
messages to SMTP, one row locked at a time (``FOR UPDATE SKIP LOCKED``, so any number of
workers can run one), and on failure schedules the next attempt with exponential backoff on
the injected clock: ``min(max_s, base_s * 2**(attempts - 1))``.

**Exactly once, precisely.** Every message carries a ``Message-ID`` fixed when it is queued
(its idempotency key). The sender marks a row sent only after the SMTP server answered ``250``
to DATA, in the transaction that held the row. So:

* every queued message is accepted by the SMTP server *at least once* before its OTP expires,
  unless the server stays down past that (the row is then ``expired``, never silently dropped);
* a copy is accepted twice only if the sender died (or lost the database) after the ``250`` and
  before its commit: the row is still pending and is sent again with the *same* Message-ID;
* hence, deduplicated by Message-ID (what a mail consumer or the sink's reader does), every
  message is delivered *exactly once*; without a crash in that window there is no duplicate
  at all.

The message body holds the OTP in clear until it is sent; the sender erases it on success
(and on expiry), so the database keeps only the hash.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rlsguard.authservice.mailer import SendFailed

log = logging.getLogger("rlsguard.authservice")

TABLE = "auth.mail_outbox"
SCHEMA_LOCK = 7_316_001  # pg_advisory_xact_lock key: two workers create the table once
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
  id bigserial PRIMARY KEY,
  message_id text NOT NULL UNIQUE,
  recipient text NOT NULL,
  subject text NOT NULL,
  body text,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'sent', 'expired')),
  attempts integer NOT NULL DEFAULT 0,
  failures integer NOT NULL DEFAULT 0,
  bounces integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  next_attempt_at timestamptz NOT NULL,
  last_attempt_at timestamptz,
  sent_at timestamptz,
  last_error text
);
CREATE INDEX IF NOT EXISTS mail_outbox_due ON {TABLE} (next_attempt_at) WHERE status = 'pending';
REVOKE ALL ON {TABLE} FROM PUBLIC;
"""
MESSAGE_ID_DOMAIN = "rlsguard.outbox"
MAX_FAILURES_IN_A_ROW = 3  # then stop this round (a stalled server costs 3 timeouts, not N)


def ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def ensure_table(conn: Any) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        conn.execute(DDL)


def new_message_id() -> str:
    return f"<{uuid.uuid4()}@{MESSAGE_ID_DOMAIN}>"


def enqueue(
    conn: Any, recipient: str, subject: str, body: str, now: float, expires_in_s: float
) -> str:
    """Queue a message in the caller's transaction; returns its Message-ID."""
    message_id = new_message_id()
    conn.execute(
        f"INSERT INTO {TABLE} (message_id, recipient, subject, body, created_at, expires_at, "
        "next_attempt_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (message_id, recipient, subject, body, ts(now), ts(now + expires_in_s), ts(now)),
    )
    return message_id


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt."""
    return min(max_s, base_s * 2 ** max(0, attempts - 1))


@dataclass
class SenderStats:
    sent: int = 0
    failed: int = 0
    expired: int = 0


class OutboxSender:
    """Hands due messages to SMTP; run :meth:`run_once` or the background :meth:`start`."""

    def __init__(
        self,
        pool: Any,
        transport: Any,
        clock: Any,
        *,
        base_s: float = 1.0,
        max_s: float = 300.0,
        poll_s: float = 0.2,
        after_send: Callable[[str], None] | None = None,
    ) -> None:
        self.pool = pool
        self.transport = transport
        self.clock = clock
        self.base_s = base_s
        self.max_s = max_s
        self.poll_s = poll_s
        self.after_send = after_send  # a test's crash point between the 250 and the commit
        self.stats = SenderStats()
        self.healthy = True  # last attempt succeeded: a request may deliver its own message
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._table_ready = False

    def ensure_table(self) -> None:
        if not self._table_ready:
            with self.pool.connection() as conn:
                ensure_table(conn)
            self._table_ready = True

    def _claim_sql(self, only: str | None) -> tuple[str, tuple[Any, ...]]:
        where = "status = 'pending' AND next_attempt_at <= %s"
        args: tuple[Any, ...] = (ts(self.clock.now()),)
        if only is not None:
            where += " AND message_id = %s"
            args += (only,)
        # A named message (the request's own) waits for a sender that holds it, so the request
        # answers after its mail went out either way; the background sender skips held rows.
        lock = "FOR UPDATE" if only is not None else "FOR UPDATE SKIP LOCKED"
        sql = (
            f"SELECT id, message_id, recipient, subject, body, attempts, expires_at FROM {TABLE} "
            f"WHERE {where} ORDER BY id LIMIT 1 {lock}"
        )
        return sql, args

    def send_one(self, only: str | None = None) -> str | None:
        """Try the oldest due message (or the one named); its outcome, None when none is due."""
        with self.pool.connection() as conn, conn.transaction():
            if only is not None:
                wait_ms = int((getattr(self.transport, "timeout_s", 5.0) + 1.0) * 1000)
                conn.execute(f"SET LOCAL lock_timeout = {wait_ms}")
            row = conn.execute(*self._claim_sql(only)).fetchone()
            if row is None:
                return None
            rid, message_id, recipient, subject, body, attempts, expires_at = row
            now = self.clock.now()
            if expires_at.timestamp() <= now:
                conn.execute(
                    f"UPDATE {TABLE} SET status = 'expired', body = NULL WHERE id = %s", (rid,)
                )
                self.stats.expired += 1
                log.warning("mail expired unsent", extra={"event": "mail_expired",
                                                          "message_id": message_id})  # fmt: skip
                return "expired"
            try:
                self.transport.send(message_id, recipient, subject, body or "")
            except SendFailed as exc:
                tries = attempts + 1
                conn.execute(
                    f"UPDATE {TABLE} SET attempts = %s, failures = failures + 1, "
                    "bounces = bounces + %s, last_attempt_at = %s, next_attempt_at = %s, "
                    "last_error = %s WHERE id = %s",
                    (
                        tries,
                        1 if exc.permanent else 0,
                        ts(now),
                        ts(now + backoff_s(tries, self.base_s, self.max_s)),
                        str(exc)[:500],
                        rid,
                    ),
                )
                self.stats.failed += 1
                self.healthy = False
                log.error(
                    "mail not sent",
                    extra={"event": "mail_failed", "reason": str(exc)[:200], "attempt": tries},
                )
                return "failed"
            if self.after_send is not None:
                self.after_send(message_id)
            conn.execute(
                f"UPDATE {TABLE} SET status = 'sent', body = NULL, attempts = attempts + 1, "
                "sent_at = %s, last_attempt_at = %s, last_error = NULL WHERE id = %s",
                (ts(now), ts(now), rid),
            )
            self.stats.sent += 1
            self.healthy = True
            return "sent"

    def run_once(self, limit: int = 1000) -> int:
        """Send what is due now; returns how many went out."""
        self.ensure_table()
        sent = failed_in_a_row = 0
        for _ in range(limit):
            outcome = self.send_one()
            if outcome is None:
                break
            failed_in_a_row = failed_in_a_row + 1 if outcome == "failed" else 0
            if failed_in_a_row >= MAX_FAILURES_IN_A_ROW:
                break  # the server is down, not one message unlucky: the rest waits a tick
            sent += outcome == "sent"
        return sent

    # -- background ------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="outbox-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # the database away: try again at the next tick
                log.error("outbox sender", extra={"event": "outbox_error",
                                                  "exception": type(exc).__name__})  # fmt: skip
            self._wake.wait(self.poll_s)
            self._wake.clear()


def outbox_status(conn: Any, now: float) -> dict[str, Any]:
    """What detectors read: pending messages, the oldest one's age, failures and bounces."""
    row = conn.execute(
        f"SELECT count(*) FILTER (WHERE status = 'pending'), "
        "min(created_at) FILTER (WHERE status = 'pending'), "
        "count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'expired'), "
        f"coalesce(sum(attempts), 0), coalesce(sum(failures), 0), coalesce(sum(bounces), 0) "
        f"FROM {TABLE}"
    ).fetchone()
    pending, oldest, sent, expired, attempts, failures, bounces = row
    return {
        "pending": int(pending),
        "oldest_age_s": max(0.0, now - oldest.timestamp()) if oldest else 0.0,
        "sent": int(sent),
        "expired": int(expired),
        "attempts": int(attempts),
        "failures": int(failures),
        "bounces": int(bounces),
    }
