"""The Matrix sync and reply path on a real Synapse: commands run beside the sync loop
(in order per room), answers go through the outbox, private answers go to a checked
direct chat, pages notify, long answers arrive in parts, two processes on one account
answer each command once."""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.matrix.conftest import Person, World
from tests.matrix.test_matrix_direct import open_closed_direct_chat, open_direct_chat
from wisbot.adapters.base import Invocation
from wisbot.directory import parse_directory
from wisbot.reply import Reply

# Written by hand: what the other members of the collaboration room must never read about
# a principal-gisc incident of Germany's centre in Offenbach's area.
FORBIDDEN = ("WIS-SEC-", "DE-OF-NC", "DWD", "Germany", "Deutschland", "Offenbach",
             "National Centre", "Anna", "Weber", "Held page", "P-1", "P-2")


async def until(what: str, check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


def with_oncall(world: World) -> Any:
    """The test directory with on-call chains: severe incidents page by direct message."""
    data = copy.deepcopy(world.data)
    data["oncall"] = {"gisc:Offenbach": ["gisc-offenbach"], "secretariat": ["sec-desk"]}
    return parse_directory(data)


def direct_rooms(world: World, person: Person) -> list[str]:
    return [room for room in person.events if room not in world.rooms.values()]


async def page_of(world: World, person: Person, within: float = 30.0) -> dict[str, Any]:
    """The first page the bot sent ``person`` in a direct chat, from their own sync."""
    found: list[dict[str, Any]] = []

    async def paged() -> bool:
        await person.sync()
        for room in direct_rooms(world, person):
            for n in person.notices(room, world.bot):
                if re.search(r"^(TLP:\S+ )?P-\d+ · ", n["body"], re.MULTILINE):
                    found.append({**n, "room": room})
        return bool(found)

    await until(f"a page for {person.user_id}", paged, within)
    return found[0]


def answers(person: Person, room_id: str, bot: str, event_id: str) -> list[str]:
    return [n["body"] for n in person.notices(room_id, bot)
            if n.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == event_id]


async def report_severe(world: World) -> str:
    p, r, bot = world.people, world.rooms, world.bot
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=principal-gisc sev=3 "
                        "Held page")
    text = await p["anna"].wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t, within=30)
    return re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]


def slowed(adapter: Any, word: str, seconds: float) -> None:
    """Make the commands containing ``word`` take ``seconds`` longer (a stand-in for a
    `watch probe` or harvest against a slow server); everything else runs as is."""
    real = adapter._dispatch

    async def dispatch(inv: Invocation) -> Reply:
        if word in inv.text:
            await asyncio.sleep(seconds)
        reply: Reply = await real(inv)
        return reply

    adapter._dispatch = dispatch


async def notifications(world: World, who: str) -> list[dict[str, Any]]:
    """GET /notifications as ``who``: what their client would be notified of."""
    reg = world.regs[who]
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.get(f"{world.server.url}/_matrix/client/v3/notifications",
                              headers={"Authorization": f"Bearer {reg.access_token}"})
    resp.raise_for_status()
    return list(resp.json()["notifications"])


async def test_a_page_notifies_and_only_a_check_on_the_page_acknowledges(
        world: World) -> None:
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app(directory=with_oncall(world))
    of = p["of"]
    # The paged person has a direct chat with the bot already (a new one would notify
    # them of its invitation, but a message in a room they have not joined does not).
    dm = await open_closed_direct_chat(of, bot)
    number = await report_severe(world)
    page = await page_of(world, of)
    assert page["room"] == dm
    ref = re.findall(r"P-\d+", page["body"])[0]
    assert page["msgtype"] == "m.text"
    assert page["m.mentions"] == {"user_ids": [of.user_id]}

    async def notified() -> bool:
        return any(n["event"]["event_id"] == page["event_id"]
                   for n in await notifications(world, "of"))

    await until("the page in the paged person's /notifications", notified)
    # a ✅ and a 👍 on the incident notice in the GISC room acknowledge nothing
    await world.delivered(app)
    post = await of.wait_for(r["gisc-offenbach"], bot, lambda t: number in t)
    assert post
    notice = of.notices(r["gisc-offenbach"], bot)[0]["event_id"]
    await of.react(r["gisc-offenbach"], notice)
    await of.react(r["gisc-offenbach"], notice, "👍")
    await asyncio.sleep(2.0)
    await of.sync()
    assert not [b for b in of.read(page["room"], bot).split("\n\n") if "Acknowledged" in b]
    # a ✅ on the page itself does
    await of.react(page["room"], page["event_id"])
    text = await of.wait_for(page["room"], bot, lambda t: f"Acknowledged: {ref}" in t)
    assert number in text


