"""The outbox worker: delivers outbox rows through the adapters, in order per room,
in parallel across rooms, exactly once per (notification, room) from wisbot's side.

Leases. A room is served by one process at a time, under a lease (``room_lease``) on the
DATABASE's clock: only as many rooms are leased as there are free slots
(``concurrency``), a heartbeat renews them while they are served, and a lease that is not
renewed expires within ``lease_seconds``, so a process that dies frees its rooms within
seconds. Each takeover bumps the room's ``epoch``; the (holder, epoch) pair fences the
process: a send starts only while the lease is known to be ours (claimed or renewed less
than a lease ago) and is cancelled when the lease can no longer be trusted, and the
delivered mark (and a failure) is written only if the database still says the lease is
ours. A crash between a send and its mark re-sends that one message with the same key,
which Matrix dedupes (transaction id) and Slack finds again by its metadata.

Failures. Rate limits pause the adapter (the bot's account) for every room until
retry-after, then let sends through one at a time; the platform unreachable (timeouts,
5xx) backs the row off; a room the bot lost access to is reported once and its queue
retried slowly. None of these counts as an attempt. A row is given up (a dead letter,
kept, listed and resendable with ``wisbot outbox``) only on a permanent error or after
``give_up_hours`` of failing; the alert goes out by another path than the failing one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import DateTime, Text, bindparam, cast, func, or_, tuple_, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, select

from wisbot import i18n
from wisbot.adapters.base import ChatAdapter, DeliveryError, MessageRef, RoomRef, UserRef
from wisbot.clock import Clock
from wisbot.directory import Contact, Directory
from wisbot.domain.reach import direct_platform, unreachable
from wisbot.errors import NotFound
from wisbot.i18n import N_, said, shown
from wisbot.i18n import _ as _t
from wisbot.loop import WakeableLoop
from wisbot.reply import Reply, ReplyBuilder
from wisbot.services.integrity import in_room_languages
from wisbot.services.notify import notify
from wisbot.store.engine import Store
from wisbot.store.tables import OutboxRow, RoomLease

log = logging.getLogger(__name__)
MayDeliver = Callable[[int, str, Reply], Awaitable[bool]]

ALERT_PREFIX = "dead-"
"""Key prefix of the outbox's own alerts: a failing alert does not alert again."""


class Fenced(Exception):
    """This process no longer holds the room's lease: it must not send or mark."""


class Mailer(Protocol):
    async def send(self, *, to: list[str], cc: list[str], subject: str, body: str) -> str: ...


@runtime_checkable
class FindsSent(Protocol):
    """An adapter that can find a message it may already have posted (Slack: by the key
    in the message metadata): asked before a row whose last try had an unknown outcome is
    sent again. A message it finds is remembered, so that send does not post it again
    (it only completes what is missing, such as attachments)."""

    async def find_sent(self, room: RoomRef | UserRef, key: str) -> MessageRef | None: ...


@dataclass(frozen=True)
class Due:
    """An outbox row loaded for delivery (a plain value, not an ORM object)."""

    id: int
    key: str
    room_key: str
    reply: Reply
    attempts: int
    next_attempt_at: datetime
    failures: int = 0


@dataclass
class Lease:
    """A room this process serves: its epoch, and until when (monotonic, with a margin)
    the lease is known to be ours."""

    room_key: str
    epoch: int
    valid_until: float
    doubt: bool = False
    """The previous holder died with the lease: its last send may have gone out."""
    blocked: bool = False
    lost: bool = False
    task: asyncio.Task[None] | None = None


@dataclass
class _Alert:
    """A dead letter or a lost room, to e-mail the Secretariat after the transaction
    (no other adapter's Secretariat room to tell)."""

    subject: str
    reply: Reply


def _aware(value: datetime) -> datetime:
    # Core selects bypass sqlmodel's UTC type on SQLite, which stores no offset.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def db_now(session: Session, offset: float = 0.0) -> ColumnElement[Any]:
    """The database's clock (plus ``offset`` seconds), in the column format of ``until``."""
    if session.get_bind().dialect.name == "postgresql":
        now = func.clock_timestamp(type_=DateTime(timezone=True))
        return now + timedelta(seconds=offset) if offset else now
    # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff': %f gives ms.
    return func.strftime("%Y-%m-%d %H:%M:%f000", "now", f"{offset:+.3f} seconds")


