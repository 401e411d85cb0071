"""E-mail and webhook delivery of page steps (``page_delivery`` rows).

A row is claimed for a short lease (``claimed_by``/``claimed_until``, taken under a row
lock on PostgreSQL, under SQLite's write lock otherwise), sent, and marked delivered in
its own transaction. A crash between send and mark re-sends with the same key: the
e-mail's ``Message-ID`` and the webhook's ``Idempotency-Key`` header, so receivers dedupe.
A receiver's refusal (HTTP 4xx, SMTP 5xx) backs off exponentially and after ``max_attempts``
tries the row is a dead letter. An outage (connection refused or dropped, a deadline, HTTP
5xx/429, SMTP 4xx) is not the receiver's verdict: it waits, backing off with the row's age
(honouring ``Retry-After``) and gives up only after ``give_up_hours`` — a server down for ten
minutes loses no page.

One slow peer delays only itself: every send runs under an overall deadline (the whole
SMTP or HTTP exchange, so a server trickling a byte a second is cut off, which per-read
timeouts never do), and each delivery is its own task (at most ``concurrency`` at once),
so the worker claims new rows as soon as a slot frees instead of waiting for a batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, Protocol

import aiosmtplib
import httpx
from sqlalchemy import or_
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.i18n import _ as _t
from wisbot.loop import WakeableLoop
from wisbot.reply import Reply
from wisbot.services.mail import SmtpDeadline, send_within
from wisbot.store.engine import Store
from wisbot.store.paging_tables import PageDelivery

log = logging.getLogger(__name__)
MAX_RETRY_AFTER = 3600.0


class Sender(Protocol):
    async def send(self, row: PageDelivery) -> None: ...


class DeliveryTimeout(Exception):
    """A webhook POST did not complete within its overall deadline."""


@dataclass
class SmtpSender:
    """SMTP with aiosmtplib: ``timeout`` bounds each operation, ``deadline`` the whole
    exchange (connect to QUIT)."""

    host: str
    port: int = 25
    sender: str = "wisbot@localhost"
    starttls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    deadline: float = 60.0

    def message(self, row: PageDelivery) -> EmailMessage:
        reply = Reply.model_validate(row.payload)
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = row.address
        with i18n.use(reply.lang):  # the page's reader's language
            subject = reply.title or _t("wisbot page")
            footer = _t("wisbot: acknowledge in chat with the command above (ack <page>).")
        msg["Subject"] = subject
        msg["Message-ID"] = f"<{row.key}@wisbot>"
        msg["Date"] = format_datetime(row.created_at)
        msg["X-Wisbot-Page"] = reply.ref or ""
        msg.set_content(reply.plain() + "\n\n-- \n" + footer + "\n")
        return msg

    async def send(self, row: PageDelivery) -> None:
        await send_within(self.message(row), hostname=self.host, port=self.port,
                          deadline=self.deadline, op_timeout=self.timeout,
                          username=self.username, password=self.password,
                          use_tls=self.use_ssl, start_tls=self.starttls)


@dataclass
class WebhookSender:
    """JSON POST; a non-2xx answer is a failure (retried). ``timeout`` bounds each read or
    write, ``deadline`` the whole request and answer."""

    secret: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    deadline: float = 30.0
    transport: httpx.AsyncBaseTransport | None = None

    async def send(self, row: PageDelivery) -> None:
        body = json.dumps(row.payload, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": row.key,
                   "User-Agent": "wisbot-pager"}
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Wisbot-Signature"] = f"sha256={digest}"
        bound = asyncio.timeout(self.deadline)
        try:
            async with bound, \
                    httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
                response = await client.post(row.address, content=body, headers=headers)
                response.raise_for_status()
        except TimeoutError:
            if not bound.expired():
                raise
            raise DeliveryTimeout(f"webhook: no complete answer within {self.deadline:g} s "
                                  "(overall deadline)") from None


class DeliveryWorker(WakeableLoop):
    """Delivers due ``page_delivery`` rows through the configured senders, each row in its
    own task, at most ``concurrency`` at once."""

    name = "wisbot-page-delivery"

    def __init__(self, store: Store, clock: Clock, senders: dict[str, Sender], *,
                 max_attempts: int = 8, backoff_base: float = 5.0, backoff_max: float = 300.0,
                 poll_interval: float = 1.0, lease_seconds: float = 120.0,
                 concurrency: int = 16, stop_grace: float = 5.0,
                 give_up_hours: float = 24.0,
                 may_deliver: Callable[[PageDelivery], Awaitable[bool]] | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
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
        # A claim must outlive the slowest send it covers, or another process sends again.
        longest = max((float(getattr(s, "deadline", 0.0)) for s in senders.values()),
                      default=0.0)
        self.lease = timedelta(seconds=max(lease_seconds, longest + 30.0))
        self.concurrency = concurrency
        self.stop_grace = stop_grace
        self.give_up = timedelta(hours=give_up_hours)
        self.holder = f"d-{secrets.token_hex(6)}"
        self._inflight: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def _claim(self, session: Session, limit: int) -> list[PageDelivery]:
        now = self.clock()
        q = (select(PageDelivery)
             .where(PageDelivery.status == "pending", col(PageDelivery.next_attempt_at) <= now,
                    or_(col(PageDelivery.claimed_until).is_(None),
                        col(PageDelivery.claimed_until) < now))
             .order_by(col(PageDelivery.id)).limit(limit))
        if not self.store.sqlite:
            q = q.with_for_update(skip_locked=True)
        rows = list(session.exec(q).all())
        for row in rows:
            row.claimed_by = self.holder
            row.claimed_until = now + self.lease
            session.add(row)
        return rows

    async def run_once(self) -> bool:
        """Claim as many due rows as there are free slots and start their sends; returns
        without waiting for them (a finished send wakes the loop for the next row)."""
        free = self.concurrency - len(self._inflight)
        if free <= 0:
            return False
        rows = await self.store.tx(lambda session: self._claim(session, free))
        for row in rows:
            task = asyncio.create_task(self._deliver(row), name=f"page-delivery-{row.key}")
            self._inflight.add(task)
            task.add_done_callback(self._finished)
        return len(rows) == free

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("page delivery task failed", exc_info=task.exception())
        self.wake()

    async def drain(self, max_passes: int = 1000) -> None:
        """Deliver until nothing is due and nothing is in flight (tests)."""
        for _ in range(max_passes):
            await self.run_once()
            if not self._inflight:
                return
            await asyncio.wait(set(self._inflight), return_when=asyncio.FIRST_COMPLETED)
        raise RuntimeError("page deliveries did not drain")

    async def stop(self) -> None:
        """Stop claiming; give sends in flight ``stop_grace`` seconds, then cancel them and
        release their claims so another process sends them at once."""
        await super().stop()
        if not self._inflight:
            return
        _, pending = await asyncio.wait(set(self._inflight), timeout=self.stop_grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

            def release(session: Session) -> None:
                rows = session.exec(select(PageDelivery).where(
                    PageDelivery.status == "pending",
                    PageDelivery.claimed_by == self.holder)).all()
                for row in rows:
                    row.claimed_by = None
                    row.claimed_until = None
                    session.add(row)

            await self.store.tx(release)

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
                session.add(fresh)
                return
            fresh.last_error = f"{type(error).__name__}: {error}"[:2000]
            wait = outage_wait(error)
            age = now - _aware(fresh.created_at)
            if wait is None:
                dead = fresh.attempts >= self.max_attempts
                delay = min(self.backoff_max, self.backoff_base * 2 ** (fresh.attempts - 1))
            else:
                dead = age >= self.give_up
                # grows with the outage (about ×1.5 a try), so a long one is not hammered
                delay = max(wait, min(self.backoff_max,
                                      max(self.backoff_base, age.total_seconds() / 2)))
            if dead:
                fresh.status = "dead"
                log.error("page delivery %s to %s is a dead letter: %s", fresh.key,
                          fresh.address, fresh.last_error)
            else:
                fresh.next_attempt_at = now + timedelta(seconds=delay)
                log.warning("page delivery %s failed (%s, try %d, again in %.0fs): %s",
                            fresh.key, "refused" if wait is None else "outage",
                            fresh.attempts, delay, fresh.last_error)
            session.add(fresh)

        await self.store.tx(mark)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("retry-after", "").strip()
    if not raw:
        return 0.0
    if raw.isdigit():
        return min(float(raw), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return 0.0
    return min(max(0.0, (_aware(when) - datetime.now(UTC)).total_seconds()), MAX_RETRY_AFTER)


def outage_wait(error: BaseException) -> float | None:
    """None when the receiver refused the send (it counts towards the dead letter); else
    the send met an outage, and the least wait the receiver asked for (0: none)."""
    if isinstance(error, httpx.HTTPStatusError):
        code = error.response.status_code
        if code in (408, 425, 429) or code >= 500:
            return _retry_after(error.response)
        return None
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in error.recipients]
        return 0.0 if codes and all(400 <= c < 500 for c in codes) else None
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return 0.0 if 400 <= error.code < 500 else None
    if isinstance(error, DeliveryTimeout | SmtpDeadline | httpx.TransportError | OSError
                  | TimeoutError):
        return 0.0
    return None


def senders_from_settings(settings: Any) -> dict[str, Sender]:
    out: dict[str, Sender] = {}
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password \
            else None
        out["email"] = SmtpSender(host=settings.smtp_host, port=settings.smtp_port,
                                  sender=settings.smtp_from, starttls=settings.smtp_starttls,
                                  use_ssl=settings.smtp_ssl, username=settings.smtp_username,
                                  password=password, timeout=settings.smtp_timeout,
                                  deadline=settings.smtp_deadline)
    if settings.paging_webhook_url:
        secret = settings.paging_webhook_secret.get_secret_value() \
            if settings.paging_webhook_secret else None
        out["webhook"] = WebhookSender(secret=secret, timeout=settings.paging_webhook_timeout,
                                       deadline=settings.paging_webhook_deadline)
    return out