async def test_a_slow_command_blocks_neither_an_ack_nor_membership_changes(
        world: World) -> None:
    p, bot = world.people, world.bot
    adapter = world.adapter(progress_after=1.0)
    app = await world.app(adapters=[adapter], directory=with_oncall(world))
    await report_severe(world)
    of = p["of"]
    page = await page_of(world, of)
    ref = re.findall(r"P-\d+", page["body"])[0]
    dm = page["room"]
    slowed(adapter, "incident list", 12.0)
    slow = await of.say(dm, "!incident list")
    ack = await of.say(dm, f"!ack {ref}")
    # a stranger invited while the slow command runs: the room is held at once (only the
    # bot's account may invite in a closed room, so the invitation comes from it)
    await world.invite_stranger("gisc-tokyo")
    await until("the room to be held", lambda: asyncio.sleep(0, "gisc-tokyo" in app.holds),
                within=8)
    await of.wait_for(dm, bot, lambda _: bool(answers(of, dm, bot, ack)) and any(
        "Working on it" in a for a in answers(of, dm, bot, slow)), within=8)
    assert not [a for a in answers(of, dm, bot, slow) if "WIS-SEC-" in a], \
        "the slow command finished before the ack: nothing was tested"
    await of.wait_for(dm, bot, lambda _: any("WIS-SEC-" in a
                                             for a in answers(of, dm, bot, slow)), within=40)
    (real,) = [a for a in answers(of, dm, bot, slow) if "Working on it" not in a]
    assert "interrupted" not in real
    (acked,) = answers(of, dm, bot, ack)
    assert f"Acknowledged: {ref}" in acked


async def test_ack_typed_in_a_shared_room_is_answered_in_the_direct_chat(
        world: World) -> None:
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app(directory=with_oncall(world))
    await report_severe(world)
    of = p["of"]
    page = await page_of(world, of)
    ref = re.findall(r"P-\d+", page["body"])[0]
    await world.delivered(app)
    others = [p[k] for k in ("sec", "tk", "ex")]
    for person in others:
        await person.sync()
    seen = {person.user_id: len(person.events.get(r["collaboration"], []))
            for person in others}
    asked = await of.say(r["collaboration"], f"!ack {ref}")
    pointer = await of.wait_for(r["collaboration"], bot,
                                lambda _: bool(answers(of, r["collaboration"], bot, asked)))
    assert "direct message" in pointer
    text = await of.wait_for(page["room"], bot, lambda t: f"Acknowledged: {ref}" in t)
    assert "collaboration" in text.lower() or "Collaboration" in text
    await world.delivered(app)
    for person in others:
        await person.sync()
        later = person.events.get(r["collaboration"], [])[seen[person.user_id]:]
        read = "\n".join(str(ev.get("content", {}).get("body", "")) for ev in later
                         if ev.get("sender") == bot)
        assert "direct message" in read, f"{person.user_id} did not read the pointer"
        leaked = [w for w in FORBIDDEN if w.lower() in read.lower()]
        assert not leaked, f"{person.user_id} read {leaked} in the collaboration room"


