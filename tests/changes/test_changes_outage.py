"""An authorised change to a Global Service is announced as a planned outage through the
outage service (the operations calendar, the duty room), and as a WMEM when publishing is
on; a change to a centre's own system is not."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from tests.changes.conftest import cab_meeting
from tests.changes.test_changes_console import REQUEST, say
from tests.helpers import room_text
from wisbot.store.change_tables import ChangeRequest
from wisbot.store.wmem_tables import WmemOutage, WmemOutgoing

BROKER = REQUEST.replace("DE-OF-NC", "DE-GISC") + " service=gb-dwd"


async def _authorise(app: Any, clock: Any, number: str = "CHG-2026-1") -> str:
    await say(app, "sec-maria", f"change accept {number} priority=high risk=medium")
    await cab_meeting(app, clock)
    return await say(app, "cab.chair", f"change decide {number} authorise")


async def test_authorised_global_service_change_is_a_planned_outage(change_app: Any,
                                                                 clock: Any) -> None:
    app = await change_app()
    unknown = await say(app, "gisc-offenbach", BROKER.replace("gb-dwd", "nowhere"))
    assert "'nowhere' is neither a WIS 2.0 service id" in unknown
    assert not await app.store.tx(lambda s: s.exec(select(ChangeRequest)).all())
    assert "CHG-2026-1 recorded" in await say(app, "gisc-offenbach", BROKER)
    # nothing is announced before the CAB authorises it
    assert not await app.store.tx(lambda s: s.exec(select(WmemOutage)).all())
    decided = await _authorise(app, clock)
    assert "gb-dwd is announced as a planned outage" in decided
    (outage,) = await app.store.tx(lambda s: s.exec(select(WmemOutage)).all())
    assert outage.service == "de-dwd-global-broker"
    assert (outage.starts_at.isoformat(), outage.ends_at.isoformat()) == (
        "2026-03-10T08:00:00+00:00", "2026-03-10T10:00:00+00:00")
    # the duty room and the WMEM's readers are outside the change's audience
    assert outage.text == "Planned maintenance"
    calendar = await say(app, "watch-op", "watch outages")
    assert "de-dwd-global-broker" in calendar and "CHG-2026-1" not in calendar
    assert "OAI-PMH" not in calendar
    await app.outbox.drain()
    assert "Planned outage in the operations calendar" in room_text(app, "duty")
    # publishing is off here: nothing queued
    assert not await app.store.tx(lambda s: s.exec(select(WmemOutgoing)).all())
    # a change to a centre's own system announces nothing
    await say(app, "anna.weber", REQUEST)
    await _authorise(app, clock, "CHG-2026-2")
    assert len(await app.store.tx(lambda s: s.exec(select(WmemOutage)).all())) == 1


async def test_with_publishing_on_the_outage_is_queued_as_a_wmem(change_app: Any,
                                                                 clock: Any) -> None:
    app = await change_app(wmem_publish=True, wmem_centre_id="de-dwd",
                           wmem_publish_brokers=["mqtt://127.0.0.1:9"])  # nothing listens
    await app.wmem_workers.stop()  # the publisher is not under test here
    await say(app, "gisc-offenbach", BROKER)
    decided = await _authorise(app, clock)
    assert "planned outage" in decided
    (queued,) = await app.store.tx(lambda s: s.exec(select(WmemOutgoing)).all())
    assert queued.topic.endswith("de-dwd-global-broker")
    (outage,) = await app.store.tx(lambda s: s.exec(select(WmemOutage)).all())
    assert outage.event_id is not None
