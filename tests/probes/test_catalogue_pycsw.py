"""OAI-PMH and SRU probes against a real pycsw 2.6.2 holding the 7 fixture records."""

from __future__ import annotations

from wisbot.probes.base import ProbeStatus, ProbeTarget, Service, probe

from .servers import FIXTURES

RECORDS = len(list((FIXTURES / "pycsw_records").glob("*.xml")))


def oai(url: str, **options: object) -> ProbeTarget:
    return ProbeTarget("GISC-Offenbach", Service.OAIPMH, f"{url}?mode=oaipmh", options)


async def test_identify_and_complete_list_size(pycsw_url: str) -> None:
    r = await probe(oai(pycsw_url))
    assert r.status is ProbeStatus.OK, r.reason
    assert r.figure == RECORDS == 7
    assert r.details["count_source"] == "completeListSize"
    assert r.details["identify"]["repositoryName"] == "GISC Test Catalogue (pycsw)"
    assert r.details["identify"]["protocolVersion"] == "2.0"
    assert r.latency_ms is not None and r.latency_ms > 0
    assert r.checked_at.tzinfo is not None


async def test_paging_survives_pycsw_quirks(pycsw_url: str) -> None:
    # maxrecords=3: pages of 3, 3, 1; the last token is "0", which would restart the list
    r = await probe(oai(pycsw_url, count_mode="page"))
    assert r.status is ProbeStatus.OK, r.reason
    assert r.figure == RECORDS
    d = r.details
    assert d["count_source"] == "paging"
    assert d["pages"] == 3
    assert d["complete_list_size"] == RECORDS
    quirks = " | ".join(d["quirks"])
    assert "token '0'" in quirks
    assert "need metadataPrefix" in quirks
    # pycsw writes the page's first identifier into every header: 2+2 repeats on 3 pages
    assert d["repeated_identifiers"] == 4


async def test_unknown_metadata_prefix_is_a_failure(pycsw_url: str) -> None:
    r = await probe(oai(pycsw_url, metadataPrefix="nosuchformat"))
    assert r.status is ProbeStatus.FAIL
    assert r.reason is not None
    assert "ListIdentifiers answered with OAI-PMH error badArgument" in r.reason
    assert "nosuchformat" in r.reason


async def test_sru_number_of_records(pycsw_url: str) -> None:
    target = ProbeTarget("GISC-Offenbach", Service.SRU, f"{pycsw_url}?mode=sru")
    r = await probe(target)
    assert r.status is ProbeStatus.OK, r.reason
    assert r.figure == RECORDS
    assert r.details["namespace"] == "http://www.loc.gov/zing/srw/"
    q = await probe(
        ProbeTarget("GISC-Offenbach", Service.SRU, f"{pycsw_url}?mode=sru", {"query": "SYNOP"})
    )
    assert q.figure == 2  # two of the fixture titles say SYNOP


async def test_sru_diagnostic_with_http_200_is_a_failure(pycsw_url: str) -> None:
    target = ProbeTarget(
        "GISC-Offenbach", Service.SRU, f"{pycsw_url}?mode=sru", {"query": "dc:title=="}
    )
    r = await probe(target)
    assert r.status is ProbeStatus.FAIL
    assert r.reason == (
        "SRU diagnostic info:srw/diagnostic/1/7: Invalid Filter syntax (InvalidParameterValue)"
    )
