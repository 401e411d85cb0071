"""E-mail through SMTP (aiosmtplib), used for the watch handover report.

Configured by the ``smtp_*`` settings; with no ``smtp_host`` there is no mailer and callers
say so instead of sending.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from wisbot.settings import Settings


class Mailer:
    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("no smtp_host configured")
        self.settings = settings

    async def send(self, *, to: Sequence[str], cc: Sequence[str], subject: str,
                   body: str) -> str:
        """Send a plain-text message; returns its Message-ID. Raises on SMTP failure."""
        s = self.settings
        msg = EmailMessage()
        msg["From"] = s.smtp_from
        msg["To"] = ", ".join(to)
        if cc:
            msg["Cc"] = ", ".join(cc)
        msg["Subject"] = subject
        msg["Date"] = formatdate(usegmt=True)
        msg_id = make_msgid(domain=s.smtp_from.rpartition("@")[2] or "wisbot")
        msg["Message-ID"] = msg_id
        msg.set_content(body)
        await aiosmtplib.send(
            msg, sender=s.smtp_from, recipients=[*to, *cc], hostname=s.smtp_host,
            port=s.smtp_port, username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_ssl, start_tls=s.smtp_starttls if not s.smtp_ssl else False,
            timeout=s.smtp_timeout,
        )
        return msg_id


def make_mailer(settings: Settings) -> Mailer | None:
    return Mailer(settings) if settings.smtp_host else None
