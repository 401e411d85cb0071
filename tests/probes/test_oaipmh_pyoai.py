"""OAI-PMH paging against pyoai's server, which never sends completeListSize."""

from __future__ import annotations

import pytest

from wisbot.probes.base import ProbeLimits, ProbeStatus, ProbeTarget, Service, probe

from .conftest import FAST
from .servers import pyoai


def oai(url: str, **options: object) -> ProbeTarget:
    return ProbeTarget("GISC-Test", Service.OAIPMH, url, options)


@pytest.mark.parametrize(("n", "batch", "pages"), [(2500, 100, 25), (1, 100, 1), (101, 100, 2)])
async def test_counts_by_paging(n: int, batch: int, pages: int) -> None:
    with pyoai(n, batch) as url:
        r = await probe(oai(url))
    assert r.status is ProbeStatus.OK, r.reason
    assert r.figure == n
    assert r.details["count_source"] == "paging"
    assert r.details["pages"] == pages
    assert r.details["complete_list_size"] is None
    assert r.details["repeated_identifiers"] == 0
    assert r.details["identify"]["repositoryName"] == "GISC pyoai test provider"


async def test_no_records_match_is_zero_not_an_outage() -> None:
    with pyoai(0) as url:
        r = await probe(oai(url))
    assert r.status is ProbeStatus.OK
    assert r.figure == 0
    assert r.reason is None
    assert r.details["count_source"] == "noRecordsMatch"


async def test_max_pages_bounds_a_long_list() -> None:
    limits = ProbeLimits(max_pages=3)
    with pyoai(1000, 10) as url:
        r = await probe(oai(url), limits=limits)
    assert r.status is ProbeStatus.DEGRADED
    assert r.reason == "list did not end within 3 pages; counted 30 so far"
    assert r.figure == 30


async def test_cannot_disseminate_format() -> None:
    with pyoai(5) as url:
        r = await probe(oai(url, metadataPrefix="oai_dc"), limits=FAST)
    assert r.status is ProbeStatus.FAIL
    assert r.reason is not None and "cannotDisseminateFormat" in r.reason
