"""Exchange watch benchmark; each line: ``name: value unit (ratio=X vs baseline)``.

Harvest and parse 20,000 new WMO Core 1.3 records (``ListRecords``, pages of 500, no
``completeListSize``: paging only) from a local provider on 127.0.0.1 — records per second
and peak memory (the resident set of a child process doing only the harvest: lxml's
memory is outside tracemalloc's view) — against the baseline of the same harvest without parsing the
records' WMO Core fields (pages streamed and cut into records, nothing more). Targets:
above 2,000 records/s and under 150 MB.

Run: ``.venv/bin/python benchmarks/bench_exchange.py`` (also part of ``make bench``).
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from wisbot.probes.harvest import HarvestStats, harvest_core, iter_list_records
from wisbot.probes.http import make_client
from wisbot.probes.model import ProbeLimits

RECORDS = 20_000
PAGE = 500
SCOPES = ("GlobalExchange", "RegionalExchange", "OriginatingCentre")
CENTRES = ("EDZW", "LSSW", "RJTD", "ECMF", "KWBC", "LFPW", "EGRR", "AMMC")


def record(i: int) -> str:
    cccc = CENTRES[i % len(CENTRES)]
    scope = SCOPES[i % 3]
    anchor = i % 5 == 0
    title = "WMO_DistributionScopeCode" + (" (WMO Core 1.3)" if i % 2 else "")
    kw = (f'<gmx:Anchor xlink:href="http://wis.wmo.int/2012/codelists/WMOCodeLists.xml#'
          f'WMO_DistributionScopeCode_{scope}">{scope}</gmx:Anchor>' if anchor
          else f"<gco:CharacterString>{scope}</gco:CharacterString>")
    return (
        '<gmd:MD_Metadata xmlns:gmd="http://www.isotc211.org/2005/gmd" '
        'xmlns:gco="http://www.isotc211.org/2005/gco" xmlns:gmx="http://www.isotc211.org/2005/gmx"'
        ' xmlns:xlink="http://www.w3.org/1999/xlink">'
        f"<gmd:fileIdentifier><gco:CharacterString>urn:x-wmo:md:int.wmo.wis::SM{i % 100:02d}"
        f"{i:06d}{cccc}</gco:CharacterString></gmd:fileIdentifier>"
        "<gmd:language><gco:CharacterString>eng</gco:CharacterString></gmd:language>"
        "<gmd:contact><gmd:CI_ResponsibleParty><gmd:organisationName><gco:CharacterString>"
        "GISC metadata desk</gco:CharacterString></gmd:organisationName></gmd:CI_ResponsibleParty>"
        "</gmd:contact><gmd:dateStamp><gco:DateTime>2026-03-01T06:00:00Z</gco:DateTime>"
        "</gmd:dateStamp><gmd:metadataStandardName><gco:CharacterString>WMO Core Metadata "
        "Profile of ISO 19115 (WMO Core), 1.3, Part 1</gco:CharacterString>"
        "</gmd:metadataStandardName><gmd:identificationInfo><gmd:MD_DataIdentification>"
        f"<gmd:citation><gmd:CI_Citation><gmd:title><gco:CharacterString>Bulletin {i} from "
        f"{cccc}</gco:CharacterString></gmd:title></gmd:CI_Citation></gmd:citation>"
        f"<gmd:abstract><gco:CharacterString>Observations {i}, exchanged on the GTS and WIS."
        "</gco:CharacterString></gmd:abstract>"
        "<gmd:pointOfContact><gmd:CI_ResponsibleParty><gmd:organisationName>"
        f"<gco:CharacterString>Centre {cccc}</gco:CharacterString></gmd:organisationName>"
        '<gmd:role><gmd:CI_RoleCode codeList="x" codeListValue="originator">originator'
        "</gmd:CI_RoleCode></gmd:role></gmd:CI_ResponsibleParty></gmd:pointOfContact>"
        f"<gmd:descriptiveKeywords><gmd:MD_Keywords><gmd:keyword>{kw}</gmd:keyword>"
        f"<gmd:thesaurusName><gmd:CI_Citation><gmd:title><gco:CharacterString>{title}"
        "</gco:CharacterString></gmd:title></gmd:CI_Citation></gmd:thesaurusName>"
        "</gmd:MD_Keywords></gmd:descriptiveKeywords>"
        "<gmd:resourceConstraints><gmd:MD_LegalConstraints><gmd:otherConstraints>"
        f"<gco:CharacterString>{'WMOEssential' if i % 2 else 'WMOAdditional'}"
        "</gco:CharacterString></gmd:otherConstraints><gmd:otherConstraints>"
        "<gco:CharacterString>GTSPriority2</gco:CharacterString></gmd:otherConstraints>"
        "</gmd:MD_LegalConstraints></gmd:resourceConstraints>"
        "<gmd:extent><gmd:EX_Extent><gmd:geographicElement><gmd:EX_GeographicBoundingBox>"
        "<gmd:westBoundLongitude><gco:Decimal>5.0</gco:Decimal></gmd:westBoundLongitude>"
        "<gmd:eastBoundLongitude><gco:Decimal>15.0</gco:Decimal></gmd:eastBoundLongitude>"
        "<gmd:southBoundLatitude><gco:Decimal>47.0</gco:Decimal></gmd:southBoundLatitude>"
        "<gmd:northBoundLatitude><gco:Decimal>55.0</gco:Decimal></gmd:northBoundLatitude>"
        "</gmd:EX_GeographicBoundingBox></gmd:geographicElement></gmd:EX_Extent></gmd:extent>"
        "</gmd:MD_DataIdentification></gmd:identificationInfo></gmd:MD_Metadata>"
    )


def page(cursor: int) -> bytes:
    end = min(RECORDS, cursor + PAGE)
    body = "".join(
        f"<record><header><identifier>oai:bench:{i}</identifier><datestamp>"
        f"2026-03-01T06:00:00Z</datestamp></header><metadata>{record(i)}</metadata></record>"
        for i in range(cursor, end))
    token = f"<resumptionToken>c{end}</resumptionToken>" if end < RECORDS else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.'
            'org/OAI/2.0/"><responseDate>2026-03-02T00:00:00Z</responseDate><request verb="'
            f'ListRecords">http://bench/oai</request><ListRecords>{body}{token}</ListRecords>'
            "</OAI-PMH>").encode()


PAGES: list[bytes] = []


async def oai(request: web.Request) -> web.Response:
    token = request.query.get("resumptionToken", "c0")
    return web.Response(body=PAGES[int(token[1:]) // PAGE], content_type="text/xml")


def line(name: str, value: float, unit: str, ratio: float, note: str = "") -> None:
    print(f"{name}: {value:.1f} {unit} (ratio={ratio:.3f} vs baseline)")
    if note:
        print(f"#   {note}")


async def harvest(url: str, parse: bool) -> int:
    limits = ProbeLimits()
    stats = HarvestStats(source="bench")
    n = 0
    async with make_client(limits) as client:
        if parse:
            async for _ in harvest_core(client, url, limits, stats=stats):
                n += 1
        else:
            async for _ in iter_list_records(client, url, limits, stats=stats):
                n += 1
    assert stats.pages == RECORDS // PAGE and stats.stopped is None, stats.as_json()
    return n


async def timed(work: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = await work()
    return time.perf_counter() - t0, n


async def peak(url: str, mode: str) -> float:
    """Peak resident memory (MB) of a fresh process that runs one harvest."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", mode, url, stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out
    count, kb = out.decode().split()
    assert int(count) == RECORDS, count
    return int(kb) / 1024


