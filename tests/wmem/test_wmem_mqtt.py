"""The subscriber and the publisher against the local Mosquitto (127.0.0.1:1883), and the
catch-up from a Global Replay served locally in the OGC API – Features shape."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from tests._services import require_tcp
from tests.wmem.conftest import event, raw
from wisbot.domain import wmem
from wisbot.services.wmem import Subscriber
from wisbot.store.watch_tables import WatchTicket
from wisbot.store.wmem_tables import WmemEvent, WmemOutgoing

BROKER = "mqtt://127.0.0.1:1883"


@pytest.fixture
def mosquitto() -> None:
    require_tcp("127.0.0.1", 1883, "Mosquitto")


async def _until(check: Any, within: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not check():
        if loop.time() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_two_brokers_flood_hostile_messages_and_one_ticket(mosquitto: None,
                                                                 wmem_app: Any) -> None:
    import aiomqtt

    app = await wmem_app()
    s = app.settings.model_copy(update={"wmem_brokers": [BROKER, BROKER + "/"]})
    subject = f"xx-test{uuid.uuid4().hex[:6]}"
    # The broker is shared with other test runs publishing hostile messages too: the
    # refusals counted are those of messages on this test's own topics.
    refused: Counter[str] = Counter()
    accept = app.wmem.accept

    def counting_accept(payload: bytes, topic: str, via: str) -> Any:
        before = Counter(app.wmem.refused)
        ev = accept(payload, topic, via)
        if topic.endswith("/" + subject):
            refused.update(app.wmem.refused - before)
        return ev

    app.wmem.accept = counting_accept
    sub = Subscriber(app.wmem, s)
    await sub.start()
    try:
        await _until(lambda: len(sub.connected) == 2)
        first = event("gm-report", subject=subject)
        big = event("gm-report", subject=subject)
        big["data"]["content"]["description"] = "x" * 9000
        async with aiomqtt.Client("127.0.0.1", 1883, timeout=30) as pub:
            topic = f"monitor/a/wis2/{subject}"
            await pub.publish(topic, raw(big), qos=1)
            await pub.publish(topic, b"{not json", qos=1)
            await pub.publish(topic, raw(event("gm-report", type="com.example.other")), qos=1)
            for _ in range(25):  # a flood of the same event, heard from both brokers
                await pub.publish(topic, raw(first), qos=1)
            follow = event("gm-report", subject=subject, data_ref=first["id"])
            await pub.publish(f"monitor/a/wis2/ma-marocmeteo-global-monitor/{subject}",
                              raw(follow), qos=1)  # the five-level form
        await _until(lambda: app.wmem.outcomes["duplicate"] >= 50)
        await sub.drain()
        assert refused == {"too-large": 2, "broken-json": 2, "wrong-type": 2}, refused
        # other runs on the shared broker may add their own events to the counters: what
        # this subject's events did is read from its rows
        mine = await app.store.tx(lambda x: sorted(x.exec(select(WmemEvent.outcome).where(
            WmemEvent.subject == subject)).all()))
        assert mine == ["ticket", "update"], mine
        ts = await app.store.tx(lambda x: list(x.exec(select(WatchTicket).where(
            WatchTicket.subject == subject)).all()))
        assert len(ts) == 1
    finally:
        await sub.stop()


async def test_publisher_outage_probe_failure_and_recovery_survive_a_broker_outage(
        mosquitto: None, wmem_app: Any, fake_sweep: Any, clock: Any) -> None:
    import aiomqtt

    app = await wmem_app(wmem_publish=True, wmem_centre_id="de-dwd",
                         wmem_publish_brokers=["mqtt://127.0.0.1:1"])  # nothing listens
    pub = app.wmem_workers.publisher
    await pub.stop()  # the test drives it
    got: list[tuple[str, bytes]] = []
    async with aiomqtt.Client("127.0.0.1", 1883, timeout=30) as watcher:
        await watcher.subscribe("monitor/a/wis2/#", qos=1)

        async def collect() -> None:
            async for m in watcher.messages:
                got.append((str(m.topic), bytes(m.payload)))  # type: ignore[arg-type]

        task = asyncio.create_task(collect())
        reply = await app.console.type("watch-op", "watch outage gb-dwd 2026-03-05T09:00Z "
                                       "2026-03-05T11:00Z broker software upgrade", "duty")
        assert "published on monitor/a/wis2/de-dwd-global-broker" in reply.plain()
        fake_sweep.set("gb-dwd", "broker", "fail", reason="connection refused")
        await app.services.watch.run("manual")
        await app.services.watch.run("manual")  # still failing: no second message
        assert await pub.flush() == 0  # the broker is down: kept
        rows = await app.store.tx(lambda x: list(x.exec(select(WmemOutgoing)).all()))
        assert len(rows) == 2 and all(r.sent_at is None and r.attempts == 1 for r in rows)
        pub.brokers = [b.__class__(BROKER) for b in pub.brokers]  # the broker is back
        clock.advance(seconds=10)
        assert await pub.flush() == 2
        fake_sweep.set("gb-dwd", "broker", "ok")
        await app.services.watch.run("manual")
        assert await pub.flush() == 1
        assert await pub.flush() == 0
        # the broker is shared with other test runs publishing the same topic: this app's
        # messages are told apart by the ids it queued
        ours = await app.store.tx(lambda x: {r.id for r in x.exec(select(WmemOutgoing))})

        def heard() -> list[tuple[str, Any]]:
            docs = [(t, json.loads(p)) for t, p in got
                    if t == "monitor/a/wis2/de-dwd-global-broker"]
            return [(t, d) for t, d in docs if d.get("id") in ours]

        await _until(lambda: len(heard()) >= 3)
        await asyncio.sleep(0.3)
        task.cancel()
    mine = heard()
    assert len(mine) == 3  # nothing lost, nothing twice
    # the outage and the failure were queued at the same instant: either may go first
    outage, failure = sorted((d for _, d in mine[:2]), key=lambda d: "time" not in d["data"])
    recovery = mine[2][1]
    for _, d in mine:
        assert wmem.check(d) == [] and d["source"] == "de-dwd"
        assert d["subject"] == "de-dwd-global-broker"
    assert outage["data"]["time"]["interval"] == ["2026-03-05T09:00:00Z",
                                                  "2026-03-05T11:00:00Z"]
    assert failure["data"]["severity"] == "ERROR"
    assert recovery["data"]["severity"] == "INFO"
    assert recovery["data"]["ref"] == failure["id"]
    # hearing our own messages back is not news
    for _, d in mine:
        assert await app.wmem.receive_bytes(raw(d), "", "broker") == "duplicate"


async def test_catch_up_from_a_local_global_replay(wmem_app: Any, clock: Any) -> None:
    """The replay is served by aiohttp in the OGC API – Features shape: a FeatureCollection
    of the WMEMs, ``datetime`` filter, pages linked by ``rel: next``."""
    from aiohttp import web

    events = [event("gm-report", subject=f"xx-node{i}") for i in range(5)]
    events[3]["type"] = "int.wmo.wis.wme.event.gdc-alert"  # drift is fine
    seen: list[dict[str, str]] = []

    async def items(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        page = int(request.query.get("page", "0"))
        chunk = events[page * 2:page * 2 + 2]
        links = []
        if page * 2 + 2 < len(events):
            links.append({"rel": "next", "type": "application/geo+json",
                          "href": f"{base}/collections/wis2-monitoring-event-messages/items"
                                  f"?page={page + 1}"})
        feats = [c if i % 2 == 0 else {"type": "Feature", "id": c["id"], "geometry": None,
                                       "properties": c} for i, c in enumerate(chunk)]
        return web.json_response({"type": "FeatureCollection", "features": feats,
                                  "numberReturned": len(feats), "links": links})

    webapp = web.Application()
    webapp.router.add_get("/collections/wis2-monitoring-event-messages/items", items)
    runner = web.AppRunner(webapp)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    try:
        app = await wmem_app(wmem_replay_url=base)
        assert await app.wmem.receive_bytes(raw(events[0]), "", "broker") == "ticket"
        clock.advance(hours=2)
        assert await app.wmem.catch_up() == 4
        assert seen[0]["datetime"] == (clock() - timedelta(hours=2, minutes=10)).strftime(
            "%Y-%m-%dT%H:%M:%SZ") + "/.."
        assert len(seen) == 3
        assert await app.wmem.catch_up() == 0  # all of it again: nothing new
        ts = await app.store.tx(lambda x: list(x.exec(select(WatchTicket)).all()))
        assert len(ts) == 5
    finally:
        await runner.cleanup()


async def test_database_away_keeps_the_batch_and_a_bad_message_is_skipped(
        mosquitto: None, wmem_app: Any) -> None:
    import aiomqtt
    from sqlalchemy.exc import OperationalError

    app = await wmem_app()
    w = app.wmem
    real_tx = w.store.tx
    down = {"left": 3}

    async def flaky_tx(fn: Any) -> Any:
        if down["left"]:
            down["left"] -= 1
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        return await real_tx(fn)

    real_decide = w._decide
    subject = f"xx-db{uuid.uuid4().hex[:6]}"
    evs = [event("gm-report", subject=subject) for _ in range(3)]

    def decide(session: Any, ev: Any, now: Any) -> Any:
        if ev.id == evs[1]["id"]:
            raise RuntimeError("a bug on one message")
        return real_decide(session, ev, now)

    w.store.tx = flaky_tx  # type: ignore[method-assign]
    w._decide = decide  # type: ignore[method-assign]
    # The broker is shared with every other test run on this machine, and those publish
    # WMEMs on monitor/a/wis2/... too: subscribed to this test's own topic only, so the
    # outcomes counted are of its own three events.
    sub = Subscriber(w, app.settings.model_copy(update={
        "wmem_brokers": [BROKER], "wmem_topic": f"monitor/a/wis2/{subject}"}))
    await sub.start()
    try:
        await _until(lambda: sub.connected)
        async with aiomqtt.Client("127.0.0.1", 1883, timeout=30) as pub:
            for d in evs:
                await pub.publish(f"monitor/a/wis2/{subject}", raw(d), qos=1)
        await _until(lambda: sum(w.outcomes.values()) >= 3, within=40)
        await sub.drain()
    finally:
        await sub.stop()
    assert down["left"] == 0
    assert w.outcomes["error"] == 1
    assert w.outcomes["ticket"] == 1 and w.outcomes["update"] == 1
