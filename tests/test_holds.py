"""Room holds live in the database: a restart or a second process on the same database
sees them; a held room gets nothing protected and answers no command. On SQLite and (with
WISBOT_TEST_POSTGRES_URL) PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from tests.helpers import room_text
from wisbot.store.ops_tables import RoomHold
from wisbot.store.tables import OutboxRow

REPORT = "incident report DE-OF-NC share=principal-gisc Ransomware on the DWD mail relay"
# written by hand: what the held room must not read
FORBIDDEN = ("Ransomware", "mail relay", "DE-OF-NC", "DWD", "WIS-SEC-2026-1")


async def _pending(app: Any, room_key: str) -> list[OutboxRow]:
    return await app.store.tx(lambda s: list(s.exec(select(OutboxRow).where(
        OutboxRow.room_key == room_key, OutboxRow.status == "pending"))))


async def test_a_second_process_sees_a_hold_the_first_wrote(make_app) -> None:  # type: ignore[no-untyped-def]
    first = await make_app()
    second = await make_app()
    await first.holds.hold("gisc-offenbach", "stranger", "stranger: @eve:example.org")
    await second.holds.refresh()  # what its cache loop does every second
    assert "gisc-offenbach" in second.holds
    await second.console.type("anna.weber", REPORT, "member-de")
    await second.outbox.drain()
    await first.outbox.drain()
    assert room_text(second, "gisc-offenbach") == ""
    assert room_text(first, "gisc-offenbach") == ""
    assert len(await _pending(second, "gisc-offenbach")) == 1  # waiting, not dropped
    # a command typed there, answered by either process: "on hold", nothing more
    reply = (await second.console.type("gisc-offenbach", "incident show WIS-SEC-2026-1",
                                       "gisc-offenbach")).plain()
    assert "on hold" in reply
    for word in (*FORBIDDEN, "eve", "stranger"):
        assert word not in reply, word
    # the first process's check passes: the second delivers after its next refresh
    await first.holds.passed("gisc-offenbach")
    await second.holds.refresh()
    await second.outbox.drain()
    assert "Ransomware" in room_text(second, "gisc-offenbach")


async def test_a_hold_survives_a_restart(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    await app.holds.hold("gisc-offenbach", "stranger", "stranger: @eve:example.org")
    await app.console.type("anna.weber", REPORT, "member-de")
    await app.stop()
    again = await make_app()
    assert "gisc-offenbach" in again.holds
    await again.outbox.drain()
    assert room_text(again, "gisc-offenbach") == ""
    rows = await again.store.tx(lambda s: list(s.exec(select(RoomHold))))
    assert [(r.room_key, r.reason) for r in rows] == [("gisc-offenbach", "stranger")]


async def test_unchecked_rooms_are_held_until_their_check_passes(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    await app.holds.begin_checks(["gisc-offenbach", "gisc-tokyo"])
    assert {"gisc-offenbach", "gisc-tokyo"} <= set(app.holds)
    # an API error while checking keeps it held; it never replaces a real finding
    await app.holds.hold("gisc-tokyo", "stranger", "stranger: @eve:example.org")
    await app.holds.hold("gisc-tokyo", "api-error", "rate limited")
    hold = app.holds.hold_of("gisc-tokyo")
    assert hold is not None and hold.reason == "stranger"
    await app.console.type("anna.weber", REPORT, "member-de")
    await app.outbox.drain()
    assert room_text(app, "gisc-offenbach") == ""
    await app.holds.passed("gisc-offenbach")
    await app.outbox.drain()
    assert "Ransomware" in room_text(app, "gisc-offenbach")
    assert "gisc-tokyo" in app.holds
