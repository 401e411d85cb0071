"""Leader election through the database: one replica holds the singletons.

The lease is a row (``leader_lease``) rather than a PostgreSQL advisory lock: a row works
behind a transaction-mode connection pooler (PgBouncer), survives a broken connection
without a dangling session, carries a fencing ``epoch`` that grows on every change of
holder, and is visible to ``wisbot status``. Times come from the database's clock
(``clock_timestamp()``); at start and every minute the local clock is compared with it and
a skew beyond ``max_clock_skew`` refuses the start (or gives up the lead).

The holder renews every ``renew`` seconds; a follower takes an expired lease (``until``
past), so a dead leader is replaced within ``lease + renew`` seconds. A leader that cannot
renew stops its singletons (fences itself) ``fence_margin`` seconds before its lease can
expire, measured on its own monotonic clock from the start of the last renewal.

SQLite serves one process on one machine: the same code runs, the lease is taken at once
whatever the row says and it is not fenced (there is no other host to hand over to).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from wisbot.errors import WisbotError
from wisbot.store.engine import Store
from wisbot.store.ops_tables import LeaderLease, Replica

log = logging.getLogger(__name__)

LEASE_NAME = "wisbot"


class ClockSkew(WisbotError):
    """This machine's clock and the database's differ by more than the set bound."""


@runtime_checkable
class SplitAdapter(Protocol):
    """An adapter whose inbound side is a singleton (a sync loop, a socket, an E2E device):
    every replica runs :meth:`start_outbound` (sending only); the leader runs ``start``."""

    async def start_outbound(self) -> None: ...

    async def stop_inbound(self) -> None:
        """Back to sending only (the lead was lost)."""

    def follower_sends(self, room: Any) -> bool:
        """Whether a replica that does not lead may send to ``room`` (None: a direct
        message)."""


def new_holder() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def db_now(session: Session, sqlite: bool) -> datetime:
    """The database's clock (SQLite's is this machine's)."""
    if sqlite:
        return datetime.now(UTC)
    value = session.execute(text("SELECT clock_timestamp()")).scalar_one()
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def measure_skew(store: Store, wall: Callable[[], float] = time.time) -> tuple[float, float]:
    """(database clock − local clock, uncertainty), in seconds: the local time is taken
    half way through the round trip."""
    if store.sqlite:
        return 0.0, 0.0
    with store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))  # a warm connection: the round trip is the query
        t1 = wall()
        db = float(conn.execute(text("SELECT extract(epoch FROM clock_timestamp())"))
                   .scalar_one())
        t2 = wall()
    return db - (t1 + t2) / 2, (t2 - t1) / 2


