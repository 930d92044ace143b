"""Handing one auth email to an SMTP server; the outbox (:mod:`.outbox`) decides when and
how often.

Each message carries the ``Message-ID`` the outbox fixed when it was queued, so a copy sent
again after a crash is recognisably the same message. The OTP travels in the body only: it is
never logged.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

SMTP_TIMEOUT_S = 5.0


class Mailer(Protocol):
    def send(self, message_id: str, to: str, subject: str, body: str) -> None: ...


class SendFailed(Exception):
    """SMTP did not take the message; ``permanent`` for a 5xx answer (a bounce)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


MailerError = SendFailed  # the name the service used before the outbox


@dataclass(frozen=True)
class SmtpMailer:
    """One SMTP session per message (the sink, or any relay)."""

    host: str
    port: int
    sender: str = "noreply@rlsguard.test"
    timeout_s: float = SMTP_TIMEOUT_S

    def send(self, message_id: str, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = message_id
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            code = exc.smtp_code
            raise SendFailed(f"SMTP {code}", permanent=code >= 500) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise SendFailed(f"recipients refused {codes}", permanent=min(codes) >= 500) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SendFailed(f"{type(exc).__name__}: {exc}") from None


class NoMailer:
    """No SMTP configured: sending fails the way an unreachable server does."""

    def send(self, message_id: str, to: str, subject: str, body: str) -> None:
        raise SendFailed("no SMTP server configured for the auth service")
