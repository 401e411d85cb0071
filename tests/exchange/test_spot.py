"""Spotting records newly offered for global exchange: real pycsw 2.6.2 with WMO Core 1.3
records for each scope code, pyoai as a paging-only provider, hostile pages, a GDC, and
the volume figures that flag a record for review."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import select

from tests.conftest import EXAMPLE
from tests.helpers import room_text
from tests.probes.servers import PYCSW_PYTHON, missing, pycsw
from wisbot.adapters.console import render_text
from wisbot.clock import FakeClock
from wisbot.directory import Directory, parse_directory
from wisbot.store.exchange_tables import ExchangeRecord

from .providers import RecordStore, figures_server, oai_page, pyoai_records, raw_pages
from .records import RECORDS, core_record, gts_id

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def directory(oai: dict[str, str] | None = None, wis2: dict[str, dict[str, str]] | None = None,
              wismon: dict[str, str] | None = None) -> Directory:
    data = yaml.safe_load(EXAMPLE.read_text())
    for g in data["giscs"]:
        g["services"] = {k: v for k, v in g["services"].items() if k != "oaipmh"}
        if oai and g["name"] in oai:
            g["services"]["oaipmh"] = oai[g["name"]]
        if wismon and g["name"] in wismon:
            g["services"]["wismon"] = wismon[g["name"]]
    data["wis2"] = wis2 or {}
    return parse_directory(data, "test-directory")


@pytest.fixture(scope="module")
def exchange_pycsw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not PYCSW_PYTHON.exists():
        missing(f"pycsw venv missing ({PYCSW_PYTHON}); run `make pycsw-env`")
    with pycsw(tmp_path_factory.mktemp("pycsw-exchange"), maxrecords=3, records=RECORDS) as url:
        yield f"{url}?mode=oaipmh"


def section_text(reply: Any) -> str:
    return "" if reply is None else render_text(reply)


async def test_pycsw_each_scope_code_and_variants(make_app: Any, clock: FakeClock,
                                                  exchange_pycsw: str) -> None:
    app = await make_app(directory({"Offenbach": exchange_pycsw}),
                         exchange_first_lookback_days=30)
    report = await app.services.exchange.spot()
    (src, status, stats), = report.harvests
    assert (src.key, status, stats.stopped) == ("oai:Offenbach", "ok", None)
    # 9 fixtures, one stamped 2020 is before from= (30 days back); paging by pycsw's tokens
    assert stats.parsed == 8 and stats.pages == 3 and stats.skipped_total == 0
    assert any("token '0'" in q for q in stats.quirks)

    offenbach = section_text(await app.services.exchange.daily_section("Offenbach"))
    assert offenbach.startswith("GISC Offenbach – 4 new records offered for global exchange")
    for ident in (gts_id("SMDL01EDZW"),  # plain thesaurus title
                  gts_id("SMSW01LSSW"),  # title with version text appended
                  gts_id("SMKN01HKNC"),  # gmx:Anchor keyword and title
                  "urn:x-wmo:md:de.dwd::radar-composite-5min"):  # by metadata namespace
        assert ident in offenbach, ident
    for ident in (gts_id("SIDL01EDZW"), gts_id("HHXA50EDZW"),  # Regional, OriginatingCentre
                  gts_id("SMJP01RJTD"), gts_id("HTXE85ECMF"),  # other GISCs' areas
                  gts_id("SMDL02EDZW")):  # older than from=
        assert ident not in offenbach, ident
    assert "SYNOP reports from Kenya (GlobalExchange; WMOEssential; GTSPriority2; new)" \
        in offenbach
    assert "Kenya Meteorological Department National Centre" not in offenbach
    assert "Kenya Meteorological Department (KE-NC, Kenya)" in offenbach
    tokyo = section_text(await app.services.exchange.daily_section("Tokyo"))
    assert "1 new record offered" in tokyo and gts_id("SMJP01RJTD") in tokyo
    assert gts_id("HTXE85ECMF") in section_text(
        await app.services.exchange.daily_section("Exeter"))
    assert await app.services.exchange.daily_section("Moscow") is None

    def states(session: Any) -> dict[str, str]:
        return {r.identifier: r.scope for r in session.exec(select(ExchangeRecord)).all()}

    assert (await app.store.tx(states))[gts_id("HHXA50EDZW")] == "OriginatingCentre"

    # next day: nothing changed in the catalogue since the last run
    clock.advance(hours=25)
    again = await app.services.exchange.spot()
    assert again.offered == 0 and again.harvests[0][2].parsed == 0
    assert await app.services.exchange.daily_section("Offenbach") is None


async def test_scope_change_to_global_counts_as_new(make_app: Any, clock: FakeClock) -> None:
    store = RecordStore()
    radar = "urn:x-wmo:md:de.dwd::radar-volumes"
    store.put(radar, core_record(radar, "Radar volumes, Germany", "RegionalExchange"), T0)
    store.put(gts_id("SMDL01EDZW"), core_record(gts_id("SMDL01EDZW"), "SYNOP Germany"), T0)
    with pyoai_records(store, batch=1) as url:
        app = await make_app(directory({"Offenbach": url}))
        first = await app.services.exchange.spot()
        assert first.harvests[0][2].pages == 2  # paging only: one record a page
        section = section_text(await app.services.exchange.daily_section("Offenbach"))
        assert "1 new record" in section and radar not in section

        clock.advance(days=1)
        later = clock.now - timedelta(hours=1)
        store.put(radar, core_record(radar, "Radar volumes, Germany"), later)
        store.put(gts_id("SMDL01EDZW"), core_record(gts_id("SMDL01EDZW"), "SYNOP Germany v2"),
                  later)
        second = await app.services.exchange.spot()
    assert second.harvests[0][2].parsed == 2
    assert second.offered == 1  # the scope change; the updated Global record is not new
    section = section_text(await app.services.exchange.daily_section("Offenbach"))
    assert section.startswith("GISC Offenbach – 1 new record offered")
    assert radar in section and "was RegionalExchange" in section
    assert gts_id("SMDL01EDZW") not in section


XXE = '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY lol "lol">]>'


async def test_hostile_records_are_skipped_and_counted(make_app: Any, clock: FakeClock,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    good = [core_record(gts_id(f"SMDL{i:02d}EDZW"), f"SYNOP {i}") for i in range(1, 5)]
    entity = core_record(gts_id("SMXX01EDZW"), "&xxe;").replace("&amp;xxe;", "&xxe;")
    wrong_ns = core_record(gts_id("SMXX02EDZW"), "ISO 19115-3 by mistake",
                           root_ns="http://standards.iso.org/iso/19115/-3/mdb/2.0")
    two_licences = core_record(gts_id("SMXX03EDZW"), "Two licences",
                               licences=("WMOEssential", "WMOAdditional"))
    no_scope = core_record(gts_id("SMXX04EDZW"), "No scope", None)
    unknown_scope = core_record(gts_id("SMXX05EDZW"), "Bad scope", "Worldwide")
    pages = [
        oai_page([good[0], entity, good[1]], "1", prolog=XXE),
        oai_page([wrong_ns, two_licences, no_scope, unknown_scope, good[2]], "2"),
        oai_page([good[3]], None),
    ]
    caplog.set_level(logging.WARNING, logger="wisbot.probes.harvest")
    async with raw_pages(pages) as url:
        app = await make_app(directory({"Offenbach": url}))
        report = await app.services.exchange.spot()
    (_, status, stats), = report.harvests
    assert status == "ok" and stats.pages == 3 and stats.salvaged_pages == 1
    assert dict(stats.skipped) == {"entity-reference": 1, "wrong-namespace": 1,
                                   "two-licence-terms": 1, "missing-scope": 1,
                                   "unknown-scope": 1}
    assert stats.parsed == 4 and report.offered == 4
    logged = caplog.text
    assert "XXE or entity expansion refused" in logged
    assert "2 different licence terms (WMOEssential, WMOAdditional)" in logged
    assert "no keyword from a WMO_DistributionScopeCode thesaurus" in logged
    assert "root element is {http://standards.iso.org/iso/19115/-3/mdb/2.0}MD_Metadata" in logged

    def titles(session: Any) -> list[str]:
        return [r.title for r in session.exec(select(ExchangeRecord)).all()]

    stored = await app.store.tx(titles)
    assert sorted(stored) == ["SYNOP 1", "SYNOP 2", "SYNOP 3", "SYNOP 4"]
    assert not any("root:" in t for t in stored)


async def test_broken_page_stops_that_source_only(make_app: Any, clock: FakeClock) -> None:
    good = core_record(gts_id("SMDL01EDZW"), "SYNOP 1")
    pages = [oai_page([good], "1"), b"<html>502 Bad Gateway</html>"]
    async with raw_pages(pages) as url:
        app = await make_app(directory({"Offenbach": url}))
        report = await app.services.exchange.spot()
    (_, status, stats), = report.harvests
    assert status == "partial" and stats.stopped is not None and "page 2" in stats.stopped
    assert report.offered == 1
    # the next run starts where this one did, not from now
    clock.advance(days=1)

    def next_from(session: Any) -> Any:
        from wisbot.store.exchange_tables import ExchangeHarvest

        return session.get(ExchangeHarvest, "oai:Offenbach").next_from

    assert await app.store.tx(next_from) == T0 - timedelta(days=1)


async def test_gdc_core_records_and_figures_flag_review(make_app: Any, clock: FakeClock) -> None:
    def item(ident: str, policy: str | None, updated: str = "2026-03-02T07:00:00Z") -> dict:
        props: dict[str, Any] = {"title": f"title of {ident}", "updated": updated}
        if policy:
            props["wmo:dataPolicy"] = policy
        return {"id": ident, "type": "Feature", "properties": props}

    items = [item("urn:wmo:md:de-dwd:radar.5min", "core"),
             item("urn:wmo:md:de-dwd:nwp.icon-d2", "recommended"),
             item("urn:wmo:md:ch-meteoswiss:synop", "core"),
             item("urn:wmo:md:ke-kmd:old", "core", "2025-01-01T00:00:00Z"),
             item("urn:wmo:md:de-dwd:nopolicy", None)]
    monitor = {"wmo_wis_monitoring": "1.0", "centre": "DE-OF-NC",
               "timestamp": "2026-03-02T00:00:00Z",
               "gisc_properties": {"catalogue_url": "x", "oai_url": "y"},
               "metrics": {"services": {k: {"status": True} for k in
                                        ("oai_pmh", "catalogue", "distribution_system")},
                           "cache_24h": {"number_of_products_all": 120_000,
                                         "bytes_of_cache_all": 3.5e9}}}
    messages = {"de-dwd": 900_000.0, "ch-meteoswiss": 1_000.0, "xx-unknown": 5.0}
    async with figures_server(monitor, messages, items) as base:
        d = directory(wis2={"gdc-test": {"kind": "gdc", "url": f"{base}/gdc"},
                            "gm-test": {"kind": "monitor", "url": f"{base}/prom"}},
                      wismon={"Offenbach": f"{base}/monitor.json"})
        app = await make_app(d, exchange_max_messages_24h=500_000,
                             exchange_max_products_24h=100_000)
        report = await app.services.exchange.spot()
        (src, status, stats), = report.harvests
        assert (src.key, status) == ("gdc:gdc-test", "ok")
        assert stats.pages == 3 and dict(stats.skipped) == {"missing-data-policy": 1}
        assert report.figures == 4 and report.figure_errors == []
        assert report.offered == 2  # the two core records updated since the last day
        section = section_text(await app.services.exchange.daily_section("Offenbach"))
        # day two: the figure for CH doubles, DE's stays high
        clock.advance(days=1)
        messages["ch-meteoswiss"] = 3_000.0
        items.append(item("urn:wmo:md:ch-meteoswiss:synop.hourly", "core",
                          "2026-03-03T08:00:00Z"))
        await app.services.exchange.spot()
        day2 = section_text(await app.services.exchange.daily_section("Offenbach"))
        posted = await app.services.exchange.post_daily_sections()
        await app.outbox.drain()
    assert "urn:wmo:md:de-dwd:radar.5min" in section and "wmo:dataPolicy core" in section
    assert "nwp.icon-d2" not in section and "ke-kmd:old" not in section
    assert "Global Broker messages received, 24 h: 900,000 (no figure yesterday)" in section
    assert "products in the GISC cache, 24 h: 120,000" in section
    assert "⚠ needs review: Global Broker messages received, 24 h 900,000 above the " \
           "threshold of 500,000; products in the GISC cache, 24 h 120,000 above" in section
    assert "Need review: 1" in section  # DE's record; CH's figures are below the thresholds
    assert "Global Broker messages received, 24 h: 3,000 (+200 % day on day)" in day2
    assert "changed +200 % day on day (threshold ±100 %)" in day2
    assert posted == ["Offenbach"]
    assert "synop.hourly" in room_text(app, "gisc-offenbach")
    assert room_text(app, "collaboration") == ""


def test_fixture_files_match_the_generator(tmp_path: Path) -> None:
    from .records import FIXTURES

    for name, kwargs in FIXTURES.items():
        written = (RECORDS / f"{name}.xml").read_text(encoding="utf-8")
        assert written == core_record(**kwargs), f"{name}: run python -m tests.exchange.records"
