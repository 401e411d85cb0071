"""Red-team findings on a real Synapse. Each person's view is read from their own client.
Forbidden words are written here by hand. Each was xfail(strict) while its finding stood."""

from __future__ import annotations

import re

from tests.matrix.conftest import World
from tests.matrix.test_matrix_direct import open_direct_chat, replies_to, until


async def test_a_third_person_invited_later_to_a_person_made_direct_chat_reads_nothing(
        world: World) -> None:
    p, r, bot = world.people, world.rooms, world.bot
    await world.app()
    anna, sec, stranger = p["anna"], p["sec"], p["stranger"]
    await anna.say(r["member-de"], "!incident report DE-OF-NC share=secretariat sev=2 "
                   "Ransomware on the EDZW relay, Anna Weber isolated it")
    text = await anna.wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t)
    number = re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]
    # The Secretariat starts a chat with wisbot as a client does ("start a chat with").
    dm = await open_direct_chat(sec, bot)

    async def closed_history() -> bool:
        # wisbot makes what is said from now on unreadable to anyone let in later (what
        # the person typed before that, in a room they made, is theirs)
        got = await sec.client.room_get_state_event(dm, "m.room.history_visibility")
        return getattr(got, "content", {}).get("history_visibility") == "joined"

    await until("wisbot to close the chat's history", closed_history)
    asked = await sec.say(dm, f"!incident show {number}")
    await sec.wait_for(dm, bot, lambda _: bool(replies_to(sec, dm, bot, asked)))
    (pointer,) = replies_to(sec, dm, bot, asked)
    assert "EDZW" not in pointer  # a chat the person made is no closed direct chat

    async def answered() -> bool:  # the Secretariat's own, named view: in wisbot's DM
        await sec.join_invites()
        await sec.sync()
        return any("EDZW" in sec.read(room, bot) for room in sec.events if room != dm)

    await until("the answer in the direct chat wisbot opened", answered)
    # Later the Secretariat adds someone to that chat (a colleague outside the directory).
    await sec.client.room_invite(dm, stranger.user_id)
    await stranger.join_invites()

    async def joined() -> bool:
        await stranger.sync()
        members = await stranger.client.joined_members(dm)
        return stranger.user_id in {m.user_id for m in getattr(members, "members", [])}

    await until("the third person to be in the chat", joined)
    await stranger.sync()
    seen = stranger.read(dm, bot)
    resp = await stranger.client.room_messages(dm, start=stranger.since or "", limit=100)
    for ev in getattr(resp, "chunk", []):
        body = getattr(ev, "body", "") or ""
        seen += "\n" + body
    for word in ("EDZW", "DE-OF-NC", "Germany", "Ransomware", "Anna Weber", number):
        assert word not in seen, f"the third person read {word!r}:\n{seen}"


async def test_a_world_readable_direct_chat_gets_no_private_answer(world: World) -> None:
    from nio import RoomCreateResponse
    from nio.api import RoomPreset

    p, r, bot = world.people, world.rooms, world.bot
    await world.app()
    anna, sec, stranger = p["anna"], p["sec"], p["stranger"]
    await anna.say(r["member-de"], "!incident report DE-OF-NC share=secretariat sev=2 "
                   "Ransomware on the EDZW relay")
    text = await anna.wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t)
    number = re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]
    resp = await sec.client.room_create(
        is_direct=True, invite=[bot], preset=RoomPreset.private_chat,
        initial_state=[{"type": "m.room.history_visibility", "state_key": "",
                        "content": {"history_visibility": "world_readable"}}])
    assert isinstance(resp, RoomCreateResponse), resp
    dm = str(resp.room_id)

    async def bot_joined() -> bool:
        members = await sec.client.joined_members(dm)
        return bot in {m.user_id for m in getattr(members, "members", [])}

    await until("the bot to join", bot_joined)
    asked = await sec.say(dm, f"!incident show {number}")
    try:
        await sec.wait_for(dm, bot, lambda _: bool(replies_to(sec, dm, bot, asked)),
                           within=15)
    except AssertionError:
        pass  # refusing to answer there would be right
    # The stranger never joins: they read the room as anyone on the server may.
    peek = await stranger.client.room_messages(dm, start="", limit=100)
    seen = "\n".join(getattr(ev, "body", "") or "" for ev in getattr(peek, "chunk", []))
    assert "EDZW" not in seen and "DE-OF-NC" not in seen, seen
