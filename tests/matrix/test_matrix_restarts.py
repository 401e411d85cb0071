"""Restarts: the bot, the homeserver; commands sent while the bot was down."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from tests.matrix.conftest import World
from wisbot.clock import utcnow
from wisbot.reply import Reply
from wisbot.store.tables import OutboxRow

ROOMS = ("secretariat", "member-de", "gisc-offenbach", "gisc-tokyo", "gisc-exeter",
         "area-offenbach", "collaboration")
READER = {"secretariat": "sec", "member-de": "anna", "gisc-offenbach": "of",
          "gisc-tokyo": "tk", "gisc-exeter": "ex", "area-offenbach": "of",
          "collaboration": "ex"}


@pytest.fixture
def world(world_db: World) -> World:
    """These tests run on SQLite and on PostgreSQL (see ``world_db``)."""
    return world_db


async def _copies(world: World, number: str) -> dict[str, int]:
    out = {}
    for room in ROOMS:
        person = world.people[READER[room]]
        await person.sync()
        out[room] = sum(1 for n in person.notices(world.rooms[room], world.bot)
                        # the reporter's room reads the cascade post as the threaded
                        # answer to the command: once, not beside a second copy
                        if re.search(rf"{number}(?!\d)", n["body"]))
    return out


async def test_command_sent_while_the_bot_was_down_is_answered_once_and_late(
        world: World) -> None:
    p, r, bot = world.people, world.rooms, world.bot
    # Before the bot's first-ever start: history, never replayed.
    await p["sec"].say(r["secretariat"], "!severity")
    app = await world.app()
    handled = await p["sec"].say(r["secretariat"], "!incident list")
    await p["sec"].wait_for(r["secretariat"], bot, lambda t: t != "")
    await world.stop(app)
    down = await p["sec"].say(r["secretariat"], "!severity")
    # The restarted bot's clock is 10 minutes on: the command arrived late.
    app = await world.app(clock=lambda: utcnow() + timedelta(minutes=10))
    text = await p["sec"].wait_for(r["secretariat"], bot, lambda t: "min late" in t)
    replies = {}
    for n in p["sec"].notices(r["secretariat"], bot):
        to = n.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
        replies.setdefault(to, []).append(n["body"])
    assert len(replies.get(down, [])) == 1, replies
    assert "min late" in replies[down][0]
    assert len(replies.get(handled, [])) == 1, "a handled command was answered again"
    assert len(replies) == 2, "the command sent before the first start was replayed"
    assert text


async def test_restart_of_the_bot_mid_cascade_delivers_every_message_once(
        world: World) -> None:
    p, r = world.people, world.rooms
    app = await world.app(run_worker=False)
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=group sev=2 Restart")

    async def cascade() -> list[OutboxRow]:
        # the cascade's rows (the answer to the command is an outbox row of its own)
        return await app.store.tx(lambda s: list(s.exec(
            select(OutboxRow).where(OutboxRow.status == "pending",
                                    col(OutboxRow.notification_id).is_not(None))
            .order_by(OutboxRow.id))))

    await until("the cascade to be queued",
                lambda: cascade_len(cascade, len(ROOMS)))
    rows = await cascade()
    (number,) = {re.findall(r"WIS-SEC-\d{4}-\d+", str(row.payload))[0] for row in rows}
    # The crash: the first three rooms were sent, but not yet marked delivered.
    adapter = app.adapters["matrix"]
    for row in rows[:3]:
        room = world.directory.room(row.room_key)
        from wisbot.adapters.base import RoomRef
        await adapter.send(RoomRef("matrix", room.target, room.key),
                           Reply.model_validate(row.payload), key=row.key)
    await world.stop(app)
    app = await world.app()  # a new login, the same device: resends are deduplicated
    await world.delivered(app)
    assert await _copies(world, number) == dict.fromkeys(ROOMS, 1)


async def test_restart_of_synapse_mid_cascade_loses_and_duplicates_nothing(
        world: World) -> None:
    """The homeserver is down longer than the old give-up window (8 attempts with the
    test's 0.2-2 s backoff: about 9 s): an outage is a wait, not attempts, so every room
    reads each message once after the restart, from its member's own sync."""
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app()
    # Mid-cascade, deterministically: three rooms get the report before the outage, the
    # other four are held back (as a room-integrity hold would) until Synapse is down.
    later = {"gisc-tokyo", "gisc-exeter", "area-offenbach", "collaboration"}
    app.holds.update(later)
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=group sev=2 Outage")
    text = await p["anna"].wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t)
    number = re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]

    def rooms_where(*conditions: Any) -> Callable[[], Awaitable[set[str]]]:
        async def query() -> set[str]:
            rows = await app.store.tx(lambda s: list(s.exec(select(OutboxRow)
                                                            .where(*conditions))))
            return {row.room_key for row in rows}
        return query

    delivered_rooms = rooms_where(OutboxRow.status == "delivered")
    await until("the first three rooms to get the report",
                lambda: _eq(delivered_rooms, set(ROOMS) - later))
    adapter = app.adapters["matrix"]
    assert adapter.connected
    await asyncio.to_thread(world.server.stop)
    # a second change while the homeserver is down: only the outbox holds it
    await app.dispatch(_inv(world, "sec", "secretariat", f"severity {number} 4 Spreading"))
    app.holds.difference_update(later)
    app.outbox.wake()
    failed_rooms = rooms_where(OutboxRow.status == "pending", OutboxRow.failures > 0)
    # Rooms the adapter holds while it cannot check them (fail closed) are not even tried;
    # the rooms released above are, and keep failing without losing anything.
    await until("the released rooms' deliveries to fail against the stopped homeserver",
                lambda: _has(failed_rooms, later), within=60)
    await until("the adapter to report the homeserver unreachable",
                lambda: asyncio.sleep(0, not adapter.connected), within=60)
    down_since = time.monotonic()
    twice = rooms_where(OutboxRow.status == "pending", OutboxRow.failures >= 2)
    await until("the released rooms to fail again", lambda: _has(twice, later), within=60)
    # Then the adapter holds every room it cannot check (fail closed): the outage goes on
    # well past the old give-up window with nothing tried, nothing dropped.
    await asyncio.sleep(max(0.0, 12 - (time.monotonic() - down_since)))
    assert not await rooms_where(OutboxRow.status == "dead")()
    counted = rooms_where(OutboxRow.attempts > 0, OutboxRow.status == "pending")
    assert not await counted(), "an outage consumed attempts"
    await asyncio.to_thread(world.server.start)  # the event loop (and wisbot) keep running
    await world.delivered(app, within=120)
    copies = await _copies(world, number)
    # every room read the report once and the severity change once
    for room in ROOMS:
        person = p[READER[room]]
        bodies = [n["body"] for n in person.notices(r[room], bot) if number in n["body"]]
        sev = [b for b in bodies if "severity 4" in b]
        assert len(sev) == 1, (room, bodies)
    assert copies == dict.fromkeys(ROOMS, 2), copies  # the report and the change, once each
    dead = await rooms_where(OutboxRow.status == "dead")()
    assert not dead
    await until("the adapter to sync again", lambda: asyncio.sleep(0, adapter.connected),
                within=60)