class AdapterPacer:
    """Rate limits are per bot account: a rate limit pauses every send through the
    adapter until its retry-after, and for ``calm_after`` seconds after that, sends go
    one at a time (each honouring the next retry-after) instead of all rooms retrying at
    the same instant."""

    def __init__(self, calm_after: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.calm_after = calm_after
        self.monotonic = monotonic
        self.paused_until = 0.0
        self.careful_until = 0.0
        self._one = asyncio.Lock()

    def limited(self, retry_after: float) -> None:
        now = self.monotonic()
        self.paused_until = max(self.paused_until, now + retry_after)
        self.careful_until = max(self.careful_until, now + retry_after + self.calm_after)

    async def _pause(self) -> None:
        # A pause may grow while we sleep (another room's rate limit): look again.
        for _ in range(1000):
            wait = self.paused_until - self.monotonic()
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self._pause()
        if self.monotonic() < self.careful_until:
            async with self._one:
                await self._pause()
                yield
        else:
            yield


class OutboxWorker(WakeableLoop):
    name = "wisbot-outbox"

    def __init__(self, store: Store, directory: Directory, adapters: dict[str, ChatAdapter],
                 clock: Clock, *, give_up_hours: float = 24.0, backoff_base: float = 1.0,
                 backoff_max: float = 300.0, blocked_retry: float = 300.0,
                 poll_interval: float = 1.0, lease_seconds: float = 10.0,
                 concurrency: int = 32, batch_delay: float = 0.02,
                 is_held: Callable[[str], bool] = lambda room_key: False,
                 mailer: Mailer | None = None, mail_timeout: float = 30.0,
                 stop_grace: float = 5.0, may_deliver: MayDeliver | None = None) -> None:
        self.may_deliver = may_deliver
        """The last consent check before a send (``ConsentGate.outbox_row``): False
        withdraws the row."""
        self.store = store
        self.directory = directory
        self.adapters = adapters
        self.clock = clock
        self.give_up = timedelta(hours=give_up_hours)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.blocked_retry = blocked_retry
        super().__init__(poll_interval)
        self.lease_seconds = lease_seconds
        # A lease is trusted for 70% of its length after the database granted it: the
        # rest covers the time the grant took to reach us and clock-rate differences.
        self.trust_seconds = lease_seconds * 0.7
        self.heartbeat_seconds = lease_seconds / 3
        self.concurrency = concurrency
        self.wake_delay = batch_delay
        self.is_held = is_held
        self.mailer = mailer
        self.mail_timeout = mail_timeout
        self.stop_grace = stop_grace
        self.holder = f"w-{secrets.token_hex(6)}"
        self.leases: dict[str, Lease] = {}
        self.pacers: dict[str, AdapterPacer] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._mails: set[asyncio.Task[None]] = set()
        self._marker = _DeliveredMarker(self)

    async def stop(self) -> None:
        await super().stop()
        tasks = [lease.task for lease in self.leases.values() if lease.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.stop_grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        if self._mails:
            await asyncio.wait(self._mails, timeout=self.mail_timeout)
        await self.store.tx(self._release_all)

    # ----- passes -----------------------------------------------------------------------
    async def run_once(self) -> bool:
        """Lease as many due rooms as there are free slots and start serving them; True
        when a room was taken."""
        free = self.concurrency - len(self.leases)
        if free <= 0:
            return False
        started = time.monotonic()
        claimed, rows = await self.store.tx(functools.partial(self._claim_and_load,
                                                              limit=free))
        for key, (epoch, doubt, blocked) in claimed.items():
            lease = Lease(key, epoch, started + self.trust_seconds, doubt=doubt,
                          blocked=blocked)
            self.leases[key] = lease
            lease.task = asyncio.create_task(self._serve(lease, rows.get(key, [])),
                                             name=f"wisbot-outbox-{key}")
        if claimed and (self._heartbeat is None or self._heartbeat.done()):
            self._heartbeat = asyncio.create_task(self._beat(), name="wisbot-outbox-lease")
        return bool(claimed)

    async def drain(self, max_passes: int = 1000) -> None:
        """Deliver until nothing is due (tests, the demo)."""
        for _ in range(max_passes):
            claimed = await self.run_once()
            tasks = [lease.task for lease in self.leases.values() if lease.task is not None]
            if tasks:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                continue
            if not claimed:
                return
        raise RuntimeError("outbox did not drain")

    # ----- leases -----------------------------------------------------------------------
    def _claim_and_load(self, session: Session, *, limit: int
                        ) -> tuple[dict[str, tuple[int, bool, bool]], dict[str, list[Due]]]:
        claimed = self._claim(session, limit=limit)
        return claimed, (self._load(session, room_keys=list(claimed)) if claimed else {})

    def _claim(self, session: Session, *, limit: int) -> dict[str, tuple[int, bool, bool]]:
        """Lease up to ``limit`` rooms whose oldest pending row is due, in the order of
        that row (the cascade order: Secretariat first). Room key → (epoch, doubt,
        blocked)."""
        now = self.clock()
        t = OutboxRow.__table__  # type: ignore[attr-defined]
        heads = (core_select(t.c.room_key, func.min(t.c.id).label("head"))
                 .where(t.c.status == "pending").group_by(t.c.room_key).subquery())
        due = [k for k in session.execute(
            core_select(t.c.room_key).join(heads, t.c.id == heads.c.head)
            .where(t.c.next_attempt_at <= now).order_by(t.c.id)).scalars().all()
            if k not in self.leases and not self.is_held(k) and self._serves(k)]
        if not due:
            return {}
        lr = RoomLease.__table__  # type: ignore[attr-defined]
        known = {r.room_key: r for r in session.execute(
            core_select(lr.c.room_key, lr.c.holder, lr.c.blocked_since,
                        (lr.c.until >= db_now(session)).label("live"))
            .where(lr.c.room_key.in_(due)))}
        wanted = [k for k in due if k not in known
                  or not (known[k].holder and known[k].live)][:limit]
        got: dict[str, int] = {}
        old = [k for k in wanted if k in known]
        if old:
            got |= {k: e for k, e in session.execute(
                update(lr).where(lr.c.room_key.in_(old),
                                 or_(lr.c.holder == "", lr.c.until < db_now(session)))
                .values(holder=self.holder, epoch=lr.c.epoch + 1,
                        until=db_now(session, self.lease_seconds))
                .returning(lr.c.room_key, lr.c.epoch))}
        fresh = [k for k in wanted if k not in known]
        if fresh:
            ins = (pg_insert if session.get_bind().dialect.name == "postgresql"
                   else sqlite_insert)(lr)
            got |= {k: e for k, e in session.execute(
                ins.values([{"room_key": k, "holder": self.holder, "epoch": 1,
                             "until": db_now(session, self.lease_seconds)} for k in fresh])
                .on_conflict_do_nothing(index_elements=["room_key"])
                .returning(lr.c.room_key, lr.c.epoch))}
        out = {}
        for k in wanted:
            if k in got:
                prior = known.get(k)
                # A lease that expired instead of being released: its holder (maybe this
                # process, after a failed mark) died or stalled, maybe after a send it
                # never marked.
                doubt = prior is not None and prior.holder != ""
                out[k] = (got[k], doubt, prior is not None and prior.blocked_since is not None)
        return out

    def _held(self, session: Session, leases: Iterable[Lease]) -> set[tuple[str, int]]:
        """Which of ``leases`` the database says are still ours (locked until commit)."""
        pairs = [(lease.room_key, lease.epoch) for lease in leases]
        if not pairs:
            return set()
        lr = RoomLease.__table__  # type: ignore[attr-defined]
        q = core_select(lr.c.room_key, lr.c.epoch).where(
            lr.c.holder == self.holder, lr.c.room_key.in_([k for k, _ in pairs]))
        if session.get_bind().dialect.name == "postgresql":
            # Locked in one order everywhere (marks, renewals): no deadlock between them.
            q = q.order_by(lr.c.room_key).with_for_update()
        mine = {(k, e) for k, e in session.execute(q)}
        return {p for p in pairs if p in mine}

    def _renew(self, session: Session, pairs: list[tuple[str, int]]) -> set[tuple[str, int]]:
        if not pairs:
            return set()
        lr = RoomLease.__table__  # type: ignore[attr-defined]
        if session.get_bind().dialect.name == "postgresql":
            session.execute(core_select(lr.c.room_key).where(
                lr.c.holder == self.holder, lr.c.room_key.in_([k for k, _ in pairs]))
                .order_by(lr.c.room_key).with_for_update())
        return {(k, e) for k, e in session.execute(
            update(lr).where(lr.c.holder == self.holder,
                             tuple_(lr.c.room_key, lr.c.epoch).in_(pairs))
            .values(until=db_now(session, self.lease_seconds))
            .returning(lr.c.room_key, lr.c.epoch))}

    async def _beat(self) -> None:
        """Renew the served rooms' leases; a lease the database no longer gives us is
        lost: that room's send is cancelled and nothing more is sent or marked there."""
        while self.leases:
            await asyncio.sleep(self.heartbeat_seconds)
            leases = [lease for lease in self.leases.values() if not lease.lost]
            if not leases:
                continue
            started = time.monotonic()
            try:
                kept = await self.store.tx(functools.partial(
                    self._renew, pairs=[(x.room_key, x.epoch) for x in leases]))
            except Exception as exc:
                # The sends stop by themselves when the trusted time runs out.
                log.warning("outbox: cannot renew room leases: %s", exc)
                continue
            for lease in leases:
                if (lease.room_key, lease.epoch) in kept:
                    lease.valid_until = max(lease.valid_until, started + self.trust_seconds)
                elif lease.room_key in self.leases:
                    lease.lost = True
                    log.warning("outbox: the lease of %s (epoch %d) was taken over; "
                                "this process stops sending there", lease.room_key,
                                lease.epoch)

    def _release(self, session: Session, lease: Lease) -> None:
        lr = RoomLease.__table__  # type: ignore[attr-defined]
        session.execute(update(lr).where(lr.c.room_key == lease.room_key,
                                         lr.c.holder == self.holder,
                                         lr.c.epoch == lease.epoch)
                        .values(holder="", until=db_now(session, -1)))

    def _release_all(self, session: Session) -> None:
        lr = RoomLease.__table__  # type: ignore[attr-defined]
        session.execute(update(lr).where(lr.c.holder == self.holder)
                        .values(holder="", until=db_now(session, -1)))

    # ----- serving a room ---------------------------------------------------------------
    async def _serve(self, lease: Lease, rows: list[Due]) -> None:
        released = False
        try:
            while not lease.lost and rows and await self._deliver_rows(lease, rows):
                # Rows that came meanwhile, or the release when there are none: one
                # transaction either way.
                rows = await self.store.tx(functools.partial(self._next_or_release,
                                                             lease=lease))
                released = not rows
        except Fenced as exc:
            lease.lost = True
            log.warning("outbox: %s: %s", lease.room_key, exc)
        except Exception:
            log.exception("outbox: serving %s failed; it is retried", lease.room_key)
        finally:
            self.leases.pop(lease.room_key, None)
            if not lease.lost and not released:
                try:
                    await self.store.tx(functools.partial(self._release, lease=lease))
                except Exception:
                    log.warning("outbox: cannot release the lease of %s; it expires",
                                lease.room_key)
            self.wake()

    def _next_or_release(self, session: Session, *, lease: Lease) -> list[Due]:
        rows = self._load(session, room_keys=[lease.room_key]).get(lease.room_key, [])
        if not rows:
            self._release(session, lease)
        return rows

    def _load(self, session: Session, *, room_keys: list[str]) -> dict[str, list[Due]]:
        """The pending rows of ``room_keys``, oldest first, at most 50 a room."""
        t = OutboxRow.__table__  # type: ignore[attr-defined]
        parsed: dict[str, Reply] = {}
        out: dict[str, list[Due]] = {k: [] for k in room_keys}
        for r in session.execute(
                core_select(t.c.id, t.c.key, t.c.room_key, cast(t.c.payload, Text),
                            t.c.attempts, t.c.next_attempt_at, t.c.failures)
                .where(t.c.room_key.in_(room_keys), t.c.status == "pending")
                .order_by(t.c.id)):
            if len(out[r.room_key]) >= 50:
                continue
            # A cascade stores one message in many rows: parse each distinct one once.
            text = r[3]
            if text not in parsed:
                parsed[text] = Reply.model_validate_json(text)
            out[r.room_key].append(Due(
                id=r.id, key=r.key, room_key=r.room_key, reply=parsed[text],
                attempts=r.attempts, next_attempt_at=_aware(r.next_attempt_at),
                failures=r.failures))
        return out

    async def _deliver_rows(self, lease: Lease, rows: list[Due]) -> bool:
        """Send ``rows`` in order; False when the room must stop for now."""
        for row in rows:
            if row.next_attempt_at > self.clock():
                return False  # keep the room's order: a later row waits for this one
            while True:
                outcome = await self._deliver(lease, row)
                if outcome in ("delivered", "gone", "dead"):
                    break  # a dead letter does not hold up the room's later rows
                if outcome != "paced":
                    return False
                # Rate limited: the pacer holds the retry until the platform allows it.
        return True

    async def _deliver(self, lease: Lease, row: Due) -> str:
        """One try: delivered, paced (rate limited: try again), or stop."""
        if self.may_deliver is not None and not await self.may_deliver(row.id, row.room_key,
                                                                         row.reply):
            return "gone"  # withdrawn, never sent: the room's next row may go
        platform = ""
        try:
            platform, adapter, target = self._route(row)
            async with self._pacer(platform).slot():
                self._check(lease)
                if (lease.doubt or row.failures) and isinstance(adapter, FindsSent):
                    found = await self._guarded(lease, adapter.find_sent(target, row.key))
                    if found is not None:
                        log.info("outbox: %s was already in %s: not posted again",
                                 row.key, row.room_key)
                ref = await self._guarded(lease, self._send(adapter, target, row))
        except Fenced:
            raise
        except Exception as exc:
            if isinstance(exc, DeliveryError) and exc.retry_after is not None and platform:
                self._pacer(platform).limited(exc.retry_after)
            outcome, alert = await self.store.tx(functools.partial(
                self._failed, row=row, lease=lease, exc=exc, platform=platform))
            if alert is not None:
                self._send_alert_mail(alert)
            return outcome
        lease.doubt = False
        await self._marker.mark(lease, row, ref)
        if lease.blocked:
            lease.blocked = False
            await self.store.tx(functools.partial(self._unblock, room_key=row.room_key))
        return "delivered"

    def _check(self, lease: Lease) -> None:
        if lease.lost:
            raise Fenced(f"lease epoch {lease.epoch} was taken over")
        if time.monotonic() >= lease.valid_until:
            lease.lost = True
            raise Fenced(f"lease epoch {lease.epoch} not renewed in time: not sending")

    async def _guarded(self, lease: Lease, coro: Any) -> Any:
        """Await ``coro`` while the lease is trusted; cancel it when the lease is lost or
        its trusted time runs out before a renewal."""
        task = asyncio.ensure_future(coro)
        try:
            while True:
                remaining = lease.valid_until - time.monotonic()
                if lease.lost or remaining <= 0:
                    task.cancel()
                    lease.lost = True
                    raise Fenced(f"lease epoch {lease.epoch} lost during a send: cancelled")
                done, _ = await asyncio.wait({task}, timeout=min(remaining, 0.5))
                if done:
                    return task.result()
        except asyncio.CancelledError:
            task.cancel()
            raise

    def _contact_platform(self, contact: Contact) -> str:
        """Where a contact's direct messages go: a chat platform the directory gives them
        an identity on (a running one first); the console only for a contact with none
        (everyone has a console identity by default: an operator's shell must not take
        the pages of people on Matrix or Slack)."""
        return direct_platform(contact, self.adapters)

    def _serves(self, key: str) -> bool:
        """Whether this worker's adapters deliver ``key``'s rows (an unknown key: yes, so
        it is reported as before)."""
        try:
            platform = (self._contact_platform(self.directory.contact(key[1:]))
                        if key.startswith("@") else self.directory.room(key).platform)
        except NotFound:
            return True
        return platform in self.adapters

    def _route(self, row: Due) -> tuple[str, ChatAdapter, RoomRef | UserRef]:
        if row.room_key.startswith("@"):
            contact = self.directory.contact(row.room_key[1:])
            platform = self._contact_platform(contact)
            address = contact.chat_id(platform)
            if address and platform in self.adapters:
                return platform, self.adapters[platform], \
                    UserRef(platform=platform, address=address)  # type: ignore[arg-type]
            raise DeliveryError(f"no {platform} adapter is running for contact {contact.id}",
                                transient=True)
        room = self.directory.room(row.room_key)
        adapter = self.adapters.get(room.platform)
        if adapter is None:
            raise DeliveryError(f"no {room.platform} adapter is running for room {room.key}",
                                transient=True)
        return room.platform, adapter, RoomRef(platform=room.platform, address=room.target,
                                               key=room.key)

    async def _send(self, adapter: ChatAdapter, target: RoomRef | UserRef,
                    row: Due) -> MessageRef:
        if isinstance(target, UserRef):
            return await adapter.send_direct(target, row.reply, key=row.key)
        return await adapter.send(target, row.reply, key=row.key)

    def _pacer(self, platform: str) -> AdapterPacer:
        if platform not in self.pacers:
            self.pacers[platform] = AdapterPacer()
        return self.pacers[platform]

    # ----- failures ---------------------------------------------------------------------
    def _failed(self, session: Session, *, row: Due, lease: Lease, exc: BaseException,
                platform: str) -> tuple[str, _Alert | None]:
        if not self._held(session, [lease]):
            lease.lost = True
            return "fenced", None
        fresh = session.get(OutboxRow, row.id)
        if fresh is None or fresh.status != "pending":
            return "gone", None
        now = self.clock()
        error = exc if isinstance(exc, DeliveryError) else None
        fresh.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        fresh.failures += 1
        first = _aware(fresh.first_failed_at) if fresh.first_failed_at else now
        fresh.first_failed_at = first
        if error is not None and error.permanent:
            kind = "permanent"
        elif error is not None and error.retry_after is not None:
            kind = "rate-limited"
        elif error is not None and error.no_access:
            kind = "no access"
        elif error is not None and error.transient:
            kind = "unreachable"
        else:
            kind = "error"
        if kind in ("permanent", "error"):
            fresh.attempts += 1  # the platform took the request and refused it
        alert = None
        # A room the bot lost waits for the operator's fix however long it takes: it was
        # reported, and giving up would only turn its queue into dead letters one by one.
        if kind == "permanent" or (kind != "no access" and now - first >= self.give_up):
            fresh.status = "dead"
            why = said(N_("a permanent error")) if kind == "permanent" else \
                said(N_("failing for {hours} h"),
                     hours=f"{(now - first).total_seconds() / 3600:.1f}")
            log.error("outbox: %s to %s is a dead letter (id %s) after %s: %s",
                      fresh.key, fresh.room_key, fresh.id, why, fresh.last_error)
            alert = self._alert_dead(session, fresh, platform, now, why)
            outcome = "dead"
        elif kind == "rate-limited":
            assert error is not None and error.retry_after is not None
            fresh.next_attempt_at = now + timedelta(seconds=error.retry_after)
            log.info("outbox: %s to %s rate limited; waiting %.1fs", fresh.key,
                     fresh.room_key, error.retry_after)
            outcome = "paced"
        elif kind == "no access":
            fresh.next_attempt_at = now + timedelta(seconds=self.blocked_retry)
            alert = self._blocked(session, fresh, platform, now)
            outcome = "blocked"
        else:
            delay = min(self.backoff_max, self.backoff_base * 2 ** (fresh.failures - 1))
            fresh.next_attempt_at = now + timedelta(seconds=delay)
            log.warning("outbox: %s to %s failed (%s, try %d, retry in %.1fs): %s",
                        fresh.key, fresh.room_key, kind, fresh.failures, delay,
                        fresh.last_error)
            outcome = "later"
        session.add(fresh)
        return outcome, alert

    def _blocked(self, session: Session, row: OutboxRow, platform: str,
                 now: datetime) -> _Alert | None:
        """The bot may not post in the room: its queue waits; the Secretariat is told
        once (the first time, not for every row or retry)."""
        lease = session.get(RoomLease, row.room_key)
        if lease is None or lease.blocked_since is not None:
            return None
        lease.blocked_since = now
        lease.blocked_error = row.last_error
        session.add(lease)
        log.error("outbox: wisbot cannot post in %s: %s; its messages wait (retried every "
                  "%.0fs)", row.room_key, row.last_error, self.blocked_retry)
        room_key, error = row.room_key, row.last_error or ""
        directory, running = self.directory, tuple(self.adapters)
        minutes = f"{self.blocked_retry / 60:g}"

        def blocked() -> Reply:  # in each Secretariat room's language
            b = ReplyBuilder(_t("Delivery blocked: no access to a room"), kind="alert")
            # the platform's error stays as it gave it (stored on the row, logged)
            b.line(_t("wisbot cannot post in {room}: {error}", room=room_key, error=error))
            b.line(_t("Its messages wait and are retried every {minutes} min; nothing is "
                      "lost.", minutes=minutes) + " "
                   + (_t("Invite the bot back or fix the room binding.") if not
                      room_key.startswith("@") else
                      _fix_for(directory, room_key, running)))
            return b.build()

        return self._alert(session, blocked, failing=row, platform=platform, now=now,
                           subject=lambda: _t("wisbot cannot post in {room}", room=room_key))

    def _unblock(self, session: Session, *, room_key: str) -> None:
        lease = session.get(RoomLease, room_key)
        if lease is not None and lease.blocked_since is not None:
            log.warning("outbox: %s accepts messages again (blocked since %s)", room_key,
                        lease.blocked_since)
            lease.blocked_since = None
            lease.blocked_error = None
            session.add(lease)

    def _alert_dead(self, session: Session, row: OutboxRow, platform: str, now: datetime,
                    why: str) -> _Alert | None:
        room_key, key, row_id, error = row.room_key, row.key, row.id, row.last_error or ""
        directory, running = self.directory, tuple(self.adapters)

        def dead() -> Reply:  # in each Secretariat room's language
            b = ReplyBuilder(_t("Delivery failed: dead letter"), kind="alert")
            b.line(_t("A message for {room} was given up after {why} and is kept as dead "
                      "letter {key} (id {id}).", room=room_key, why=shown(why), key=key,
                      id=row_id))
            b.line(_t("Last error: {error}", error=error))  # the platform's, as it gave it
            b.line(_fix_for(directory, room_key, running) + " "
                   + _t("The message is not lost: `wisbot outbox retry {id}` resends it.",
                        id=row_id))
            return b.build()

        return self._alert(session, dead, failing=row, platform=platform, now=now,
                           subject=lambda: _t("wisbot dead letter for {room}", room=room_key))

    def _alert(self, session: Session, reply: Callable[[], Reply], *, failing: OutboxRow,
               platform: str, now: datetime, subject: Callable[[], str]) -> _Alert | None:
        """Tell the Secretariat by another path than the failing one: the Secretariat
        rooms on other running adapters, else e-mail to the Secretariat contacts, else the
        log at CRITICAL. Other Secretariat rooms on the same adapter get it too (queued:
        they wait rather than fail)."""
        if failing.key.startswith(ALERT_PREFIX):
            log.critical("outbox: the Secretariat alert %s cannot be delivered to %s: %s",
                         failing.key, failing.room_key, failing.last_error)
            return None
        rooms = [r for r in self.directory.rooms_with_role("secretariat")
                 if r.key != failing.room_key and r.platform in self.adapters]
        other = [r for r in rooms if r.platform != platform]
        if rooms:
            note = notify(session, kind="dead-letter", now=now, incident_id=None,
                          deliveries=in_room_languages(rooms, reply))
            for alert in session.exec(select(OutboxRow)
                                      .where(OutboxRow.notification_id == note.id)):
                alert.key = f"{ALERT_PREFIX}{alert.key}"
                session.add(alert)
        if other:
            return None
        # One e-mail to every Secretariat contact: the deployment's language.
        with i18n.use(None):
            return _Alert(subject=subject(), reply=reply())

    def _send_alert_mail(self, alert: _Alert) -> None:
        to = [c.email for c in self.directory.contacts if c.is_secretariat and c.email]
        if self.mailer is None or not to:
            log.critical("outbox: no other path to the Secretariat (no other adapter's "
                         "Secretariat room, %s): %s", "no SMTP" if self.mailer is None
                         else "no Secretariat e-mail", alert.reply.plain())
            return
        mailer = self.mailer

        async def mail() -> None:
            try:
                await asyncio.wait_for(mailer.send(to=to, cc=[], subject=alert.subject,
                                                   body=alert.reply.plain()),
                                       self.mail_timeout)
            except Exception as exc:
                log.critical("outbox: e-mail to the Secretariat failed (%s): %s", exc,
                             alert.reply.plain())

        task = asyncio.create_task(mail())
        self._mails.add(task)
        task.add_done_callback(self._mails.discard)


def _fix_for(directory: Directory, room_key: str, running: tuple[str, ...]) -> str:
    """The operator's fix for a failing destination, in words."""
    if not room_key.startswith("@"):
        return _t("Check the room binding and the bot's access.")
    try:
        contact = directory.contact(room_key[1:])
    except NotFound:
        return _t("Contact {id} is no longer in the directory.", id=room_key[1:])
    gap = unreachable(contact, "direct messages", running, email=False)
    if gap is not None:
        return _t("Contact {id} has {missing}: {fix}.", id=contact.id, missing=gap.missing,
                  fix=gap.fix)
    platform = direct_platform(contact, running)
    return _t("Check contact {id}'s {platform} id ({address}) in the directory and that the "
              "person can receive direct messages from the bot.", id=contact.id,
              platform=platform, address=contact.chat_id(platform))


@dataclass
class _Mark:
    lease: Lease
    row: Due
    ref: MessageRef
    future: asyncio.Future[bool] = field(repr=False)


class _DeliveredMarker:
    """Group commit for "delivered" marks: rooms send in parallel, and the marks that
    arrive while a commit runs go together in the next one. Each room still waits for its
    mark before its next send, so at most one message per room is ever in doubt. A mark
    is written only while the room's lease is still this process's (holder and epoch);
    it renews the lease too."""

    def __init__(self, worker: OutboxWorker) -> None:
        self.worker = worker
        self._pending: list[_Mark] = []
        self._task: asyncio.Task[None] | None = None

    async def mark(self, lease: Lease, row: Due, ref: MessageRef) -> None:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append(_Mark(lease, row, ref, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())
        started = time.monotonic()
        try:
            held = await future
        except Exception:
            # Sent but not marked: keep the lease (it expires), so whoever serves the room
            # next treats this row as in doubt and looks it up before sending it again.
            lease.lost = True
            raise
        if not held:
            lease.lost = True
            raise Fenced(f"lease epoch {lease.epoch} was taken over before the delivered "
                         f"mark of {row.key}: not marked")
        lease.valid_until = max(lease.valid_until, started + self.worker.trust_seconds)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                held = await self.worker.store.tx(functools.partial(self._apply, batch=batch))
            except BaseException as exc:
                for m in batch:
                    if not m.future.done():
                        m.future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for m in batch:
                if not m.future.done():
                    m.future.set_result((m.row.room_key, m.lease.epoch) in held)

    def _apply(self, session: Session, *, batch: list[_Mark]) -> set[tuple[str, int]]:
        worker = self.worker
        held = worker._held(session, {m.lease.room_key: m.lease for m in batch}.values())
        ok = [m for m in batch if (m.row.room_key, m.lease.epoch) in held]
        if ok:
            now = worker.clock()
            t = OutboxRow.__table__  # type: ignore[attr-defined]
            session.execute(
                t.update().where(t.c.id == bindparam("row_id"), t.c.status == "pending")
                .values(status="delivered", delivered_at=now, message_id=bindparam("mid"),
                        attempts=bindparam("n")),
                [{"row_id": m.row.id, "mid": m.ref.id[:256], "n": m.row.attempts + 1}
                 for m in ok])
            worker._renew(session, sorted(held))
        return held


async def outbox_rows(store: Store, *, status: str | None = None,
                      room_key: str | None = None, limit: int = 200) -> list[OutboxRow]:
    """Outbox rows for the ``wisbot outbox`` commands, oldest first."""
    def q(session: Session) -> list[OutboxRow]:
        stmt = select(OutboxRow)
        if status:
            stmt = stmt.where(OutboxRow.status == status)
        if room_key:
            stmt = stmt.where(OutboxRow.room_key == room_key)
        return list(session.exec(stmt.order_by(OutboxRow.id).limit(limit)).all())  # type: ignore[arg-type]

    return await store.tx(q)


def retry_dead(session: Session, *, row_id: int | None = None,
               room_key: str | None = None) -> list[OutboxRow]:
    """Put dead letters back in the queue (as new: no failures, due at once, whatever
    the clock of the machine that asks). Their order in the room is their original one."""
    stmt = select(OutboxRow).where(OutboxRow.status == "dead")
    if row_id is not None:
        stmt = stmt.where(OutboxRow.id == row_id)
    if room_key is not None:
        stmt = stmt.where(OutboxRow.room_key == room_key)
    rows = list(session.exec(stmt).all())
    for row in rows:
        row.status = "pending"
        row.failures = 0
        row.first_failed_at = None
        row.next_attempt_at = row.created_at
        session.add(row)
    return rows
