"""Local providers for exchange tests: pyoai serving ListRecords (paging only, no
completeListSize), a raw-page OAI-PMH server for hostile pages, WIS Monitor JSON, a Global
Monitor (Prometheus API) and a Global Discovery Catalogue. All on 127.0.0.1, port 0."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from lxml import etree

from tests.probes.servers import _import_pyoai, serve, serve_oai_wsgi

OAI_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            "<responseDate>2026-03-02T09:00:00Z</responseDate>")


class RecordStore:
    """What the provider serves: identifier -> (datestamp, record XML); tests change it."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[datetime, str]] = {}

    def put(self, identifier: str, xml: str, when: datetime) -> None:
        self.records[identifier] = (when, xml)


class PyoaiRecords:
    """An IBatchingOAIPMH repository with ListRecords, filtered by ``from``."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self.common, self.error, _, _ = _import_pyoai()

    def identify(self) -> Any:
        return self.common.Identify(
            repositoryName="GISC pyoai records provider", baseURL="http://127.0.0.1/oai",
            protocolVersion="2.0", adminEmails=["gisc@example.org"],
            earliestDatestamp=datetime(2020, 1, 1), deletedRecord="no",
            granularity="YYYY-MM-DDThh:mm:ssZ", compression=["identity"])

    def listMetadataFormats(self, identifier: str | None = None) -> list[tuple[str, str, str]]:
        return [("iso19139", "http://www.isotc211.org/2005/gmd/gmd.xsd",
                 "http://www.isotc211.org/2005/gmd")]

    def listRecords(self, metadataPrefix: str, set: str | None = None, from_: Any = None,
                    until: Any = None, cursor: int = 0, batch_size: int = 10) -> list[Any]:
        if metadataPrefix != "iso19139":
            raise self.error.CannotDisseminateFormatError(metadataPrefix)
        items = sorted(self.store.records.items())
        if from_ is not None:
            since = from_ if from_.tzinfo else from_.replace(tzinfo=UTC)
            items = [(k, v) for k, v in items if v[0] >= since]
        if not items:
            raise self.error.NoRecordsMatchError("no records")
        out = []
        for ident, (when, xml) in items[cursor:cursor + batch_size]:
            header = self.common.Header(None, ident, when.replace(tzinfo=None), [], False)
            out.append((header, xml, None))
        return out


@contextlib.contextmanager
def pyoai_records(store: RecordStore, batch: int = 100) -> Iterator[str]:
    _, _, metadata, server = _import_pyoai()
    registry = metadata.MetadataRegistry()

    def writer(element: Any, xml: str) -> None:
        element.append(etree.fromstring(xml.encode()))

    registry.registerWriter("iso19139", writer)
    oai = server.BatchingServer(PyoaiRecords(store), metadata_registry=registry,
                                resumption_batch_size=batch)

    with serve_oai_wsgi(oai) as url:
        yield url


def strip_decl(xml: str) -> str:
    return xml.split("?>", 1)[1] if xml.startswith("<?xml") else xml


def oai_page(records: list[str], token: str | None, *, prolog: str = "") -> bytes:
    """A ListRecords page; ``prolog`` goes before the root (a DOCTYPE, for hostile pages)."""
    body = "".join(
        f"<record><header><identifier>h{i}</identifier><datestamp>2026-03-02T08:00:00Z"
        f"</datestamp></header><metadata>{strip_decl(r)}</metadata></record>"
        for i, r in enumerate(records))
    tok = f"<resumptionToken>{token}</resumptionToken>" if token else ""
    head = OAI_HEAD
    if prolog:
        head = head.replace("\n", "\n" + prolog + "\n", 1)
    return (f"{head}<request verb=\"ListRecords\">http://127.0.0.1/oai</request>"
            f"<ListRecords>{body}{tok}</ListRecords></OAI-PMH>").encode()


@contextlib.asynccontextmanager
async def raw_pages(pages: list[bytes]) -> AsyncIterator[str]:
    """Serves ``pages[0]`` first, then ``pages[int(token)]``."""
    async def handle(request: web.Request) -> web.Response:
        token = request.query.get("resumptionToken")
        page = pages[int(token)] if token else pages[0]
        return web.Response(body=page, content_type="text/xml")

    app = web.Application()
    app.router.add_get("/oai", handle)
    async with serve(app) as base:
        yield f"{base}/oai"


@contextlib.asynccontextmanager
async def figures_server(monitor: dict[str, Any], messages: dict[str, float],
                         items: list[dict[str, Any]], page: int = 2) -> AsyncIterator[str]:
    """``/monitor.json``; ``/prom/api/v1/query`` (messages by centre_id); a GDC at ``/gdc``
    whose items page by ``offset`` with ``rel=next`` links."""
    async def monitor_json(request: web.Request) -> web.Response:
        return web.json_response(monitor)

    async def query(request: web.Request) -> web.Response:
        result = [{"metric": {"centre_id": c}, "value": [1772442000, str(v)]}
                  for c, v in messages.items()]
        return web.json_response({"status": "success",
                                  "data": {"resultType": "vector", "result": result}})

    async def gdc_items(request: web.Request) -> web.Response:
        offset = int(request.query.get("offset", "0"))
        chunk = items[offset:offset + page]
        links = []
        if offset + page < len(items):
            links.append({"rel": "next", "type": "application/geo+json",
                          "href": f"{request.url.origin()}/gdc/collections/"
                                  f"wis2-discovery-metadata/items?offset={offset + page}"})
        return web.json_response({"type": "FeatureCollection", "features": chunk,
                                  "numberMatched": len(items), "links": links})

    app = web.Application()
    app.router.add_get("/monitor.json", monitor_json)
    app.router.add_get("/prom/api/v1/query", query)
    app.router.add_get("/gdc/collections/wis2-discovery-metadata/items", gdc_items)
    async with serve(app) as base:
        yield base