def _insert(sqlite: bool) -> Any:
    return sqlite_insert if sqlite else pg_insert


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Leadership:
    """Runs the election for one replica; calls ``on_elected(epoch)`` when it gains the
    lead and ``on_deposed(reason)`` when it loses it (both awaited, never concurrently)."""

    def __init__(self, url: str, *, on_elected: Callable[[int], Awaitable[None]],
                 on_deposed: Callable[[str], Awaitable[None]], lease: float = 15.0,
                 renew: float = 3.0, max_skew: float = 5.0, name: str = LEASE_NAME,
                 holder: str | None = None, skew_every: float = 60.0,
                 wall: Callable[[], float] = time.time) -> None:
        if renew * 2 >= lease:
            raise ValueError(f"the leader lease ({lease:g} s) must be more than twice the "
                             f"renewal interval ({renew:g} s)")
        self.url = url
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.lease = lease
        self.renew = renew
        self.max_skew = max_skew
        self.name = name
        self.holder = holder or new_holder()
        self.host = socket.gethostname()[:128]
        self.skew_every = skew_every
        self.wall = wall
        self.fence_margin = max(renew, min(5.0, lease / 3))
        """Seconds before the lease can expire at which a leader that could not renew
        stops its singletons."""
        self.epoch: int | None = None
        self.is_leader = False
        self.skew: float | None = None
        self.ready = False
        """Set by the app once its leader's part runs: the replica row says ``leader``
        only then (``starting`` before)."""
        self.leader_ready = False
        """Whether some replica's leader's part runs (as of the last pass)."""
        self.paused = False
        """Tests: stop renewing (as a partitioned or frozen leader would)."""
        self._store: Store | None = None
        self._fence_at = 0.0
        self._next_skew = 0.0
        self._skew_bad = False
        self._task: asyncio.Task[None] | None = None
        self._up: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._changed = asyncio.Event()

    @property
    def sqlite(self) -> bool:
        return self.db.sqlite

    @property
    def db(self) -> Store:
        if self._store is None:
            raise RuntimeError("the election is not running")
        return self._store

    # ----- life cycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Check the clock (raises :class:`ClockSkew`), register the replica, try once to
        take the lead (and start the leader's part before returning), then keep going."""
        # Its own connection pool and thread: the election never queues behind busy work.
        self._store = Store(self.url, workers=2)
        try:
            await self._check_skew(at_start=True)
            await self._tick(strict=True)
            if self._up is not None:
                await self._up  # a leader's part that cannot start fails the start
        except BaseException:
            self._store.close()
            self._store = None
            raise
        self._task = asyncio.create_task(self._loop(), name="wisbot-leader")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._store is None:
            return
        if self.is_leader:
            await self._depose("stopping")
        epoch = self.epoch
        holder = self.holder

        def release(session: Session) -> None:
            now = db_now(session, self.sqlite)
            # Hand over at once: the next replica need not wait for the lease to run out.
            session.execute(update(LeaderLease).where(
                LeaderLease.name == self.name, LeaderLease.holder == holder,  # type: ignore[arg-type]
                LeaderLease.epoch == epoch).values(holder="", until=now))  # type: ignore[arg-type]
            session.execute(delete(Replica).where(Replica.holder == holder))  # type: ignore[arg-type]

        try:
            await asyncio.wait_for(self.db.tx(release), timeout=self.lease)
        except Exception as exc:
            log.warning("leader: could not release the lease (it expires by itself): %s", exc)
        self.db.close()
        self._store = None

    async def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.renew)
            if self._stop.is_set():
                return
            try:
                if time.monotonic() >= self._next_skew:
                    await self._check_skew(at_start=False)
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("leader: election pass failed")

    # ----- one pass ---------------------------------------------------------------------
    async def _tick(self, *, strict: bool = False) -> None:
        began = time.monotonic()
        if self.is_leader and not self.sqlite and began >= self._fence_at:
            await self._depose(f"the lease was not renewed for "
                               f"{self.lease - self.fence_margin:g} s (database unreachable?)")
        if self.paused:
            return
        want = not self._skew_bad
        try:
            held, epoch = await asyncio.wait_for(
                self.db.tx(lambda s: self._attempt(s, want)), timeout=self.renew)
        except Exception as exc:
            log.warning("leader: cannot reach the database to %s the lease: %s",
                        "renew" if self.is_leader else "check", exc or type(exc).__name__)
            return
        if held:
            self._fence_at = began + self.lease - self.fence_margin
            if not self.is_leader:
                self.epoch = epoch
                self.is_leader = True
                log.warning("leader: this replica (%s) now leads, epoch %d", self.holder,
                            epoch)
                self._up = asyncio.create_task(self._elected(epoch, strict),
                                               name="wisbot-lead")
        elif self.is_leader:
            await self._depose("another replica holds the lease")

    def _attempt(self, session: Session, want: bool) -> tuple[bool, int]:
        if not self.sqlite:
            # A replica cut off mid-transaction must not keep the lease row locked (the
            # server ends its session), and nobody waits on a lock past one pass.
            ms = int(self.renew * 1000)
            session.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {ms}"))
            session.execute(text(f"SET LOCAL lock_timeout = {ms}"))
            session.execute(text(f"SET LOCAL statement_timeout = {2 * ms}"))
        now = db_now(session, self.sqlite)
        until = now + timedelta(seconds=self.lease)
        t = LeaderLease.__table__  # type: ignore[attr-defined]
        session.execute(_insert(self.sqlite)(t).values(
            name=self.name, holder="", epoch=0, until=now, host="")
            .on_conflict_do_nothing(index_elements=["name"]))
        held: int | None = None
        if self.is_leader:
            held = session.execute(update(t).where(
                t.c.name == self.name, t.c.holder == self.holder, t.c.epoch == self.epoch)
                .values(until=until).returning(t.c.epoch)).scalar_one_or_none()
        if held is None and want:
            # An expired lease (or any, on SQLite) is taken; the epoch is the fencing token.
            cond = [t.c.name == self.name]
            if not self.sqlite:
                cond.append(t.c.until <= now)
            held = session.execute(update(t).where(*cond).values(
                holder=self.holder, epoch=t.c.epoch + 1, until=until, host=self.host)
                .returning(t.c.epoch)).scalar_one_or_none()
        role = ("follower" if held is None else "leader" if self.ready and self.is_leader
                else "starting")
        r = Replica.__table__  # type: ignore[attr-defined]
        session.execute(_insert(self.sqlite)(r).values(
            holder=self.holder, host=self.host, pid=os.getpid(), role=role, started_at=now,
            seen_at=now).on_conflict_do_update(
            index_elements=["holder"], set_={"role": role, "seen_at": now}))
        self.leader_ready = session.execute(select(r.c.holder).where(
            r.c.role == "leader", r.c.seen_at > now - timedelta(seconds=self.lease))
            .limit(1)).first() is not None
        return held is not None, int(held or 0)

    async def _elected(self, epoch: int, strict: bool = False) -> None:
        try:
            await self.on_elected(epoch)
        except asyncio.CancelledError:
            raise
        except Exception:
            if not strict:
                log.exception("leader: starting the leader's part failed; giving up the lead")
            await self._depose("the leader's part failed to start")
            await self._give_up()
            if strict:
                raise

    async def _depose(self, reason: str) -> None:
        if not self.is_leader:
            return
        self.is_leader = False
        # A deliberate stop is no news; losing the lead any other way is.
        (log.info if reason == "stopping" else log.warning)(
            "leader: this replica (%s) stops leading: %s", self.holder, reason)
        up, self._up = self._up, None
        if up is not None and not up.done() and up is not asyncio.current_task():
            up.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await up
        try:
            await self.on_deposed(reason)
        except Exception:
            log.exception("leader: stopping the leader's part failed")

    async def _give_up(self) -> None:
        holder, epoch = self.holder, self.epoch

        def work(session: Session) -> None:
            session.execute(update(LeaderLease).where(
                LeaderLease.holder == holder, LeaderLease.epoch == epoch)  # type: ignore[arg-type]
                .values(holder="", until=db_now(session, self.sqlite)))

        with contextlib.suppress(Exception):
            await self.db.tx(work)

    # ----- the clock --------------------------------------------------------------------
    async def _check_skew(self, *, at_start: bool) -> None:
        self._next_skew = time.monotonic() + self.skew_every
        store = self.db
        skew, err = await asyncio.get_running_loop().run_in_executor(
            None, measure_skew, store, self.wall)
        self.skew = skew
        bad = abs(skew) - err > self.max_skew
        if bad:
            msg = (f"this machine's clock is {abs(skew):.1f} s "
                   f"{'behind' if skew > 0 else 'ahead of'} the database's (allowed: "
                   f"{self.max_skew:g} s, WISBOT_MAX_CLOCK_SKEW); leases, page steps and "
                   "service hours would be wrong: synchronise the clock (NTP)")
            if at_start:
                raise ClockSkew(msg)
            if not self._skew_bad:
                log.critical("leader: %s; not leading until it is fixed", msg)
            self._skew_bad = True
            if self.is_leader:
                await self._depose("clock skew")
                await self._give_up()
        elif self._skew_bad:
            log.warning("leader: the clock is back within %g s of the database's",
                        self.max_skew)
            self._skew_bad = False

    # ----- for fencing ------------------------------------------------------------------
    def holds(self, session: Session) -> bool:
        """Whether this replica still holds the lease, checked in the caller's transaction
        (a job that starts after a deposed leader's lease ran out is refused)."""
        if not self.is_leader:
            return False
        now = db_now(session, self.sqlite)
        t = LeaderLease.__table__  # type: ignore[attr-defined]
        row = session.execute(select(t.c.until).where(
            t.c.name == self.name, t.c.holder == self.holder, t.c.epoch == self.epoch)
        ).scalar_one_or_none()
        return row is not None and (self.sqlite or _aware(row) > now)


async def wait_for_leader(store: Store, within: float, name: str = LEASE_NAME) -> LeaderLease:
    """Tests and tools: the lease once some replica holds it."""
    deadline = time.monotonic() + within
    while True:
        def read(session: Session) -> LeaderLease | None:
            return session.get(LeaderLease, name)

        row = await store.tx(read)
        if row is not None and row.holder:
            return row
        if time.monotonic() > deadline:
            raise TimeoutError("no replica took the lead")
        await asyncio.sleep(0.1)
