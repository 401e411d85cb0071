"""Known-error suggestions on a real Synapse, read from each person's own sync: the
reporter reads them in the direct chat the bot opened, the room never does; another GISC
reads the known error anonymised. Forbidden words are written here by hand."""

from __future__ import annotations

import asyncio

from tests.matrix.conftest import World

DE_FORBIDDEN = ("DWD", "Anna", "Weber", "Germany", "DE-OF-NC")


def direct_text(person: object, rooms: dict[str, str], bot: str) -> str:
    """What ``bot`` posted to ``person`` outside the bound rooms (their direct chat)."""
    events = person.events  # type: ignore[attr-defined]
    return "\n\n".join(person.read(room, bot)  # type: ignore[attr-defined]
                       for room in set(events) - set(rooms.values()))


async def wait_direct(person: object, rooms: dict[str, str], bot: str, words: str) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while words not in (text := direct_text(person, rooms, bot)):
        assert loop.time() < deadline, f"never read {words!r} in a direct chat:\n{text}"
        await person.sync(timeout_ms=500)  # type: ignore[attr-defined]
    return text


async def test_suggestions_reach_the_reporter_alone_in_their_direct_chat(world: World) -> None:
    app = await world.app()
    p, r, bot = world.people, world.rooms, world.bot
    await p["anna"].say(r["member-de"], '!kedb add share=anonymous "DWD relay" "phishing '
                        'mails reach operators through relay" Block the sender; ask Anna Weber')
    await wait_direct(p["anna"], r, bot, "K-1")
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=all-giscs sev=2 "
                        "model=phishing Phishing mails reach our operators through the relay")
    text = await wait_direct(p["anna"], r, bot, "Known errors that may match")
    assert "Block the sender" in text and "☐ 1. Keep one phishing mail" in text, text
    await world.delivered(app)
    # The room, read from Anna's own client, and GISC Tokyo's room never read it.
    await p["anna"].sync()
    await p["tk"].wait_for(r["gisc-tokyo"], bot, lambda t: "WIS-SEC-" in t)
    for who, room in (("anna", "member-de"), ("tk", "gisc-tokyo")):
        seen = p[who].read(r[room], bot)
        assert "Known errors that may match" not in seen and "Block the sender" not in seen
    # GISC Tokyo asks in its room: the answer comes to its desk alone, anonymised.
    await p["tk"].say(r["gisc-tokyo"], "!kedb show K-1")
    shown = await wait_direct(p["tk"], r, bot, "Block the sender")
    assert "GISC Offenbach" in shown, shown
    assert not [w for w in DE_FORBIDDEN if w.casefold() in shown.casefold()], shown
