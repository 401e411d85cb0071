"""Each GISC's harvest is bounded and independent: a catalogue trickling one byte at a time
(every read answered in time, so only an overall deadline ends it) does not stop the
harvest of the others, and the run says so in the Secretariat room; a page over the size
cap is skipped past, recorded, and a harvest cut short goes on from its page next time.
Real aiohttp servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from sqlmodel import select

from tests.helpers import room_text
from tests.probes.servers import serve
from wisbot.clock import FakeClock
from wisbot.probes.model import ProbeLimits
from wisbot.store.exchange_tables import ExchangeHarvest, ExchangeRecord

from .providers import OAI_HEAD, oai_page
from .records import core_record, gts_id
from .test_spot import T0, directory

DRIP = 0.2
CAP = 64 * 1024


class Catalogue:
    """An OAI-PMH provider serving ``pages[token]``; a token in ``drip`` is answered with
    the start of a page and then one byte every ``DRIP`` seconds, endlessly; a token in
    ``chunked`` is sent in 16 KiB pieces without a Content-Length."""

    def __init__(self, pages: dict[str | None, bytes], drip: set[str | None] = frozenset(),
                 chunked: set[str | None] = frozenset()) -> None:
        self.pages = pages
        self.drip = set(drip)
        self.chunked = set(chunked)
        self.asked: list[str | None] = []
        self.dripping = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("resumptionToken")
        self.asked.append(token)
        if token not in self.drip and token not in self.chunked:
            return web.Response(body=self.pages[token], content_type="text/xml")
        response = web.StreamResponse(status=200)
        response.content_type = "text/xml"
        await response.prepare(request)
        if token in self.chunked:
            body = self.pages[token]
            for at in range(0, len(body), 16 * 1024):
                await response.write(body[at:at + 16 * 1024])
            await response.write_eof()
            return response
        self.dripping += 1
        try:
            await response.write(f"{OAI_HEAD}<ListRecords>".encode())
            while True:
                await response.write(b" ")
                await asyncio.sleep(DRIP)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            self.dripping -= 1
        return response


@dataclasses.dataclass
class Served:
    catalogue: Catalogue
    url: str


@contextlib.asynccontextmanager
async def _serve(catalogue: Catalogue) -> AsyncIterator[Served]:
    app = web.Application()
    app.router.add_get("/oai", catalogue.handle)
    async with serve(app) as base:
        yield Served(catalogue, f"{base}/oai")


def bounded(app: Any, **changes: Any) -> None:
    service = app.services.exchange
    service.config = dataclasses.replace(service.config, **changes)


async def test_dripping_catalogue_does_not_stop_the_others(make_app: Any,
                                                            clock: FakeClock) -> None:
    drip = Catalogue({}, drip={None})
    tokyo = Catalogue({None: oai_page([core_record(gts_id("SMJP01RJTD"), "SYNOP Japan")],
                                      None)})
    async def monitor_json(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        await response.prepare(request)
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            await response.write(b'{"centre": ')
            while True:
                await response.write(b" ")
                await asyncio.sleep(DRIP)
        return response

    figures = web.Application()
    figures.router.add_get("/monitor.json", monitor_json)
    async with _serve(drip) as slow, _serve(tokyo) as fast, serve(figures) as wismon:
        app = await make_app(directory({"Offenbach": slow.url, "Tokyo": fast.url},
                                       wismon={"Tokyo": f"{wismon}/monitor.json"}))
        bounded(app, harvest_deadline=2.0,
                limits=ProbeLimits(read_timeout=30.0, total_timeout=2.0))
        # a generous outer bound: without a per-GISC deadline the run never ends
        report = await asyncio.wait_for(app.services.exchange.run_daily(), 60)
        assert drip.dripping == 0  # the dripping connection was dropped, not left open
    by_source = {src.key: (status, st) for src, status, st in report.harvests}
    assert set(by_source) == {"oai:Offenbach", "oai:Tokyo"}
    status, stats = by_source["oai:Tokyo"]
    assert status == "ok" and stats.parsed == 1
    status, stats = by_source["oai:Offenbach"]
    assert status == "timeout"
    assert "no end within 2 s (overall deadline)" in (stats.stopped or "")
    assert report.figure_errors == [f"{wismon}/monitor.json: no complete answer within 2 s "
                                    "(overall deadline)"]

    def offered(session: Any) -> list[str]:
        return [r.identifier for r in session.exec(select(ExchangeRecord)).all()]

    assert await app.store.tx(offered) == [gts_id("SMJP01RJTD")]
    await app.outbox.drain()
    secretariat = room_text(app, "secretariat")
    assert "Exchange daily run: harvest cut at its deadline" in secretariat
    assert "oai:Offenbach" in secretariat and "oai:Tokyo" not in secretariat


async def test_oversize_page_is_skipped_past_and_the_next_run_goes_on_after_it(
        make_app: Any, clock: FakeClock) -> None:
    small = [core_record(gts_id(f"SMDL{i:02d}EDZW"), f"SYNOP {i}") for i in range(1, 4)]
    # page "1": one small and one big record before the cap, two big ones after it
    big = [core_record(gts_id(f"SMBG{i:02d}EDZW"), f"Big {i} " + "x" * 15_000)
           for i in range(1, 4)]
    last = core_record(gts_id("SMDL09EDZW"), "SYNOP after the big page")
    pages = {
        None: oai_page(small[:2], "1"),
        "1": oai_page([small[2], *big], "2"),
        "2": oai_page([last], None),
    }
    assert len(pages["1"]) > CAP
    catalogue = Catalogue(pages, drip={"2"}, chunked={"1"})
    async with _serve(catalogue) as served:
        app = await make_app(directory({"Offenbach": served.url}))
        bounded(app, harvest_deadline=2.0, limits=ProbeLimits(max_bytes=CAP))
        first = await asyncio.wait_for(app.services.exchange.spot(), 60)
        (_, status, stats), = first.harvests
        # the big page did not stop the list: the run went on to page "2" (dripping: cut)
        assert catalogue.asked == [None, "1", "2"]
        assert status == "timeout" and stats.pages == 2
        assert dict(stats.skipped) == {"oversize-page": 2}
        assert any("over the 65,536-byte cap" in q for q in stats.quirks)

        def state(session: Any) -> tuple[Any, list[str]]:
            row = session.get(ExchangeHarvest, "oai:Offenbach")
            titles = sorted(r.title for r in session.exec(select(ExchangeRecord)).all())
            return row, titles

        row, titles = await app.store.tx(state)
        assert [t[:6] for t in titles] == ["Big 1 ", "SYNOP ", "SYNOP ", "SYNOP "]
        assert titles[1:] == ["SYNOP 1", "SYNOP 2", "SYNOP 3"]
        assert row.status == "timeout" and row.resume["params"]["resumptionToken"] == "2"
        assert row.stats["skipped"] == {"oversize-page": 2}

        # The next run starts after the big page, where the last one was cut.
        catalogue.drip.clear()
        catalogue.asked.clear()
        clock.advance(days=1)
        second = await asyncio.wait_for(app.services.exchange.spot(), 60)
        (_, status, stats), = second.harvests
        assert catalogue.asked == ["2"]
        assert status == "ok" and stats.parsed == 1
        row, titles = await app.store.tx(state)
        assert "SYNOP after the big page" in titles
        assert row.resume is None and row.status == "ok"
        # complete now: the next run asks from when the interrupted list began
        assert row.next_from == T0


async def test_gdc_item_over_the_cap_is_skipped_past(make_app: Any, clock: FakeClock) -> None:
    """A Global Discovery Catalogue page over the cap is asked again with a smaller limit;
    the one item over the cap alone is skipped (counted), the items after it harvested."""
    def item(n: int, pad: int = 0) -> dict[str, Any]:
        return {"id": f"urn:wmo:md:de-dwd:item-{n}", "type": "Feature",
                "properties": {"title": f"item {n}" + " " * pad, "updated":
                               "2026-03-02T07:00:00Z", "wmo:dataPolicy": "core"}}

    items = [item(0), item(1), item(2), item(3, pad=2 * CAP), item(4), item(5)]
    asked: list[tuple[int, int]] = []

    async def items_page(request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "10"))
        offset = int(request.query.get("offset", "0"))
        asked.append((offset, limit))
        links = []
        if offset + limit < len(items):
            links.append({"rel": "next", "href": f"{request.url.origin()}{request.path}"
                                                 f"?offset={offset + limit}&limit={limit}"})
        return web.json_response({"type": "FeatureCollection",
                                  "features": items[offset:offset + limit], "links": links})

    web_app = web.Application()
    web_app.router.add_get("/gdc/collections/wis2-discovery-metadata/items", items_page)
    async with serve(web_app) as base:
        app = await make_app(directory(wis2={"gdc-test": {"kind": "gdc",
                                                          "url": f"{base}/gdc"}}))
        bounded(app, limits=ProbeLimits(max_bytes=CAP))
        report = await asyncio.wait_for(app.services.exchange.spot(), 60)
    (_, status, stats), = report.harvests
    assert status == "ok"
    assert dict(stats.skipped) == {"oversize-item": 1}
    assert stats.parsed == 5
    assert (3, 1) in asked and (4, 1) in asked  # item 3 alone, then on after it

    def ids(session: Any) -> list[str]:
        return sorted(r.identifier for r in session.exec(select(ExchangeRecord)).all())

    assert await app.store.tx(ids) == [f"urn:wmo:md:de-dwd:item-{n}" for n in (0, 1, 2, 4, 5)]
