"""Harvesting discovery metadata: OAI-PMH ``ListRecords`` (WIS 1.0) and a Global Discovery
Catalogue's items (WIS 2.0), streamed, page by page, with the OAI-PMH probe's protections.

:func:`iter_list_records` yields each record of a ``ListRecords`` answer as its page is
parsed (pages are never held as a tree); the paging rules are those of
:mod:`wisbot.probes.oaipmh`: ``noRecordsMatch`` is an empty list, pycsw's last token ``0``
ends it, a repeated token or ``max_pages`` stops it (recorded in :class:`HarvestStats`), a
resumption refused for a missing ``metadataPrefix`` is retried once with it.

One bad record never stops the harvest: a page that fails to parse as a whole (a DTD, an
undeclared entity, a broken element) is *salvaged*: its records are cut apart and each is
parsed alone, still with the safe parser and never with the page's DTD; the bad ones are
skipped with a counted reason, the token is read so that paging goes on. A page over the
size cap is *skipped past*: the records before the cap are kept, the rest of the page is read
unparsed only to find its resumption token, and the records after the cap are counted as
skipped (``oversize-page``); paging goes on after it. ``stats.resume`` always holds the
request that continues the list from the page in progress, so a harvest cut short (by its
deadline) is continued there by the next run (``resume=``) instead of starting over.

:func:`harvest_core` adds the WMO Core parsing (:func:`wisbot.probes.wmocore.parse_core`);
:func:`iter_gdc_records` pages a GDC's OGC API – Records items.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from wisbot.probes.errors import ProbeError, ResponseTooLarge, UnsafeXML
from wisbot.probes.http import (
    open_stream,
    read_capped,
    require_content_type,
    require_success,
    with_params,
)
from wisbot.probes.model import ProbeLimits
from wisbot.probes.oaipmh import (
    DEFAULT_METADATA_PREFIX,
    OAI_NS,
    PYCSW_LAST_TOKEN,
    _oai_root_check,
)
from wisbot.probes.wis2 import gdc_items_url
from wisbot.probes.wmocore import CoreRecord, RecordRejected, parse_core, parse_wcmp2
from wisbot.probes.xmlsafe import SafeXMLStream, localname, namespace, parse_document

log = logging.getLogger(__name__)
_OAI = f"{{{OAI_NS}}}"
MAX_EXAMPLES = 20


@dataclass
class HarvestStats:
    """What one harvest did; ``skipped`` counts rejected records by reason code."""

    source: str = ""
    pages: int = 0
    records: int = 0
    deleted: int = 0
    parsed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    quirks: list[str] = field(default_factory=list)
    salvaged_pages: int = 0
    stopped: str | None = None
    """Why the harvest ended before the list did (None: it reached the end)."""
    resume: dict[str, str] | None = None
    """The request continuing the list at the page in progress (None: the first page)."""

    def skip(self, code: str, reason: str, count: int = 1) -> None:
        self.skipped[code] += count
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(reason)
            log.warning("harvest %s: record skipped (%s): %s", self.source, code, reason)
        elif len(self.examples) == MAX_EXAMPLES:
            self.examples.append("… further skipped records are only counted")
            log.warning("harvest %s: more records skipped; only counting from now on",
                        self.source)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "pages": self.pages, "records": self.records,
            "deleted": self.deleted, "parsed": self.parsed, "skipped": dict(self.skipped),
            "examples": list(self.examples), "quirks": list(self.quirks),
            "salvaged_pages": self.salvaged_pages, "stopped": self.stopped,
            "resume": self.resume,
        }


@dataclass
class RawRecord:
    """One ``record`` of a ``ListRecords`` page; ``metadata`` is valid until the next one."""

    header_id: str
    datestamp: str | None
    deleted: bool
    metadata: Any


@dataclass
class _Page:
    token: str | None = None
    error_code: str | None = None
    error_message: str = ""
    records: int = 0
    oversize: bool = False
    """Over the cap: the records after it were not parsed, only counted."""
    skipped_records: int = 0


def _record_of(el: Any) -> RawRecord:
    header = el.find(f"{_OAI}header")
    ident = datestamp = None
    deleted = False
    if header is not None:
        ident = (header.findtext(f"{_OAI}identifier") or "").strip()
        datestamp = (header.findtext(f"{_OAI}datestamp") or "").strip() or None
        deleted = header.get("status") == "deleted"
    meta = el.find(f"{_OAI}metadata")
    payload = meta[0] if meta is not None and len(meta) else None
    return RawRecord(ident or "", datestamp, deleted, payload)


_RECORD_TAG = f"{_OAI}record"
_TOKEN_TAG = f"{_OAI}resumptionToken"
_ERROR_TAG = f"{_OAI}error"
_LIST_TAG = f"{_OAI}ListRecords"


async def _stream_page(client: httpx.AsyncClient, url: str, params: dict[str, str],
                       limits: ProbeLimits, page: _Page, chunks: list[bytes],
                       ) -> AsyncIterator[RawRecord]:
    # Only the three tags that matter raise events: one Python call per record, not per
    # element (the bulk of a WMO Core record is elements the harvest never looks at).
    stream = SafeXMLStream(events=("end",), tag=[_RECORD_TAG, _TOKEN_TAG, _ERROR_TAG])
    checked = False
    ready: list[Any] = []

    def handle(el: Any) -> None:
        nonlocal checked
        if not checked:
            root = el.getroottree().getroot()
            _oai_root_check(localname(root), namespace(root))
            checked = True
        parent = el.getparent()
        parent_tag = None if parent is None else parent.tag
        tag = el.tag
        if tag == _RECORD_TAG and parent_tag == _LIST_TAG:
            ready.append(el)
        elif tag == _TOKEN_TAG and parent_tag == _LIST_TAG:
            page.token = (el.text or "").strip()
        elif tag == _ERROR_TAG and parent is not None and parent.getparent() is None:
            page.error_code = el.get("code", "?")
            page.error_message = (el.text or "").strip()

    async with open_stream(client, url, limits, params=params,
                           refuse_declared_oversize=False) as resp:
        require_success(resp)
        require_content_type(resp, "xml", "an OAI-PMH XML answer")
        # A declared length over the cap changes nothing: the page is parsed up to the cap
        # and scanned after it, like one that turns out too long.
        scan: _TokenScan | None = None
        total = 0
        async for data in resp.aiter_bytes():
            total += len(data)
            chunk = data
            if scan is None and total > limits.max_bytes:
                keep = len(data) - (total - limits.max_bytes)
                chunk, rest = data[:keep], data[keep:]
                scan = _TokenScan(chunk[-64:])
                scan.feed(rest)
            elif scan is not None:
                if total > limits.skip_bytes:
                    raise ResponseTooLarge(
                        f"response exceeded {limits.skip_bytes:,} bytes without reaching its "
                        "resumption token; download aborted")
                scan.feed(data)
                continue
            if not chunk:
                continue
            chunks.append(chunk)
            for _, el in stream.feed(chunk):
                handle(el)
            if ready:
                for el in ready:
                    page.records += 1
                    yield _record_of(el)
                for el in ready:
                    _drop(el)
                ready.clear()
        if scan is not None:
            # the records complete before the cap were yielded; the rest are only counted
            page.oversize = True
            if scan.seen:
                page.token = scan.token
            page.skipped_records = scan.record_ends
            return
    for _, el in stream.close():
        handle(el)
    if not checked and stream.root is not None:
        _oai_root_check(localname(stream.root), namespace(stream.root))
    for el in ready:
        page.records += 1
        yield _record_of(el)
    for el in ready:
        _drop(el)
    ready.clear()


class _TokenScan:
    """Reads the rest of an oversize page without parsing it: remembers the last
    ``resumptionToken`` and counts the records' end tags (a tail is kept across chunks)."""

    TAIL = 8192

    def __init__(self, before: bytes = b"") -> None:
        self.tail = before  # the parsed bytes just before the cap: an end tag may straddle it
        self.seen = False
        self.token: str | None = None
        self.record_ends = 0

    def feed(self, chunk: bytes) -> None:
        buf = self.tail + chunk
        fresh = len(self.tail)
        self.record_ends += sum(1 for m in _RECORD_END.finditer(buf) if m.end() > fresh)
        for m in _TOKEN.finditer(buf):
            if m.end() <= fresh:
                continue  # in the parsed part (or seen in the previous chunk)
            self.seen = True
            text = (m.group(1) or b"").decode("utf-8", "replace").strip()
            self.token = None if ("<" in text or "&" in text) else (text or None)
        self.tail = buf[-self.TAIL:]


