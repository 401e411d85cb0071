"""SRU 2.0 answers (pycsw only speaks 1.1): count and diagnostic in the OASIS namespaces."""

from __future__ import annotations

from aiohttp import web

from wisbot.probes.base import ProbeStatus, ProbeTarget, Service, probe

from .conftest import FAST
from .servers import serve

OK = b"""<?xml version="1.0"?><sruResponse:searchRetrieveResponse
 xmlns:sruResponse="http://docs.oasis-open.org/ns/search-ws/sruResponse">
<sruResponse:version>2.0</sruResponse:version>
<sruResponse:numberOfRecords>1234</sruResponse:numberOfRecords>
</sruResponse:searchRetrieveResponse>"""
DIAG = b"""<?xml version="1.0"?><searchRetrieveResponse
 xmlns="http://docs.oasis-open.org/ns/search-ws/sruResponse"
 xmlns:diag="http://docs.oasis-open.org/ns/search-ws/diagnostic"><version>2.0</version>
<numberOfRecords>0</numberOfRecords><diagnostics><diag:diagnostic>
<diag:uri>info:srw/diagnostic/1/10</diag:uri><diag:details>cql</diag:details>
<diag:message>Query syntax error</diag:message></diag:diagnostic></diagnostics>
</searchRetrieveResponse>"""


async def handler(request: web.Request) -> web.Response:
    assert request.query["version"] == "2.0"
    body = DIAG if request.query.get("query") == "bad" else OK
    return web.Response(body=body, content_type="application/xml")


async def test_sru2_count_and_diagnostic() -> None:
    app = web.Application()
    app.router.add_get("/sru", handler)
    async with serve(app) as base:
        ok = await probe(
            ProbeTarget("GISC-X", Service.SRU, base + "/sru", {"version": "2.0"}), limits=FAST
        )
        bad = await probe(
            ProbeTarget("GISC-X", Service.SRU, base + "/sru", {"version": "2.0", "query": "bad"}),
            limits=FAST,
        )
    assert (ok.status, ok.figure, ok.details["sru_version"]) == (ProbeStatus.OK, 1234, "2.0")
    assert bad.status is ProbeStatus.FAIL
    assert bad.reason == "SRU diagnostic info:srw/diagnostic/1/10: Query syntax error (cql)"