def high_water_kb() -> int:
    """Peak RSS of this process. /proc's VmHWM starts afresh at exec, unlike ru_maxrss,
    which a child inherits from the (large) parent it was forked from."""
    try:
        with open("/proc/self/status") as status:
            for row in status:
                if row.startswith("VmHWM:"):
                    return int(row.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def child(mode: str, url: str) -> None:
    n = asyncio.run(harvest(url, mode == "parse"))
    print(n, high_water_kb())


async def main() -> None:
    PAGES.extend(page(c) for c in range(0, RECORDS, PAGE))
    app = web.Application()
    app.router.add_get("/oai", oai)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/oai"
    try:
        await harvest(url, False)  # warm up
        base_s, base_n = await timed(lambda: harvest(url, False))
        parse_s, parse_n = await timed(lambda: harvest(url, True))
        assert base_n == RECORDS and parse_n == RECORDS, (base_n, parse_n)
        base_peak = await peak(url, "fetch")
        parse_peak = await peak(url, "parse")
        base_rate, rate = base_n / base_s, parse_n / parse_s
        size = sum(len(p) for p in PAGES) / 2**20
        line(f"exchange_harvest_parse_{RECORDS}_records_rate", rate, "records/s",
             rate / base_rate,
             f"target > 2,000 records/s: {'met' if rate > 2000 else 'NOT MET'}; baseline = the "
             f"same harvest without WMO Core parsing, {base_rate:.0f} records/s; "
             f"{RECORDS // PAGE} pages, {size:.0f} MB of XML")
        line(f"exchange_harvest_parse_{RECORDS}_records_peak_memory", parse_peak, "MB",
             parse_peak / base_peak,
             f"target < 150 MB: {'met' if parse_peak < 150 else 'NOT MET'}; peak RSS of a "
             f"child process (interpreter and imports included); baseline {base_peak:.1f} MB")
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        asyncio.run(main())
