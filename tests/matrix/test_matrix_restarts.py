"""Restarts: the bot, the homeserver; commands sent while the bot was down."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from tests.matrix.conftest import World
from wisbot.clock import utcnow
from wisbot.reply import Reply
from wisbot.store.tables import OutboxRow

ROOMS = ("secretariat", "member-de", "gisc-offenbach", "gisc-tokyo", "gisc-exeter",
         "area-offenbach", "collaboration")
READER = {"secretariat": "sec", "member-de": "anna", "gisc-offenbach": "of",
          "gisc-tokyo": "tk", "gisc-exeter": "ex", "area-offenbach": "of",
          "collaboration": "ex"}


async def _copies(world: World, number: str) -> dict[str, int]:
    out = {}
    for room in ROOMS:
        person = world.people[READER[room]]
        await person.sync()
        out[room] = sum(1 for n in person.notices(world.rooms[room], world.bot)
                        if re.search(rf"{number}(?!\d)", n["body"])
                        and "m.relates_to" not in n)  # not the reply to the command
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
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app(run_worker=False)
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=group sev=2 Restart")
    text = await p["anna"].wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t)
    number = re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]
    rows = await app.store.tx(lambda s: list(s.exec(
        select(OutboxRow).where(OutboxRow.status == "pending").order_by(OutboxRow.id))))
    assert len(rows) == len(ROOMS)
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
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app()
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=group sev=2 Outage")
    text = await p["anna"].wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t)
    number = re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]
    world.server.stop()
    # a second change while the homeserver is down: only the outbox holds it
    await app.dispatch(_inv(world, "sec", "secretariat", f"severity {number} 4 Spreading"))
    world.server.start()
    await world.delivered(app, within=60)
    copies = await _copies(world, number)
    # every room read the report once and the severity change once
    for room in ROOMS:
        person = p[READER[room]]
        bodies = [n["body"] for n in person.notices(r[room], bot) if number in n["body"]]
        sev = [b for b in bodies if "severity 4" in b]
        assert len(sev) == 1, (room, bodies)
    assert copies == dict.fromkeys(ROOMS, 2), copies  # the report and the change, once each
    failed = await app.store.tx(lambda s: list(s.exec(
        select(OutboxRow).where(OutboxRow.attempts > 1))))
    assert failed, "nothing was retried: the outage did not happen during delivery"


def _inv(world: World, who: str, room: str, text: str):  # type: ignore[no-untyped-def]
    from wisbot.adapters.base import Invocation, RoomRef, UserRef

    return Invocation(platform="matrix", sender=UserRef("matrix", world.regs[who].user_id),
                      text=text, room=RoomRef("matrix", world.rooms[room], room),
                      received_at=utcnow())
