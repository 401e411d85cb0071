"""OAI-PMH probe: ``Identify``, then the record count from ``ListIdentifiers``.

The count is ``resumptionToken/@completeListSize`` when the first page gives it (unless the
target's ``count_mode`` option is ``"page"``); otherwise the probe follows resumption tokens,
parsing each page incrementally so that a list of any length never sits in memory.

Quirks handled (all seen in real providers, several in pycsw 2.6.2):

* ``noRecordsMatch`` is an empty repository, 0 records and OK, not an outage;
* the last page carries token ``0`` instead of an empty token (pycsw's CSW ``nextRecord=0``):
  following it would restart the list, so it ends the paging;
* a token that was already seen, or a list that does not end by ``max_pages``, stops the
  paging and degrades the result instead of looping;
* a resumption request refused with ``badArgument`` for a missing ``metadataPrefix``
  (pycsw requires it, the standard forbids it) is retried once with the prefix;
* identifiers repeated within a page (pycsw 2.6 writes the first record's identifier into
  every header): the count is what the server listed, the repeats go into ``details``.

Options: ``metadataPrefix`` (default ``iso19139``), ``set``, ``count_mode`` (``auto`` |
``page``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from wisbot.probes import reasons as r
from wisbot.probes.errors import ProbeError
from wisbot.probes.http import (
    iter_body,
    open_stream,
    read_capped,
    require_content_type,
    require_success,
)
from wisbot.probes.model import Outcome, ProbeLimits, ProbeStatus, ProbeTarget
from wisbot.probes.xmlsafe import SafeXMLStream, localname, namespace, parse_document

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_OAI = f"{{{OAI_NS}}}"
DEFAULT_METADATA_PREFIX = "iso19139"
PYCSW_LAST_TOKEN = "0"  # noqa: S105 - a resumption token, not a secret


@dataclass
class ListPage:
    """What one ``ListIdentifiers`` page said; identifiers kept for this page only."""

    headers: int = 0
    deleted: int = 0
    repeated: int = 0
    token: str | None = None
    complete_list_size: int | None = None
    error_code: str | None = None
    error_message: str = ""
    _ids: set[str] = field(default_factory=set)


def _oai_root_check(tag: str, ns: str | None) -> None:
    if ns != OAI_NS or tag != "OAI-PMH":
        where = f"{{{ns}}}{tag}" if ns else tag
        raise ProbeError(r.NOT_OAI.en(root=where))


async def identify(
    client: httpx.AsyncClient, url: str, limits: ProbeLimits
) -> dict[str, Any]:
    async with open_stream(client, url, limits, params={"verb": "Identify"}) as resp:
        require_success(resp)
        require_content_type(resp, "xml", "an OAI-PMH XML answer")
        root = parse_document(await read_capped(resp, limits))
    _oai_root_check(localname(root), namespace(root))
    error = root.find(f"{_OAI}error")
    if error is not None:
        raise ProbeError(
            r.OAI_IDENTIFY_ERROR.en(code=error.get('code', '?'), error=(error.text or '').strip())
        )
    ident = root.find(f"{_OAI}Identify")
    if ident is None:
        raise ProbeError(r.OAI_NO_IDENTIFY.en())
    info: dict[str, Any] = {}
    for key in (
        "repositoryName",
        "baseURL",
        "protocolVersion",
        "earliestDatestamp",
        "deletedRecord",
        "granularity",
    ):
        node = ident.find(f"{_OAI}{key}")
        if node is not None and node.text:
            info[key] = node.text.strip()
    return info


async def list_page(
    client: httpx.AsyncClient, url: str, params: dict[str, str], limits: ProbeLimits
) -> ListPage:
    """Fetch and stream-parse one page, keeping only counters and this page's identifiers."""
    page = ListPage()
    stream = SafeXMLStream()
    depth = 0

    def handle(event: str, el: Any) -> None:
        nonlocal depth
        if event == "start":
            if depth == 0:
                _oai_root_check(localname(el), namespace(el))
            depth += 1
            return
        depth -= 1
        tag = el.tag
        if tag == f"{_OAI}header":
            page.headers += 1
            if el.get("status") == "deleted":
                page.deleted += 1
            ident = (el.findtext(f"{_OAI}identifier") or "").strip()
            if ident in page._ids:
                page.repeated += 1
            page._ids.add(ident)
        elif tag == f"{_OAI}resumptionToken":
            page.token = (el.text or "").strip()
            size = el.get("completeListSize")
            if size is not None and size.strip().isdigit():
                page.complete_list_size = int(size)
        elif tag == f"{_OAI}error":
            page.error_code = el.get("code", "?")
            page.error_message = (el.text or "").strip()
        if depth == 2:
            # a finished child of the verb element: drop it and anything before it
            el.clear()
            parent = el.getparent()
            if parent is not None:
                while el.getprevious() is not None:
                    del parent[0]

    async with open_stream(client, url, limits, params=params) as resp:
        require_success(resp)
        require_content_type(resp, "xml", "an OAI-PMH XML answer")
        async for chunk in iter_body(resp, limits):
            for event, el in stream.feed(chunk):
                handle(event, el)
    for event, el in stream.close():
        handle(event, el)
    page._ids.clear()
    return page


