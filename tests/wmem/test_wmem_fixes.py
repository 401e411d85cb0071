"""The other side of the round-3 fixes (tests/wmem/test_redteam_round3_wmem.py shows the
attacks refused): what is still accepted, the confirmation of `watch outage`, and the
retention of events heard and WMEMs sent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from tests.wmem.conftest import event, raw
from wisbot.store.watch_tables import WatchTicket
from wisbot.store.wmem_tables import WmemEvent, WmemOutgoing

VIA = "broker test"
GB = "de-dwd-global-broker"


def _stamp(at: Any) -> str:
    return str(at.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _critical(subject: str, at: Any, source: str = "ma-marocmeteo-global-monitor"
              ) -> dict[str, Any]:
    return event("gm-report", subject=subject, source=source, data_severity="CRITICAL",
                 time=_stamp(at))


async def test_the_operating_centre_plans_and_moves_its_services_outage(
        wmem_app: Any, clock: Any) -> None:
    """de-dwd runs de-dwd-global-broker: its notice suppresses the broker's failures, its
    follow-up moves the window; the calendar shows a stranger's notice as not binding."""
    app = await wmem_app()
    w = app.wmem
    now = clock()
    notice = event("gs-outage", subject=GB, source="de-dwd")
    notice["data"]["time"]["interval"] = [_stamp(now - timedelta(minutes=10)),
                                          _stamp(now + timedelta(minutes=50))]
    assert await w.receive_bytes(raw(notice), "monitor/a/wis2/de-dwd", VIA) == "outage"
    longer = event("gs-outage", subject=GB, source="de-dwd", data_ref=notice["id"])
    longer["data"]["time"]["interval"] = [_stamp(now - timedelta(minutes=10)),
                                          _stamp(now + timedelta(hours=3))]
    assert await w.receive_bytes(raw(longer), "monitor/a/wis2/de-dwd", VIA) == "outage"
    clock.advance(hours=2)  # inside the moved window
    assert await w.receive_bytes(raw(_critical(GB, clock())), "", VIA) == "suppressed"
    stranger = event("gs-outage", subject="fr-meteofrance", source="jp-jma")
    stranger["data"]["time"]["interval"] = [_stamp(clock()), _stamp(clock() + timedelta(
        hours=1))]
    assert await w.receive_bytes(raw(stranger), "", VIA) == "outage"
    cal = (await app.console.type("watch-op", "watch outages", "duty")).plain()
    assert "WMEM jp-jma; not the service's own notice: suppresses nothing" in cal
    assert "WMEM de-dwd)" in cal


async def test_a_node_reusing_an_outage_id_of_another_source_is_stored_too(
        wmem_app: Any, clock: Any) -> None:
    """Two sources, one event id, both outage notices: two calendar entries, no error."""
    app = await wmem_app()
    w = app.wmem
    a = event("gs-outage", subject=GB, source=GB, id="7")
    b = event("gs-outage", subject="fr-meteofrance", source="fr-meteofrance", id="7")
    for doc in (a, b):
        doc["data"]["time"]["interval"] = [_stamp(clock()), _stamp(clock() + timedelta(
            hours=1))]
    assert await w.receive_bytes(raw(a), "", VIA) == "outage"
    assert await w.receive_bytes(raw(b), "", VIA) == "outage"
    assert await w.receive_bytes(raw(b), "", "broker other") == "duplicate"
    cal = (await app.console.type("watch-op", "watch outages", "duty")).plain()
    assert GB in cal and "fr-meteofrance" in cal


