"""E-mail and webhook delivery of page steps (``page_delivery`` rows).

A row is claimed for a short lease (``claimed_by``/``claimed_until``, taken under a row
lock on PostgreSQL, under SQLite's write lock otherwise), sent, and marked delivered in
its own transaction. A crash between send and mark re-sends with the same key: the
e-mail's ``Message-ID`` and the webhook's ``Idempotency-Key`` header, so receivers dedupe.
Failures back off exponentially; after ``max_attempts`` the row is a dead letter.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import smtplib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol

import httpx
from sqlalchemy import or_
from sqlmodel import Session, col, select

from wisbot.clock import Clock
from wisbot.loop import WakeableLoop
from wisbot.reply import Reply
from wisbot.store.engine import Store
from wisbot.store.paging_tables import PageDelivery

log = logging.getLogger(__name__)


class Sender(Protocol):
    async def send(self, row: PageDelivery) -> None: ...


@dataclass
class SmtpSender:
    """Standard-library SMTP in a worker thread (no extra dependency)."""

    host: str
    port: int = 25
    sender: str = "wisbot@localhost"
    starttls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0

    def message(self, row: PageDelivery) -> EmailMessage:
        reply = Reply.model_validate(row.payload)
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = row.address
        msg["Subject"] = reply.title or "wisbot page"
        msg["Message-ID"] = f"<{row.key}@wisbot>"
        msg["Date"] = format_datetime(row.created_at)
        msg["X-Wisbot-Page"] = reply.ref or ""
        msg.set_content(reply.plain() + "\n\n-- \nwisbot: acknowledge in chat with the "
                        "command above (ack <page>).\n")
        return msg

    def _send_sync(self, msg: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls and not self.use_ssl:
                smtp.starttls(context=context)
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.send_message(msg)

    async def send(self, row: PageDelivery) -> None:
        await asyncio.to_thread(self._send_sync, self.message(row))


@dataclass
class WebhookSender:
    """JSON POST; a non-2xx answer is a failure (retried)."""

    secret: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    transport: httpx.AsyncBaseTransport | None = None

    async def send(self, row: PageDelivery) -> None:
        body = json.dumps(row.payload, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": row.key,
                   "User-Agent": "wisbot-pager"}
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Wisbot-Signature"] = f"sha256={digest}"
        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
            response = await client.post(row.address, content=body, headers=headers)
            response.raise_for_status()


class DeliveryWorker(WakeableLoop):
    """Delivers due ``page_delivery`` rows through the configured senders."""

    name = "wisbot-page-delivery"

    def __init__(self, store: Store, clock: Clock, senders: dict[str, Sender], *,
                 max_attempts: int = 8, backoff_base: float = 5.0, backoff_max: float = 300.0,
                 poll_interval: float = 1.0, lease_seconds: float = 120.0,
                 batch: int = 50,
                 may_deliver: Callable[[PageDelivery], Awaitable[bool]] | None = None) -> None:
        self.may_deliver = may_deliver
        """The last consent check before a send (``ConsentGate.page_delivery``): False
        withdraws the row."""
        self.store = store
        self.clock = clock
        self.senders = senders
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        super().__init__(poll_interval)
        self.lease = timedelta(seconds=lease_seconds)
        self.batch = batch
        self.holder = f"d-{secrets.token_hex(6)}"

    def _claim(self, session: Session) -> list[PageDelivery]:
        now = self.clock()
        q = (select(PageDelivery)
             .where(PageDelivery.status == "pending", col(PageDelivery.next_attempt_at) <= now,
                    or_(col(PageDelivery.claimed_until).is_(None),
                        col(PageDelivery.claimed_until) < now))
             .order_by(col(PageDelivery.id)).limit(self.batch))
        if not self.store.sqlite:
            q = q.with_for_update(skip_locked=True)
        rows = list(session.exec(q).all())
        for row in rows:
            row.claimed_by = self.holder
            row.claimed_until = now + self.lease
            session.add(row)
        return rows

    async def run_once(self) -> bool:
        rows = await self.store.tx(self._claim)
        if not rows:
            return False
        await asyncio.gather(*(self._deliver(r) for r in rows))
        return True

    async def drain(self, max_passes: int = 1000) -> None:
        """Deliver until nothing is due (tests)."""
        for _ in range(max_passes):
            if not await self.run_once():
                return
        raise RuntimeError("page deliveries did not drain")

    async def _deliver(self, row: PageDelivery) -> None:
        if self.may_deliver is not None and not await self.may_deliver(row):
            return  # withdrawn: consent no longer allows it
        sender = self.senders.get(row.channel)
        error: BaseException | None = None
        if sender is None:
            error = RuntimeError(f"no {row.channel} sender is configured")
        else:
            try:
                await sender.send(row)
            except Exception as exc:
                error = exc
        row_id = row.id
        now = self.clock()

        def mark(session: Session) -> None:
            fresh = session.get(PageDelivery, row_id)
            if fresh is None or fresh.status != "pending" or fresh.claimed_by != self.holder:
                return
            fresh.attempts += 1
            fresh.claimed_by = None
            fresh.claimed_until = None
            if error is None:
                fresh.status = "delivered"
                fresh.delivered_at = now
            else:
                fresh.last_error = f"{type(error).__name__}: {error}"[:2000]
                if fresh.attempts >= self.max_attempts:
                    fresh.status = "dead"
                    log.error("page delivery %s to %s is a dead letter: %s", fresh.key,
                              fresh.address, fresh.last_error)
                else:
                    delay = min(self.backoff_max,
                                self.backoff_base * 2 ** (fresh.attempts - 1))
                    fresh.next_attempt_at = now + timedelta(seconds=delay)
                    log.warning("page delivery %s failed (attempt %d, retry in %.0fs): %s",
                                fresh.key, fresh.attempts, delay, fresh.last_error)
            session.add(fresh)

        await self.store.tx(mark)


def senders_from_settings(settings: Any) -> dict[str, Sender]:
    out: dict[str, Sender] = {}
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password \
            else None
        out["email"] = SmtpSender(host=settings.smtp_host, port=settings.smtp_port,
                                  sender=settings.smtp_from, starttls=settings.smtp_starttls,
                                  use_ssl=settings.smtp_ssl, username=settings.smtp_username,
                                  password=password, timeout=settings.smtp_timeout)
    if settings.paging_webhook_url:
        secret = settings.paging_webhook_secret.get_secret_value() \
            if settings.paging_webhook_secret else None
        out["webhook"] = WebhookSender(secret=secret, timeout=settings.paging_webhook_timeout)
    return out
