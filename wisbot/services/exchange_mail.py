"""E-mail for the exchange procedure (the case file sent to the working group).

:class:`SmtpMailer` sends with aiosmtplib using the ``smtp_*`` settings; with no
``smtp_host`` it refuses every send with a reason, so mails stay recorded as failed
rather than vanishing. A send is bounded by ``smtp_deadline`` as a whole.
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

        from wisbot.services.mail import SmtpDeadline, send_with_settings

        msg = EmailMessage()
        msg["From"] = s.smtp_from
        msg["To"] = to
        msg["Subject"] = subject
        msg.set_content(body)
        try:
            await send_with_settings(s, msg)
        except SmtpDeadline as exc:
            raise MailError(str(exc)) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc}") from exc