async def cascade_len(query: Callable[[], Awaitable[list[OutboxRow]]], n: int) -> bool:
    return len(await query()) >= n


async def until(what: str, check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Wait for a condition, bounded generously (a busy machine is slow, not wrong)."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)


async def _eq(query: Callable[[], Awaitable[set[str]]], expected: set[str]) -> bool:
    return await query() == expected


async def _has(query: Callable[[], Awaitable[set[str]]], expected: set[str]) -> bool:
    return expected <= await query()


def _inv(world: World, who: str, room: str, text: str):  # type: ignore[no-untyped-def]
    from wisbot.adapters.base import Invocation, RoomRef, UserRef

    return Invocation(platform="matrix", sender=UserRef("matrix", world.regs[who].user_id),
                      text=text, room=RoomRef("matrix", world.rooms[room], room),
                      received_at=utcnow())


async def test_commands_among_more_than_a_syncs_worth_of_chatter_are_each_answered_once(
        world: World) -> None:
    """130 messages while the bot is down, more than one sync carries (100): the bot
    pages back and answers each of the three commands once, in the order they were sent."""
    p, r, bot = world.people, world.rooms, world.bot
    sec, room = p["sec"], r["secretariat"]
    app = await world.app()
    await sec.say(room, "!severity")
    await sec.wait_for(room, bot, lambda t: t != "")
    await world.stop(app)
    commands: list[str] = []
    for i in range(130):
        if i in (3, 64, 127):  # the first is only reachable by paging back
            commands.append(await sec.say(room, "!severity"))
        else:
            await sec.say(room, f"chatter {i} while the bot is away")
    app = await world.app()
    adapter = app.adapters["matrix"]

    def replies() -> list[str]:
        return [n.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
                for n in sec.notices(room, bot)]

    await sec.wait_for(room, bot, lambda _: set(commands) <= set(replies()), within=60)
    # one more full round of the bot's sync loop: a late duplicate would show now
    seen = adapter.sync_count
    await sec.say(room, "!severity")
    await sec.wait_for(room, bot, lambda _: adapter.sync_count > seen
                       and len(replies()) == 1 + 3 + 1, within=60)
    answered = [e for e in replies() if e in commands]
    assert answered == commands, "each command once, in the order sent"
    # the 30 messages one sync did not carry, not the room's older history
    assert 30 <= adapter.backfilled < 40, adapter.backfilled
