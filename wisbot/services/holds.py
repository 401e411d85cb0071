"""Room holds, stored in the database (``room_hold``) so a restart or a second process sees
them, with a short in-process cache for the outbox's ``is_held``.

Fail closed: a closed room whose platform's membership check has not passed *in this
process* counts as held (``unchecked``) until it passes; so does a room with a stored hold
(a stranger, weak settings, an API error while checking, no access). Only a passing check
releases a room.

The registry is also a ``MutableSet`` of held room keys (``key in holds``, ``holds.add``),
the shape the code before it used; ``add``/``discard`` write the database synchronously and
are meant for tests and the command line, the adapters use the async methods.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator, MutableSet
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Directory, Room
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder
from wisbot.store.engine import Store
from wisbot.store.ops_tables import RoomHold

log = logging.getLogger(__name__)

UNCHECKED = "unchecked"
API_ERROR = "api-error"
CLEAR = "clear"
"""A stored passing check: the row stays so that another process (a follower that runs
no checks of its own) knows the room was checked, not merely never held."""
WEAK_REASONS = frozenset({UNCHECKED, API_ERROR})
"""Reasons that say only "not known to be clean": a real finding is never replaced by one."""


@dataclass(frozen=True)
class Hold:
    room_key: str
    reason: str
    detail: str


class HoldRegistry(MutableSet[str]):
    """See the module docstring. ``ttl``: how old the cached view of other processes'
    holds may get before :meth:`refresh` (run by :meth:`start`'s loop) reads it again."""

    def __init__(self, store: Store, directory: Directory, clock: Clock, *,
                 ttl: float = 1.0) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.ttl = ttl
        self._rows: dict[str, Hold] = {}
        self._cleared: set[str] = set()
        self._guarded: set[str] = set()
        self._unchecked: set[str] = set()
        self._gen = 0
        self._lock = asyncio.Lock()
        """One write at a time in this process: two checks of one room (the sync and the
        periodic loop) see each other's hold, so a finding is reported once."""
        self._task: asyncio.Task[None] | None = None
        self.refreshed_at = float("-inf")

    # ----- what the outbox and the dispatcher ask ----------------------------------------
    def is_held(self, room_key: str) -> bool:
        return (room_key in self._unchecked or room_key in self._rows
                or (room_key in self._guarded and room_key not in self._cleared))

    def guard(self, platforms: Iterable[str]) -> None:
        """The closed rooms of ``platforms`` (whose adapters check membership) count as
        held until a stored check has passed, in any process: a follower that checks
        nothing itself never delivers to a room no leader has checked."""
        self._guarded = {k for p in platforms for k in self.closed_rooms(p)}

    def hold_of(self, room_key: str) -> Hold | None:
        if room_key in self._rows:
            return self._rows[room_key]
        if room_key in self._unchecked or (room_key in self._guarded
                                           and room_key not in self._cleared):
            return Hold(room_key, UNCHECKED, "")
        return None

    def __contains__(self, room_key: object) -> bool:
        return isinstance(room_key, str) and self.is_held(room_key)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._held()))

    def __len__(self) -> int:
        return len(self._held())

    def _held(self) -> set[str]:
        return self._unchecked | set(self._rows) | (self._guarded - self._cleared)

    def __repr__(self) -> str:
        return f"HoldRegistry({sorted(self)!r})"

    def _from_iterable(self, it: Iterable[str]) -> set[str]:  # type: ignore[override]
        return set(it)

    # ----- the cache --------------------------------------------------------------------
    async def refresh(self) -> None:
        """Read every stored hold (other processes' too). A write of this process that
        lands while the read runs makes it read again, so it never undoes that write."""
        for _ in range(5):
            gen = self._gen
            rows = await self.store.tx(_load)
            if gen == self._gen:
                break
        self._rows, self._cleared = rows
        self.refreshed_at = time.monotonic()

    def _apply(self, rows: dict[str, Hold | None]) -> None:
        """This process's own writes, key by key (concurrent writes to other rooms and
        the refresh loop must not overwrite each other)."""
        for key, hold in rows.items():
            if hold is None:
                self._rows.pop(key, None)
                self._cleared.add(key)
            else:
                self._rows[key] = hold
                self._cleared.discard(key)
        self._gen += 1

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="wisbot-holds")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.ttl)
            try:
                await self.refresh()
            except Exception:
                log.exception("holds: reading room_hold failed; keeping the last view")

    # ----- what the room checks write ----------------------------------------------------
    def closed_rooms(self, platform: str) -> list[str]:
        return [r.key for r in self.directory.rooms if r.platform == platform and r.closed]

    async def begin_checks(self, room_keys: Iterable[str]) -> None:
        """These rooms count as held until their check passes (start, reconnect, doubt);
        a room without a stored hold gets an ``unchecked`` row, so other processes and
        ``wisbot status`` see it too."""
        keys = set(room_keys)
        if not keys:
            return
        self._unchecked |= keys
        now = self.clock()
        async with self._lock:
            self._apply(await self.store.tx(lambda s: _mark(s, keys, UNCHECKED, "", now,
                                                            keep=True)))

    async def hold(self, room_key: str, reason: str, detail: str = "") -> Hold | None:
        """Store a hold; returns the hold it replaces (None when the room was not held
        for a reason of its own, i.e. it is new news). ``api-error`` never replaces a real
        finding (a stranger stays a stranger while the API fails)."""
        now = self.clock()
        keep = reason in WEAK_REASONS
        async with self._lock:
            before = self._rows.get(room_key)
            self._apply(await self.store.tx(lambda s: _mark(s, {room_key}, reason, detail,
                                                            now, keep=keep)))
            self._unchecked.discard(room_key)
        return before

    async def passed(self, room_key: str) -> Hold | None:
        """The room's check passed: release it; returns the hold it had (if stored)."""
        async with self._lock:
            before = self._rows.get(room_key)
            self._unchecked.discard(room_key)
            now = self.clock()
            self._apply(await self.store.tx(lambda s: _release(s, {room_key}, now)))
        return before

    # ----- MutableSet (tests, command line) ----------------------------------------------
    def add(self, room_key: str) -> None:
        now = self.clock()
        self._apply(self.store.run(lambda s: _mark(s, {room_key}, "manual", "", now,
                                                   keep=False)))

    def discard(self, room_key: str) -> None:
        self._unchecked.discard(room_key)
        now = self.clock()
        self._apply(self.store.run(lambda s: _release(s, {room_key}, now)))

    def update(self, room_keys: Iterable[str]) -> None:
        for key in room_keys:
            self.add(key)

    def difference_update(self, room_keys: Iterable[str]) -> None:
        for key in room_keys:
            self.discard(key)


