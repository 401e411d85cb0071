"""The outbox worker: delivers outbox rows through the adapters, in order per room,
in parallel across rooms, exactly once per (notification, room) from wisbot's side.

A room is leased to one process at a time (``room_lease``), so two wisbot processes on one
database never deliver the same row, and a room's messages keep their order. A row is
marked delivered in its own transaction right after the send; a crash between the two
re-sends it with the same key, which a platform that dedupes (Matrix) drops.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Text, bindparam, cast, delete, func, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from wisbot.adapters.base import ChatAdapter, DeliveryError, MessageRef, RoomRef, UserRef
from wisbot.clock import Clock
from wisbot.directory import Directory
from wisbot.loop import WakeableLoop
from wisbot.reply import Reply, ReplyBuilder
from wisbot.services.notify import notify
from wisbot.store.engine import Store
from wisbot.store.tables import OutboxRow, RoomLease

log = logging.getLogger(__name__)
MayDeliver = Callable[[Sequence[tuple[int, str, Reply]]], Awaitable[set[int]]]
"""The consent check before sending (``ConsentGate.outbox_rows``): the ids of the rows
(id, room key, reply) it withdrew."""
RECHECK_AFTER = 1.0
"""Seconds after which a row's consent check is made again just before its send."""


@dataclass(frozen=True)
class Due:
    """An outbox row loaded for delivery (a plain value, not an ORM object)."""

    id: int
    key: str
    room_key: str
    reply: Reply
    attempts: int
    next_attempt_at: datetime


