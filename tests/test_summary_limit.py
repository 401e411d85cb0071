"""A summary over the limit is refused without losing the text; cascade posts and page
reminders stay short and point to `incident show` (the handover page:
tests/watch/test_handover_page.py)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from tests.helpers import room_text
from wisbot.adapters.console import render_text
from wisbot.services.limits import SUMMARY_LIMIT
from wisbot.store.tables import Incident

# Written by hand: a long, detailed report a tired focal point would paste at 3 a.m.
DETAIL = ("Phishing mails to operators at the Offenbach data centre since 02:10 UTC; "
          "three accounts entered their password on the fake portal hxxp://login-dwd.example; "
          "the accounts were locked at 02:40 and the VPN sessions reset; we are checking "
          "the mail gateway logs for further recipients and the GTS switch for unusual "
          "logins. The sender domains rotate every hour. Indicators follow in an update; "
          "please watch your own gateways for the subject line 'Urgent: password expiry' "
          "and tell us of any hit. ")
LONG = DETAIL + "Tail marker: Zanzibar-Quokka-77."
TAIL = "Zanzibar-Quokka-77"


def test_the_long_text_is_over_the_limit_and_the_limit_is_in_range() -> None:
    assert 280 <= SUMMARY_LIMIT <= 500
    assert len(LONG) > SUMMARY_LIMIT


async def test_long_summary_is_refused_privately_with_the_text_given_back(make_app):
    app = await make_app()
    reply = await app.console.type("anna.weber", f"incident report DE-OF-NC "
                                   f"share=principal-gisc sev=3 {LONG}", "member-de")
    text = render_text(reply)
    assert reply.kind == "error" and reply.private
    assert "add details with" in text and "incident update" in text
    assert str(SUMMARY_LIMIT) in text and str(len(LONG)) in text
    assert TAIL in text  # the whole text is handed back: nothing is lost
    await app.outbox.drain()
    assert await app.store.tx(lambda s: s.exec(select(Incident)).all()) == []
    assert TAIL not in room_text(app, "member-de")  # not posted for the room
    assert app.console.direct == {}  # nobody paged


async def test_summary_at_the_limit_is_accepted(make_app):
    app = await make_app()
    summary = ("x" * (SUMMARY_LIMIT - 10)) + " fits here"
    assert len(summary) == SUMMARY_LIMIT
    reply = await app.console.type("anna.weber", f"incident report DE-OF-NC "
                                   f"share=principal-gisc {summary}", "member-de")
    assert reply.kind != "error", render_text(reply)


async def _old_long_incident(app: Any) -> None:
    """An incident reported before the limit existed (its summary is long)."""
    await app.console.type("anna.weber", "incident report DE-OF-NC share=all-giscs sev=3 "
                           "Short first", "member-de")

    def lengthen(session: Any) -> None:
        inc = session.exec(select(Incident)).one()
        inc.summary = LONG
        session.add(inc)

    await app.store.tx(lengthen)
    await app.outbox.drain()
    app.console.rooms.clear()
    app.console.direct.clear()


async def test_cascade_posts_cut_long_text_and_point_to_incident_show(make_app):
    app = await make_app()
    await _old_long_incident(app)
    await app.console.type("anna.weber", f"incident update WIS-SEC-2026-1 {LONG}",
                           "member-de")
    await app.outbox.drain()
    tokyo = room_text(app, "gisc-tokyo")
    assert "WIS-SEC-2026-1" in tokyo
    assert TAIL not in tokyo  # neither the summary nor the long update in full
    assert "in full: `incident show WIS-SEC-2026-1`" in tokyo
    shown = render_text(await app.console.type("gisc-offenbach",
                                               "incident show WIS-SEC-2026-1"))
    assert shown.count(TAIL) == 2  # summary and the update, in full


async def test_page_reminders_are_short_and_point_to_incident_show(make_app, clock):
    app = await make_app()
    await _old_long_incident(app)
    await app.console.type("anna.weber", "escalate WIS-SEC-2026-1 nobody answers",
                           "member-de")
    await app.outbox.drain()
    clock.advance(minutes=15)
    await app.paging.tick()
    await app.outbox.drain()
    reminders = [render_text(r) for r in app.console.direct.get("sec-desk", [])
                 if "Reminder" in render_text(r)]
    assert reminders, app.console.direct
    text = reminders[-1]
    assert "incident show WIS-SEC-2026-1" in text
    assert TAIL not in text
    assert "Recommended action" not in text and "Shared" not in text
    assert len(text) < 1000, text

