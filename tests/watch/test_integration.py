"""The daily run end to end against real servers: pycsw 2.6.2 (OAI-PMH + SRU), a pyoai
provider that only pages, a private Mosquitto as a Global Broker with a publisher, and
hostile servers (500, hanging). What the duty room reads, and who gets the tickets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiomqtt
from aiohttp import web

from tests.helpers import room_text
from tests.probes.conftest import broker_acl, pycsw_url  # noqa: F401  (fixtures)
from tests.probes.servers import notification, pyoai, serve
from wisbot.directory import Directory
from wisbot.probes.base import ProbeStatus, Service

from .conftest import watch_directory


@contextlib.asynccontextmanager
async def hostile() -> AsyncIterator[str]:
    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=500, text="Internal Server Error")

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/500", fail)
    app.router.add_get("/hang", hang)
    async with serve(app) as base:
        yield base


@contextlib.asynccontextmanager
async def publishing(port: int) -> AsyncIterator[None]:
    stop = asyncio.Event()

    async def run() -> None:
        async with aiomqtt.Client("127.0.0.1", port, username="publisher",
                                  password="publisher") as c:
            n = 0
            while not stop.is_set():
                topic = "origin/a/wis2/de-dwd/data/core/weather/surface-based-observations/synop"
                await c.publish(topic, notification(datetime.now(UTC), n), qos=1)
                n += 1
                await asyncio.sleep(0.05)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        stop.set()
        await task


async def test_daily_run_against_real_servers(
        make_app: Any, example_directory: Directory, pycsw_url: str,  # noqa: F811
        broker_acl: dict[str, int]) -> None:  # noqa: F811
    with pyoai(2500, batch=500) as oai, pyoai(40, batch=10) as small:
        async with hostile() as bad:
            d = watch_directory(example_directory, duty_room=True, services={
                "Offenbach": {"oaipmh": f"{pycsw_url}?mode=oaipmh",
                              "sru": f"{pycsw_url}?mode=sru", "portal": f"{pycsw_url}?mode=sru"},
                "Tokyo": {"oaipmh": oai},
                "Seoul": {"oaipmh": small},
                "Exeter": {"oaipmh": f"{bad}/500", "portal": f"{bad}/hang"},
            }, wis2={"gb-test": {"kind": "broker", "url": f"mqtt://127.0.0.1:{broker_acl['tcp']}",
                                 "window_s": "1.5", "publish_wait_s": "0.5"}})
            app = await make_app(d, watch_enabled=False, watch_probe_timeout_s=4.0)
            async with publishing(broker_acl["tcp"]):
                out = await app.services.watch.run("daily")
    got = {(r.centre, r.service): r for r in out.results}
    assert got[("Offenbach", Service.OAIPMH)].figure == 7
    assert got[("Offenbach", Service.SRU)].figure == 7
    assert got[("Tokyo", Service.OAIPMH)].figure == 2500
    assert got[("Tokyo", Service.OAIPMH)].details["count_source"] == "paging"
    broker = got[("gb-test", Service.BROKER)]
    assert broker.status is ProbeStatus.OK, broker.reason
    assert broker.figure is not None and broker.figure > 5
    assert got[("Exeter", Service.OAIPMH)].status is ProbeStatus.FAIL
    assert got[("Exeter", Service.PORTAL)].status is ProbeStatus.FAIL
    await app.outbox.drain()
    duty = room_text(app, "duty")

    def row(label: str) -> list[str]:
        line = next(x for x in duty.splitlines() if x.startswith(label + " "))
        return line[len(label):].split()

    assert row("GISC Tokyo / oaipmh")[0] == "ok" and "2,500" in row("GISC Tokyo / oaipmh")
    assert row("GISC Offenbach / sru")[0] == "ok" and "7" in row("GISC Offenbach / sru")
    assert row("GISC Exeter / oaipmh") == ["fail", "–", "–", "–"]
    assert row("gb-test / broker")[0] == "ok"
    assert "HTTP 500" in duty
    # Tokyo's 2,500 records against the others' 7 and 40: flagged
    assert "[outlier] Tokyo has 2,500 records; the other 2 centres' median is 23.5" in duty
    assert "[attachment chart.png," in duty
    exeter = room_text(app, "gisc-exeter")
    assert "GISC Exeter unreachable: no service answers" in exeter
    assert "Impact High" in exeter
    for key in ("gisc-offenbach", "gisc-tokyo", "gisc-beijing", "collaboration"):
        assert "Exeter unreachable" not in room_text(app, key), key
