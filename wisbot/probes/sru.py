"""SRU probe: ``searchRetrieve`` with ``maximumRecords=0`` and read ``numberOfRecords``.

Understands SRU 1.1/1.2 (``http://www.loc.gov/zing/srw/``) and SRU 2.0
(``http://docs.oasis-open.org/ns/search-ws/sruResponse``). SRU reports errors as diagnostics
inside an HTTP 200 answer; those are failures, with the diagnostic's message as the reason.

Options: ``version`` (default ``1.1``), ``query`` (CQL; omitted when not set, which pycsw
takes as "all records"), ``params`` (extra query parameters, a mapping).
"""

from __future__ import annotations

from typing import Any

import httpx

from wisbot.probes import reasons as r
from wisbot.probes.errors import ProbeError
from wisbot.probes.http import open_stream, read_capped, require_content_type, require_success
from wisbot.probes.model import Outcome, ProbeLimits, ProbeStatus, ProbeTarget
from wisbot.probes.xmlsafe import localname, namespace, parse_document

SRU_1_NS = "http://www.loc.gov/zing/srw/"
SRU_2_NS = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
DIAG_1_NS = "http://www.loc.gov/zing/srw/diagnostic/"
DIAG_2_NS = "http://docs.oasis-open.org/ns/search-ws/diagnostic"


def _text(el: Any, path: str, ns: dict[str, str]) -> str:
    node = el.find(path, ns)
    return (node.text or "").strip() if node is not None and node.text else ""


async def probe_sru(target: ProbeTarget, client: httpx.AsyncClient, limits: ProbeLimits) -> Outcome:
    opts = target.options
    version = str(opts.get("version", "1.1"))
    params: dict[str, str] = {
        "operation": "searchRetrieve",
        "version": version,
        "maximumRecords": "0",
    }
    if opts.get("query"):
        params["query"] = str(opts["query"])
    params.update({str(k): str(v) for k, v in dict(opts.get("params", {})).items()})

    async with open_stream(client, target.url, limits, params=params) as resp:
        require_success(resp)
        require_content_type(resp, "xml", "an SRU XML answer")
        root = parse_document(await read_capped(resp, limits))

    ns = namespace(root)
    if ns not in (SRU_1_NS, SRU_2_NS) or localname(root) != "searchRetrieveResponse":
        raise ProbeError(r.NOT_SRU.en(root=root.tag))
    sru = {"s": ns}
    details: dict[str, Any] = {
        "sru_version": _text(root, "s:version", sru) or ("2.0" if ns == SRU_2_NS else version),
        "namespace": ns,
    }
    diag_ns = {"d": DIAG_2_NS if ns == SRU_2_NS else DIAG_1_NS, "s": ns}
    diagnostic = root.find("s:diagnostics/d:diagnostic", diag_ns)
    if diagnostic is None:
        # pycsw wraps each zd:diagnostic's children in an sru:diagnostic element
        diagnostic = root.find("s:diagnostics/s:diagnostic", diag_ns)
    if diagnostic is not None:
        uri = _text(diagnostic, "d:uri", diag_ns) or _text(diagnostic, "d:diagnostic", diag_ns)
        message = _text(diagnostic, "d:message", diag_ns)
        extra = _text(diagnostic, "d:details", diag_ns)
        words = message or "no message"
        if extra:
            words += f" ({extra})"
        raise ProbeError(
            r.SRU_DIAGNOSTIC.en(uri=uri or "?", message=words),
            {**details, "diagnostic_uri": uri, "diagnostic_message": message},
        )
    count = _text(root, "s:numberOfRecords", sru)
    if not count.isdigit():
        raise ProbeError(r.SRU_NO_COUNT.en(count=repr(count)), details)
    return Outcome(ProbeStatus.OK, int(count), None, details)
