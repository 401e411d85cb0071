"""Delivery: retries with backoff, dead letters (time-based) that alert the Secretariat,
held rooms. The fault classes (rate limits, outages, lost rooms) are in
test_outbox_faults.py."""

from __future__ import annotations

from sqlmodel import select

from tests.helpers import room_text
from wisbot.store.tables import OutboxRow


async def _rows(app, **where):  # type: ignore[no-untyped-def]
    def q(s):  # type: ignore[no-untyped-def]
        stmt = select(OutboxRow)
        for k, v in where.items():
            stmt = stmt.where(getattr(OutboxRow, k) == v)
        return list(s.exec(stmt.order_by(OutboxRow.id)).all())

    return await app.store.tx(q)


async def test_outage_backs_off_then_delivers_in_order(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    c.fail_rooms.add("gisc-offenbach")
    await c.type("anna.weber", "incident report DE-OF-NC share=principal-gisc First", "member-de")
    await c.type("anna.weber", "incident update WIS-SEC-2026-1 Second", "member-de")
    await app.outbox.drain()
    assert room_text(app, "gisc-offenbach") == ""
    assert "First" in room_text(app, "secretariat")  # other rooms are not held up
    [row, _second] = await _rows(app, room_key="gisc-offenbach")
    assert row.attempts == 1 and row.status == "pending"
    assert "unavailable" in (row.last_error or "")
    assert (row.next_attempt_at - clock()).total_seconds() == 1.0
    for expected_delay in (2.0, 4.0):
        clock.advance(seconds=expected_delay / 2)
        await app.outbox.drain()
        [row, _] = await _rows(app, room_key="gisc-offenbach")
        assert round((row.next_attempt_at - clock()).total_seconds(), 3) == expected_delay
    c.fail_rooms.clear()
    clock.advance(seconds=10)
    await app.outbox.drain()
    text = room_text(app, "gisc-offenbach")
    assert text.index("First") < text.index("Second")
    assert all(r.status == "delivered" for r in await _rows(app, room_key="gisc-offenbach"))


async def test_dead_letter_alerts_the_secretariat_and_keeps_the_message(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(outbox_give_up_hours=0.5)
    c = app.console
    c.fail_rooms.add("gisc-offenbach")
    await c.type("anna.weber", "incident report DE-OF-NC share=principal-gisc Phishing",
                 "member-de")
    for _ in range(5):
        await app.outbox.drain()
        clock.advance(seconds=600)
    [row] = await _rows(app, room_key="gisc-offenbach")
    # Given up 30 min after the first failed try (tries at 0, 10, 20 and 30 min).
    assert row.status == "dead" and row.attempts == 4
    sec = room_text(app, "secretariat")
    assert "Delivery failed: dead letter" in sec
    assert "gisc-offenbach" in sec and row.key in sec
    # The alert names the room and the error, not the protected content.
    alert = c.rooms["secretariat"][-1].plain()
    assert "Phishing" not in alert
    # Nothing else was told about the failure.
    assert "dead letter" not in room_text(app, "member-de")


async def test_dead_secretariat_room_does_not_loop(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(outbox_give_up_hours=0.1)
    c = app.console
    c.fail_rooms.add("secretariat")
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat Phishing", "member-de")
    for _ in range(6):
        await app.outbox.drain()
        clock.advance(seconds=600)
    rows = await _rows(app, room_key="secretariat")
    assert [r.status for r in rows] == ["dead"]


async def test_held_room_waits_and_loses_nothing(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    app.holds.add("gisc-offenbach")
    await app.console.type("anna.weber", "incident report DE-OF-NC share=principal-gisc Held",
                           "member-de")
    await app.outbox.drain()
    clock.advance(hours=5)
    await app.outbox.drain()
    assert room_text(app, "gisc-offenbach") == ""
    [row] = await _rows(app, room_key="gisc-offenbach")
    assert row.status == "pending" and row.attempts == 0
    app.holds.clear()
    await app.outbox.drain()
    assert "Held" in room_text(app, "gisc-offenbach")


async def test_direct_answer_goes_to_the_asker_only(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("hiro.sato", "incident query KE-NC")
    await c.type("sec-desk", "incident answer Q-1 Nothing known", "secretariat")
    await app.outbox.drain()
    assert [r.plain() for r in c.direct["hiro.sato"]][-1].endswith("Answer: Nothing known")
    assert all("Nothing known" not in room_text(app, r.key) for r in app.directory.rooms)


async def test_background_worker_delivers_without_drain(make_app) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    app = await make_app(run_worker=True)
    await app.console.type("anna.weber", "incident report DE-OF-NC share=secretariat Live",
                           "member-de")
    for _ in range(200):
        if "Live" in room_text(app, "secretariat"):
            break
        await asyncio.sleep(0.01)
    assert "Live" in room_text(app, "secretariat")