def _aware(value: datetime) -> datetime:
    # Core selects bypass sqlmodel's UTC type on SQLite, which stores no offset.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class OutboxWorker(WakeableLoop):
    name = "wisbot-outbox"

    def __init__(self, store: Store, directory: Directory, adapters: dict[str, ChatAdapter],
                 clock: Clock, *, max_attempts: int = 8, backoff_base: float = 1.0,
                 backoff_max: float = 300.0, poll_interval: float = 1.0,
                 lease_seconds: float = 60.0, concurrency: int = 32,
                 batch_delay: float = 0.02,
                 is_held: Callable[[str], bool] = lambda room_key: False,
                 may_deliver: MayDeliver | None = None) -> None:
        self.may_deliver = may_deliver
        self.store = store
        self.directory = directory
        self.adapters = adapters
        self.clock = clock
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        super().__init__(poll_interval)
        self.lease = timedelta(seconds=lease_seconds)
        self.concurrency = concurrency
        self.wake_delay = batch_delay
        self.is_held = is_held
        self.holder = f"w-{secrets.token_hex(6)}"
        self._marker = _DeliveredMarker(self)

    async def stop(self) -> None:
        await super().stop()
        await self.store.tx(self._release_all)

    # ----- one pass ---------------------------------------------------------------------
    async def run_once(self) -> bool:
        """Deliver what is due now; True when something was attempted."""
        claimed = await self.store.tx(self._claim)
        if not claimed:
            return False
        withdrawn: set[int] = set()
        checked_at = time.monotonic()
        if self.may_deliver is not None:
            # Consent is checked in one call just before the sends start (so they start in
            # cascade order); a row whose send starts later than RECHECK_AFTER is checked
            # again just before it.
            withdrawn = await self.may_deliver([(r.id, r.room_key, r.reply)
                                                for rows in claimed.values() for r in rows])
        sem = asyncio.Semaphore(self.concurrency)

        async def one(rows: list[Due]) -> bool:
            async with sem:
                return await self._deliver_rows(rows, withdrawn, checked_at)

        try:
            results = await asyncio.gather(*(one(rows) for rows in claimed.values()))
        finally:
            rooms = list(claimed)
            await self.store.tx(lambda s: self._release(s, rooms))
        return any(results)

    async def drain(self, max_passes: int = 1000) -> None:
        """Deliver until nothing is due (tests, the demo)."""
        for _ in range(max_passes):
            if not await self.run_once():
                return
        raise RuntimeError("outbox did not drain")

    def _claim(self, session: Session) -> dict[str, list[Due]]:
        """Lease the rooms with due rows and load their pending rows, oldest first."""
        rooms = self._claim_rooms(session)
        if not rooms:
            return {}
        out: dict[str, list[Due]] = {k: [] for k in rooms}
        t = OutboxRow.__table__  # type: ignore[attr-defined]
        parsed: dict[str, Reply] = {}
        rows = session.execute(
            core_select(t.c.id, t.c.key, t.c.room_key, cast(t.c.payload, Text), t.c.attempts,
                   t.c.next_attempt_at)
            .where(t.c.room_key.in_(rooms), t.c.status == "pending").order_by(t.c.id))
        for r in rows:
            # A cascade stores one message in many rows: parse each distinct one once.
            text = r[3]
            if text not in parsed:
                parsed[text] = Reply.model_validate_json(text)
            row = Due(id=r.id, key=r.key, room_key=r.room_key, reply=parsed[text],
                      attempts=r.attempts, next_attempt_at=_aware(r.next_attempt_at))
            if len(out[row.room_key]) < 50:
                out[row.room_key].append(row)
        return out

    def _claim_rooms(self, session: Session) -> list[str]:
        now = self.clock()
        # Rooms in the order of their oldest due row: the cascade order (Secretariat first)
        # is the order in which deliveries start.
        due = [k for k in session.exec(
            select(OutboxRow.room_key).where(OutboxRow.status == "pending",
                                             col(OutboxRow.next_attempt_at) <= now)
            .group_by(col(OutboxRow.room_key)).order_by(func.min(OutboxRow.id))
        ).all() if not self.is_held(k)]
        if not due:
            return []
        until = now + self.lease
        taken = set(session.execute(
            update(RoomLease).where(col(RoomLease.room_key).in_(due),
                                    or_(col(RoomLease.until) < now,
                                        col(RoomLease.holder) == self.holder))
            .values(holder=self.holder, until=until)
            .returning(col(RoomLease.room_key))).scalars().all())
        free = [k for k in due if k not in taken]
        if free:
            existing = set(session.exec(select(RoomLease.room_key)
                                        .where(col(RoomLease.room_key).in_(free))).all())
            fresh = [k for k in free if k not in existing]
            if fresh:
                ins = (pg_insert if session.get_bind().dialect.name == "postgresql"
                       else sqlite_insert)(RoomLease)
                taken.update(session.execute(
                    ins.values([{"room_key": k, "holder": self.holder, "until": until}
                                for k in fresh])
                    .on_conflict_do_nothing(index_elements=["room_key"])
                    .returning(col(RoomLease.room_key))).scalars().all())
        return [k for k in due if k in taken]

    def _release(self, session: Session, room_keys: list[str]) -> None:
        session.execute(delete(RoomLease).where(col(RoomLease.room_key).in_(room_keys),
                                                col(RoomLease.holder) == self.holder))

    def _release_all(self, session: Session) -> None:
        for lease in session.exec(select(RoomLease).where(RoomLease.holder == self.holder)):
            session.delete(lease)

    async def _deliver_rows(self, rows: list[Due], withdrawn: set[int] | None = None,
                            checked_at: float = -RECHECK_AFTER) -> bool:
        attempted = False
        for row in rows:
            if row.next_attempt_at > self.clock():
                break  # keep the room's order: a later row waits for this one
            attempted = True
            if withdrawn is not None and row.id in withdrawn:
                continue  # consent no longer allows it: withdrawn, never sent
            if self.may_deliver is not None \
                    and time.monotonic() - checked_at > RECHECK_AFTER \
                    and await self.may_deliver([(row.id, row.room_key, row.reply)]):
                continue
            if not await self._deliver(row):
                break
        return attempted

    async def _deliver(self, row: Due) -> bool:
        reply = row.reply
        try:
            ref = await self._send(row, reply)
        except Exception as exc:  # every failure is recorded, none is lost
            error = exc
            await self.store.tx(lambda s: self._failed(s, row, error))
            return False
        await self._marker.mark(row, ref)
        return True

    async def _send(self, row: Due, reply: Reply) -> MessageRef:
        if row.room_key.startswith("@"):
            contact = self.directory.contact(row.room_key[1:])
            for platform in self._platform_order():
                address = contact.chat_id(platform)
                if address and platform in self.adapters:
                    return await self.adapters[platform].send_direct(
                        UserRef(platform=platform, address=address), reply, key=row.key)  # type: ignore[arg-type]
            raise DeliveryError(f"contact {contact.id} has no identity on a running adapter "
                                f"({', '.join(self.adapters) or 'none'})", permanent=True)
        room = self.directory.room(row.room_key)
        adapter = self.adapters.get(room.platform)
        if adapter is None:
            raise DeliveryError(f"no {room.platform} adapter is running for room {room.key}")
        return await adapter.send(RoomRef(platform=room.platform, address=room.target,
                                          key=room.key), reply, key=row.key)

    def _platform_order(self) -> Iterable[str]:
        return [p for p in ("matrix", "slack", "console") if p in self.adapters]

    def _failed(self, session: Session, row: Due, exc: BaseException) -> None:
        fresh = session.get(OutboxRow, row.id)
        if fresh is None or fresh.status != "pending":
            return
        now = self.clock()
        fresh.attempts += 1
        fresh.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        permanent = isinstance(exc, DeliveryError) and exc.permanent
        retry_after = exc.retry_after if isinstance(exc, DeliveryError) else None
        if permanent or fresh.attempts >= self.max_attempts:
            fresh.status = "dead"
            log.error("outbox: %s to %s is a dead letter after %d attempt(s): %s",
                      fresh.key, fresh.room_key, fresh.attempts, fresh.last_error)
            self._alert_dead(session, fresh, now)
        else:
            delay = retry_after if retry_after is not None else min(
                self.backoff_max, self.backoff_base * 2 ** (fresh.attempts - 1))
            fresh.next_attempt_at = now + timedelta(seconds=delay)
            log.warning("outbox: %s to %s failed (attempt %d, retry in %.1fs): %s",
                        fresh.key, fresh.room_key, fresh.attempts, delay, fresh.last_error)
        session.add(fresh)

    def _alert_dead(self, session: Session, row: OutboxRow, now: datetime) -> None:
        targets = [r for r in self.directory.rooms_with_role("secretariat")
                   if r.key != row.room_key]
        if not targets or row.key.startswith("dead-"):
            log.critical("outbox: cannot alert the Secretariat about dead letter %s", row.key)
            return
        b = ReplyBuilder("Delivery failed: dead letter", kind="alert")
        b.line(f"A message for {row.room_key} could not be delivered after {row.attempts} "
               f"attempt(s) and is kept as dead letter {row.key}.")
        b.line(f"Last error: {row.last_error}")
        b.line("Check the room binding and the bot's access; the message is not lost.")
        note = notify(session, kind="dead-letter", now=now, incident_id=None,
                      deliveries=[(room, b.build()) for room in targets])
        # Mark the alert rows so a failing alert does not alert again.
        for alert in session.exec(select(OutboxRow)
                                  .where(OutboxRow.notification_id == note.id)):
            alert.key = f"dead-{alert.key}"
            session.add(alert)


