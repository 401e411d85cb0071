"""WIS Monitor JSON: written each day, valid against the pilot's schemas, served over HTTP
on loopback, and another GISC's file ingested as a probe source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from tests.probes.servers import FIXTURES as PROBE_FIXTURES
from wisbot.directory import Directory
from wisbot.probes.base import ProbeResult, ProbeStatus, Service
from wisbot.probes.wismon import GiscProperties, build_monitor
from wisbot.wismon_server import WismonServer

from .conftest import watch_directory


def validator(name: str) -> jsonschema.Draft3Validator:
    schema = json.loads((PROBE_FIXTURES / f"wismon_schema_{name}.json").read_text())
    return jsonschema.Draft3Validator(schema)


async def test_daily_run_writes_and_serves_valid_wis_monitor_json(
        watch_app: Any, fake_sweep: Any, tmp_path: Path) -> None:
    folder = tmp_path / "wismon"
    app = await watch_app(duty_room=True, wismon_dir=folder, wismon_port=0,
                          wismon_centre="Tokyo")
    fake_sweep.set("Tokyo", "oaipmh", figure=12_345)
    fake_sweep.set("Tokyo", "sru", "fail", reason="SRU diagnostic 1/7: bad query")
    await app.services.watch.run("daily")
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["centres.json", "events.json", "monitor.json"]
    docs = {n: json.loads((folder / n).read_text()) for n in names}
    assert list(validator("monitor").iter_errors(docs["monitor.json"])) == []
    assert list(validator("events").iter_errors(docs["events.json"])) == []
    assert list(validator("aorcentres").iter_errors(docs["centres.json"])) == []
    monitor = docs["monitor.json"]
    assert monitor["wmo_wis_monitoring"] == "1.0" and monitor["centre"] == "Tokyo"
    assert monitor["metrics"]["metadata_catalogue"]["number_of_records_at00UTC"] == 12_345
    assert monitor["x_wisbot"]["sru"]["status"] is False
    assert "SRU: fail (SRU diagnostic 1/7: bad query)" in monitor["remarks"]
    assert docs["events.json"]["events"][0]["title"] == "Tokyo SRU search unavailable"
    base = app.services.watch.wismon_url
    assert base is not None and base.startswith("http://127.0.0.1:")
    assert monitor["gisc_properties"]["monitor_url"] == f"{base}/monitor.json"
    async with httpx.AsyncClient() as client:
        got = await client.get(f"{base}/monitor.json")
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("application/json")
        assert got.json() == monitor
        assert (await client.get(f"{base}/wisbot.db")).status_code == 404
        assert (await client.get(f"{base}/../wisbot.db")).status_code == 404


async def test_another_giscs_monitor_json_is_ingested_as_a_probe_source(
        make_app: Any, example_directory: Directory, clock: Any, tmp_path: Path) -> None:
    theirs = tmp_path / "exeter"
    theirs.mkdir()
    results = [ProbeResult("Exeter", Service.OAIPMH, "x", ProbeStatus.FAIL, None, None,
                           "down", clock(), {}),
               ProbeResult("Exeter", Service.PORTAL, "x", ProbeStatus.OK, 5.0, None, None,
                           clock(), {})]
    doc = build_monitor("Exeter", results, GiscProperties("https://exeter/", "https://exeter/oai"),
                        timestamp=clock())
    (theirs / "monitor.json").write_text(json.dumps(doc))
    server = WismonServer(theirs)
    url = await server.start()
    try:
        d = watch_directory(example_directory,
                            services={"Exeter": {"wismon": f"{url}/monitor.json"}}, wis2={})
        app = await make_app(d, watch_enabled=False)
        out = await app.services.watch.run("manual", "wismon")
        (r,) = out.results
        assert r.centre == "Exeter" and r.service is Service.WISMON
        assert r.status is ProbeStatus.DEGRADED
        assert r.reason == "GISC reports down: oai_pmh, distribution_system"
        summary = await app.console.type("gisc-exeter", "watch", "gisc-exeter")
        assert "Exeter / wismon: degraded – GISC reports down: oai_pmh" in summary.plain()
    finally:
        await server.stop()