async def probe_oaipmh(
    target: ProbeTarget, client: httpx.AsyncClient, limits: ProbeLimits
) -> Outcome:
    opts = target.options
    prefix = str(opts.get("metadataPrefix", DEFAULT_METADATA_PREFIX))
    count_mode = str(opts.get("count_mode", "auto"))
    details: dict[str, Any] = {"metadataPrefix": prefix}
    details["identify"] = await identify(client, target.url, limits)

    first: dict[str, str] = {"verb": "ListIdentifiers", "metadataPrefix": prefix}
    if opts.get("set"):
        first["set"] = str(opts["set"])
    params = first
    quirks: list[str] = []
    seen_tokens: set[str] = set()
    resend_prefix = False
    pages = listed = deleted = repeated = 0
    status, reason = ProbeStatus.OK, None
    reported_size: int | None = None

    while True:
        if pages >= limits.max_pages:
            status = ProbeStatus.DEGRADED
            reason = r.OAI_ENDLESS.en(pages=limits.max_pages, listed=listed)
            break
        page = await list_page(client, target.url, params, limits)
        if page.error_code is not None:
            if page.error_code == "noRecordsMatch" and pages == 0:
                details.update(count_source="noRecordsMatch", pages=1)
                return Outcome(ProbeStatus.OK, 0, None, details)
            if (
                page.error_code == "badArgument"
                and "resumptionToken" in params
                and not resend_prefix
                and "metadataprefix" in page.error_message.lower()
            ):
                resend_prefix = True
                quirks.append("resumption requests need metadataPrefix too (non-standard)")
                params = {**params, "metadataPrefix": prefix}
                continue
            raise ProbeError(
                (r.OAI_LIST_ERROR_PAGE.en(page=pages + 1, code=page.error_code,
                                          error=page.error_message) if pages else
                 r.OAI_LIST_ERROR.en(code=page.error_code, error=page.error_message)),
                {**details, "pages": pages, "listed": listed},
            )
        pages += 1
        listed += page.headers
        deleted += page.deleted
        repeated += page.repeated
        if pages == 1 and page.complete_list_size is not None:
            reported_size = page.complete_list_size
            if count_mode != "page":
                details.update(count_source="completeListSize", pages=1)
                return Outcome(ProbeStatus.OK, reported_size, None, details)
        token = page.token
        if not token:
            break  # the standard end of the list: no token or an empty one
        if token == PYCSW_LAST_TOKEN:
            quirks.append("last page carried resumption token '0' (pycsw); taken as the end")
            break
        if token in seen_tokens:
            status = ProbeStatus.DEGRADED
            reason = r.OAI_TOKEN_AGAIN.en(token=repr(token), pages=pages,
                                          count=listed - deleted)
            quirks.append("resumption token repeated")
            break
        seen_tokens.add(token)
        params = {"verb": "ListIdentifiers", "resumptionToken": token}
        if resend_prefix:
            params["metadataPrefix"] = prefix

    if repeated:
        quirks.append(f"{repeated} identifiers repeated within pages (pycsw 2.6 header bug)")
    if reported_size is not None and reported_size != listed:
        quirks.append(f"completeListSize={reported_size} but {listed} headers were listed")
    details.update(
        count_source="paging",
        pages=pages,
        listed=listed,
        deleted=deleted,
        repeated_identifiers=repeated,
        complete_list_size=reported_size,
        quirks=quirks,
    )
    return Outcome(status, listed - deleted, reason, details)
