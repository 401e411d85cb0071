"""The pseudo-locale run through the whole demo (wisbot/demo.py), a page/ack/escalate
cycle, a GISC Watch daily post and handover, and the annual report: any English word
that wisbot wrote outside ⟦…⟧ escaped the catalogs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.i18n.test_catalogs import unmarked_english, wisbot_words
from wisbot import i18n
from wisbot.adapters.console import render_text
from wisbot.demo import SCRIPT


@pytest.fixture(autouse=True)
def english_default() -> Iterator[None]:
    yield
    i18n.set_default("en")


def _left(reply: Any) -> list[str]:
    return unmarked_english(wisbot_words(reply))


async def test_pseudo_locale_whole_demo_leaves_no_english_unmarked(make_app: Any,
                                                                  clock: Any) -> None:
    app = await make_app()
    i18n.set_default("qps")
    c = app.console
    year = app.clock().year
    problems: list[Any] = []
    for who, room, text, _why in SCRIPT:
        reply = await c.type(who, text.format(year=year), room)
        left = _left(reply)
        if left:
            problems.append((text, left, render_text(reply)))
        await app.outbox.drain()
    for key, replies in list(c.rooms.items()) + list(c.direct.items()):
        for reply in replies:
            left = _left(reply)
            if left:
                problems.append((key, left, render_text(reply)))
    for p in problems:
        print(p)
    assert not problems
