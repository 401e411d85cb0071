"""Events to tickets, rooms, follow-ups, recovery, duplicates (also across a restart and a
second App on the same database), planned outages suppressing tickets and probe flags, the
daily post, `watch report` and the handover report."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlmodel import select

from tests.helpers import room_text
from tests.wmem.conftest import OTHER_GISC_ROOMS, event, raw
from wisbot.store.watch_tables import WatchTicket, WatchTicketEvent
from wisbot.store.wmem_tables import WmemEvent

VIA = "broker test"


async def tickets(app: Any) -> list[WatchTicket]:
    return await app.store.tx(lambda s: list(s.exec(select(WatchTicket)).all()))


async def test_critical_about_a_global_service_opens_one_ticket_told_to_duty_and_area_gisc(
        wmem_app: Any) -> None:
    app = await wmem_app()
    w = app.wmem
    alert = event("gc-alert-report")  # CRITICAL about ca-eccc-msc-global-discovery-catalogue
    assert await w.receive_bytes(raw(alert), "monitor/a/wis2/ca-eccc-msc-global-discovery-"
                                 "catalogue", VIA) == "ticket"
    [t] = await tickets(app)
    assert t.subject == "ca-eccc-msc-global-discovery-catalogue"
    assert t.impact == "very-high"
    await app.outbox.drain()
    duty = room_text(app, "duty")
    assert "Watch ticket #1 – new ticket" in duty
    assert "Metadata archive is older than 24 hours" in duty
    assert "WIS2 centre ca-eccc-msc-global-discovery-catalogue" in duty
    # ca → GISC Washington (area table); nobody else hears of it
    assert "Metadata archive is older than 24 hours" in room_text(app, "gisc-washington")
    for key in [*OTHER_GISC_ROOMS, "gisc-offenbach", "gisc-tokyo"]:
        assert "Metadata archive" not in room_text(app, key), key

    # the same id again (another broker, the replay): nothing happens
    assert await w.receive_bytes(raw(alert), "monitor/a/wis2/x", "broker other") == "duplicate"
    # a follow-up names the first id: the same ticket
    again = event("gc-alert-report", data_ref=alert["id"], data_severity="ERROR")
    again["data"]["content"]["title"] = "Metadata archive is now 36 hours old"
    assert await w.receive_bytes(raw(again), "", VIA) == "update"
    # recovery (INFO naming it): a close proposal, the ticket stays open
    ok = event("gc-alert-report", data_ref=alert["id"], data_severity="INFO")
    ok["data"]["content"]["title"] = "Metadata archive refreshed"
    assert await w.receive_bytes(raw(ok), "", VIA) == "recovery"
    [t] = await tickets(app)
    assert t.state == "triage"
    await app.outbox.drain()
    duty = room_text(app, "duty")
    assert "recovery reported by ca-eccc-msc-global-discovery-catalogue" in duty
    assert "`watch ticket 1 done`" in duty
    shown = await app.console.type("watch-op", "watch ticket 1", "duty")
    assert "Metadata archive is now 36 hours old" in shown.plain()


async def test_node_error_is_medium_and_warnings_go_to_the_daily_post(
        wmem_app: Any, fake_sweep: Any) -> None:
    app = await wmem_app()
    w = app.wmem
    assert await w.receive_bytes(raw(event("gm-report")), "", VIA) == "ticket"
    [t] = await tickets(app)
    assert (t.subject, t.impact) == ("fr-meteofrance", "medium")
    warn = event("gc-404-report", data_severity="WARNING", subject="ke-kmd")
    warn["data"]["content"]["title"] = "Slow downloads from the Nairobi node"
    assert await w.receive_bytes(raw(warn), "", VIA) == "summary"
    assert await w.receive_bytes(raw(event("gdc-wcmp2-ets")), "", VIA) == "summary"
    out = await app.services.watch.run("daily")
    text = out.reply.plain()
    assert "WIS2 monitoring events (last 24 h)" in text
    assert "WARNING ke-kmd: Slow downloads from the Nairobi node" in text
    assert "INFO de-dwd: WCMP2 ETS report" in text
    assert "1 ERROR, 1 WARNING, 1 INFO" in text
    await app.outbox.drain()
    assert "Slow downloads" in room_text(app, "duty")
    for key in [*OTHER_GISC_ROOMS, "gisc-tokyo", "gisc-pretoria"]:
        assert "Slow downloads" not in room_text(app, key), key


async def test_planned_outage_suppresses_tickets_and_probe_flags_and_is_reported(
        wmem_app: Any, fake_sweep: Any, clock: Any) -> None:
    app = await wmem_app()
    w = app.wmem
    now = clock()
    notice = event("gs-outage", subject="de-dwd-global-broker", source="de-dwd-global-broker")
    notice["data"]["time"]["interval"] = [
        (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        (now + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert await w.receive_bytes(raw(notice), "", VIA) == "outage"
    cal = await app.console.type("watch-op", "watch outages", "duty")
    assert "de-dwd-global-broker" in cal.plain() and "Scheduled maintenance" in cal.plain()
    assert "NOW" in cal.plain()
    down = event("gc-alert-report", subject="de-dwd-global-broker")
    down["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await w.receive_bytes(raw(down), "", VIA) == "suppressed"
    # the probe of the same service (directory id gb-dwd) fails in the window: no ticket
    fake_sweep.set("gb-dwd", "broker", "fail", reason="connection refused")
    out = await app.services.watch.run("daily")
    assert out.opened == ()
    assert await tickets(app) == []
    assert "Planned outages" in out.reply.plain()
    # after the window the same failure opens a ticket
    clock.advance(hours=4)
    out = await app.services.watch.run("manual")
    assert len(out.opened) == 1
    rep = await app.services.watch.report()
    md = rep.markdown()
    assert "## Planned outages (operations calendar)" in md
    assert "Scheduled maintenance" in md
    assert "## Global Service levels" in md
    assert "gb-dwd (de-dwd-global-broker):" in md and "planned outage" in md


async def test_outage_command_validates_and_lands_in_the_calendar(wmem_app: Any) -> None:
    app = await wmem_app()
    bad = await app.console.type("watch-op", "watch outage nowhere 2026-03-05 2026-03-06 x",
                                 "duty")
    assert bad.kind == "error" and "neither a WIS 2.0 service id" in bad.plain()
    bad = await app.console.type("watch-op", "watch outage gb-dwd 2026-03-06 2026-03-05 x",
                                 "duty")
    assert bad.kind == "error" and "before it starts" in bad.plain()
    bad = await app.console.type("watch-op", "watch outage gb-dwd tomorrow 2026-03-05 x",
                                 "duty")
    assert bad.kind == "error" and "is not a time" in bad.plain()
    ok = await app.console.type("watch-op", "watch outage gb-dwd 2026-03-05T09:00Z "
                                "2026-03-05T11:00Z broker software upgrade", "duty")
    assert ok.kind != "error", ok.plain()
    assert "not published (wmem_publish is off)" in ok.plain()
    cal = await app.console.type("watch-op", "watch outages", "duty")
    assert "2026-03-05 09:00 – 2026-03-05 11:00 UTC  de-dwd-global-broker" in cal.plain()
    assert "broker software upgrade" in cal.plain()


async def test_restart_in_the_middle_and_a_second_app_never_double_a_ticket(
        wmem_app: Any, make_app: Any) -> None:
    app = await wmem_app()
    first = event("gm-report", subject="jp-jma")
    assert await app.wmem.receive_bytes(raw(first), "", VIA) == "ticket"
    await app.stop()  # a restart: same database, new process state
    app2 = await wmem_app()
    app3 = await wmem_app()  # a second replica on the same database
    flood = [raw(first)] * 20
    outcomes = await asyncio.gather(*(a.wmem.receive_bytes(p, "", f"broker {i}")
                                      for i, p in enumerate(flood) for a in (app2, app3)))
    assert set(outcomes) == {"duplicate"}
    # a new event arriving at both at once is handled once
    second = event("gm-report", subject="jp-jma", data_ref=first["id"])
    both = await asyncio.gather(app2.wmem.receive_bytes(raw(second), "", "a"),
                                app3.wmem.receive_bytes(raw(second), "", "b"))
    assert sorted(both) == ["duplicate", "update"]
    ts = await tickets(app2)
    assert len(ts) == 1
    notes = await app2.store.tx(lambda s: list(s.exec(select(WatchTicketEvent)).all()))
    assert [n.kind for n in notes] == ["opened", "note"]
    rows = await app2.store.tx(lambda s: list(s.exec(select(WmemEvent)).all()))
    assert len(rows) == 2


async def test_handover_report_carries_outages_and_service_levels(
        wmem_app: Any, fake_sweep: Any, clock: Any) -> None:
    app = await wmem_app()
    fake_sweep.set("gb-dwd", "broker", "fail", reason="connection refused")
    await app.services.watch.run("manual")
    clock.advance(hours=2)
    fake_sweep.set("gb-dwd", "broker", "ok")
    await app.services.watch.run("manual")
    ok = await app.console.type("watch-op", "watch outage gdc-eccc 2026-03-03T08:00Z "
                                "2026-03-03T09:00Z catalogue reindex", "duty")
    assert ok.kind != "error", ok.plain()
    clock.advance(days=1)
    reply = await app.console.type("gisc-tokyo", "watch handover", "gisc-tokyo")
    assert reply.kind != "error", reply.plain()
    await app.outbox.drain()
    exeter = room_text(app, "gisc-exeter")  # the next GISC on the roster
    assert "Planned outages" in exeter and "catalogue reindex" in exeter
    assert "Global Service levels" in exeter
    assert "gb-dwd (de-dwd-global-broker): " in exeter and "BELOW the 99.5 % target" in exeter
    report = await app.console.type("watch-op", "watch report", "duty")
    assert "gdc-eccc (ca-eccc-msc-global-discovery-catalogue): " in report.plain()


async def test_publishing_needs_a_centre_id_and_a_broker(make_app: Any) -> None:
    import pytest

    from wisbot.errors import UsageError

    with pytest.raises(UsageError, match="wmem_centre_id"):
        await make_app(wmem_publish=True, wmem_publish_brokers=["mqtt://127.0.0.1:1883"])
    with pytest.raises(UsageError, match="wmem_publish_brokers"):
        await make_app(wmem_publish=True, wmem_centre_id="de-dwd")