async def test_a_100_kib_reply_arrives_complete_in_parts(world: World) -> None:
    from wisbot.adapters.base import RoomRef
    from wisbot.reply import ReplyBuilder

    r, bot = world.rooms, world.bot
    app = await world.app()
    adapter = app.adapters["matrix"]
    b = ReplyBuilder("Long answer")
    for i in range(1600):
        b.line(f"line {i:04d} <&> of a long answer, with some text to make it long enough")
    b.line("tail:" + "".join(f"[{i:05d}]" for i in range(14_000)))  # one 100 KiB line
    reply = b.build()
    assert len(reply.plain().encode()) > 200 * 1024
    room = RoomRef("matrix", r["gisc-tokyo"], "gisc-tokyo")
    await adapter.send(room, reply, key="long-1")
    await adapter.send(room, reply, key="long-1")  # a retry sends nothing again
    tk = world.people["tk"]
    await tk.sync()
    bodies = [n["body"] for n in tk.notices(r["gisc-tokyo"], bot)]
    assert len(bodies) > 2
    assert all(re.match(rf"\(part {i}/{len(bodies)}\)", body)
               for i, body in enumerate(bodies, 1)), [b[:20] for b in bodies]
    joined = "".join(body.split("\n", 1)[1] for body in bodies)  # less "(part i/n)"
    for i in range(1600):
        assert f"line {i:04d} <&> of a long" in joined
    marks = re.findall(r"\[(\d{5})\]", joined)
    assert [int(m) for m in marks] == list(range(14_000))


@pytest.fixture
def world_pg(world_db: World) -> World:
    """On SQLite and on PostgreSQL (the claim race is PostgreSQL's)."""
    return world_db


async def test_two_processes_on_one_account_answer_each_command_once(
        world_pg: World, caplog: pytest.LogCaptureFixture) -> None:
    """Both processes sync (no leader election: with it only the leader syncs, see
    test_replicas_failover; two syncs at once remain possible around a failover), so
    both see every command and the claim decides which one answers."""
    from wisbot.adapters.matrix import MatrixAdapter

    world = world_pg
    p, r, bot = world.people, world.rooms, world.bot
    reg = world.regs["bot"]
    adapters = [MatrixAdapter(world.server.url, reg.user_id, password=reg.password,
                              device_id=f"WISBOT{n}", sync_timeout=1.0,
                              store_path=world.tmp / f"bot-store-{n}") for n in (1, 2)]
    for a in adapters:
        await world.app(adapters=[a], elect=False)
    for a in adapters:
        slowed(a, "incident list", 3.0)
    asked: dict[str, list[str]] = {}
    for who, room in (("sec", "secretariat"), ("of", "gisc-offenbach"), ("tk", "gisc-tokyo"),
                      ("anna", "member-de")):
        asked[room] = [await p[who].say(r[room], "!severity"),
                       await p[who].say(r[room], "!incident list")]
    for who, room in (("sec", "secretariat"), ("of", "gisc-offenbach"), ("tk", "gisc-tokyo"),
                      ("anna", "member-de")):
        person = p[who]
        await person.wait_for(r[room], bot, lambda _, room=room, person=person: all(
            answers(person, r[room], bot, e) for e in asked[room]), within=60)
    await asyncio.sleep(3.0)  # a late duplicate would show now
    for who, room in (("sec", "secretariat"), ("of", "gisc-offenbach"), ("tk", "gisc-tokyo"),
                      ("anna", "member-de")):
        person = p[who]
        await person.sync()
        for event in asked[room]:
            got = [a for a in answers(person, r[room], bot, event)
                   if "Working on it" not in a]
            assert len(got) == 1, (room, got)
            assert "interrupted" not in got[0]
    assert all(a.sync_count > 2 for a in adapters)
    failed = [rec.getMessage() for rec in caplog.records
              if "sync failed" in rec.getMessage() or "UniqueViolation" in rec.getMessage()]
    assert not failed, failed