class _DeliveredMarker:
    """Group commit for "delivered" marks: rooms send in parallel, and the marks that
    arrive while a commit runs go together in the next one. Each room still waits for its
    mark before its next send, so at most one message per room is ever in doubt."""

    def __init__(self, worker: OutboxWorker) -> None:
        self.worker = worker
        self._pending: list[tuple[Due, MessageRef, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def mark(self, row: Due, ref: MessageRef) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, ref, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self.worker.store.tx(functools.partial(self._apply, batch=batch))
            except BaseException as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for _, _, future in batch:
                if not future.done():
                    future.set_result(None)

    def _apply(self, session: Session, *,
               batch: list[tuple[Due, MessageRef, asyncio.Future[None]]]) -> None:
        now = self.worker.clock()
        t = OutboxRow.__table__  # type: ignore[attr-defined]
        session.execute(
            t.update().where(t.c.id == bindparam("row_id"))
            .values(status="delivered", delivered_at=now, message_id=bindparam("mid"),
                    attempts=bindparam("n")),
            [{"row_id": row.id, "mid": ref.id[:256], "n": row.attempts + 1}
             for row, ref, _ in batch])
        # Renew the leases: a long run of sends keeps the rooms ours.
        rooms = list({row.room_key for row, _, _ in batch})
        session.execute(update(RoomLease).where(col(RoomLease.room_key).in_(rooms),
                                                col(RoomLease.holder) == self.worker.holder)
                        .values(until=now + self.worker.lease))
