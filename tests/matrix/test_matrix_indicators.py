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
