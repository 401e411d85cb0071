"""Paging and escalation on the fake clock: who is paged when, acknowledgement, escalation,
and what each page may say."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from tests.helpers import identifying_terms, leaks, room_text
from wisbot.adapters.console import render_text
from wisbot.services.notify import ResponseRequest
from wisbot.store.paging_tables import Page, PageStep
from wisbot.store.tables import TimelineEntry

SEVERE = "incident report DE-OF-NC share=principal-gisc sev=3 Phishing at DWD operators"


def dm(app: Any, contact: str) -> list[str]:
    """The pages a contact received (not the 'acknowledged' notices)."""
    return [render_text(r) for r in app.console.direct.get(contact, [])
            if not (r.title or "").endswith("– acknowledged")]


def notices(app: Any, contact: str) -> list[str]:
    return [render_text(r) for r in app.console.direct.get(contact, [])
            if (r.title or "").endswith("– acknowledged")]


async def at(app: Any, clock: Any, minutes: float) -> int:
    """Move the fake clock to ``minutes`` after 09:00 and run one scheduler pass."""
    start = clock.now.replace(hour=9, minute=0, second=0, microsecond=0)
    clock.now = start + timedelta(minutes=minutes)
    fired: int = await app.paging.tick()
    await app.outbox.drain()
    return fired


async def pages(app: Any) -> list[Page]:
    return await app.store.tx(lambda s: list(s.exec(select(Page).order_by(Page.id)).all()))


async def test_severe_report_pages_on_call_of_principal_gisc_and_secretariat(make_app, clock):
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    await app.outbox.drain()
    # Step 0 fires in the report's own transaction: the first on-call contacts have it.
    assert len(dm(app, "gisc-offenbach")) == 1
    assert len(dm(app, "sec-desk")) == 1
    assert dm(app, "sec-maria") == []  # second in the Secretariat chain: not yet
    first = dm(app, "gisc-offenbach")[0]
    assert "P-1" in first and "ack P-1" in first
    assert "Security incident severity 3" in first
    # Nobody outside the audience is paged.
    assert dm(app, "gisc-tokyo") == []
    assert {p.role for p in await pages(app)} == {"gisc:Offenbach", "secretariat"}


async def test_below_threshold_no_page(make_app):
    app = await make_app()
    await app.console.type("anna.weber", "incident report DE-OF-NC share=principal-gisc sev=2 "
                           "Odd logins", "member-de")
    await app.outbox.drain()
    assert await pages(app) == []
    assert app.console.direct == {}


async def test_default_steps_repeat_next_secretariat_missed(make_app, clock):
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    await app.outbox.drain()
    assert await at(app, clock, 14.9) == 0
    assert len(dm(app, "sec-desk")) == 1
    await at(app, clock, 15)
    assert len(dm(app, "sec-desk")) == 2  # repeat to the same contact
    assert dm(app, "sec-maria") == []
    await at(app, clock, 30)
    assert len(dm(app, "sec-maria")) == 1  # next contact in the chain
    assert "next on call" in dm(app, "sec-maria")[0]
    assert "target at risk" not in room_text(app, "secretariat")
    await at(app, clock, 45)
    assert "1-hour target at risk" in room_text(app, "secretariat")
    assert "target missed" not in room_text(app, "secretariat")
    await at(app, clock, 60)
    assert "1-hour target missed" in room_text(app, "secretariat")
    timeline = await app.store.tx(lambda s: s.exec(select(TimelineEntry).where(
        TimelineEntry.kind == "target-missed")).all())
    assert len(timeline) == 2  # both pages missed the target
    # Nothing more fires: every step fired once.
    assert await at(app, clock, 600) == 0


async def test_overdue_steps_fire_at_once_and_only_once(make_app, clock):
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    await app.outbox.drain()
    assert await at(app, clock, 50) == 2 * 3  # repeat, next, secretariat for both pages
    assert await at(app, clock, 50) == 0
    steps = await app.store.tx(lambda s: s.exec(select(PageStep)).all())
    assert sorted(s.status for s in steps).count("fired") == 8
    assert all(s.fired_at == clock.now for s in steps if s.seq in (1, 2, 3))


async def test_ack_by_someone_not_in_the_chain_is_refused(make_app, clock):
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    reply = await app.console.type("gisc-tokyo", "ack P-1")
    text = render_text(reply)
    # The refusal tells nothing: a page not yours reads like a missing one.
    assert reply.kind == "error" and "no open page for P-1 that you may acknowledge" in text
    missing = render_text(await app.console.type("gisc-tokyo", "ack P-99"))
    assert text.replace("P-1 ", "P-N ") == missing.replace("P-99 ", "P-N ")
    assert "Offenbach" not in text and "DE-OF-NC" not in text
    await at(app, clock, 15)
    assert len(dm(app, "gisc-offenbach")) == 2  # still paging


async def test_ack_of_a_hidden_incident_reveals_nothing(make_app):
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    hidden = render_text(await app.console.type("gisc-tokyo", "ack WIS-SEC-2026-1"))
    missing = render_text(await app.console.type("gisc-tokyo", "ack WIS-SEC-2026-99"))
    assert hidden.replace("-1 ", "-N ") == missing.replace("-99 ", "-N ")


async def test_ack_by_chain_member_stops_the_page_for_everyone(make_app, clock):
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    await at(app, clock, 31)  # sec-desk paged twice, then sec-maria
    reply = render_text(await app.console.type("sec-desk", "ack P-2"))
    assert "P-2" in reply and "within the 1-hour target" in reply and "31 min" in reply
    await app.outbox.drain()
    assert "acknowledged by WMO Secretariat 24/7 desk" in notices(app, "sec-maria")[-1]
    before = len(dm(app, "sec-maria"))
    await at(app, clock, 90)
    assert len(dm(app, "sec-maria")) == before
    # P-1 (GISC Offenbach) was not acknowledged, so it escalated to the Secretariat room.
    assert "P-1 – 1-hour target at risk" in room_text(app, "secretariat")
    assert "P-2 – 1-hour target at risk" not in room_text(app, "secretariat")
    page2 = (await pages(app))[1]
    assert page2.acked_by == "sec-desk" and page2.acked_at == \
        page2.created_at + timedelta(minutes=31)
    again = await app.console.type("sec-maria", "ack P-2")
    assert again.kind == "error" and "already acknowledged" in render_text(again)


async def test_secretariat_contact_may_acknowledge_any_page(make_app, clock):
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    reply = render_text(await app.console.type("sec-maria", "ack P-1"))
    assert "P-1" in reply and "acknowledged by Maria Rossi" in reply
    await at(app, clock, 90)
    assert len(dm(app, "gisc-offenbach")) == 1
    assert "acknowledged by Maria Rossi" in notices(app, "gisc-offenbach")[0]
    entries = await app.store.tx(lambda s: s.exec(select(TimelineEntry).where(
        TimelineEntry.kind == "ack")).all())
    assert [e.actor for e in entries] == ["sec-maria"]


async def test_ack_by_incident_number_stops_only_the_callers_pages(make_app, clock):
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    reply = render_text(await app.console.type("gisc-offenbach", "ack WIS-SEC-2026-1"))
    assert "P-1" in reply and "P-2" not in reply
    statuses = {p.role: p.status for p in await pages(app)}
    assert statuses == {"gisc:Offenbach": "acked", "secretariat": "open"}


async def test_escalate_jumps_to_the_next_step_now(make_app, clock):
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    await at(app, clock, 5)
    reply = render_text(await app.console.type("anna.weber", "escalate WIS-SEC-2026-1 "
                                               "no answer yet", "member-de"))
    assert "P-2" in reply and "repeat" in reply
    await app.outbox.drain()
    assert len(dm(app, "sec-desk")) == 2
    # The 15-minute step was brought forward, not repeated at 15 min.
    assert await at(app, clock, 15) == 0
    await at(app, clock, 30)
    assert len(dm(app, "sec-maria")) == 1
    entries = await app.store.tx(lambda s: s.exec(select(TimelineEntry).where(
        TimelineEntry.kind == "escalated")).all())
    assert entries[0].text == "no answer yet"


async def test_escalate_without_a_page_pages_the_secretariat(make_app):
    app = await make_app()
    await app.console.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=1 "
                           "Scans", "member-de")
    reply = render_text(await app.console.type("anna.weber", "escalate WIS-SEC-2026-1"))
    assert "P-1 now pages the WMO Secretariat" in reply
    await app.outbox.drain()
    assert len(dm(app, "sec-desk")) == 1


async def test_resolving_the_incident_stops_its_pages(make_app, clock):
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    await app.console.type("anna.weber", "incident resolve WIS-SEC-2026-1 fixed", "member-de")
    await at(app, clock, 90)
    assert len(dm(app, "sec-desk")) == 1
    assert {p.status for p in await pages(app)} == {"stopped"}


async def test_raising_severity_pages_once(make_app, clock):
    app = await make_app()
    await app.console.type("anna.weber", "incident report DE-OF-NC share=principal-gisc sev=2 "
                           "x", "member-de")
    await app.console.type("sec-desk", "severity WIS-SEC-2026-1 4 worse", "secretariat")
    await app.console.type("sec-desk", "severity WIS-SEC-2026-1 5 worst", "secretariat")
    assert len(await pages(app)) == 2


async def test_page_to_gisc_for_anonymised_incident_stays_anonymised(make_app, clock,
                                                                      example_directory):
    app = await make_app()
    await app.console.type("anna.weber", "incident report DE-OF-NC share=all-giscs sev=4 "
                           "anonymous DWD message switch compromised by Anna Weber's account",
                           "member-de")
    await at(app, clock, 31)
    tokyo = "\n".join(dm(app, "gisc-tokyo"))
    assert "a WIS centre in the area of GISC Offenbach" in tokyo
    assert len(dm(app, "gisc-tokyo")) == 3
    terms = identifying_terms(example_directory, "DE")
    assert leaks(tokyo, terms) == []
    # The principal GISC and the Secretariat read it named.
    assert "DE-OF-NC" in dm(app, "gisc-offenbach")[0]
    assert "DE-OF-NC" in dm(app, "sec-desk")[0]


async def test_a_page_exists_only_if_the_change_committed(make_app):
    app = await make_app()
    from wisbot.reply import text_reply

    request = ResponseRequest(kind="handover", ref="H-1", at=app.clock(),
                              targets=(("gisc:Tokyo", text_reply("handover")),))

    def failing(session: Any) -> None:
        app.paging.on_response(session, request)
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await app.store.tx(failing)
    assert await pages(app) == []
    await app.store.tx(lambda s: app.paging.on_response(s, request))
    assert [p.ref for p in await pages(app)] == ["H-1"]


async def test_query_pages_the_secretariat_and_ack_by_query_number(make_app, clock):
    app = await make_app()
    await app.console.type("hiro.sato", "incident query DE-OF-NC")
    await app.outbox.drain()
    assert "Q-1" in dm(app, "sec-desk")[0]
    reply = render_text(await app.console.type("sec-desk", "ack Q-1"))
    assert "P-1" in reply
    await at(app, clock, 90)
    assert len(dm(app, "sec-desk")) == 1


async def test_configured_steps(make_app, clock):
    app = await make_app(paging_steps="0 page, 5 next, 10 secretariat")
    await app.console.type("anna.weber", SEVERE, "member-de")
    await at(app, clock, 5)
    assert len(dm(app, "sec-maria")) == 1
    await at(app, clock, 10)
    assert "target at risk" in room_text(app, "secretariat")


def test_bad_steps_are_refused_with_the_reason():
    from wisbot.domain.paging import parse_steps

    with pytest.raises(ValueError, match="first step must be a 'page'"):
        parse_steps("5 repeat")
    with pytest.raises(ValueError, match="unknown action 'nudge'"):
        parse_steps("0 page, 5 nudge")
    with pytest.raises(ValueError, match="must come after"):
        parse_steps("0 page, 30 repeat, 15 next")


async def test_answering_a_query_stops_its_page(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("hiro.sato", "incident query KE-NC")
    await app.outbox.drain()
    paged = {who for who, replies in c.direct.items() if any("Q-1" in r.plain() for r in replies)}
    assert paged, "the query pages the Secretariat's on-call contact"
    before = {who: len(c.direct[who]) for who in paged}
    await c.type("sec-desk", "incident answer Q-1 Nothing known", "secretariat")
    clock.advance(minutes=20)
    await app.services.paging.tick()
    await app.outbox.drain()
    for who in paged:
        reminders = [r for r in c.direct[who][before[who]:] if "Reminder" in r.plain()]
        assert reminders == [], f"{who} was reminded of an answered query"
