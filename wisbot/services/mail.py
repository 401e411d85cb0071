"""E-mail through SMTP (aiosmtplib), used for e-mail pages, the watch handover report and the
exchange case file.

Configured by the ``smtp_*`` settings; with no ``smtp_host`` there is no mailer and callers
say so instead of sending. Every send has an overall deadline (``smtp_deadline``) besides
the per-operation ``smtp_timeout``: a server that trickles its replies a byte at a time
passes every per-operation check and is cut off only by the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from wisbot.settings import Settings


class SmtpDeadline(Exception):
    """The whole SMTP exchange did not complete within its overall deadline."""


async def send_within(msg: EmailMessage, *, hostname: str, port: int, deadline: float,
                      op_timeout: float = 30.0, username: str | None = None,
                      password: str | None = None, use_tls: bool = False,
                      start_tls: bool = False, sender: str | None = None,
                      recipients: Sequence[str] | None = None) -> None:
    """Send ``msg``, connect to QUIT, within ``deadline`` seconds (each operation within
    ``op_timeout``) or raise
    :class:`SmtpDeadline`. Past the deadline the connection is dropped, not QUIT (a QUIT to a
    trickling server would wait once more)."""
    client = aiosmtplib.SMTP(hostname=hostname, port=port, username=username,
                             password=password, use_tls=use_tls,
                             start_tls=start_tls and not use_tls, timeout=op_timeout)
    bound = asyncio.timeout(deadline)
    try:
        async with bound:
            await client.connect()
            await client.send_message(msg, sender=sender,
                                      recipients=list(recipients) if recipients else None)
            with contextlib.suppress(aiosmtplib.SMTPException):
                await client.quit()  # the message is accepted; a failed QUIT changes nothing
    except TimeoutError:
        if not bound.expired():  # aiosmtplib's own per-operation timeout
            raise
        raise SmtpDeadline(f"SMTP {hostname}:{port}: no complete exchange within "
                           f"{deadline:g} s (overall deadline)") from None
    finally:
        client.close()


async def send_with_settings(settings: Settings, msg: EmailMessage, *,
                             recipients: Sequence[str] | None = None) -> None:
    """:func:`send_within` with the ``smtp_*`` settings."""
    s = settings
    if not s.smtp_host:
        raise ValueError("no smtp_host configured")
    await send_within(
        msg, hostname=s.smtp_host, port=s.smtp_port, deadline=s.smtp_deadline,
        op_timeout=s.smtp_timeout, username=s.smtp_username,
        password=s.smtp_password.get_secret_value() if s.smtp_password else None,
        use_tls=s.smtp_ssl, start_tls=s.smtp_starttls, sender=s.smtp_from,
        recipients=recipients)


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
        await send_with_settings(s, msg, recipients=[*to, *cc])
        return msg_id


def make_mailer(settings: Settings) -> Mailer | None:
    return Mailer(settings) if settings.smtp_host else None