async def test_a_command_interrupted_by_a_stop_is_answered_once_after_restart(
        world: World) -> None:
    p, r, bot = world.people, world.rooms, world.bot
    adapter = world.adapter(progress_after=30.0)
    app = await world.app(adapters=[adapter])
    slowed(adapter, "incident list", 60.0)
    sec, room = p["sec"], r["secretariat"]
    asked = await sec.say(room, "!incident list")
    await until("the command to be claimed",
                lambda: asyncio.sleep(0, asked in adapter._running))
    await world.stop(app)
    queued = await sec.say(room, "!severity")  # while the bot is down
    again = world.adapter(claim_stale=1.0)
    await world.app(adapters=[again])
    await sec.wait_for(room, bot, lambda _: bool(answers(sec, room, bot, asked))
                       and bool(answers(sec, room, bot, queued)), within=30)
    await asyncio.sleep(2.0)
    await sec.sync()
    (interrupted,) = answers(sec, room, bot, asked)
    assert "interrupted" in interrupted
    assert len(answers(sec, room, bot, queued)) == 1


async def say_patiently(person: Person, room_id: str, text: str) -> str:
    """Send as a person's client does under a rate limit: wait what the server says."""
    from nio import RoomSendError, RoomSendResponse

    while True:
        resp = await person.client.room_send(room_id, "m.room.message",
                                             {"msgtype": "m.text", "body": text})
        if isinstance(resp, RoomSendResponse):
            return str(resp.event_id)
        assert isinstance(resp, RoomSendError) and resp.status_code == "M_LIMIT_EXCEEDED", resp
        await asyncio.sleep((resp.retry_after_ms or 1000) / 1000)


async def test_quick_commands_under_default_rate_limits_are_all_answered(
        synapse_default_limits: Any, tmp_path: Any, sqlite_url: str) -> None:
    """Synapse's default rc_message: 15 commands typed quickly in five rooms; the bot's
    answers meet the limit, wait in the outbox and all arrive, each once."""
    from tests.matrix.conftest import make_world

    world = await make_world(synapse_default_limits, tmp_path, sqlite_url)
    try:
        p, r, bot = world.people, world.rooms, world.bot
        app = await world.app(outbox_max_attempts=1000)
        where = (("sec", "secretariat"), ("of", "gisc-offenbach"), ("tk", "gisc-tokyo"),
                 ("ex", "gisc-exeter"), ("anna", "member-de"))
        asked: dict[str, list[str]] = {room: [] for _, room in where}
        for _ in range(3):
            for who, room in where:
                asked[room].append(await say_patiently(p[who], r[room], "!severity"))
        for who, room in where:
            person = p[who]
            await person.wait_for(r[room], bot, lambda _, room=room, person=person: all(
                answers(person, r[room], bot, e) for e in asked[room]), within=120)
        for who, room in where:
            for event in asked[room]:
                assert len(answers(p[who], r[room], bot, event)) == 1
        from sqlmodel import col, select

        from wisbot.store.tables import OutboxRow

        limited = await app.store.tx(lambda s: list(s.exec(select(OutboxRow).where(
            col(OutboxRow.last_error).contains("M_LIMIT_EXCEEDED")))))
        assert limited, "no answer met the rate limit: nothing was tested"
    finally:
        for a in reversed(world.apps):
            await a.stop()
        for person in world.people.values():
            await person.close()


def test_parts_stay_under_the_event_limit_and_lose_no_character() -> None:
    """Without a homeserver: the split itself, with text that HTML escaping inflates."""
    import json

    from wisbot.adapters.matrix import render_parts
    from wisbot.reply import ReplyBuilder

    b = ReplyBuilder("Long answer")
    for i in range(800):
        b.line(f"line {i:04d} <&> of a long answer")
    b.line("tail:" + "".join(f"[{i:05d}]" for i in range(9_000)))
    b.line("<>&\"'" * 9_000)
    parts = render_parts(b.build(), mention="@gisc-offenbach:wisbot.test")
    assert len(parts) > 3
    assert max(len(json.dumps(p, ensure_ascii=False).encode()) for p in parts) < 32 * 1024
    joined = "".join(p["body"].split("\n", 1)[1] for p in parts[1:])
    joined = parts[0]["body"].split("\n", 2)[2] + joined  # the first also names the reader
    assert [int(m) for m in re.findall(r"\[(\d{5})\]", joined)] == list(range(9_000))
    assert "<>&\"'" * 9_000 in joined
    assert all(f"line {i:04d} <&>" in joined for i in range(800))
    assert parts[0]["m.mentions"] == {"user_ids": ["@gisc-offenbach:wisbot.test"]}
    assert all(p["m.mentions"] == {} and p["msgtype"] == "m.notice" for p in parts[1:])


