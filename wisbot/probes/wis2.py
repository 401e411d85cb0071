"""WIS 2.0 HTTP probes: Global Discovery Catalogue, Global Cache, Global Monitor.

Metric names are those of wmo-im/wis2-metric-hierarchy (``metrics/gb.csv``, ``gc.csv``,
``gdc.csv``, ``gm.csv``); every metric is labelled ``centre_id`` and ``report_by``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import httpx

from wisbot.probes import reasons as r
from wisbot.probes.errors import ProbeError
from wisbot.probes.http import (
    content_type,
    iter_body,
    open_stream,
    read_capped,
    require_content_type,
    require_success,
)
from wisbot.probes.model import Outcome, ProbeLimits, ProbeStatus, ProbeTarget

GDC_COLLECTION = "wis2-discovery-metadata"

# Global Broker (gb.csv)
GB_MESSAGES_RECEIVED = "wmo_wis2_gb_messages_received_total"
GB_MESSAGES_PUBLISHED = "wmo_wis2_gb_messages_published_total"
GB_MESSAGES_INVALID_FORMAT = "wmo_wis2_gb_messages_invalid_format_total"
GB_MESSAGES_NO_METADATA = "wmo_wis2_gb_messages_no_metadata_total"
GB_CONNECTED = "wmo_wis2_gb_connected_flag"
GB_LAST_MESSAGE = "wmo_wis2_gb_last_message_timestamp_seconds"
# Global Cache (gc.csv)
GC_DOWNLOADED = "wmo_wis2_gc_downloaded_total"
GC_DOWNLOAD_ERRORS = "wmo_wis2_gc_downloaded_errors_total"
GC_INTEGRITY_FAILED = "wmo_wis2_gc_integrity_failed_total"
GC_LAST_DOWNLOAD = "wmo_wis2_gc_last_download_timestamp_seconds"
# Global Discovery Catalogue (gdc.csv)
GDC_CORE = "wmo_wis2_gdc_core_total"
GDC_RECOMMENDED = "wmo_wis2_gdc_recommended_total"
GDC_KPI_AVERAGE = "wmo_wis2_gdc_kpi_percentage_average"
# Global Monitor (gm.csv)
GM_METRICSERVER_UP = "wmo_wis2_gm_metricserver_status_flag"
GM_LAST_SCRAPE = "wmo_wis2_gm_metricserver_last_scrape_timestamp_seconds"
GM_INVALID_METRICS = "wmo_wis2_gm_invalid_metrics_total"

#: The GISC Watch indicators: name -> PromQL. ``report_by`` is the reporting Global Service
#: (which broker / cache), ``centre_id`` the WIS2 Node the figure is about.
DEFAULT_INDICATORS: Mapping[str, str] = {
    "gb_messages_received_24h_by_broker": (
        f"sum by (report_by) (increase({GB_MESSAGES_RECEIVED}[24h]))"
    ),
    "gb_messages_received_24h_by_centre": (
        f"sum by (centre_id) (increase({GB_MESSAGES_RECEIVED}[24h]))"
    ),
    "gc_downloaded_24h_by_cache": f"sum by (report_by) (increase({GC_DOWNLOADED}[24h]))",
    "gc_download_errors_24h_by_cache": (
        f"sum by (report_by) (increase({GC_DOWNLOAD_ERRORS}[24h]))"
    ),
    "gdc_core_records_by_catalogue": f"max by (report_by) ({GDC_CORE})",
    "gm_metricserver_up_by_centre": f"min by (centre_id) ({GM_METRICSERVER_UP})",
}
#: The figure of a Global Monitor result: all messages received by the brokers in 24 h.
HEADLINE_INDICATOR = "gb_messages_received_24h_by_broker"


async def _get_json(
    client: httpx.AsyncClient,
    url: str,
    limits: ProbeLimits,
    params: Mapping[str, str] | None = None,
) -> Any:
    async with open_stream(
        client, url, limits, params=params, headers={"Accept": "application/json"}
    ) as resp:
        if resp.status_code in (400, 422, 503) and "json" in content_type(resp):
            # Prometheus explains a refused query in a JSON body with these statuses
            with contextlib.suppress(ValueError):
                doc = json.loads(await read_capped(resp, limits))
                if isinstance(doc, dict) and doc.get("status") == "error":
                    return doc
        require_success(resp)
        require_content_type(resp, "json", "a JSON answer")
        body = await read_capped(resp, limits)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ProbeError(r.NOT_JSON.en(error=exc)) from exc


def gdc_items_url(url: str) -> str:
    """Accept either a catalogue's landing page or its items URL."""
    if "/collections/" in url:
        return url
    return f"{url.rstrip('/')}/collections/{GDC_COLLECTION}/items"


