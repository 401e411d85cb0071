"""Direct chats with the bot, direct delivery (``send_direct``), the periodic integrity
check and the room-settings warning, on a real Synapse."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

from tests.matrix.conftest import Person, World

NAMED = "DE-OF-NC"
ANON = "a WIS centre in the area of GISC Offenbach"


async def until(what: str, check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def open_direct_chat(person: Person, bot: str) -> str:
    """What a client does for "start a chat with": a direct room, the bot invited."""
    from nio import RoomCreateResponse
    from nio.api import RoomPreset

    resp = await person.client.room_create(is_direct=True, invite=[bot],
                                           preset=RoomPreset.trusted_private_chat)
    assert isinstance(resp, RoomCreateResponse), resp
    room_id = str(resp.room_id)

    async def bot_joined() -> bool:
        members = await person.client.joined_members(room_id)
        return bot in {m.user_id for m in getattr(members, "members", [])}

    await until("the bot to join the direct chat", bot_joined)
    return room_id


async def open_closed_direct_chat(person: Person, bot: str) -> str:
    """A direct room the person makes closed (the bot alone may invite or change a
    setting, history from the invitation, no guests): one wisbot may answer privately in.
    Room version 10: from version 12 on, the maker of a room holds every power."""
    from nio import RoomCreateResponse
    from nio.api import RoomPreset

    levels: dict[str, object] = {"users_default": 0, "state_default": 100, "invite": 100,
                                 "kick": 100, "ban": 100, "redact": 100,
                                 "events_default": 0, "events": {}}
    resp = await person.client.room_create(
        is_direct=True, invite=[bot], preset=RoomPreset.private_chat, room_version="10",
        power_level_override=dict(levels, users={bot: 100, person.user_id: 100}),
        initial_state=[{"type": "m.room.history_visibility", "state_key": "",
                        "content": {"history_visibility": "invited"}},
                       {"type": "m.room.guest_access", "state_key": "",
                        "content": {"guest_access": "forbidden"}}])
    assert isinstance(resp, RoomCreateResponse), resp
    room_id = str(resp.room_id)

    async def bot_joined() -> bool:
        members = await person.client.joined_members(room_id)
        return bot in {m.user_id for m in getattr(members, "members", [])}

    await until("the bot to join the direct chat", bot_joined)
    # the maker gives up its own power: only the bot may let anyone in or change a setting
    put = await person.client.room_put_state(room_id, "m.room.power_levels",
                                             dict(levels, users={bot: 100}))
    assert getattr(put, "event_id", None), put
    return room_id


def replies_to(person: Person, room_id: str, bot: str, event_id: str) -> list[str]:
    return [n["body"] for n in person.notices(room_id, bot)
            if n.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == event_id]


async def test_a_direct_chat_answers_with_the_persons_own_view(world: World) -> None:
    p, r, bot = world.people, world.rooms, world.bot
    await world.app()
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=group "
                        "anonymous Direct view")
    text = await p["anna"].wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t)
    number = re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]
    sec = p["sec"]
    dm = await open_closed_direct_chat(sec, bot)
    asked = await sec.say(dm, f"!incident show {number}")
    await sec.wait_for(dm, bot, lambda _: bool(replies_to(sec, dm, bot, asked)))
    (answer,) = replies_to(sec, dm, bot, asked)
    assert NAMED in answer, "the Secretariat reads the named incident in its direct chat"
    # the same question in the collaboration room gets only what that room may read
    there = await sec.say(r["collaboration"], f"!incident show {number}")
    await sec.wait_for(r["collaboration"], bot,
                       lambda _: bool(replies_to(sec, r["collaboration"], bot, there)))
    (shared,) = replies_to(sec, r["collaboration"], bot, there)
    assert ANON in shared and NAMED not in shared
    # nobody else was told anything about the direct question
    await p["tk"].sync()
    assert not [b for b in p["tk"].read(r["collaboration"], bot).split("\n\n")
                if NAMED in b]


async def test_alerts_go_to_the_secretariat_directly_when_its_room_is_held(
        world: World) -> None:
    """A stranger in the Secretariat room: the alerts cannot go there, so wisbot opens a
    direct chat with the Secretariat desk (``send_direct``) and reuses it."""
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app()
    sec, stranger = p["sec"], world.regs["stranger"].user_id
    await world.invite_stranger("secretariat")
    await until("the Secretariat room to be held",
                lambda: asyncio.sleep(0, "secretariat" in app.holds))

    def direct_rooms() -> list[str]:
        return [room for room in sec.events if room not in r.values()]

    async def alert_in_direct_chat() -> bool:
        await sec.sync()  # joins the bot's invitation, then reads
        return any("secretariat is on hold" in sec.read(d, bot) for d in direct_rooms())

    await until("the held-room alert in a direct chat", alert_in_direct_chat)
    (dm,) = direct_rooms()
    assert stranger.replace("@", "@\u2060") in sec.read(dm, bot)
    assert "on hold" not in sec.read(r["secretariat"], bot), "the stranger read the alert"
    # a second alert while the Secretariat room is still held: the same direct chat
    await world.invite_stranger("gisc-offenbach")

    async def second_alert() -> bool:
        await sec.sync()
        return "gisc-offenbach is on hold" in sec.read(dm, bot)

    await until("the second alert in the same direct chat", second_alert)
    assert direct_rooms() == [dm]
    members = await sec.client.joined_members(dm)
    assert {m.user_id for m in members.members} == {sec.user_id, bot}


async def test_periodic_check_holds_a_closed_room_opened_up_and_reports_it_once(
        world: World) -> None:
    """A join rule or history change is no membership change: the periodic check finds it,
    holds the room and tells the Secretariat once per room."""
    from nio import AsyncClient

    p, r, bot = world.people, world.rooms, world.bot
    adapter = world.adapter(integrity_interval=0.5)
    app = await world.app(adapters=[adapter])
    assert not app.holds
    # someone with the room's admin rights (here the bot account on another device)
    reg = world.regs["bot"]
    admin = AsyncClient(world.server.url, reg.user_id)
    admin.restore_login(reg.user_id, reg.device_id, reg.access_token)
    try:
        await admin.room_put_state(r["gisc-offenbach"], "m.room.join_rules",
                                   {"join_rule": "public"})
        await admin.room_put_state(r["gisc-tokyo"], "m.room.history_visibility",
                                   {"history_visibility": "world_readable"})
    finally:
        await admin.close()
    sec = p["sec"]
    text = await sec.wait_for(r["secretariat"], bot, lambda t: "gisc-offenbach is on hold"
                              in t and "gisc-tokyo is on hold" in t)
    assert "join rule 'public'" in text
    assert "'world_readable'" in text
    assert {"gisc-offenbach", "gisc-tokyo"} <= set(app.holds)
    # a few more periodic checks later: still one warning per room
    await asyncio.sleep(2.0)
    await sec.sync()
    bodies = [n["body"] for n in sec.notices(r["secretariat"], bot)]
    assert sum("gisc-offenbach is on hold" in b for b in bodies) == 1
    assert sum("gisc-tokyo is on hold" in b for b in bodies) == 1
