"""Bounded HTTP for probes: timeouts on every request, redirects followed by hand (so a loop
is reported as a loop), bodies streamed and counted against ``ProbeLimits.max_bytes``.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx

from wisbot.probes import reasons as r
from wisbot.probes.errors import ProbeError, ResponseTooLarge
from wisbot.probes.model import ProbeLimits

USER_AGENT = "wisbot-gisc-watch/0.1 (+https://wis.wmo.int)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def timeout_for(limits: ProbeLimits) -> httpx.Timeout:
    return httpx.Timeout(
        connect=limits.connect_timeout,
        read=limits.read_timeout,
        write=limits.read_timeout,
        pool=limits.connect_timeout,
    )


def make_client(limits: ProbeLimits, *, max_connections: int = 100) -> httpx.AsyncClient:
    """A client for one probe run; redirects are off because :func:`open_stream` follows them."""
    return httpx.AsyncClient(
        timeout=timeout_for(limits),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=20),
    )


def with_params(url: str, params: Mapping[str, str] | None) -> httpx.URL:
    """``url`` with ``params`` merged into its query (httpx's ``params=`` would replace a query
    such as pycsw's ``?mode=oaipmh``)."""
    u = httpx.URL(url)
    return u.copy_merge_params(dict(params)) if params else u


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient,
    url: str | httpx.URL,
    limits: ProbeLimits,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    refuse_declared_oversize: bool = True,
) -> AsyncIterator[httpx.Response]:
    """GET ``url`` and yield the final response with its body still unread (refused at once
    when its declared length is over the cap, unless the caller handles that itself)."""
    current = with_params(str(url), params)
    visited = [str(current)]
    while True:
        request = client.build_request(
            "GET", current, headers=dict(headers or {}), timeout=timeout_for(limits)
        )
        response = await client.send(request, stream=True, follow_redirects=False)
        location = response.headers.get("location")
        if response.status_code not in _REDIRECTS or not location:
            break
        await response.aclose()
        current = request.url.join(location)
        if str(current) in visited:
            chain = " → ".join([*visited[visited.index(str(current)) :], str(current)])
            raise ProbeError(r.LOOP.en(chain=chain), {"redirects": visited})
        visited.append(str(current))
        if len(visited) - 1 > limits.max_redirects:
            raise ProbeError(
                r.REDIRECTS.en(n=limits.max_redirects, last=current),
                {"redirects": visited},
            )
    try:
        declared = response.headers.get("content-length")
        if (refuse_declared_oversize and declared and declared.isdigit()
                and int(declared) > limits.max_bytes):
            raise ResponseTooLarge(
                r.DECLARED.en(size=f"{int(declared):,}", cap=f"{limits.max_bytes:,}")
            )
        response.extensions["wisbot_redirects"] = visited[1:]
        yield response
    finally:
        await response.aclose()


async def iter_body(response: httpx.Response, limits: ProbeLimits) -> AsyncIterator[bytes]:
    """The decoded body in chunks, aborting once more than ``max_bytes`` have arrived."""
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limits.max_bytes:
            raise ResponseTooLarge(
                r.EXCEEDED.en(cap=f"{limits.max_bytes:,}")
            )
        yield chunk


async def read_capped(response: httpx.Response, limits: ProbeLimits) -> bytes:
    parts = [chunk async for chunk in iter_body(response, limits)]
    return b"".join(parts)


def require_success(response: httpx.Response) -> None:
    if response.status_code >= 400:
        phrase = response.reason_phrase or ""
        raise ProbeError(f"HTTP {response.status_code} {phrase}".rstrip())


def content_type(response: httpx.Response) -> str:
    raw: str = response.headers.get("content-type", "")
    return raw.split(";")[0].strip().lower()


def require_content_type(response: httpx.Response, marker: str, expected: str) -> None:
    """Refuse a body whose declared type lacks ``marker`` (an HTML error page instead of XML);
    an undeclared type is let through to the parser."""
    ctype = content_type(response)
    if ctype and marker not in ctype:
        raise ProbeError(r.CTYPE.en(expected=expected, ctype=ctype))


def _find_in_chain(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, kind):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def describe_http_error(exc: httpx.HTTPError, limits: ProbeLimits) -> str:
    """The reason a duty operator reads for a transport failure."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return r.CONNECT_TIMEOUT.en(seconds=f"{limits.connect_timeout:g}")
    if isinstance(exc, httpx.ReadTimeout):
        return r.READ_TIMEOUT.en(seconds=f"{limits.read_timeout:g}")
    if isinstance(exc, httpx.TimeoutException):
        return r.TIMED_OUT.en(error=exc)
    if isinstance(exc, httpx.ConnectError | httpx.ReadError):
        cert = _find_in_chain(exc, ssl.SSLCertVerificationError)
        if isinstance(cert, ssl.SSLCertVerificationError):
            why = cert.verify_message or str(cert)
            return r.CERT.en(error=why)
        tls = _find_in_chain(exc, ssl.SSLError)
        if isinstance(tls, ssl.SSLError):
            return r.TLS.en(error=tls.reason or tls)
        if _find_in_chain(exc, ConnectionRefusedError):
            return r.REFUSED.en()
        if _find_in_chain(exc, socket.gaierror):
            return r.DNS.en()
        return r.CONNECT.en(error=exc or type(exc).__name__)
    if isinstance(exc, httpx.RemoteProtocolError):
        return r.PROTOCOL.en(error=exc)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return r.URL.en(error=exc)
    if isinstance(exc, httpx.DecodingError):
        return r.DECODING.en(error=exc)
    return r.HTTP.en(kind=type(exc).__name__, error=exc)
