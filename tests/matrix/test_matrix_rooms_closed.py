"""Closed rooms on a real Synapse: holds that survive a restart, direct chats of exactly
two people, history only from one's own join, invitations from strangers, weakened rooms
and ``provision --tighten``. Every person's view is read from their own /sync."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from tests.matrix.conftest import Person, World
from tests.matrix.test_matrix_direct import open_direct_chat
from wisbot.store.tables import OutboxRow

# Written by hand: what the summary says, and who and where it is about.
SUMMARY = "Ransomware on the DWD mail relay in Offenbach"
FORBIDDEN = ("Ransomware", "mail relay", "DWD", "DE-OF-NC", "Offenbach", "Germany",
             "WIS-SEC-")


async def until(what: str, check: Callable[[], Awaitable[bool]], within: float = 40.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def leaked(person: Person, bot: str, room_id: str | None = None) -> list[str]:
    """Forbidden words in the bot's messages ``person``'s own sync showed them (in
    ``room_id``, or in any room; room names and topics are not messages)."""
    text = str([e.get("content") for room, events in person.events.items()
                if room_id in (None, room) for e in events
                if e.get("type") == "m.room.message" and e.get("sender") == bot])
    return [w for w in FORBIDDEN if w in text]


async def joined(person: Person, room_id: str) -> None:
    async def done() -> bool:
        await person.sync()
        return room_id in person.client.rooms
    await until(f"{person.user_id} to join {room_id}", done)


@pytest.fixture
def world(world_db: World) -> World:
    """On SQLite and on PostgreSQL (see ``world_db``): holds are stored."""
    return world_db


async def test_a_restart_with_a_stranger_present_delivers_nothing_and_answers_nothing(
        world: World) -> None:
    """The hold written by the first process holds the room in the second from its first
    instant; the start-up check finds the stranger still there."""
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app()
    await world.invite_stranger("gisc-offenbach")
    await joined(p["stranger"], r["gisc-offenbach"])
    await until("the room to be held", lambda: asyncio.sleep(0, "gisc-offenbach" in app.holds))
    await world.stop(app)
    # while wisbot is down: a report for GISC Offenbach, a question in the held room
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=principal-gisc "
                        f"{SUMMARY}")
    asked = await p["of"].say(r["gisc-offenbach"], "!incident list")
    again = await world.app()  # a second process on the same database
    text = await p["anna"].wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t)
    number = re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]
    await p["sec"].wait_for(r["secretariat"], bot, lambda t: number in t)
    answer = await p["of"].wait_for(
        r["gisc-offenbach"], bot, lambda _: any(
            n.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == asked
            for n in p["of"].notices(r["gisc-offenbach"], bot)))
    assert "on hold" in answer
    assert "gisc-offenbach" in again.holds
    rows = await again.store.tx(lambda s: list(s.exec(select(OutboxRow).where(
        OutboxRow.room_key == "gisc-offenbach"))))
    assert rows and all(row.status == "pending" and row.attempts == 0 for row in rows)
    await p["stranger"].sync()
    assert leaked(p["stranger"], bot) == []


async def test_a_third_person_in_a_direct_chat_reads_nothing_of_the_contacts_view(
        world: World) -> None:
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app()
    adapter = app.adapters["matrix"]
    await p["anna"].say(r["member-de"], f"!incident report DE-OF-NC share=secretariat {SUMMARY}")
    text = await p["anna"].wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t)
    number = re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]
    sec, third = p["sec"], p["of"]
    dm = await open_direct_chat(sec, bot)
    await until("the direct chat to count", lambda: asyncio.sleep(
        0, adapter.checked_direct_room(sec.user_id) == dm))
    # the Secretariat (who made the room, with the power to invite) lets a GISC desk in
    resp = await sec.client.room_invite(dm, third.user_id)
    assert getattr(resp, "status_code", None) is None, resp
    await joined(third, dm)
    alert = await sec.wait_for(r["secretariat"], bot, lambda t: "Direct chat closed" in t)
    assert third.user_id.replace("@", "@\u2060") in alert
    assert adapter.checked_direct_room(sec.user_id) != dm
    # asked in the room that is no direct chat any more: no answer there
    await sec.say(dm, f"!incident show {number}")
    # the person is told in a new, checked direct chat
    async def told() -> bool:
        await sec.sync()
        return any("Direct chat closed" in sec.read(room, bot)
                   for room in sec.events if room not in (dm, *r.values()))
    await until("the person to be told in a new direct chat", told)
    new = adapter.checked_direct_room(sec.user_id)
    assert new is not None and new != dm
    members = await sec.client.joined_members(new)
    assert {m.user_id for m in members.members} == {sec.user_id, bot}
    # the direct room wisbot made gives the person no power to let anyone in
    resp = await sec.client.room_invite(new, third.user_id)
    assert getattr(resp, "status_code", None) == "M_FORBIDDEN", resp
    await asyncio.sleep(2)  # a sync round for a late answer to show
    await third.sync()
    assert leaked(third, bot, dm) == [], "the third person read the contact's view"
    assert not [n for room in third.events for n in third.notices(room, bot)
                if number in n["body"]]
    assert not [n for n in third.notices(dm, bot) if number in n["body"]]


async def test_a_late_joiner_reads_nothing_from_before_their_join(world: World) -> None:
    """History in a provisioned room is visible from a member's own join ('joined'):
    someone let in later (here, by the bot's account) reads no earlier post, from their
    sync or by paging back with /messages."""
    from nio import MessageDirection, RoomMessagesResponse

    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app()
    await p["anna"].say(r["member-de"], f"!incident report DE-OF-NC share=group {SUMMARY}")
    text = await p["anna"].wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t)
    number = re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]
    await p["ex"].wait_for(r["collaboration"], bot, lambda t: number in t)
    await world.stop(app)  # the stranger's presence is what is tested, not the hold
    late = p["stranger"]
    await world.invite_stranger("collaboration")
    await joined(late, r["collaboration"])
    resp = await late.client.room_messages(r["collaboration"], start=late.since or "",
                                           direction=MessageDirection.back, limit=200)
    assert isinstance(resp, RoomMessagesResponse), resp
    history = str([e.source for e in resp.chunk])
    assert "m.room.member" in history  # the page is real: it shows the join itself
    assert [w for w in FORBIDDEN if w in history] == []
    assert leaked(late, bot) == []


async def test_invitations_from_a_stranger_alert_once_across_restarts(world: World) -> None:
    from nio import RoomCreateResponse

    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app()
    stranger = p["stranger"]

    async def lure() -> str:
        resp = await stranger.client.room_create(name="lure", invite=[bot])
        assert isinstance(resp, RoomCreateResponse), resp
        room_id = str(resp.room_id)

        async def refused() -> bool:
            state = await stranger.client.room_get_state_event(room_id, "m.room.member", bot)
            return getattr(state, "content", {}).get("membership") == "leave"
        await until("the bot to refuse the invitation", refused)
        return room_id

    first = await lure()
    await p["sec"].wait_for(r["secretariat"], bot, lambda t: "invitation refused" in t)
    for _ in range(3):
        await lure()
    await world.stop(app)
    await world.app()
    await lure()
    await asyncio.sleep(2)
    await p["sec"].sync()
    alerts = [n["body"] for n in p["sec"].notices(r["secretariat"], bot)
              if "invitation refused" in n["body"]]
    assert len(alerts) == 1 and first in alerts[0], alerts


async def test_a_weakened_room_is_held_and_tighten_closes_it_again(world: World) -> None:
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app(adapters=[world.adapter(integrity_interval=0.5)])
    admin = await world.as_bot()
    try:
        state = await admin.room_get_state_event(r["gisc-tokyo"], "m.room.power_levels")
        weak = {**state.content, "invite": 0,
                "users": {**state.content.get("users", {}), p["tk"].user_id: 100}}
        resp = await admin.room_put_state(r["gisc-tokyo"], "m.room.power_levels", weak)
        assert getattr(resp, "status_code", None) is None, resp
    finally:
        await admin.close()
    alert = await p["sec"].wait_for(r["secretariat"], bot,
                                    lambda t: "gisc-tokyo is on hold" in t)
    assert "can invite" in alert
    assert "gisc-tokyo" in app.holds
    env = {"WISBOT_MATRIX_HOMESERVER": world.server.url, "WISBOT_MATRIX_USER_ID": bot,
           "WISBOT_MATRIX_ACCESS_TOKEN": world.regs["bot"].access_token,
           "WISBOT_MATRIX_DEVICE_ID": world.regs["bot"].device_id}
    from wisbot.cli import app as cli

    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["matrix", "provision", "--directory",
                                  str(world.tmp / "directory.yaml"), "--tighten"], env=env)
    assert result.exit_code == 0, result.output
    assert "gisc-tokyo: tightened" in result.output
    assert "gisc-offenbach: closed" in result.output
    await p["sec"].wait_for(r["secretariat"], bot, lambda t: "gisc-tokyo is clean again" in t)
    assert "gisc-tokyo" not in app.holds
    tk: Any = p["tk"]
    resp = await tk.client.room_invite(r["gisc-tokyo"], p["stranger"].user_id)
    assert getattr(resp, "status_code", None) == "M_FORBIDDEN", resp


async def test_a_room_provisioned_while_the_bot_runs_is_not_left(world: World) -> None:
    """The running bot's directory does not name the new room yet; leaving it would orphan
    it for good (only the bot may invite there)."""
    import copy

    from wisbot.adapters.matrix import provision

    await world.app(adapters=[world.adapter(integrity_interval=0.5)])
    data = copy.deepcopy(world.data)
    data["rooms"].append({"key": "gisc-tokyo-2", "role": "gisc:Tokyo", "platform": "matrix",
                          "name": "GISC Tokyo (second)"})
    admin = await world.as_bot()
    try:
        made = await provision(admin, data)
        assert list(made) == ["gisc-tokyo-2"]
        await asyncio.sleep(3)  # several syncs and periodic checks
        joined_rooms = (await admin.joined_rooms()).rooms
    finally:
        await admin.close()
    assert made["gisc-tokyo-2"] in joined_rooms
