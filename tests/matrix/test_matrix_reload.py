"""Reloading the directory of a bot running on a real Synapse; what each person reads
comes from their own sync."""

from __future__ import annotations

import asyncio
import re
import time

import yaml

from tests.matrix.conftest import World


async def test_a_person_added_by_reload_releases_the_hold_they_caused(world: World) -> None:
    """A new GISC Offenbach officer joins the room before the directory knows them: the
    room is held (a stranger), their commands refused. The directory gains them and is
    reloaded: the room is checked again at once, the hold released, the held post
    delivered, and their command answered."""
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app()
    newcomer = world.regs["stranger"].user_id
    await world.invite_stranger("gisc-offenbach")  # only the bot's account may invite
    await p["stranger"].join_invites()
    await p["sec"].wait_for(r["secretariat"], bot, lambda t: "gisc-offenbach is on hold" in t)
    assert "gisc-offenbach" in app.holds
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=principal-gisc "
                        "Held until the directory knows the newcomer")
    text = await p["anna"].wait_for(r["member-de"], bot, lambda t: "WIS-SEC-" in t)
    number = re.findall(r"WIS-SEC-\d{4}-\d+", text)[0]
    await p["sec"].wait_for(r["secretariat"], bot, lambda t: number in t)
    await p["stranger"].sync()
    assert number not in p["stranger"].read(r["gisc-offenbach"], bot)

    data = world.data
    data["contacts"].append({"id": "of-officer", "name": "Offenbach duty officer",
                             "roles": ["gisc:Offenbach"], "chat": {"matrix": newcomer}})
    path = world.tmp / "directory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert await app.reload_directory(path) == ["contacts: added of-officer"]

    deadline = time.monotonic() + 30
    while "gisc-offenbach" in app.holds:
        assert time.monotonic() < deadline, "the hold was not released after the reload"
        await asyncio.sleep(0.2)
    await world.delivered(app)
    got = await p["stranger"].wait_for(r["gisc-offenbach"], bot, lambda t: number in t)
    assert got.count(number) >= 1
    await p["stranger"].say(r["gisc-offenbach"], f"!incident show {number}")
    await p["stranger"].wait_for(r["gisc-offenbach"], bot,
                                 lambda t: t.count(number) >= 2 and "not in the wisbot" not in t)
    # the room read the held post exactly once (besides the answer to the command)
    await p["of"].sync()
    posts = [n for n in p["of"].notices(r["gisc-offenbach"], bot)
             if number in n["body"] and "m.in_reply_to" not in n.get("m.relates_to", {})]
    assert len(posts) == 1
