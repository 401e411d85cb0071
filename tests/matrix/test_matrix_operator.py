"""What a person reads on Matrix, from their own /sync on a real Synapse: a page carries
one acknowledgement instruction; the reporter's room reads the incident once (the
cascade post is the answer to the command); a typo in a group room is answered privately
with a one-line pointer; a protected report typed in a room that may not read it is
redacted and its author warned."""

from __future__ import annotations

import asyncio
import re

from tests.matrix.conftest import World
from tests.matrix.test_matrix_direct import open_closed_direct_chat
from tests.matrix.test_matrix_sync_path import (
    answers,
    direct_rooms,
    page_of,
    report_severe,
    until,
    with_oncall,
)

# Written by hand: the words of a secretariat-only report that the collaboration room's
# other members (the GISC Offenbach, Tokyo and Exeter desks) must not read.
SECRET = "Ransomware on the Offenbach message switch, Weber's account, tel +49 69 8062 4321"
FORBIDDEN = ("Ransomware", "message switch", "Weber", "8062", "DE-OF-NC", "Offenbach")


async def test_a_page_says_once_how_to_acknowledge(world: World) -> None:
    p, bot = world.people, world.bot
    await world.app(directory=with_oncall(world))
    await open_closed_direct_chat(p["of"], bot)
    await report_severe(world)
    page = await page_of(world, p["of"])
    body = str(page["body"])
    ref = re.findall(r"P-\d+", body)[0]
    assert body.count("cknowledge") == 1, body
    assert f"type '{ack(ref)}'" in body and "✅" in body and "reply 'ack'" in body
    assert "[Acknowledge:" not in body and "React with" not in body


def ack(ref: str) -> str:
    return f"ack {ref}"


async def test_the_reporters_room_reads_the_incident_once_as_the_answer(world: World) -> None:
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app()
    anna = p["anna"]
    cmd = await anna.say(r["member-de"], "!incident report DE-OF-NC share=principal-gisc "
                         "sev=2 Phishing at the switch")
    await anna.wait_for(r["member-de"], bot, lambda _: bool(answers(anna, r["member-de"],
                                                                    bot, cmd)))
    await world.delivered(app)
    await asyncio.sleep(1.0)
    await anna.sync()
    posts = [n["body"] for n in anna.notices(r["member-de"], bot)]
    about = [b for b in posts if "WIS-SEC-" in b]
    assert len(about) == 1, posts  # the cascade post, once
    assert answers(anna, r["member-de"], bot, cmd) == about  # ... and it is the answer
    assert not [b for b in posts if "direct message" in b]  # no pointer besides it
    # The reporter's own answer (who was told, in order) is in her direct chat.
    async def told() -> bool:
        await anna.sync()
        return "Told, in order" in "\n".join(anna.read(room, bot)
                                             for room in direct_rooms(world, anna))

    await until("the reporter's answer in her direct chat", told)


async def test_a_typo_in_a_group_room_is_answered_privately(world: World) -> None:
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app()
    tk, others = p["tk"], [p["sec"], p["ex"]]
    for person in others:
        await person.sync()
    seen = {o.user_id: len(o.notices(r["collaboration"], bot)) for o in others}
    cmd = await tk.say(r["collaboration"], "!incident reprot DE-OF-NC share=group x")
    pointer = await tk.wait_for(r["collaboration"], bot,
                                lambda _: bool(answers(tk, r["collaboration"], bot, cmd)))
    (answer,) = answers(tk, r["collaboration"], bot, cmd)
    assert answer.count("\n") == 0 and "direct message" in answer, pointer
    usage = ""

    async def in_dm() -> bool:
        nonlocal usage
        await tk.sync()
        usage = "\n".join(tk.read(room, bot) for room in direct_rooms(world, tk))
        return "Did you mean" in usage

    await until("the usage in the direct chat", in_dm)
    assert "incident report" in usage  # the usage is the person's
    await world.delivered(app)
    for person in others:
        await person.sync()
        later = [n["body"] for n in person.notices(r["collaboration"], bot)
                 ][seen[person.user_id]:]
        assert later == [answer], later  # everyone else: the one line


async def test_a_protected_report_in_a_wider_room_is_redacted_and_its_author_warned(
        world: World) -> None:
    p, r, bot = world.people, world.rooms, world.bot
    app = await world.app()
    anna, of, tk, ex = p["anna"], p["of"], p["tk"], p["ex"]
    cmd = await anna.say(r["collaboration"], f"!incident report DE-OF-NC share=secretariat "
                         f"sev=2 {SECRET}")
    warning = ""

    async def warned() -> bool:
        nonlocal warning
        await anna.sync()
        warning = "\n".join(anna.read(room, bot) for room in direct_rooms(world, anna))
        return "Warning" in warning

    await until("the warning in the reporter's direct chat", warned)
    # The GISC Offenbach, Tokyo and Exeter desks sit in the room (and the Secretariat,
    # who may read it): three people outside a secretariat-only incident's audience.
    assert "3 people outside the incident's audience" in warning, warning
    assert "removed it (redacted)" in warning
    await world.delivered(app)

    def body_of(person_events: list[dict[str, object]]) -> str | None:
        for ev in person_events:
            if ev.get("event_id") == cmd:
                content = ev.get("content")
                return str((content or {}).get("body", "")) if isinstance(content, dict) \
                    else ""
        return None

    for person in (of, tk, ex):
        # A fresh client's full sync: what the third person's client shows now.
        person.since = None
        person.events.clear()
        await person.sync()
        body = body_of(person.events.get(r["collaboration"], []))
        assert body is not None, "the command event is still in the timeline"
        leaked = [w for w in FORBIDDEN if w.lower() in body.lower()]
        assert body == "" and not leaked, (person.user_id, body)
        read = "\n".join(str(ev.get("content", {})) for ev in
                         person.events.get(r["collaboration"], []))
        leaked = [w for w in FORBIDDEN if w.lower() in read.lower()]
        assert not leaked, (person.user_id, leaked)
