"""WIS Monitor JSON (version "1.0" of the WIS Common Dashboard pilot, commology/wismon).

Export: :func:`build_monitor`, :func:`build_events`, :func:`build_centres` turn probe results
into ``monitor.json``, ``events.json`` and ``centres.json``. Version 1.0 has no SRU key, so
SRU goes into the extension key :data:`EXTENSION_KEY` and into ``remarks``.

Ingest: :func:`probe_wismon` fetches another GISC's ``monitor.json`` (size-capped), checks it
against the 1.0 structure, and reports its services; :func:`results_from_monitor` expands a
document into one result per service for the history.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from wisbot.probes import reasons as rs
from wisbot.probes.errors import ProbeError
from wisbot.probes.http import open_stream, read_capped, require_content_type, require_success
from wisbot.probes.model import Outcome, ProbeLimits, ProbeResult, ProbeStatus, ProbeTarget, Service

WISMON_VERSION = "1.0"
EXTENSION_KEY = "x_wisbot"
STALE_AFTER = timedelta(hours=48)
#: monitor.json service key -> the probe service it stands for
SERVICE_KEYS: Mapping[str, Service] = {
    "oai_pmh": Service.OAIPMH,
    "catalogue": Service.PORTAL,
    "distribution_system": Service.CACHE,
}


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class GiscProperties:
    """The ``gisc_properties`` block of monitor.json."""

    catalogue_url: str
    oai_url: str
    monitor_url: str | None = None
    events_url: str | None = None
    centres_inAoR_url: str | None = None  # the file format's own key
    backup_giscs: Sequence[str] = field(default_factory=tuple)
    email: str | None = None
    voice: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "catalogue_url": self.catalogue_url,
            "oai_url": self.oai_url,
            "monitor_url": self.monitor_url,
            "events_url": self.events_url,
            "backup_giscs": list(self.backup_giscs),
        }
        if self.centres_inAoR_url:
            out["centres_inAoR_url"] = self.centres_inAoR_url
        contact = {k: v for k, v in (("email", self.email), ("voice", self.voice)) if v}
        if contact:
            out["contact_info"] = contact
        return out


def _latest(results: Iterable[ProbeResult], centre: str) -> dict[Service, ProbeResult]:
    latest: dict[Service, ProbeResult] = {}
    for r in results:
        if r.centre == centre and (
            r.service not in latest or r.checked_at >= latest[r.service].checked_at
        ):
            latest[r.service] = r
    return latest


def _status_words(r: ProbeResult | None) -> str:
    if r is None:
        return "not probed"
    words = r.status.value
    if r.figure is not None:
        words += f", {r.figure:g} records" if r.service in (Service.SRU, Service.OAIPMH) else ""
    if r.reason:
        words += f" ({r.reason})"
    return words


def build_monitor(
    centre: str,
    results: Iterable[ProbeResult],
    properties: GiscProperties,
    *,
    timestamp: datetime,
    remarks: str | None = None,
) -> dict[str, Any]:
    """monitor.json for ``centre`` from its latest result per service.

    ``distribution_system`` stands for the Global Cache (or, if there is none, the Global
    Broker) result; a service that was not probed is reported ``false`` and named in remarks.
    """
    latest = _latest(results, centre)
    dist = latest.get(Service.CACHE) or latest.get(Service.BROKER)
    services = {
        "oai_pmh": {"status": bool(latest.get(Service.OAIPMH) and latest[Service.OAIPMH].ok)},
        "catalogue": {"status": bool(latest.get(Service.PORTAL) and latest[Service.PORTAL].ok)},
        "distribution_system": {"status": bool(dist and dist.ok)},
    }
    metrics: dict[str, Any] = {"services": services}
    oai = latest.get(Service.OAIPMH)
    if oai is not None and oai.figure is not None:
        metrics["metadata_catalogue"] = {"number_of_records_at00UTC": oai.figure}
    sru = latest.get(Service.SRU)
    notes = [f"SRU: {_status_words(sru)}"]
    for key, svc in (("OAI-PMH", Service.OAIPMH), ("portal", Service.PORTAL)):
        if latest.get(svc) is None or not latest[svc].ok:
            notes.append(f"{key}: {_status_words(latest.get(svc))}")
    if dist is None:
        notes.append("distribution system: not probed")
    if remarks:
        notes.insert(0, remarks)
    extension: dict[str, Any] = {
        "sru": None
        if sru is None
        else {
            "status": sru.ok,
            "number_of_records": sru.figure,
            "url": sru.url,
            "reason": sru.reason,
            "checked_at": _ts(sru.checked_at),
        },
        "probes": [
            {
                "service": r.service.value,
                "url": r.url,
                "status": r.status.value,
                "latency_ms": r.latency_ms,
                "figure": r.figure,
                "reason": r.reason,
                "checked_at": _ts(r.checked_at),
            }
            for r in sorted(latest.values(), key=lambda r: r.service.value)
        ],
    }
    return {
        "wmo_wis_monitoring": WISMON_VERSION,
        "centre": centre,
        "timestamp": _ts(timestamp),
        "gisc_properties": properties.as_json(),
        "metrics": metrics,
        "remarks": "; ".join(notes),
        EXTENSION_KEY: extension,
    }


_SERVICE_TITLES: Mapping[Service, str] = {
    Service.OAIPMH: "OAI-PMH provider",
    Service.SRU: "SRU search",
    Service.PORTAL: "portal",
    Service.GDC: "Global Discovery Catalogue",
    Service.BROKER: "Global Broker",
    Service.CACHE: "Global Cache",
    Service.MONITOR: "Global Monitor",
    Service.WISMON: "WIS Monitor JSON",
}


def build_events(
    centre: str, history: Iterable[ProbeResult], *, timestamp: datetime
) -> dict[str, Any]:
    """events.json: one event per run of consecutive failures of a centre's service, from
    the first failing check to the last one (the event is still open if the run is)."""
    runs: list[dict[str, Any]] = []
    open_runs: dict[tuple[str, Service], dict[str, Any]] = {}
    for h in sorted(history, key=lambda x: x.checked_at):
        key = (h.centre, h.service)
        if h.status is ProbeStatus.FAIL:
            run = open_runs.get(key)
            if run is None:
                run = {"result": h, "start": h.checked_at, "end": h.checked_at}
                open_runs[key] = run
                runs.append(run)
            run["end"] = h.checked_at
            run["result"] = h
        else:
            open_runs.pop(key, None)
    events = []
    for n, run in enumerate(sorted(runs, key=lambda x: x["start"]), start=1):
        r: ProbeResult = run["result"]
        still = (r.centre, r.service) in open_runs and open_runs[(r.centre, r.service)] is run
        events.append(
            {
                "id": n,
                "title": f"{r.centre} {_SERVICE_TITLES[r.service]} unavailable",
                "text": (r.reason or "failed") + (" (still failing)" if still else ""),
                "start": _ts(run["start"]),
                "end": _ts(run["end"]),
            }
        )
    return {
        "wmo_wis_monitoring": WISMON_VERSION,
        "centre": centre,
        "timestamp": _ts(timestamp),
        "events": events,
    }


def build_centres(
    centre: str,
    results: Iterable[ProbeResult],
    *,
    timestamp: datetime,
    service: Service = Service.OAIPMH,
) -> dict[str, Any]:
    """centres.json: per centre, the latest figure of ``service`` as ``count`` and the bytes
    reported in ``details["bytes"]`` (if any) as ``volumesize``."""
    latest: dict[str, ProbeResult] = {}
    for r in results:
        if r.service is service and r.figure is not None:
            if r.centre not in latest or r.checked_at >= latest[r.centre].checked_at:
                latest[r.centre] = r
    return {
        "wmo_wis_monitoring": WISMON_VERSION,
        "centre": centre,
        "timestamp": _ts(timestamp),
        "centres": [
            {
                "centre": name,
                "count": latest[name].figure,
                "volumesize": float(latest[name].details.get("bytes", 0) or 0),
            }
            for name in sorted(latest)
        ],
    }


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False)


def _require(cond: bool, what: str) -> None:
    if not cond:
        raise ProbeError(rs.WISMON_INVALID.en(what=what))


def validate_monitor(doc: Any) -> None:
    """The required structure of monitor.json 1.0 (the draft-03 schema's ``required`` keys),
    checked by hand so that production needs no schema library."""
    _require(isinstance(doc, dict), "not a JSON object")
    for key in ("wmo_wis_monitoring", "centre", "timestamp"):
        _require(isinstance(doc.get(key), str), f"{key!r} missing or not a string")
    props = doc.get("gisc_properties")
    _require(isinstance(props, dict), "'gisc_properties' missing")
    for key in ("catalogue_url", "oai_url"):
        _require(isinstance(props.get(key), str), f"gisc_properties.{key} missing")
    metrics = doc.get("metrics")
    _require(isinstance(metrics, dict), "'metrics' missing")
    services = metrics.get("services")
    _require(isinstance(services, dict), "metrics.services missing")
    for key in SERVICE_KEYS:
        entry = services.get(key)
        _require(
            isinstance(entry, dict) and isinstance(entry.get("status"), bool),
            f"metrics.services.{key}.status missing or not a boolean",
        )


def _parse_ts(raw: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


async def fetch_monitor(
    client: httpx.AsyncClient, url: str, limits: ProbeLimits
) -> dict[str, Any]:
    async with open_stream(client, url, limits, headers={"Accept": "application/json"}) as resp:
        require_success(resp)
        require_content_type(resp, "json", "monitor.json (JSON)")
        body = await read_capped(resp, limits)
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise ProbeError(rs.WISMON_NOT_JSON.en(error=exc)) from exc
    validate_monitor(doc)
    return dict(doc)


async def probe_wismon(
    target: ProbeTarget,
    client: httpx.AsyncClient,
    limits: ProbeLimits,
    now: datetime,
) -> Outcome:
    """Another GISC's monitor.json as a probe source: OK when it is fresh and reports all its
    services up, DEGRADED when some are down or it is older than :data:`STALE_AFTER`."""
    doc = await fetch_monitor(client, target.url, limits)
    services = {k: doc["metrics"]["services"][k]["status"] for k in SERVICE_KEYS}
    records = doc["metrics"].get("metadata_catalogue", {}).get("number_of_records_at00UTC")
    figure = float(records) if isinstance(records, int | float) else None
    stamp = _parse_ts(doc["timestamp"])
    details: dict[str, Any] = {
        "reported_centre": doc["centre"],
        "timestamp": doc["timestamp"],
        "services": services,
        "remarks": doc.get("remarks"),
        "version": doc["wmo_wis_monitoring"],
        "document": doc,
    }
    if stamp is None:
        return Outcome(ProbeStatus.DEGRADED, figure, rs.WISMON_NO_TIME.en(), details)
    if now - stamp > STALE_AFTER:
        return Outcome(
            ProbeStatus.DEGRADED,
            figure,
            rs.WISMON_STALE.en(at=doc['timestamp']),
            details,
        )
    down = [k for k, up in services.items() if not up]
    if down:
        return Outcome(
            ProbeStatus.DEGRADED, figure, rs.WISMON_DOWN.en(services=', '.join(down)), details
        )
    return Outcome(ProbeStatus.OK, figure, None, details)


def results_from_monitor(
    doc: Mapping[str, Any], url: str, checked_at: datetime
) -> list[ProbeResult]:
    """One result per service that a (validated) monitor.json reports, for the history."""
    centre = str(doc["centre"])
    services = doc["metrics"]["services"]
    records = doc["metrics"].get("metadata_catalogue", {}).get("number_of_records_at00UTC")
    out = []
    for key, service in SERVICE_KEYS.items():
        up = bool(services[key]["status"])
        figure = float(records) if service is Service.OAIPMH and records is not None else None
        out.append(
            ProbeResult(
                centre=centre,
                service=service,
                url=url,
                status=ProbeStatus.OK if up else ProbeStatus.FAIL,
                latency_ms=None,
                figure=figure,
                reason=None if up else rs.WISMON_REPORTED_DOWN.en(centre=centre),
                checked_at=checked_at,
                details={"source": "monitor.json", "key": key},
            )
        )
    return out