def _drop(el: Any) -> None:
    """Free a finished child of the verb element and everything parsed before it."""
    el.clear()
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


_NAME = rb"(?:[A-Za-z_][\w.-]*:)?"
_ROOT_TAG = re.compile(rb"<" + _NAME + rb"OAI-PMH\b[^>]*>", re.S)
_XMLNS = re.compile(rb"""xmlns(?::[\w.-]+)?\s*=\s*(?:"[^"]*"|'[^']*')""")
_RECORD = re.compile(rb"<" + _NAME + rb"record[\s>].*?</" + _NAME + rb"record\s*>", re.S)
_RECORD_END = re.compile(rb"</" + _NAME + rb"record\s*>")
_TOKEN = re.compile(rb"<" + _NAME + rb"resumptionToken\b[^>]*?(?:/>|>(.*?)</" + _NAME
                    + rb"resumptionToken\s*>)", re.S)
_ENTITY_REF = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)[A-Za-z_][\w.-]*;")
_ERROR = re.compile(rb"<" + _NAME + rb"error\b[^>]*code\s*=\s*[\"']([^\"']*)[\"'][^>]*>(.*?)</",
                    re.S)


def _salvage(body: bytes, page: _Page, stats: HarvestStats, skip_first: int,
             why: str) -> list[RawRecord]:
    """Cut a page that failed as a whole into its records and parse each alone."""
    root = _ROOT_TAG.search(body)
    if root is None:
        raise ProbeError(f"page refused and not salvageable: {why}")
    stats.salvaged_pages += 1
    stats.quirks.append(f"page {stats.pages + 1} salvaged record by record: {why}")
    decls = b" ".join(dict.fromkeys(_XMLNS.findall(root.group(0))))
    token = _TOKEN.search(body, root.end())
    page.token = None if token is None else (token.group(1) or b"").decode("utf-8",
                                                                          "replace").strip()
    if page.token and ("<" in page.token or "&" in page.token):
        page.token = None
    error = _ERROR.search(body, root.end())
    if error is not None and _RECORD.search(body, root.end()) is None:
        page.error_code = error.group(1).decode("utf-8", "replace")
        page.error_message = error.group(2).decode("utf-8", "replace").strip()
    out: list[RawRecord] = []
    for n, m in enumerate(_RECORD.finditer(body, root.end())):
        if n < skip_first:
            continue
        entity = _ENTITY_REF.search(m.group(0))
        if entity is not None:
            stats.records += 1
            name = entity.group(0).decode("utf-8", "replace")
            stats.skip("entity-reference",
                       f"record {n + 1} of page {stats.pages + 1}: uses entity {name} declared "
                       "in the page's DTD (XXE or entity expansion refused)")
            continue
        wrapped = b"<wisbot-salvage " + decls + b">" + m.group(0) + b"</wisbot-salvage>"
        try:
            el = parse_document(wrapped)
        except UnsafeXML as exc:
            stats.records += 1
            stats.skip("unsafe-xml", f"record {n + 1} of page {stats.pages + 1}: {exc.reason}")
            continue
        except ProbeError as exc:
            stats.records += 1
            reason = exc.reason
            stats.skip("malformed-record", f"record {n + 1} of page {stats.pages + 1}: {reason}")
            continue
        rec = el.find(f"{_OAI}record")
        if rec is None:
            stats.records += 1
            stats.skip("wrong-namespace",
                       f"record {n + 1} of page {stats.pages + 1}: not an OAI-PMH record")
            continue
        out.append(_record_of(rec))
    return out