def _load(session: Session) -> tuple[dict[str, Hold], set[str]]:
    """The holds, and the rooms whose last stored check passed."""
    holds: dict[str, Hold] = {}
    cleared: set[str] = set()
    for r in session.exec(select(RoomHold)):
        if r.reason == CLEAR:
            cleared.add(r.room_key)
        else:
            holds[r.room_key] = Hold(r.room_key, r.reason, r.detail)
    return holds, cleared


def _mark(session: Session, keys: set[str], reason: str, detail: str, now: datetime, *,
          keep: bool) -> dict[str, Hold | None]:
    """Upsert holds; ``keep``: leave a real finding as it is (only a weak reason is
    replaced). Returns the stored hold of each key."""
    out: dict[str, Hold | None] = {}
    # another process may write the same room at once: insert-or-nothing, then lock it
    ins = (pg_insert if session.get_bind().dialect.name == "postgresql"
           else sqlite_insert)(RoomHold)
    created = set(session.execute(
        ins.values([{"room_key": k, "reason": reason, "detail": detail, "since": now,
                     "checked_at": now} for k in sorted(keys)])
        .on_conflict_do_nothing(index_elements=["room_key"])
        .returning(col(RoomHold.room_key))).scalars().all())
    for key in sorted(keys):
        row = session.exec(select(RoomHold).where(RoomHold.room_key == key)
                           .with_for_update()).one()
        if key in created:
            pass
        elif not keep or row.reason in WEAK_REASONS or row.reason == CLEAR:
            if (row.reason, row.detail) != (reason, detail):
                row.reason, row.detail, row.since = reason, detail, now
            row.checked_at = now
        session.add(row)
        out[key] = Hold(key, row.reason, row.detail)
    return out


def _release(session: Session, keys: set[str], now: datetime) -> dict[str, Hold | None]:
    """Store a passing check (``clear``): the room is released."""
    ins = (pg_insert if session.get_bind().dialect.name == "postgresql"
           else sqlite_insert)(RoomHold)
    session.execute(
        ins.values([{"room_key": k, "reason": CLEAR, "detail": "", "since": now,
                     "checked_at": now} for k in sorted(keys)])
        .on_conflict_do_update(index_elements=["room_key"],
                               set_={"reason": CLEAR, "detail": "", "checked_at": now}))
    return dict.fromkeys(keys)


def held_reply(room: Room | None = None) -> Reply:
    """The answer to a command typed in a held room (in its language): it reveals nothing
    about why."""
    with i18n.use(room.language if room is not None else None):
        b = ReplyBuilder(_t("Room on hold"), kind="error")
        b.line(_t("This room is on hold: wisbot answers no command and posts nothing "
                 "protected here until a check of its members and settings passes. Nothing "
                 "is lost; the WMO Secretariat sees which rooms are on hold."))
        return b.build(private=True)
