"""Watch tickets: workflow, impact targets, probes opening and closing them, who is told,
and reminders on the fake clock."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.helpers import room_text
from wisbot.domain.watch import (
    Impact,
    ProbeVerdict,
    TicketState,
    WorkflowError,
    impact_for,
    move,
    recovery,
    report_status,
    target_words,
)

OTHER_GISC_ROOMS = ["gisc-offenbach", "gisc-beijing", "gisc-seoul", "gisc-washington",
                    "gisc-brasilia", "collaboration", "area-tokyo", "area-offenbach"]


def test_workflow_moves_one_step_and_done_from_anywhere() -> None:
    assert move(TicketState.TRIAGE, TicketState.TODO) is TicketState.TODO
    assert move(TicketState.REVIEW, TicketState.PROGRESS) is TicketState.PROGRESS
    assert move(TicketState.TODO, TicketState.DONE) is TicketState.DONE
    assert move(TicketState.DONE, TicketState.TRIAGE) is TicketState.TRIAGE
    with pytest.raises(WorkflowError, match="Triage can move to To Do"):
        move(TicketState.TRIAGE, TicketState.REVIEW)
    with pytest.raises(WorkflowError, match="already"):
        move(TicketState.TODO, TicketState.TODO)


def test_impact_targets_and_levels() -> None:
    assert target_words(Impact.VERY_HIGH) == \
        "Impact Very High – respond within 1 day, resolve within 1 week"
    assert target_words(Impact.HIGH) == \
        "Impact High – respond within 1 week, resolve within 1 month"
    assert target_words(Impact.MEDIUM) == \
        "Impact Medium – respond within 1 week, progress updates monthly"
    both = frozenset({"a:broker", "b:broker", "c:gdc"})
    assert impact_for(True, ProbeVerdict(both, both)) is Impact.VERY_HIGH
    kinds = {"a:broker": "broker", "b:broker": "broker", "c:gdc": "gdc"}
    assert impact_for(True, ProbeVerdict(frozenset({"a:broker", "b:broker"}), both),
                      kinds) is Impact.HIGH
    assert impact_for(True, ProbeVerdict(frozenset({"a:broker"}), both), kinds) is Impact.MEDIUM
    gisc = frozenset({"oaipmh", "sru", "portal"})
    assert impact_for(False, ProbeVerdict(gisc, gisc)) is Impact.HIGH
    assert impact_for(False, ProbeVerdict(frozenset({"sru"}), gisc)) is Impact.MEDIUM


def test_recovery_partial_and_full() -> None:
    ch = recovery(["oaipmh", "sru"], ["sru"], ["oaipmh", "sru", "portal"])
    assert (ch.closed, ch.partial, ch.still_failing) == (False, True, frozenset({"sru"}))
    assert recovery(["oaipmh", "sru"], [], ["oaipmh", "sru"]).closed
    # not probed this time (a scoped probe): still counted as failing
    assert not recovery(["oaipmh"], [], ["sru"]).closed
    assert report_status(TicketState.DONE, True) == "closed"
    assert report_status(TicketState.PROGRESS, True) == "partially open"
    assert report_status(TicketState.TRIAGE, False) == "open"


async def test_ticket_commands_tell_the_gisc_and_duty_but_no_other_gisc(watch_app: Any) -> None:
    app = await watch_app(duty_room=True)
    reply = await app.console.type(
        "watch-op", "watch ticket add Exeter Login process times out impact=high", "duty")
    assert reply.kind != "error", reply.plain()
    assert reply.title == "Watch ticket #1 – opened"
    assert "Impact High – respond within 1 week, resolve within 1 month" in reply.plain()
    assert "Respond by: 2026-03-09 09:00 UTC" in reply.plain()
    await app.outbox.drain()
    exeter = room_text(app, "gisc-exeter")
    assert "Watch ticket #1 – new ticket" in exeter and "Login process times out" in exeter
    assert "Watch ticket #1 – new ticket" in room_text(app, "duty")
    for key in [*OTHER_GISC_ROOMS, "gisc-tokyo"]:  # Tokyo is on duty, but has a duty room
        assert "Login process" not in room_text(app, key), key

    await app.console.type("gisc-exeter", "watch ticket 1 assign Exeter", "gisc-exeter")
    moved = await app.console.type("gisc-exeter", "watch ticket 1 progress Restarting the "
                                   "login service", "gisc-exeter")
    assert "moved to In Progress" in (moved.title or "")
    bad = await app.console.type("gisc-exeter", "watch ticket 1 triage", "gisc-exeter")
    assert bad.kind == "error"
    assert "In Progress can move to In Review (review), To Do (todo), Done (done)" in bad.plain()
    done = await app.console.type("gisc-exeter", "watch ticket 1 review", "gisc-exeter")
    assert "In Review" in done.plain()
    await app.console.type("watch-op", "watch ticket 1 done Fixed", "duty")
    shown = await app.console.type("watch-op", "watch ticket 1", "duty")
    text = shown.plain()
    assert "Status: Done (closed)" in text
    assert "assigned: GISC Exeter" in text and "Restarting the login service" in text
    await app.outbox.drain()
    for key in OTHER_GISC_ROOMS:
        assert "Watch ticket" not in room_text(app, key), key


async def test_members_cannot_work_tickets(watch_app: Any) -> None:
    app = await watch_app()
    reply = await app.console.type("anna.weber", "watch ticket add Exeter x", "member-de")
    assert reply.kind == "error" and "watch tickets are kept by" in reply.plain()


async def test_probes_open_partially_close_and_close_a_ticket(
        watch_app: Any, fake_sweep: Any, clock: Any) -> None:
    app = await watch_app()  # no duty room: the duty GISC (Tokyo) room gets watch posts
    w = app.services.watch
    for svc in ("oaipmh", "sru", "portal"):
        fake_sweep.set("Exeter", svc, "fail", reason=f"{svc}: connection refused")
    out = await w.run("manual", "Exeter")
    assert out.opened == (1,)
    await app.outbox.drain()
    exeter = room_text(app, "gisc-exeter")
    assert "GISC Exeter unreachable: no service answers" in exeter
    assert "Impact High" in exeter
    assert "Watch ticket #1" in room_text(app, "gisc-tokyo")  # on duty
    # Offenbach (the previous period) keeps the watch until Tokyo accepts a handover
    assert "Watch ticket #1" in room_text(app, "gisc-offenbach")
    for key in ("gisc-seoul", "gisc-beijing", "collaboration"):
        assert "Exeter" not in room_text(app, key), key

    clock.advance(hours=6)
    fake_sweep.set("Exeter", "oaipmh", "ok", figure=900)
    fake_sweep.set("Exeter", "portal", "ok")
    out = await w.run("manual", "Exeter")
    assert out.opened == () and out.updated == (1,)
    rep = await w.report()
    assert [(r.id, r.status) for r in rep.rows] == [(1, "partially open")]
    await app.outbox.drain()
    assert "partially open – answering again: OAI-PMH provider, HTTP portal" in \
        room_text(app, "gisc-exeter")

    clock.advance(hours=6)
    fake_sweep.set("Exeter", "sru", "ok", figure=900)
    await w.run("manual", "Exeter")
    rep = await w.report()
    assert [(r.id, r.status) for r in rep.rows] == [(1, "closed")]
    await app.outbox.drain()
    assert "closed: every service answers again" in room_text(app, "gisc-exeter")

    clock.advance(days=1)
    fake_sweep.set("Exeter", "sru", "fail", reason="SRU diagnostic 1/1: general system error")
    out = await w.run("manual", "Exeter")
    assert out.opened == (2,)  # a new failure after closure is a new ticket
    t2 = await w.show_ticket(2)
    assert "Impact Medium" in t2.plain()
    assert "SRU search not active (SRU diagnostic 1/1: general system error)" in t2.plain()


async def test_global_services_total_failure_is_very_high(watch_app: Any,
                                                           fake_sweep: Any) -> None:
    app = await watch_app(duty_room=True)
    for ident, kind in (("gb-one", "broker"), ("gb-two", "broker"), ("gdc-one", "gdc")):
        fake_sweep.set(ident, kind, "fail", reason="connection refused")
    out = await app.services.watch.run("manual", "wis2")
    assert len(out.opened) == 1
    shown = await app.services.watch.show_ticket(out.opened[0])
    assert "GISC: WIS 2.0 Global Services" in shown.plain()
    assert "Impact Very High" in shown.plain()
    await app.outbox.drain()
    assert "Very High" in room_text(app, "duty")
    for key in ("gisc-tokyo", "gisc-exeter", "gisc-offenbach"):
        assert "Watch ticket" not in room_text(app, key)


async def test_stalled_tickets_are_reminded_once_per_quiet_fortnight(
        watch_app: Any, clock: Any) -> None:
    app = await watch_app()
    w = app.services.watch
    await app.console.type("watch-op", "watch ticket add Exeter OAI provider not active",
                           "gisc-tokyo")
    clock.advance(days=14)
    assert await w.remind_stalled() == []  # exactly two weeks: not yet "more than"
    clock.advance(hours=1)
    assert await w.remind_stalled() == [1]
    assert await w.remind_stalled() == []  # not twice
    await app.outbox.drain()
    assert "reminder: no activity for 14 days" in room_text(app, "gisc-exeter")
    clock.advance(days=10)
    assert await w.remind_stalled() == []
    clock.advance(days=5)
    assert await w.remind_stalled() == [1]  # another quiet fortnight since the reminder
    await app.console.type("gisc-exeter", "watch ticket 1 todo", "gisc-exeter")
    clock.advance(days=10)
    assert await w.remind_stalled() == []  # activity resets the clock
    rep = await w.report(date(2026, 3, 1), date(2026, 4, 30))
    assert rep.activity["reminders sent"] == 2
