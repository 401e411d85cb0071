"""WIS Monitor JSON export (validated against the pilot's draft-03 schemas) and ingest."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from aiohttp import web

from wisbot.probes.base import ProbeResult, ProbeStatus, ProbeTarget, Service, probe
from wisbot.probes.wismon import (
    EXTENSION_KEY,
    GiscProperties,
    build_centres,
    build_events,
    build_monitor,
    results_from_monitor,
)

from .conftest import FAST
from .servers import FIXTURES, serve

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
PROPS = GiscProperties(
    catalogue_url="https://gisc.example.org/portal",
    oai_url="https://gisc.example.org/oai",
    monitor_url="https://gisc.example.org/wismon/monitor.json",
    events_url="https://gisc.example.org/wismon/events.json",
    centres_inAoR_url="https://gisc.example.org/wismon/centres.json",
    email="gisc@example.org",
)


def schema(name: str) -> jsonschema.Draft3Validator:
    doc = json.loads((FIXTURES / f"wismon_schema_{name}.json").read_text())
    return jsonschema.Draft3Validator(doc)


def result(service: Service, status: ProbeStatus, figure: float | None = None,
           at: datetime = T0, centre: str = "GISC-Offenbach", reason: str | None = None
           ) -> ProbeResult:
    return ProbeResult(centre, service, f"https://{centre}/{service}", status,
                       12.0 if status is not ProbeStatus.FAIL else None, figure,
                       reason, at, {})


RESULTS = [
    result(Service.OAIPMH, ProbeStatus.OK, 7000),
    result(Service.SRU, ProbeStatus.FAIL, reason="SRU diagnostic 1/7: bad query"),
    result(Service.PORTAL, ProbeStatus.OK),
    result(Service.OAIPMH, ProbeStatus.OK, 6000, centre="GISC-Tokyo"),
]


def test_monitor_json_follows_schema_and_reports_sru_in_extension() -> None:
    doc = build_monitor("GISC-Offenbach", RESULTS, PROPS, timestamp=T0)
    errors = list(schema("monitor").iter_errors(doc))
    assert errors == []
    services = doc["metrics"]["services"]
    assert services["oai_pmh"]["status"] is True
    assert services["catalogue"]["status"] is True
    assert services["distribution_system"]["status"] is False
    assert doc["metrics"]["metadata_catalogue"]["number_of_records_at00UTC"] == 7000
    assert doc[EXTENSION_KEY]["sru"]["status"] is False
    assert "SRU: fail (SRU diagnostic 1/7: bad query)" in doc["remarks"]
    assert "distribution system: not probed" in doc["remarks"]
    assert doc["timestamp"] == "2026-03-01T00:00:00Z"


def test_schema_rejects_a_broken_monitor_json() -> None:
    doc = build_monitor("GISC-Offenbach", RESULTS, PROPS, timestamp=T0)
    del doc["metrics"]["services"]["oai_pmh"]
    assert list(schema("monitor").iter_errors(doc))  # the validator can fail


def test_events_merge_consecutive_failures() -> None:
    hist = [
        result(Service.PORTAL, ProbeStatus.FAIL, at=T0, reason="HTTP 503 Service Unavailable"),
        result(Service.PORTAL, ProbeStatus.FAIL, at=T0 + timedelta(days=1), reason="HTTP 503"),
        result(Service.PORTAL, ProbeStatus.OK, at=T0 + timedelta(days=2)),
        result(Service.OAIPMH, ProbeStatus.FAIL, at=T0 + timedelta(days=2), reason="refused"),
    ]
    doc = build_events("GISC-Offenbach", hist, timestamp=T0 + timedelta(days=2))
    assert list(schema("events").iter_errors(doc)) == []
    assert [(e["id"], e["title"], e["start"], e["end"]) for e in doc["events"]] == [
        (1, "GISC-Offenbach portal unavailable", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"),
        (2, "GISC-Offenbach OAI-PMH provider unavailable", "2026-03-03T00:00:00Z",
         "2026-03-03T00:00:00Z"),
    ]
    assert doc["events"][1]["text"] == "refused (still failing)"
    assert doc["events"][0]["text"] == "HTTP 503"


def test_centres_json() -> None:
    doc = build_centres("GISC-Offenbach", RESULTS, timestamp=T0)
    assert list(schema("aorcentres").iter_errors(doc)) == []
    assert [(c["centre"], c["count"]) for c in doc["centres"]] == [
        ("GISC-Offenbach", 7000), ("GISC-Tokyo", 6000)]


@pytest.fixture
async def other_gisc() -> AsyncIterator[str]:
    fresh = build_monitor("GISC-Tokyo", [result(Service.OAIPMH, ProbeStatus.OK, 6000,
                                                centre="GISC-Tokyo")], PROPS, timestamp=T0)
    docs: dict[str, Any] = {
        "fresh": fresh,
        "broken": {"wmo_wis_monitoring": "1.0", "centre": "GISC-X"},
    }

    async def handler(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "huge":
            return web.Response(body=b"{" + b" " * 200_000 + b"}", content_type="application/json")
        return web.json_response(docs[name])

    app = web.Application()
    app.router.add_get("/{name}/monitor.json", handler)
    async with serve(app) as base:
        yield base


async def test_ingest_other_gisc(other_gisc: str) -> None:
    t = ProbeTarget("GISC-Tokyo", Service.WISMON, other_gisc + "/fresh/monitor.json")
    r = await probe(t, limits=FAST, now=lambda: T0 + timedelta(hours=1))
    assert r.status is ProbeStatus.DEGRADED  # its portal and distribution system are down
    assert r.reason == "GISC reports down: catalogue, distribution_system"
    assert r.figure == 6000
    assert r.details["services"] == {"oai_pmh": True, "catalogue": False,
                                     "distribution_system": False}
    expanded = results_from_monitor(r.details["document"], t.url, r.checked_at)
    assert [(x.service, x.status) for x in expanded] == [
        (Service.OAIPMH, ProbeStatus.OK), (Service.PORTAL, ProbeStatus.FAIL),
        (Service.CACHE, ProbeStatus.FAIL)]
    stale = await probe(t, limits=FAST, now=lambda: T0 + timedelta(days=5))
    assert stale.reason == "monitor.json is stale: last updated 2026-03-01T00:00:00Z"


async def test_ingest_refuses_invalid_and_huge(other_gisc: str) -> None:
    bad = await probe(ProbeTarget("GISC-X", Service.WISMON, other_gisc + "/broken/monitor.json"),
                      limits=FAST)
    assert bad.status is ProbeStatus.FAIL
    assert bad.reason == ("monitor.json does not follow WIS Monitor JSON 1.0: "
                          "'timestamp' missing or not a string")
    big = await probe(ProbeTarget("GISC-X", Service.WISMON, other_gisc + "/huge/monitor.json"),
                      limits=FAST)
    assert big.reason is not None and "cap" in big.reason
