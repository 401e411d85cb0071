"""Probe benchmarks; each line: ``name: value unit (ratio=X vs baseline)``.

1. sweep of 60 local endpoints that each answer after 1 s, against the sequential time
   (measured on 5 endpoints and extrapolated ×12 to keep the run short);
2. counting 100,000 records through a paging-only OAI-PMH server (no completeListSize):
   time and peak traced memory, against fetching the same pages without parsing.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import web

from wisbot.probes.base import ProbeLimits, ProbeStatus, ProbeTarget, Service, probe, sweep
from wisbot.probes.http import make_client

ENDPOINTS = 60
SAMPLE = 5
DELAY = 1.0
RECORDS = 100_000
PAGE = 1_000

OAI_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    "<responseDate>2026-01-01T00:00:00Z</responseDate>"
)
IDENTIFY = (
    OAI_HEAD + '<request verb="Identify">http://bench/oai</request><Identify>'
    "<repositoryName>bench</repositoryName><baseURL>http://bench/oai</baseURL>"
    "<protocolVersion>2.0</protocolVersion></Identify></OAI-PMH>"
).encode()


def list_page(cursor: int) -> bytes:
    end = min(RECORDS, cursor + PAGE)
    headers = "".join(
        f"<header><identifier>urn:x-wmo:md:int.wmo.wis::BENCH{i:07d}</identifier>"
        f"<datestamp>2024-01-01T00:00:00Z</datestamp><setSpec>bench</setSpec></header>"
        for i in range(cursor, end)
    )
    token = f"c{end}" if end < RECORDS else ""
    return (
        f'{OAI_HEAD}<request verb="ListIdentifiers">http://bench/oai</request>'
        f"<ListIdentifiers>{headers}<resumptionToken>{token}</resumptionToken>"
        "</ListIdentifiers></OAI-PMH>"
    ).encode()


async def oai(request: web.Request) -> web.Response:
    q = request.query
    if q.get("verb") == "Identify":
        return web.Response(body=IDENTIFY, content_type="text/xml")
    token = q.get("resumptionToken", "c0")
    return web.Response(body=PAGES[int(token[1:]) // PAGE], content_type="text/xml")


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(DELAY)
    return web.Response(text="ok")


T = TypeVar("T")
PAGES = [list_page(c) for c in range(0, RECORDS, PAGE)]


def line(name: str, value: float, unit: str, ratio: float, note: str = "") -> None:
    print(f"{name}: {value:.3f} {unit} (ratio={ratio:.3f} vs baseline)")
    if note:
        print(f"#   {note}")


async def fetch_only(base: str, limits: ProbeLimits) -> int:
    """The baseline: the same requests, bodies read and dropped, the token cut out by hand."""
    pages = 0
    async with make_client(limits) as client:
        await client.get(f"{base}/oai", params={"verb": "Identify"})
        token = None
        while True:
            params = {"verb": "ListIdentifiers"}
            params.update({"resumptionToken": token} if token else {"metadataPrefix": "x"})
            body = (await client.get(f"{base}/oai", params=params)).content
            pages += 1
            start = body.rfind(b"<resumptionToken>") + len(b"<resumptionToken>")
            token = body[start : body.rfind(b"</resumptionToken>")].decode() or None
            if token is None:
                return pages


async def measure(work: Awaitable[T], *, trace: bool) -> tuple[float, T]:
    """Seconds taken (untraced run) or the tracemalloc peak in bytes (traced run)."""
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    result = await work
    elapsed = time.perf_counter() - t0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return float(peak), result
    return elapsed, result


async def main() -> None:
    app = web.Application()
    app.router.add_get("/slow/{n}", slow)
    app.router.add_get("/oai", oai)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=512)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    limits = ProbeLimits()
    try:
        targets = [
            ProbeTarget(f"C{n}", Service.PORTAL, f"{base}/slow/{n}") for n in range(ENDPOINTS)
        ]
        t0 = time.perf_counter()
        for t in targets[:SAMPLE]:
            await probe(t, limits=limits)
        sequential = (time.perf_counter() - t0) * (ENDPOINTS / SAMPLE)
        t0 = time.perf_counter()
        results = await sweep(targets, concurrency=ENDPOINTS, limits=limits)
        wall = time.perf_counter() - t0
        assert all(r.status is ProbeStatus.OK for r in results), results
        line(
            f"sweep_{ENDPOINTS}_endpoints_1s",
            wall,
            "s",
            wall / sequential,
            f"sequential baseline {sequential:.1f} s = {SAMPLE} endpoints measured, "
            f"×{ENDPOINTS // SAMPLE} extrapolated",
        )

        target = ProbeTarget("Bench", Service.OAIPMH, f"{base}/oai")
        fetch_s, _ = await measure(fetch_only(base, limits), trace=False)
        count_s, r = await measure(probe(target, limits=limits), trace=False)
        fetch_peak, _ = await measure(fetch_only(base, limits), trace=True)
        peak, _ = await measure(probe(target, limits=limits), trace=True)
        assert r.status is ProbeStatus.OK and r.figure == RECORDS, r
        assert r.details["pages"] == RECORDS // PAGE
        line(f"oaipmh_count_{RECORDS}_records_time", count_s, "s", count_s / fetch_s,
             "baseline = fetching the same 100 pages without parsing")
        line(
            f"oaipmh_count_{RECORDS}_records_peak_memory",
            peak / 2**20,
            "MB",
            peak / fetch_peak,
            "tracemalloc peak (separate run from the timing); "
            "baseline = fetching the same pages unparsed",
        )
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
