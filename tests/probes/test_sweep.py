"""sweep(): bounded, concurrent, order-preserving; probe() never raises."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from wisbot.probes.base import ProbeStatus, ProbeTarget, Service, probe, sweep

from .conftest import FAST
from .servers import serve


@pytest.fixture
async def slow() -> AsyncIterator[tuple[str, list[int]]]:
    active = [0, 0]  # now, peak

    async def handler(request: web.Request) -> web.Response:
        active[0] += 1
        active[1] = max(active)
        try:
            await asyncio.sleep(0.2)
        finally:
            active[0] -= 1
        return web.Response(text=request.match_info["n"])

    app = web.Application()
    app.router.add_get("/p/{n}", handler)
    async with serve(app) as base:
        yield base, active


async def test_sweep_is_concurrent_bounded_and_ordered(slow: tuple[str, list[int]]) -> None:
    base, active = slow
    targets = [ProbeTarget(f"C{n}", Service.PORTAL, f"{base}/p/{n}") for n in range(12)]
    targets.insert(5, ProbeTarget("Bad", Service.PORTAL, "not a url"))
    t0 = time.monotonic()
    results = await sweep(targets, concurrency=4, limits=FAST)
    elapsed = time.monotonic() - t0
    assert [r.centre for r in results] == [t.centre for t in targets]
    assert active[1] == 4  # never more than the pool, and the pool was used
    assert 0.6 <= elapsed < 1.5  # 12 × 0.2 s in 3 waves of 4, not 2.4 s
    assert results[5].status is ProbeStatus.FAIL
    assert results[5].reason is not None and results[5].reason.startswith("invalid URL")
    assert all(r.status is ProbeStatus.OK for i, r in enumerate(results) if i != 5)


async def test_probe_never_raises_on_bad_options() -> None:
    t = ProbeTarget("C", Service.BROKER, "mqtt://127.0.0.1:1", {"window_s": "soon"})
    r = await probe(t, limits=FAST)
    assert r.status is ProbeStatus.FAIL
    assert r.reason is not None and r.reason.startswith("probe error ")
    assert "ValueError" in r.reason