async def test_a_direct_chat_with_a_third_person_in_it_gets_nothing(world: World) -> None:
    """The Secretariat desk's direct chat with the bot gets a third person: a command typed
    there is not answered (wisbot leaves that chat; at most a notice there says why), the
    desk is told in a new direct chat with it alone, and the desk's pages go there too.
    The third person reads nothing from their own client."""
    p, bot = world.people, world.bot
    app = await world.app(directory=with_oncall(world))
    sec, stranger = p["sec"], p["stranger"]
    dm = await open_direct_chat(sec, bot)
    await sec.client.room_invite(dm, stranger.user_id)
    await stranger.join_invites()
    asked = await sec.say(dm, "!incident list")

    async def told() -> bool:
        await sec.sync()
        return any("Direct chat closed" in sec.read(room, bot)
                   for room in direct_rooms(world, sec) if room != dm)

    await until("the desk to be told in a new direct chat", told)
    await asyncio.sleep(2.0)  # a late answer in the chat with the third person shows now
    await sec.sync()
    assert all("other people" in a for a in answers(sec, dm, bot, asked)), \
        "the command was answered in the chat with the third person"
    number = await report_severe(world)
    page = await page_of(world, sec)
    assert page["room"] != dm, "the page went to the chat with the third person"
    members = await sec.client.joined_members(page["room"])
    assert {m.user_id for m in members.members} <= {sec.user_id, bot}
    await world.delivered(app)
    await stranger.sync()
    read = "\n".join(str(ev.get("content", {}).get("body", ""))
                     for room in stranger.events for ev in stranger.events[room]
                     if ev.get("sender") == bot)
    for word in ("WIS-SEC-", number, "DE-OF-NC", "DWD", "Germany", "Held page", "P-1", "P-2"):
        assert word not in read, f"the third person read {word!r}"


async def test_a_private_answer_without_a_direct_chat_reveals_nothing_in_the_room(
        world: World) -> None:
    """When no direct chat can be had (here the homeserver refusing to create one is
    simulated by the adapter's direct-chat step failing), the room reads only that the
    answer could not be given privately: never the answer."""
    from wisbot.adapters.base import DeliveryError

    p, r, bot = world.people, world.rooms, world.bot
    adapter = world.adapter()
    app = await world.app(adapters=[adapter], directory=with_oncall(world))
    await report_severe(world)
    ref = re.findall(r"P-\d+", (await page_of(world, p["of"]))["body"])[0]
    await world.delivered(app)

    async def refused(user_id: str) -> str:
        raise DeliveryError("M_FORBIDDEN: room creation refused", permanent=True)

    adapter._direct_room = refused
    tk = p["tk"]
    await tk.sync()
    seen = len(tk.events.get(r["collaboration"], []))
    asked = await p["of"].say(r["collaboration"], f"!ack {ref}")
    text = await p["of"].wait_for(r["collaboration"], bot,
                                  lambda _: bool(answers(p["of"], r["collaboration"], bot,
                                                         asked)))
    assert "could not answer you privately" in text
    await tk.sync()
    read = "\n".join(str(ev.get("content", {}).get("body", ""))
                     for ev in tk.events.get(r["collaboration"], [])[seen:]
                     if ev.get("sender") == bot)
    assert "could not answer you privately" in read
    leaked = [w for w in FORBIDDEN if w.lower() in read.lower()]
    assert not leaked, leaked
