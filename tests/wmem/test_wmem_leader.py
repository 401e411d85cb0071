"""Only the leader subscribes; when it stops, the replica that takes the lead catches up
from the Global Replay what was published in between (served locally in the OGC API –
Features shape) and the dedupe drops what the old leader handled. PostgreSQL (the
election), the local Mosquitto."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiomqtt
import pytest
from aiohttp import web
from sqlmodel import select

from tests._services import require_tcp
from tests.conftest import EXAMPLE
from tests.wmem.conftest import event, raw
from wisbot.adapters.console import ConsoleAdapter
from wisbot.app import App
from wisbot.settings import Settings
from wisbot.store.watch_tables import WatchTicket


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("postgres_database")
    from tests.conftest import _truncate

    _truncate(url)
    return url


async def test_the_new_leader_catches_up_what_nobody_heard(pg_url: str,
                                                           example_directory: Any) -> None:
    require_tcp("127.0.0.1", 1883, "Mosquitto")
    published: list[dict[str, Any]] = []

    async def items(request: web.Request) -> web.Response:
        return web.json_response({"type": "FeatureCollection", "features": published,
                                  "links": []})

    webapp = web.Application()
    webapp.router.add_get("/collections/wis2-monitoring-event-messages/items", items)
    runner = web.AppRunner(webapp)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    s = Settings(database_url=pg_url, directory=EXAMPLE, watch_enabled=False,
                 leader_lease_seconds=1.5, leader_renew_seconds=0.25,
                 wmem_brokers=["mqtt://127.0.0.1:1883"],
                 wmem_replay_url=f"http://127.0.0.1:{port}")
    apps = [App(s, directory=example_directory, adapters=[ConsoleAdapter(echo=False)],
                run_worker=False, elect=True) for _ in range(2)]
    subject = f"xx-lead{uuid.uuid4().hex[:6]}"
    first_ev = event("gm-report", subject=subject)
    gap_ev = event("gm-report", subject=subject, data_ref=first_ev["id"],
                   data_severity="INFO")
    try:
        for app in apps:
            await app.start()
        a, b = apps
        assert a.leading and a.wmem_workers is not None and a.wmem_workers.subscriber
        assert not b.leading and b.wmem_workers is None  # a follower does not subscribe
        sub = a.wmem_workers.subscriber
        await asyncio.wait_for(sub.subscribed.wait(), 10)
        async with aiomqtt.Client("127.0.0.1", 1883, timeout=30) as pub:
            await pub.publish(f"monitor/a/wis2/{subject}", raw(first_ev), qos=1)
            published.append(first_ev)
            for _ in range(200):
                if a.wmem.outcomes["ticket"]:
                    break
                await asyncio.sleep(0.05)
            assert a.wmem.outcomes["ticket"] == 1
            await a.stop()  # the leader goes; nobody hears the next event live
            await pub.publish(f"monitor/a/wis2/{subject}", raw(gap_ev), qos=1)
            published.append(gap_ev)
        stopped = time.monotonic()
        while not b.leading:
            assert time.monotonic() - stopped < 10
            await asyncio.sleep(0.05)
        for _ in range(200):
            if b.wmem.outcomes["recovery"]:
                break
            await asyncio.sleep(0.05)
        assert b.wmem.outcomes["recovery"] == 1  # caught up from the replay
        assert b.wmem.outcomes["duplicate"] == 1  # the old leader's event, not again
        ts = await b.store.tx(lambda x: list(x.exec(
            select(WatchTicket).where(WatchTicket.subject == subject)).all()))
        assert len(ts) == 1
    finally:
        for app in apps:
            await app.stop()
        await runner.cleanup()