async def probe_gdc(target: ProbeTarget, client: httpx.AsyncClient, limits: ProbeLimits) -> Outcome:
    url = gdc_items_url(target.url)
    doc = await _get_json(client, url, limits, params={"limit": "0"})
    if not isinstance(doc, dict):
        raise ProbeError(r.GDC_NOT_OBJECT.en())
    matched = doc.get("numberMatched")
    if isinstance(matched, bool) or not isinstance(matched, int) or matched < 0:
        raise ProbeError(r.GDC_NO_COUNT.en(count=repr(matched)))
    details = {"items_url": url, "numberReturned": doc.get("numberReturned")}
    return Outcome(ProbeStatus.OK, matched, None, details)


async def probe_cache(
    target: ProbeTarget, client: httpx.AsyncClient, limits: ProbeLimits
) -> Outcome:
    """Download a canonical link from a Global Cache.

    Options: ``expected_size`` (bytes, e.g. the notification's ``content.size``),
    ``integrity`` (``{"method": "sha512", "value": base64}`` from the notification).
    """
    opts = target.options
    integrity = opts.get("integrity")
    hasher = None
    if isinstance(integrity, Mapping) and integrity.get("method"):
        method = str(integrity["method"]).lower()
        if method not in hashlib.algorithms_available:
            raise ProbeError(r.CACHE_METHOD.en(method=repr(method)))
        hasher = hashlib.new(method)
    size = 0
    async with open_stream(client, target.url, limits) as resp:
        require_success(resp)
        declared = resp.headers.get("content-length")
        async for chunk in iter_body(resp, limits):
            size += len(chunk)
            if hasher is not None:
                hasher.update(chunk)
        encoding = resp.headers.get("content-encoding", "identity")
    details: dict[str, Any] = {"bytes": size, "content_length": declared}
    if declared and declared.isdigit() and encoding == "identity" and int(declared) != size:
        raise ProbeError(
            r.CACHE_INCOMPLETE.en(declared=declared, size=size), details
        )
    expected = opts.get("expected_size")
    if expected is not None and int(expected) != size:
        raise ProbeError(r.CACHE_SIZE.en(size=size, expected=expected), details)
    if hasher is not None and isinstance(integrity, Mapping):
        digest = base64.b64encode(hasher.digest()).decode()
        if digest != str(integrity.get("value", "")):
            raise ProbeError(r.CACHE_INTEGRITY.en(method=hasher.name), details)
        details["integrity"] = "verified"
    return Outcome(ProbeStatus.OK, size, None, details)


def _vector(doc: Any, query: str) -> list[tuple[dict[str, str], float]]:
    if not isinstance(doc, dict):
        raise ProbeError(r.PROM_NOT_OBJECT.en())
    if doc.get("status") != "success":
        raise ProbeError(
            r.PROM_REFUSED.en(kind=doc.get('errorType', '?'), error=doc.get('error', '–'))
        )
    data = doc.get("data")
    if not isinstance(data, dict) or data.get("resultType") not in ("vector", "scalar"):
        raise ProbeError(r.PROM_UNEXPECTED.en(query=repr(query)))
    result = data.get("result")
    if data["resultType"] == "scalar":
        return [({}, float(result[1]))] if isinstance(result, list) else []
    out: list[tuple[dict[str, str], float]] = []
    for sample in result or []:
        try:
            value = float(sample["value"][1])
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ProbeError(r.PROM_MALFORMED.en(query=repr(query))) from exc
        if math.isfinite(value):
            out.append(({str(k): str(v) for k, v in dict(sample.get("metric", {})).items()}, value))
    return out


def _group_label(labels: Mapping[str, str]) -> str:
    for key in ("report_by", "centre_id"):
        if key in labels:
            return labels[key]
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "total"


async def probe_monitor(
    target: ProbeTarget, client: httpx.AsyncClient, limits: ProbeLimits
) -> Outcome:
    """Global Monitor: reachable (``/api/v1/query`` answers ``time()``), then each indicator.

    Option ``indicators``: name -> PromQL, replacing :data:`DEFAULT_INDICATORS`.
    """
    api = f"{target.url.rstrip('/')}/api/v1/query"
    _vector(await _get_json(client, api, limits, params={"query": "time()"}), "time()")
    indicators: Mapping[str, str] = target.options.get("indicators", DEFAULT_INDICATORS)
    figures: dict[str, dict[str, float]] = {}
    errors: dict[str, str] = {}
    for name, query in indicators.items():
        try:
            samples = _vector(await _get_json(client, api, limits, params={"query": query}), query)
        except ProbeError as exc:
            errors[name] = exc.reason
            continue
        figures[name] = {_group_label(labels): value for labels, value in samples}
    details: dict[str, Any] = {"indicators": figures, "queries": dict(indicators)}
    headline = figures.get(HEADLINE_INDICATOR)
    figure = sum(headline.values()) if headline is not None else None
    if errors:
        details["errors"] = errors
        first = next(iter(errors.items()))
        return Outcome(
            ProbeStatus.DEGRADED,
            figure,
            r.MONITOR_PARTLY.en(failed=len(errors), total=len(indicators), name=first[0],
                                error=first[1]),
            details,
        )
    return Outcome(ProbeStatus.OK, figure, None, details)
