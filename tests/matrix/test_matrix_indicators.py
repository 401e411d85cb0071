"""Indicators on a real Synapse, read from a third person's own sync (GISC Tokyo's desk,
who neither typed them nor runs the bot): defanged, no link in the HTML body and nothing
a client would linkify in the plain body."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.matrix.conftest import World

N = "WIS-SEC-2026-1"
# What clients linkify: a scheme URL, an e-mail address, a dotted host with a known TLD,
# a dotted IPv4 address.
LINKIFIABLE = re.compile(r"(?i)\b(?:https?|ftp)://|[\w.+-]+@[\w-]+\.[a-z]|"
                         r"\bevil\.example\b|\b\d{1,3}(?:\.\d{1,3}){3}\b")


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def tags_of(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    return parser


async def test_a_third_person_reads_indicators_defanged_and_unlinked(world: World) -> None:
    app = await world.app()
    p, r, bot = world.people, world.rooms, world.bot
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=all-giscs sev=2 "
                        "Phishing against operators")
    await world.delivered(app)
    await p["tk"].wait_for(r["gisc-tokyo"], bot, lambda t: N in t)
    await p["anna"].say(r["member-de"], f"!incident ioc add {N} url "
                        "https://evil.example/login.php sent by ceo@evil.example from "
                        "<a href='https://evil.example'>here</a>")
    await p["anna"].say(r["member-de"], f"!incident ioc add {N} ipv4 203.0.113.7")
    await world.delivered(app)
    text = await p["tk"].wait_for(r["gisc-tokyo"], bot,
                                  lambda t: "indicator I-2 added" in t)
    assert "hxxps://evil[.]example/login[.]php" in text and "203.0.113[.]7" in text
    assert "ceo@\u2060evil[.]example" in text or "ceo[@]evil[.]example" in text
    notices = [n for n in p["tk"].notices(r["gisc-tokyo"], bot) if "indicator I-" in n["body"]]
    assert len(notices) == 2
    for notice in notices:
        tags = tags_of(notice["formatted_body"]).tags
        assert tags and {t for t, _ in tags} <= {"b", "br", "i", "code"}, tags
        assert not any(attrs for _, attrs in tags), tags  # no href, no attribute at all
        for part in (notice["body"], notice["formatted_body"]):
            assert not LINKIFIABLE.search(part), part
        assert notice["m.mentions"] == {}


async def test_an_export_reaches_the_asker_alone_as_a_file_in_their_direct_chat(
        world: World) -> None:
    import asyncio
    import json

    from tests.matrix.test_matrix_files import bot_messages, download

    app = await world.app()
    p, r, bot = world.people, world.rooms, world.bot
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=all-giscs sev=2 "
                        "Phishing against operators")
    await p["anna"].say(r["member-de"], f"!incident ioc add {N} domain evil.example")
    await world.delivered(app)
    await p["anna"].say(r["member-de"], f"!incident export {N} --format stix")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    files: list[dict[str, object]] = []
    while not files:
        assert loop.time() < deadline, "no file in the direct chat"
        await p["anna"].sync(timeout_ms=500)
        files = [f for room in set(p["anna"].events) - set(r.values())
                 for f in bot_messages(p["anna"], room, bot, "m.file")]
    (shared,) = files
    assert shared["body"] == f"{N}.stix.json"
    bundle = json.loads(await download(p["anna"], str(shared["url"])))
    assert any(o.get("pattern") == "[domain-name:value = 'evil.example']"
               for o in bundle["objects"])
    # Nobody in the rooms got it.
    await world.delivered(app)
    for who, room in (("anna", "member-de"), ("tk", "gisc-tokyo"), ("sec", "secretariat")):
        await p[who].sync()
        assert not bot_messages(p[who], r[room], bot, "m.file"), (who, room)
