"""Red team, round 3 (WIS2 monitoring events as hostile input): failing tests that need
the wmem fixtures (tests/wmem/conftest.py: the published WMEM examples, a directory whose
Global Services carry their centre-ids). Each test was written failing
(``xfail(strict=True)``) and now passes with its finding's fix. Events go through
``receive_bytes``, the path every broker message and the replay take."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from tests.wmem.conftest import event, raw
from wisbot.store.watch_tables import WatchTicket

VIA = "broker test"
GB = "de-dwd-global-broker"
ROGUE = "xx-rogue-met-service"  # any WIS2 Node may publish on monitor/a/wis2/<itself>


def _stamp(at: Any) -> str:
    return str(at.strftime("%Y-%m-%dT%H:%M:%SZ"))


async def tickets(app: Any) -> list[WatchTicket]:
    return await app.store.tx(lambda s: list(s.exec(select(WatchTicket)).all()))


def _critical_about_gb(at: Any) -> dict[str, Any]:
    alert = event("gm-report", subject=GB, source="ma-marocmeteo-global-monitor",
                  data_severity="CRITICAL", time=_stamp(at))
    alert["data"]["content"]["title"] = "Global Broker de-dwd refuses all subscriptions"
    return alert


# ----- finding 5: anyone can announce a planned outage for someone else's service ----------

async def test_an_outage_announced_by_another_centre_does_not_silence_the_service(
        wmem_app: Any, clock: Any) -> None:
    """A planned outage suppresses tickets and probe flags for its subject. A WIS2 Node
    (by mistake, a copied example, or on purpose) publishes one whose subject is the DWD
    Global Broker: the broker's real CRITICAL failure, reported by the Global Monitor,
    is then "suppressed" and nobody is told. Only the service itself (or its operating
    centre, or the duty GISC with `watch outage`) may plan its outage."""
    app = await wmem_app()
    w = app.wmem
    now = clock()
    notice = event("gs-outage", subject=GB, source=ROGUE)
    notice["data"]["time"]["interval"] = [_stamp(now - timedelta(hours=1)),
                                          _stamp(now + timedelta(days=7))]
    assert await w.receive_bytes(raw(notice), f"monitor/a/wis2/{ROGUE}", VIA) == "outage"
    out = await w.receive_bytes(raw(_critical_about_gb(clock())), f"monitor/a/wis2/{GB}", VIA)
    assert out == "ticket", out


async def test_a_follow_up_from_another_source_cannot_stretch_an_outage(
        wmem_app: Any, clock: Any) -> None:
    """The broker plans one hour of maintenance. A follow-up naming that event's id, from
    another centre and about another subject, moves the window to ten years: the
    broker's failures are suppressed for a decade."""
    app = await wmem_app()
    w = app.wmem
    now = clock()
    notice = event("gs-outage", subject=GB, source=GB)
    notice["data"]["time"]["interval"] = [_stamp(now - timedelta(minutes=10)),
                                          _stamp(now + timedelta(minutes=50))]
    assert await w.receive_bytes(raw(notice), f"monitor/a/wis2/{GB}", VIA) == "outage"
    stretch = event("gs-outage", subject=ROGUE, source=ROGUE, data_ref=notice["id"])
    stretch["data"]["time"]["interval"] = [_stamp(now - timedelta(minutes=10)), "2036"]
    await w.receive_bytes(raw(stretch), f"monitor/a/wis2/{ROGUE}", VIA)
    clock.advance(hours=2)  # the real maintenance is over
    out = await w.receive_bytes(raw(_critical_about_gb(clock())), f"monitor/a/wis2/{GB}", VIA)
    assert out == "ticket", out


# ----- finding 6: duplicates are told apart by id alone, not by source and id --------------

async def test_the_same_id_from_two_sources_is_two_events(wmem_app: Any,
                                                         clock: Any) -> None:
    """CloudEvents 1.0: "Producers MUST ensure that source + id is unique for each distinct
    event". A node that copied the published example keeps its id
    (6e1c7f9f-…, the id of every example in the WMEM repository) or counts from 1; a
    different centre's CRITICAL with the same id is then dropped as a "duplicate" and no
    ticket is opened."""
    app = await wmem_app()
    w = app.wmem
    first = event("gm-report", subject="fr-meteofrance", id="42")
    assert await w.receive_bytes(raw(first), "monitor/a/wis2/fr-meteofrance", VIA) == "ticket"
    other = _critical_about_gb(clock())
    other["id"] = "42"
    other["source"] = GB
    out = await w.receive_bytes(raw(other), f"monitor/a/wis2/{GB}", VIA)
    assert out == "ticket", out
    assert {t.subject for t in await tickets(app)} == {"fr-meteofrance", GB}