async def test_watch_outage_goes_ahead_once_confirmed(wmem_app: Any) -> None:
    app = await wmem_app(wmem_publish=True, wmem_centre_id="de-dwd",
                         wmem_publish_brokers=["mqtt://127.0.0.1:1"])

    async def queued() -> list[str]:
        return await app.store.tx(lambda s: [q.topic for q in s.exec(select(WmemOutgoing))])

    r = await app.console.type("watch-op", "watch outage de-dwd-global-brokr "
                               "2026-03-05T09:00Z 2026-03-05T11:00Z upgrade", "duty")
    assert r.kind == "error" and "did you mean 'de-dwd-global-broker'" in r.plain()
    r = await app.console.type("watch-op", "watch outage gb-dwd 2026-03-05T09:00Z "
                               "2027-03-05T11:00Z upgrade", "duty")
    assert r.kind == "error" and "365 days" in r.plain() and "confirm" in r.plain()
    assert await queued() == []
    # a week is fine without asking; an unknown centre far from any known one too
    r = await app.console.type("watch-op", "watch outage gb-dwd 2026-03-05T09:00Z "
                               "2026-03-12T09:00Z upgrade", "duty")
    assert r.kind != "error", r.plain()
    r = await app.console.type("watch-op", "watch outage ke-kmd 2026-03-05T09:00Z "
                               "2026-03-05T11:00Z data centre move", "duty")
    assert r.kind != "error", r.plain()
    r = await app.console.type("watch-op", "watch outage gb-dwd 2026-03-05T09:00Z "
                               "2026-04-05T11:00Z relocation of the data centre confirm",
                               "duty")
    assert r.kind != "error", r.plain()
    assert sorted(await queued()) == ["monitor/a/wis2/de-dwd-global-broker",
                                      "monitor/a/wis2/de-dwd-global-broker",
                                      "monitor/a/wis2/ke-kmd"]
    cal = (await app.console.type("watch-op", "watch outages", "duty")).plain()
    assert "relocation of the data centre" in cal and "centre confirm" not in cal


async def test_retention_purges_old_events_and_sent_wmems_only(
        wmem_app: Any, clock: Any) -> None:
    """After wmem_keep_days: events heard and WMEMs sent are deleted; an open ticket's
    events, WMEMs not yet sent and recent events stay; a recovery still finds the open
    ticket by the failure it names."""
    app = await wmem_app(wmem_publish=True, wmem_centre_id="de-dwd",
                         wmem_publish_brokers=["mqtt://127.0.0.1:1"], wmem_keep_days=30)
    w = app.wmem
    summary = event("gm-report", subject="fr-meteofrance", data_severity="WARNING",
                    time=_stamp(clock()))
    assert await w.receive_bytes(raw(summary), "", VIA) == "summary"
    still_open = _critical("jp-jma", clock())
    assert await w.receive_bytes(raw(still_open), "", VIA) == "ticket"
    closed = _critical("cn-cma", clock())
    assert await w.receive_bytes(raw(closed), "", VIA) == "ticket"
    ids = await app.store.tx(lambda s: {t.subject: t.id for t in s.exec(select(WatchTicket))})
    r = await app.console.type("watch-op", f"watch ticket {ids['cn-cma']} done back since "
                               "09:40", "duty")
    assert r.kind != "error", r.plain()
    for line in ("watch outage gb-dwd 2026-03-05T09:00Z 2026-03-05T11:00Z sent one",
                 "watch outage gb-dwd 2026-03-06T09:00Z 2026-03-06T11:00Z unsent one"):
        assert (await app.console.type("watch-op", line, "duty")).kind != "error"
    out = await app.store.tx(lambda s: list(s.exec(select(WmemOutgoing).order_by(
        WmemOutgoing.created_at))))
    sent_id = next(o.id for o in out if "sent one" in o.payload and "unsent" not in o.payload)
    await w.mark([sent_id])

    clock.advance(days=29)
    assert await w.purge() == 0  # nothing is 30 days old yet
    recent = event("gm-report", subject="br-inmet", data_severity="WARNING",
                   time=_stamp(clock()))
    assert await w.receive_bytes(raw(recent), "", VIA) == "summary"
    clock.advance(days=2)
    # summary, closed ticket's failure, two published-outage records, one sent WMEM
    assert await w.purge() == 5
    left = await app.store.tx(lambda s: sorted(s.exec(select(WmemEvent.subject)).all()))
    assert left == ["br-inmet", "jp-jma"], left
    pending = await app.store.tx(lambda s: [o.id for o in s.exec(select(WmemOutgoing))])
    assert len(pending) == 1 and pending[0] != sent_id
    # the open ticket's failure is still there for its recovery to name
    recovery = event("gm-report", subject="jp-jma", data_severity="INFO",
                     data_ref=still_open["id"], source=still_open["source"])
    assert await w.receive_bytes(raw(recovery), "", VIA) == "recovery"
    # an event purged cannot come back from the replay as news: the purge keeps the
    # replay window (here 24 h) and a day more whatever wmem_keep_days says
    w.settings = w.settings.model_copy(update={"wmem_keep_days": 1})
    clock.advance(hours=36)
    assert await w.purge() == 1  # br-inmet's, 3.5 days old; the 36 h old recovery stays
    left = await app.store.tx(lambda s: sorted(s.exec(select(WmemEvent.outcome)).all()))
    assert left == ["recovery", "ticket"], left
