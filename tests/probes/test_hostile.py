"""Probes against servers that misbehave; each must end fast with a reason an operator reads."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from wisbot.probes.base import ProbeStatus, ProbeTarget, Service, probe

from .conftest import FAST
from .servers import free_port, missing, self_signed_cert, serve

OAI_IDENTIFY = b"""<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-01-01T00:00:00Z</responseDate>
<request verb="Identify">http://x/oai</request><Identify><repositoryName>%s</repositoryName>
<baseURL>http://x/oai</baseURL><protocolVersion>2.0</protocolVersion></Identify></OAI-PMH>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE OAI-PMH [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
""" + (OAI_IDENTIFY % b"&xxe;").split(b"?>", 1)[1]

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><Identify><repositoryName>&lol9;</repositoryName></Identify></OAI-PMH>"""

LOOPING_PAGE = b"""<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">
<ListIdentifiers><header><identifier>a</identifier></header>
<header><identifier>b</identifier></header><resumptionToken>same</resumptionToken>
</ListIdentifiers></OAI-PMH>"""

XML = "text/xml"


async def hang(request: web.Request) -> web.Response:
    await asyncio.sleep(30)
    return web.Response(text="late")


async def drip(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": XML})
    await resp.prepare(request)
    await resp.write(b"<?xml version='1.0'?><OAI-PMH xmlns='http://www.openarchives.org/OAI/2.0/'>")
    for _ in range(600):  # one byte every 0.1 s: each read is in time, the whole never is
        await resp.write(b" ")
        await asyncio.sleep(0.1)
    return resp


async def huge(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": XML})
    await resp.prepare(request)
    await resp.write(b"<?xml version='1.0'?><OAI-PMH xmlns='http://www.openarchives.org/OAI/2.0/'>")
    for _ in range(1024):  # 16 MiB if nobody stops reading
        await resp.write(b"<x/>" * 4096)
    return resp


async def huge_declared(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": XML, "Content-Length": str(10**9)})
    await resp.prepare(request)
    await resp.write(b"<")
    return resp


async def oai_or_loop(request: web.Request) -> web.Response:
    if request.query.get("verb") == "Identify":
        return web.Response(body=OAI_IDENTIFY % b"looping", content_type=XML)
    return web.Response(body=LOOPING_PAGE, content_type=XML)


def xml(body: bytes, content_type: str = XML, status: int = 200) -> web.Response:
    return web.Response(body=body, content_type=content_type, status=status)


def fixed(make: Callable[[], web.StreamResponse]) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.StreamResponse:
        return make()

    return handler


def app() -> web.Application:
    a = web.Application()
    r = a.router
    r.add_get("/hang", hang)
    r.add_get("/drip", drip)
    r.add_get("/huge", huge)
    r.add_get("/huge-declared", huge_declared)
    r.add_get("/500", fixed(lambda: xml(b"oops", "text/plain", 500)))
    r.add_get("/xxe", fixed(lambda: xml(XXE)))
    r.add_get("/laughs", fixed(lambda: xml(LAUGHS)))
    r.add_get("/html", fixed(lambda: xml(b"<html>Login</html>", "text/html")))
    r.add_get("/malformed", fixed(lambda: xml(b"<OAI-PMH><Identify></OAI")))
    r.add_get("/not-oai", fixed(lambda: xml(b"<rss version='2.0'/>")))
    r.add_get("/loop-a", fixed(lambda: web.Response(status=302, headers={"Location": "/loop-b"})))
    r.add_get("/loop-b", fixed(lambda: web.Response(status=302, headers={"Location": "/loop-a"})))
    r.add_get("/token-loop", oai_or_loop)
    r.add_get("/ok", fixed(lambda: web.Response(text="portal")))
    return a


@pytest.fixture
async def hostile() -> AsyncIterator[str]:
    async with serve(app()) as base:
        yield base


async def timed(target: ProbeTarget) -> tuple[str, float, ProbeStatus]:
    t0 = time.monotonic()
    r = await probe(target, limits=FAST)
    assert r.reason is not None, r
    return r.reason, time.monotonic() - t0, r.status


def oai(url: str) -> ProbeTarget:
    return ProbeTarget("GISC-Hostile", Service.OAIPMH, url)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/hang", "server sent nothing for 0.5 s (read timeout)"),
        ("/drip", "no complete answer within 1.5 s (total timeout"),
        ("/500", "HTTP 500 Internal Server Error"),
        ("/huge", "response exceeded the 65,536-byte cap; download aborted"),
        ("/huge-declared", "response of 1,000,000,000 bytes declared, over the 65,536-byte cap"),
        ("/xxe", "XML with a document type declaration (DTD) refused"),
        ("/laughs", "XML with a document type declaration (DTD) refused"),
        ("/html", "expected an OAI-PMH XML answer but the server sent text/html"),
        ("/malformed", "malformed or truncated XML"),
        ("/not-oai", "not an OAI-PMH response (root element rss)"),
        ("/loop-a", "redirect loop: "),
    ],
)
async def test_hostile_oai_server(hostile: str, path: str, expected: str) -> None:
    reason, elapsed, status = await timed(oai(hostile + path))
    assert status is ProbeStatus.FAIL
    assert expected in reason
    assert elapsed < 2.5  # FAST.total_timeout is 1.5 s


async def test_xxe_never_reads_local_files(hostile: str) -> None:
    r = await probe(oai(hostile + "/xxe"), limits=FAST)
    assert "root:" not in repr(r)
    assert "/bin/" not in repr(r)


async def test_redirect_loop_names_the_chain(hostile: str) -> None:
    r = await probe(ProbeTarget("GISC-Hostile", Service.PORTAL, hostile + "/loop-a"), limits=FAST)
    assert r.status is ProbeStatus.FAIL
    assert r.reason == f"redirect loop: {hostile}/loop-a → {hostile}/loop-b → {hostile}/loop-a"


async def test_repeated_resumption_token_stops(hostile: str) -> None:
    r = await probe(oai(hostile + "/token-loop"), limits=FAST)
    assert r.status is ProbeStatus.DEGRADED
    assert r.reason == (
        "resumption token 'same' came back after 2 pages; paging stopped, "
        "count of 4 may be incomplete"
    )
    assert r.figure == 4


async def test_portal_ok_and_500(hostile: str) -> None:
    ok = await probe(ProbeTarget("GISC-Hostile", Service.PORTAL, hostile + "/ok"), limits=FAST)
    assert ok.status is ProbeStatus.OK and ok.latency_ms is not None
    assert ok.details["http_status"] == 200 and ok.details["bytes"] == len("portal")
    bad = await probe(ProbeTarget("GISC-Hostile", Service.PORTAL, hostile + "/500"), limits=FAST)
    assert (bad.status, bad.reason, bad.latency_ms) == (
        ProbeStatus.FAIL,
        "HTTP 500 Internal Server Error",
        None,
    )


async def test_connection_refused() -> None:
    port = free_port()  # nothing listens there any more
    reason, elapsed, _ = await timed(oai(f"http://127.0.0.1:{port}/oai"))
    assert reason == "connection refused (nothing listening on that port)"
    assert elapsed < 2


async def test_self_signed_tls(tmp_path: Path) -> None:
    pair = self_signed_cert(tmp_path)
    if pair is None:
        missing("openssl is needed to make a self-signed certificate")
        return
    key, cert = pair
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    async with serve(app(), ssl_context=ctx) as base:
        reason, elapsed, status = await timed(
            ProbeTarget("GISC-Hostile", Service.PORTAL, base + "/ok")
        )
    assert status is ProbeStatus.FAIL
    assert reason == "TLS certificate verification failed: self-signed certificate"
    assert elapsed < 2
