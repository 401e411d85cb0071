"""The incident flow end to end on the console: what each room reads."""

from __future__ import annotations


async def test_report_reaches_only_the_audience(make_app):  # type: ignore[no-untyped-def]
    app = await make_app()
    reply = await app.console.type(
        "anna.weber", "incident report DE-OF-NC share=principal-gisc sev=3 Phishing", "member-de")
    assert reply.title is not None and reply.title.startswith("TLP:AMBER+STRICT WIS-SEC-2026-1")
    await app.outbox.drain()
    rooms = app.console.rooms
    assert set(rooms) == {"secretariat", "member-de", "gisc-offenbach"}
    assert "Security incident severity 3 – Systems in the same security domain" in \
        app.console.transcript("gisc-offenbach")
