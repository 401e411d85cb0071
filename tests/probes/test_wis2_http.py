"""GDC, Global Cache and Global Monitor probes against small real HTTP servers."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from wisbot.probes.base import ProbeStatus, ProbeTarget, Service, probe
from wisbot.probes.wis2 import DEFAULT_INDICATORS, GB_MESSAGES_RECEIVED

from .conftest import FAST
from .servers import serve

PAYLOAD = b"BUFR" + bytes(range(256)) * 8 + b"7777"
#: per query, the Prometheus vector a Global Monitor would answer
SERIES: dict[str, list[dict[str, Any]]] = {
    DEFAULT_INDICATORS["gb_messages_received_24h_by_broker"]: [
        {"metric": {"report_by": "de-dwd-global-broker"}, "value": [1.7e9, "120000"]},
        {"metric": {"report_by": "fr-meteofrance-global-broker"}, "value": [1.7e9, "118500.5"]},
    ],
    DEFAULT_INDICATORS["gb_messages_received_24h_by_centre"]: [
        {"metric": {"centre_id": "de-dwd"}, "value": [1.7e9, "50000"]},
        {"metric": {"centre_id": "ca-eccc-msc"}, "value": [1.7e9, "NaN"]},
    ],
}


async def items(request: web.Request) -> web.Response:
    assert request.query["limit"] == "0"
    return web.json_response({"type": "FeatureCollection", "numberMatched": 4321,
                              "numberReturned": 0, "features": []})


async def cache_file(request: web.Request) -> web.Response:
    return web.Response(body=PAYLOAD, content_type="application/bufr")


async def short_file(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Length": str(len(PAYLOAD))})
    await resp.prepare(request)
    await resp.write(PAYLOAD[:100])
    request.transport.close()  # type: ignore[union-attr]
    return resp


async def query(request: web.Request) -> web.Response:
    q = request.query["query"]
    if q == "time()":
        return web.json_response({"status": "success",
                                  "data": {"resultType": "scalar", "result": [1.7e9, "1.7e9"]}})
    if "gc_downloaded_errors" in q:
        return web.json_response({"status": "error", "errorType": "bad_data",
                                  "error": "parse error"}, status=400)
    return web.json_response({"status": "success",
                              "data": {"resultType": "vector", "result": SERIES.get(q, [])}})


@pytest.fixture
async def wis2() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/collections/wis2-discovery-metadata/items", items)
    app.router.add_get("/data/file.bufr4", cache_file)
    app.router.add_get("/data/short.bufr4", short_file)
    app.router.add_get("/api/v1/query", query)
    async with serve(app) as base:
        yield base


async def test_gdc_number_matched(wis2: str) -> None:
    r = await probe(ProbeTarget("GDC-Test", Service.GDC, wis2), limits=FAST)
    assert (r.status, r.figure) == (ProbeStatus.OK, 4321)


async def test_gdc_wrong_content_type(wis2: str) -> None:
    r = await probe(ProbeTarget("GDC-Test", Service.GDC, wis2 + "/data/file.bufr4/collections/x"),
                    limits=FAST)
    assert r.status is ProbeStatus.FAIL
    assert r.reason == "HTTP 404 Not Found"


async def test_cache_download_and_integrity(wis2: str) -> None:
    digest = base64.b64encode(hashlib.sha512(PAYLOAD).digest()).decode()
    t = ProbeTarget("GC-Test", Service.CACHE, wis2 + "/data/file.bufr4",
                    {"integrity": {"method": "sha512", "value": digest},
                     "expected_size": len(PAYLOAD)})
    r = await probe(t, limits=FAST)
    assert r.status is ProbeStatus.OK, r.reason
    assert r.figure == len(PAYLOAD)
    assert r.details["integrity"] == "verified"
    bad = await probe(ProbeTarget("GC-Test", Service.CACHE, wis2 + "/data/file.bufr4",
                                  {"integrity": {"method": "sha512", "value": "AAAA"}}),
                      limits=FAST)
    assert bad.reason == "integrity check failed (sha512 differs)"


async def test_cache_truncated_download(wis2: str) -> None:
    r = await probe(ProbeTarget("GC-Test", Service.CACHE, wis2 + "/data/short.bufr4"), limits=FAST)
    assert r.status is ProbeStatus.FAIL
    assert r.reason is not None and "server broke the HTTP exchange" in r.reason


async def test_monitor_indicators(wis2: str) -> None:
    r = await probe(ProbeTarget("GM-Test", Service.MONITOR, wis2), limits=FAST)
    assert r.status is ProbeStatus.DEGRADED  # one indicator query is refused
    ind = r.details["indicators"]
    assert ind["gb_messages_received_24h_by_broker"] == {
        "de-dwd-global-broker": 120000.0,
        "fr-meteofrance-global-broker": 118500.5,
    }
    assert ind["gb_messages_received_24h_by_centre"] == {"de-dwd": 50000.0}  # NaN dropped
    assert r.figure == 238500.5
    assert r.reason is not None and "1 of 6 indicators failed" in r.reason
    assert "parse error" in r.reason
    assert GB_MESSAGES_RECEIVED in r.details["queries"]["gb_messages_received_24h_by_broker"]


async def test_monitor_unreachable_is_fail(wis2: str) -> None:
    r = await probe(ProbeTarget("GM-Test", Service.MONITOR, wis2 + "/nothing"), limits=FAST)
    assert (r.status, r.reason) == (ProbeStatus.FAIL, "HTTP 404 Not Found")


def test_indicator_metric_names_come_from_the_hierarchy() -> None:
    names = {"wmo_wis2_gb_messages_received_total", "wmo_wis2_gc_downloaded_total",
             "wmo_wis2_gc_downloaded_errors_total", "wmo_wis2_gdc_core_total",
             "wmo_wis2_gm_metricserver_status_flag"}
    text = json.dumps(dict(DEFAULT_INDICATORS))
    assert all(n in text for n in names)
