"""TLP 2.0 on a real Synapse, read from each person's own /sync: the label is the first
token of room posts (named and anonymised), of the reporter's direct answer and of pages;
room topics name the strictest label a room may receive, set by provisioning and by
`provision --tighten` on rooms made before."""

from __future__ import annotations

import re

import pytest

from tests.matrix.conftest import World

ANON = "a WIS centre in the area of GISC Offenbach"


@pytest.fixture
def world(world_db: World) -> World:
    """These tests run on SQLite and on PostgreSQL (see ``world_db``)."""
    return world_db


def first_token(body: str) -> str:
    return body.split()[0]


async def test_labels_first_in_rooms_direct_chats_and_pages(world: World) -> None:
    from wisbot.directory import parse_directory

    oncall = {"gisc:Tokyo": ["gisc-tokyo"], "gisc:Exeter": ["gisc-exeter"],
              "secretariat": ["sec-desk"]}
    app = await world.app(directory=parse_directory({**world.data, "oncall": oncall}))
    p, r, bot = world.people, world.rooms, world.bot
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=all-giscs sev=3 "
                        "anonymous Odd logins on the message switch")
    await world.delivered(app)
    # Anonymised (other GISCs) rooms: the share level's label. Named ones (Secretariat,
    # principal GISC) name a Member that asked to be anonymous beyond them: labelled for
    # its named readers (AMBER+STRICT), so the name is not passed on to every GISC.
    for who, room, anonymised in (("sec", "secretariat", False), ("of", "gisc-offenbach", False),
                                  ("tk", "gisc-tokyo", True), ("ex", "gisc-exeter", True)):
        await p[who].wait_for(r[room], bot, lambda t: "WIS-SEC-" in t)
        (post,) = [n for n in p[who].notices(r[room], bot) if "WIS-SEC-" in n["body"]]
        label = "TLP:AMBER" if anonymised else "TLP:AMBER+STRICT"
        assert first_token(post["body"]) == label, (room, post["body"])
        assert post["formatted_body"].startswith(f"<b>{label} "), post["formatted_body"]
        assert (ANON in post["body"]) is anonymised
    # Not told: the area and collaboration rooms may not receive TLP:AMBER.
    await p["of"].sync()
    assert "WIS-SEC-" not in p["of"].read(r["area-offenbach"], bot)
    # Pages (severity 3) reach each GISC desk in a direct chat: after the mention that wakes
    # its reader, the label comes first.
    pages: list[str] = []
    for who in ("tk", "ex", "sec"):
        person = p[who]

        def paged(person: object = person) -> list[str]:
            found = []
            for room in set(person.events) - set(r.values()):  # type: ignore[attr-defined]
                found += [n["body"] for n in person.notices(room, bot)  # type: ignore[attr-defined]
                          if n.get("msgtype") == "m.text" and "P-" in n["body"]]
            return found

        for _ in range(100):
            await person.sync(timeout_ms=500)
            if paged():
                break
        (page,) = paged()
        lines = page.splitlines()
        label = "TLP:AMBER+STRICT" if who == "sec" else "TLP:AMBER"  # sec's page names DE
        assert lines[0] == f"{person.user_id}:" and first_token(lines[1]) == label, page
        assert re.match(re.escape(label) + r" P-\d+ · WIS-SEC-", lines[1]), lines[1]
        pages.append(page)
    assert len(pages) == 3
    # The reporter's own answer, in its direct chat, starts with the label too.
    def answers() -> list[str]:
        return [n["body"] for room in set(p["anna"].events) - set(r.values())
                for n in p["anna"].notices(room, bot) if "WIS-SEC-" in n["body"]]

    for _ in range(60):
        if answers():
            break
        await p["anna"].sync(timeout_ms=500)
    assert answers() and all(first_token(a) == "TLP:AMBER+STRICT" for a in answers()), \
        answers()


async def test_group_share_is_green_in_the_collaboration_room(world: World) -> None:
    app = await world.app()
    p, r, bot = world.people, world.rooms, world.bot
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=group anonymous "
                        "Spam wave")
    await world.delivered(app)
    collab = await p["tk"].wait_for(r["collaboration"], bot, lambda t: "WIS-SEC-" in t)
    assert first_token(collab) == "TLP:GREEN" and ANON in collab
    area = await p["of"].wait_for(r["area-offenbach"], bot, lambda t: "WIS-SEC-" in t)
    assert first_token(area) == "TLP:GREEN"
    # A lesson the Member shares with the group, once its wording is confirmed.
    number = re.findall(r"WIS-SEC-\d{4}-\d+", collab)[0]
    await p["anna"].say(r["member-de"], f"!incident resolve {number}")
    await p["anna"].say(r["member-de"], f"!lessons add {number} share=anonymous Filter "
                        "mail from look-alike domains")
    await p["anna"].say(r["member-de"], f"!incident confirm {number}")
    lesson = await p["ex"].wait_for(r["collaboration"], bot, lambda t: "look-alike" in t)
    (post,) = [n["body"] for n in p["ex"].notices(r["collaboration"], bot)
               if "look-alike" in n["body"]]
    assert first_token(post) == "TLP:GREEN" and "Lesson learned" in post, lesson


async def test_room_topics_name_the_strictest_label(world: World) -> None:
    """Provisioning set each topic; a room made before (an old topic) gets it with
    `--tighten`. Read by each room's own member."""
    from wisbot.adapters.matrix import provision

    p, r = world.people, world.rooms
    expected = {"secretariat": ("sec", "TLP:RED at most"),
                "member-de": ("anna", "TLP:RED at most"),
                "gisc-tokyo": ("tk", "TLP:AMBER+STRICT at most"),
                "area-offenbach": ("of", "TLP:GREEN at most"),
                "collaboration": ("ex", "TLP:GREEN at most")}
    for key, (who, words) in expected.items():
        topic = await p[who].client.room_get_state_event(r[key], "m.room.topic")
        assert topic.content["topic"].startswith(words), (key, topic)
    admin = await world.as_bot()
    try:
        await admin.room_put_state(r["gisc-tokyo"], "m.room.topic",
                                   {"topic": "wisbot: gisc:Tokyo"})
        said: list[str] = []
        await provision(admin, world.data, tighten_existing=True, progress=said.append)
    finally:
        await admin.close()
    topic = await p["tk"].client.room_get_state_event(r["gisc-tokyo"], "m.room.topic")
    assert topic.content["topic"] == "TLP:AMBER+STRICT at most · wisbot: gisc:Tokyo"
    assert any("gisc-tokyo" in line and "topic names its TLP" in line for line in said), said