# ----- finding 15: a recovery heard before its failure leaves the failure's ticket open -----

async def test_a_failure_replayed_after_its_recovery_does_not_open_a_bare_ticket(
        wmem_app: Any, clock: Any) -> None:
    """wisbot was away while the DWD Global Broker failed. On reconnection the live stream
    delivers the broker's recovery at once (its data.ref names the failure) while the
    catch-up from the Global Replay (run beside the live consumer) brings the failure a
    moment later. The recovery found no ticket ("summary"); the failure then opens a Very
    High ticket in TRIAGE for an outage that is over, with no recovery proposal ever to
    come: TRIAGE is no longer zero and the duty GISC chases a healthy broker."""
    from wisbot.store.watch_tables import WatchTicketEvent

    app = await wmem_app()
    w = app.wmem
    failure = _critical_about_gb(clock() - timedelta(minutes=40))
    failure["source"] = GB
    recovery = event("gm-report", subject=GB, source=GB, data_severity="INFO",
                     data_ref=failure["id"], time=_stamp(clock()))
    recovery["data"]["content"]["title"] = "Global Broker de-dwd accepts subscriptions again"
    await w.receive_bytes(raw(recovery), f"monitor/a/wis2/{GB}", VIA)  # live
    await w.receive_bytes(raw(failure), "", "replay")  # the catch-up
    for t in await tickets(app):
        if t.state == "done":
            continue
        texts = await app.store.tx(lambda s, tid=t.id: [e.text for e in s.exec(select(
            WatchTicketEvent).where(WatchTicketEvent.ticket_id == tid)).all()])
        assert any("recovery" in x for x in texts), (t.id, t.state, texts)


# ----- finding 18: `watch outage` takes a typo or a decade and publishes it to the world -----

@pytest.mark.parametrize("line", [
    # a typo of the known DWD Global Broker: published to production brokers about a
    # centre that does not exist, the real broker unsuppressed, no did-you-mean
    "watch outage de-dwd-global-brokr 2026-03-05T09:00Z 2026-03-05T11:00Z upgrade",
    # 2027 for 2026: a year and a day of suppressed tickets and probe flags, published
    "watch outage gb-dwd 2026-03-05T09:00Z 2027-03-05T11:00Z upgrade",
], ids=["typo-centre", "year-typo"])
async def test_watch_outage_refuses_a_typo_or_asks_before_a_long_window(
        wmem_app: Any, line: str) -> None:
    """`wmem_publish` is on (deliberately: production brokers). A tired duty operator's
    slip must be refused (or asked about) before it is queued for publication."""
    from wisbot.store.wmem_tables import WmemOutgoing

    app = await wmem_app(wmem_publish=True, wmem_centre_id="de-dwd",
                         wmem_publish_brokers=["mqtt://127.0.0.1:1"])
    r = await app.console.type("watch-op", line, "duty")
    queued = await app.store.tx(lambda s: list(s.exec(select(WmemOutgoing)).all()))
    assert queued == [], (r.plain(), [q.topic for q in queued])


# ----- finding 19: one deeply nested message kicks wisbot off the broker and the replay ------

async def test_a_deeply_nested_message_is_refused_not_raised(wmem_app: Any,
                                                             clock: Any) -> None:
    """8,000 bytes of `[` (well under the 8192-byte limit), or a real-looking WMEM whose
    data.content nests a few thousand arrays, published by any WIS2 Node on its own topic:
    json.loads raises RecursionError (a RuntimeError, not a ValueError). In the broker
    listener it ends the MQTT session ("retrying in 1 s") at every delivery; in the
    catch-up it aborts the whole catch-up, so the events after it in the replay are never
    handled."""
    app = await wmem_app()
    w = app.wmem
    poison = b"[" * 8000
    nested = b'{"type": "int.wmo.wis.wme.event", "id": "n1", "data": {"severity": "ERROR", ' \
        b'"content": ' + b"[" * 3000 + b"]" * 3000 + b"}}"
    assert len(nested) < 8192
    for payload in (poison, nested):
        assert w.accept(payload, f"monitor/a/wis2/{ROGUE}", VIA) is None

    good = _critical_about_gb(clock())
    good["source"] = GB

    async def replay(base: str, since: Any) -> Any:
        deep: Any = []
        for _ in range(3000):
            deep = [deep]
        yield {"type": "int.wmo.wis.wme.event", "id": "deep", "subject": ROGUE,
               "data": {"severity": "ERROR", "content": deep}}
        yield good

    w.settings = w.settings.model_copy(update={"wmem_replay_url": "http://replay.invalid"})
    assert await w.catch_up(fetch=replay) == 1
