"""E-mail for the exchange procedure (the case file sent to the working group).

:class:`SmtpMailer` sends with aiosmtplib using the ``smtp_*`` settings; with no
``smtp_host`` it refuses every send with a reason, so mails stay recorded as failed
rather than vanishing.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

from wisbot.settings import Settings


class MailError(Exception):
    """A mail could not be sent; the message says why."""


class Mailer(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None: ...


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, to: str, subject: str, body: str) -> None:
        s = self.settings
        if not s.smtp_host:
            raise MailError("no SMTP server configured (set WISBOT_SMTP_HOST)")
        import aiosmtplib

        msg = EmailMessage()
        msg["From"] = s.smtp_from
        msg["To"] = to
        msg["Subject"] = subject
        msg.set_content(body)
        try:
            await aiosmtplib.send(
                msg, hostname=s.smtp_host, port=s.smtp_port, username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                start_tls=s.smtp_starttls, use_tls=s.smtp_ssl, timeout=s.smtp_timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc}") from exc
