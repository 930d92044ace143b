"""Sending auth emails behind one small interface (an outbox with retries can replace it).

For now a message goes straight to an SMTP server (the harness's sink) with smtplib. The
OTP travels in the message body only: it is never logged.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

SMTP_TIMEOUT_S = 5.0


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


class MailerError(Exception):
    """The message could not be handed to the mail server."""


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int
    sender: str = "noreply@rlsguard.test"

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_S) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailerError(f"{type(exc).__name__}: {exc}") from None


class NoMailer:
    """No SMTP configured: sending fails the way an unreachable server does."""

    def send(self, to: str, subject: str, body: str) -> None:
        raise MailerError("no SMTP server configured for the auth service")