async def iter_list_records(
    client: httpx.AsyncClient,
    url: str,
    limits: ProbeLimits,
    *,
    from_: datetime | str | None = None,
    metadata_prefix: str = DEFAULT_METADATA_PREFIX,
    set_spec: str | None = None,
    stats: HarvestStats | None = None,
    resume: Mapping[str, str] | None = None,
) -> AsyncIterator[RawRecord]:
    """Every record of ``ListRecords`` (``from=`` when given), page by page; with ``resume``
    (a former ``stats.resume``) from that page on, or from the start if the provider
    refuses the saved token.

    Raises :class:`ProbeError` only when the first page cannot be had at all; later
    failures end the harvest with ``stats.stopped`` saying why.
    """
    stats = stats if stats is not None else HarvestStats(source=url)
    first: dict[str, str] = {"verb": "ListRecords", "metadataPrefix": metadata_prefix}
    if from_ is not None:
        first["from"] = (from_.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(from_, datetime)
                         else from_)
    if set_spec:
        first["set"] = set_spec
    params = first
    resend_prefix = False
    if resume and resume.get("resumptionToken"):
        params = dict(resume)
        resend_prefix = "metadataPrefix" in params
    seen: set[str] = set()
    while True:
        if stats.pages >= limits.max_pages:
            stats.stopped = f"list did not end within {limits.max_pages} pages"
            return
        stats.resume = dict(params) if "resumptionToken" in params else None
        page = _Page()
        chunks: list[bytes] = []
        try:
            async for raw in _stream_page(client, url, params, limits, page, chunks):
                stats.records += 1
                yield raw
        except UnsafeXML as exc:
            for raw in _salvage(b"".join(chunks), page, stats, page.records, exc.reason):
                stats.records += 1
                yield raw
        except ProbeError as exc:
            if (not chunks or isinstance(exc, ResponseTooLarge)
                    or "not an OAI-PMH response" in exc.reason):
                if stats.pages == 0:
                    raise
                stats.stopped = f"page {stats.pages + 1}: {exc.reason}"
                return
            try:
                salvaged = _salvage(b"".join(chunks), page, stats, page.records, exc.reason)
            except ProbeError as again:
                if stats.pages == 0:
                    raise
                stats.stopped = f"page {stats.pages + 1}: {again.reason}"
                return
            for raw in salvaged:
                stats.records += 1
                yield raw
        except (httpx.HTTPError, TimeoutError) as exc:
            if stats.pages == 0:
                raise
            stats.stopped = f"page {stats.pages + 1}: {type(exc).__name__}: {exc}"
            return
        if page.error_code is not None:
            if stats.pages == 0 and params is not first and not page.records \
                    and params.get("resumptionToken") == (resume or {}).get("resumptionToken"):
                stats.quirks.append(f"the saved resumption token was refused "
                                    f"({page.error_code}); the list started again")
                params = first
                resend_prefix = False
                continue
            if page.error_code == "noRecordsMatch" and stats.pages == 0:
                stats.pages = 1
                return
            if (page.error_code == "badArgument" and "resumptionToken" in params
                    and not resend_prefix and "metadataprefix" in page.error_message.lower()):
                # pycsw: its token is a bare cursor, so the request's other arguments
                # (from=, set=) must come again with it or the list restarts unfiltered
                resend_prefix = True
                stats.quirks.append("resumption requests need metadataPrefix (and from/set) "
                                    "too (non-standard)")
                params = {**first, **params}
                continue
            message = (f"ListRecords answered with OAI-PMH error {page.error_code}: "
                       f"{page.error_message}")
            if stats.pages == 0:
                raise ProbeError(message)
            stats.stopped = f"page {stats.pages + 1}: {message}"
            return
        if page.oversize:
            stats.quirks.append(f"page {stats.pages + 1} was over the {limits.max_bytes:,}-byte "
                                "cap: its records after the cap were skipped, the list went "
                                "on after it")
            if page.skipped_records:
                stats.records += page.skipped_records
                stats.skip("oversize-page",
                           f"page {stats.pages + 1}: {page.skipped_records} record(s) after the "
                           f"{limits.max_bytes:,}-byte cap not harvested (page skipped past)",
                           count=page.skipped_records)
        stats.pages += 1
        token = page.token
        if not token:
            stats.resume = None
            return
        if token == PYCSW_LAST_TOKEN:
            stats.quirks.append("last page carried resumption token '0' (pycsw); taken as "
                                "the end")
            return
        if token in seen:
            stats.stopped = (f"resumption token {token!r} came back after {stats.pages} pages; "
                             "paging stopped")
            return
        seen.add(token)
        params = {"verb": "ListRecords", "resumptionToken": token}
        if resend_prefix:
            params = {**first, **params}


