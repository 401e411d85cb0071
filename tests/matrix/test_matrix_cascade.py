"""The incident cascade on a real Synapse, read from each member's own sync."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.matrix.conftest import World

ANON = "a WIS centre in the area of GISC Offenbach"
NAMED = "DE-OF-NC"


@pytest.fixture
def world(world_db: World) -> World:
    """These tests run on SQLite and on PostgreSQL (see ``world_db``)."""
    return world_db


def numbers(text: str) -> set[str]:
    return set(re.findall(r"WIS-SEC-\d{4}-\d+", text))


async def test_group_cascade_reaches_secretariat_and_three_gisc_rooms(world: World) -> None:
    app = await world.app()
    p, r, bot = world.people, world.rooms, world.bot
    cmd = await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=group sev=3 "
                              "anonymous Phishing against DWD <b>operators</b> @room")

    def answer() -> list[dict[str, object]]:
        return [n for n in p["anna"].notices(r["member-de"], bot)
                if n.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == cmd]

    # The answer to the report is the reporter's alone (private, in her direct chat);
    # the room reads the cascade post once, threaded under the command as its answer.
    await p["anna"].wait_for(r["member-de"], bot, lambda _: bool(answer()))
    (posted,) = [str(n["body"]) for n in answer()]
    assert "new incident reported" in posted and "Told, in order" not in posted
    numbers_read: set[str] = set()

    async def in_direct_chat() -> bool:
        await p["anna"].sync()
        for room in set(p["anna"].events) - set(r.values()):
            numbers_read.update(numbers(p["anna"].read(room, bot)))
        return bool(numbers_read)

    deadline = asyncio.get_running_loop().time() + 30
    while not await in_direct_chat():
        assert asyncio.get_running_loop().time() < deadline, "no answer in the direct chat"
        await asyncio.sleep(0.2)
    (number,) = numbers_read
    await world.delivered(app)
    sec = await p["sec"].wait_for(r["secretariat"], bot, lambda t: number in t)
    assert NAMED in sec
    of = await p["of"].wait_for(r["gisc-offenbach"], bot, lambda t: number in t)
    assert NAMED in of
    for who, room in (("tk", "gisc-tokyo"), ("ex", "gisc-exeter")):
        text = await p[who].wait_for(r[room], bot, lambda t: number in t)
        assert ANON in text
        for term in ("DE-OF-NC", "Germany", "DWD"):
            assert term not in text, (who, term)
    collab = await p["tk"].wait_for(r["collaboration"], bot, lambda t: number in t)
    assert ANON in collab and "Germany" not in collab
    # user text is escaped and cannot ping the room
    (notice,) = [n for n in p["sec"].notices(r["secretariat"], bot) if number in n["body"]]
    assert "&lt;b&gt;operators&lt;/b&gt;" in notice["formatted_body"]
    assert "<b>operators</b>" not in notice["formatted_body"]
    assert "@room" not in notice["body"] and "@\u2060room" in notice["body"]
    assert notice["m.mentions"] == {}
    # every room got the incident exactly once
    for who, room in (("sec", "secretariat"), ("of", "gisc-offenbach"), ("tk", "gisc-tokyo"),
                      ("ex", "gisc-exeter"), ("of", "area-offenbach")):
        got = [n for n in p[who].notices(r[room], bot) if number in n["body"]]
        assert len(got) == 1, (room, len(got))