async def harvest_core(
    client: httpx.AsyncClient,
    url: str,
    limits: ProbeLimits,
    *,
    from_: datetime | str | None = None,
    metadata_prefix: str = DEFAULT_METADATA_PREFIX,
    set_spec: str | None = None,
    stats: HarvestStats | None = None,
    resume: Mapping[str, str] | None = None,
) -> AsyncGenerator[CoreRecord, None]:
    """The WMO Core records of ``ListRecords``; rejected records are counted in ``stats``."""
    stats = stats if stats is not None else HarvestStats(source=url)
    async for raw in iter_list_records(client, url, limits, from_=from_,
                                       metadata_prefix=metadata_prefix, set_spec=set_spec,
                                       stats=stats, resume=resume):
        if raw.deleted:
            stats.deleted += 1
            continue
        if raw.metadata is None:
            stats.skip("no-metadata", f"{raw.header_id or 'a record'}: header without metadata")
            continue
        try:
            record = parse_core(raw.metadata, raw.datestamp)
        except RecordRejected as exc:
            stats.skip(exc.code, exc.reason)
            continue
        stats.parsed += 1
        yield record


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else None


async def iter_gdc_records(
    client: httpx.AsyncClient,
    url: str,
    limits: ProbeLimits,
    *,
    since: datetime | None,
    page_size: int = 500,
    time_filter: str = "datetime",
    stats: HarvestStats | None = None,
    resume: Mapping[str, str] | None = None,
) -> AsyncGenerator[CoreRecord, None]:
    """New or updated WCMP2 records of a Global Discovery Catalogue since ``since``.

    The query asks the catalogue to filter (``datetime=<since>/..`` by default, or
    ``updated=<since>/..`` with ``time_filter="updated"``) and follows ``rel=next`` links;
    items whose ``updated``/``created`` is before ``since`` are dropped here too, since
    catalogues differ in what their filter means. A page over the size cap is asked again
    with half the ``limit``, down to one item, and an item over the cap alone is skipped
    (``offset`` + 1, counted as ``oversize-item``). ``stats.resume`` holds the URL of the
    page in progress; ``resume=`` goes on from it.
    """
    stats = stats if stats is not None else HarvestStats(source=url)
    params: dict[str, str] = {"limit": str(page_size), "f": "json"}
    if since is not None:
        params[time_filter] = f"{_iso(since)}/.."
    next_url: str | None = str(with_params(gdc_items_url(url), params))
    if resume and resume.get("url"):
        next_url = resume["url"]
    seen: set[str] = set()
    shrunk = 0
    while next_url:
        if stats.pages >= limits.max_pages:
            stats.stopped = f"catalogue did not end within {limits.max_pages} pages"
            return
        if next_url in seen:
            stats.stopped = f"next link {next_url} came back; paging stopped"
            return
        seen.add(next_url)
        stats.resume = {"url": next_url} if stats.pages else None
        try:
            async with open_stream(client, next_url, limits,
                                   headers={"Accept": "application/geo+json, application/json"}
                                   ) as resp:
                require_success(resp)
                require_content_type(resp, "json", "a JSON answer")
                body = await read_capped(resp, limits)
            doc = json.loads(body)
        except ResponseTooLarge as exc:
            smaller = _smaller_page(next_url)
            if smaller is None or shrunk >= MAX_SHRINK:
                if stats.pages == 0:
                    raise ProbeError(f"catalogue items: {exc.reason}") from exc
                stats.stopped = f"page {stats.pages + 1}: {exc.reason}"
                return
            shrunk += 1
            next_url, skipped = smaller
            if skipped:
                stats.records += 1
                stats.skip("oversize-item", f"page {stats.pages + 1}: one item alone is over "
                           f"the {limits.max_bytes:,}-byte cap; skipped past")
            else:
                stats.quirks.append(f"page {stats.pages + 1} over the {limits.max_bytes:,}-byte"
                                    " cap: asked again with half the limit")
            continue
        except (ProbeError, ValueError, httpx.HTTPError) as exc:
            reason = exc.reason if isinstance(exc, ProbeError) else f"{type(exc).__name__}: {exc}"
            if stats.pages == 0:
                raise ProbeError(f"catalogue items: {reason}") from exc
            stats.stopped = f"page {stats.pages + 1}: {reason}"
            return
        stats.pages += 1
        shrunk = 0
        if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
            if stats.pages == 1:
                raise ProbeError("catalogue answer is not a FeatureCollection")
            stats.stopped = f"page {stats.pages}: not a FeatureCollection"
            return
        for item in doc["features"]:
            stats.records += 1
            try:
                record = parse_wcmp2(item)
            except RecordRejected as exc:
                stats.skip(exc.code, exc.reason)
                continue
            when = _parse_time(record.datestamp)
            if since is not None and when is not None and when < since:
                continue
            stats.parsed += 1
            yield record
        next_url = None
        for link in doc.get("links") or []:
            if isinstance(link, dict) and link.get("rel") == "next" and link.get("href"):
                next_url = str(link["href"])
                break
        if not doc["features"]:
            next_url = None
    stats.resume = None


MAX_SHRINK = 64


def _smaller_page(url: str) -> tuple[str, bool] | None:
    """The same page with half its ``limit``, or at ``limit=1`` the page after the item
    (``offset`` + 1; True: an item is skipped); None when the URL does not page by limit."""
    u = httpx.URL(url)
    query = dict(u.params)
    raw = query.get("limit", "")
    if not raw.isdigit():
        return None
    limit = int(raw)
    if limit > 1:
        query["limit"] = str(limit // 2)
        return str(u.copy_with(params=query)), False
    offset = query.get("offset", "0")
    query["offset"] = str((int(offset) if offset.isdigit() else 0) + 1)
    return str(u.copy_with(params=query)), True
