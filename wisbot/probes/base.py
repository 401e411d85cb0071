"""The probe entry points the watch service calls: :func:`probe` and :func:`sweep`.

``probe`` never raises: whatever the server (or the probe) does, the answer is a
:class:`ProbeResult`, FAIL with a reason a duty operator can act on.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from datetime import datetime

import httpx

from wisbot.probes import reasons as r
from wisbot.probes.broker import probe_broker
from wisbot.probes.errors import ProbeError
from wisbot.probes.http import describe_http_error, make_client
from wisbot.probes.model import (
    Outcome,
    ProbeLimits,
    ProbeResult,
    ProbeStatus,
    ProbeTarget,
    Service,
    utcnow,
)
from wisbot.probes.oaipmh import probe_oaipmh
from wisbot.probes.portal import probe_portal
from wisbot.probes.sru import probe_sru
from wisbot.probes.wis2 import probe_cache, probe_gdc, probe_monitor
from wisbot.probes.wismon import probe_wismon

__all__ = [
    "ProbeLimits",
    "ProbeResult",
    "ProbeStatus",
    "ProbeTarget",
    "Service",
    "probe",
    "sweep",
    "utcnow",
]

log = logging.getLogger(__name__)

_HttpProbe = Callable[[ProbeTarget, httpx.AsyncClient, ProbeLimits], Awaitable[Outcome]]
_HTTP_PROBES: dict[Service, _HttpProbe] = {
    Service.OAIPMH: probe_oaipmh,
    Service.SRU: probe_sru,
    Service.PORTAL: probe_portal,
    Service.GDC: probe_gdc,
    Service.CACHE: probe_cache,
    Service.MONITOR: probe_monitor,
}


async def _run(
    target: ProbeTarget,
    client: httpx.AsyncClient | None,
    limits: ProbeLimits,
    now: Callable[[], datetime],
) -> Outcome:
    if target.service is Service.BROKER:
        return await probe_broker(target, limits)
    async with AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(make_client(limits))
        if target.service is Service.WISMON:
            return await probe_wismon(target, client, limits, now())
        return await _HTTP_PROBES[target.service](target, client, limits)
    raise AssertionError("unreachable")  # AsyncExitStack may swallow; it never does here


async def probe(
    target: ProbeTarget,
    *,
    client: httpx.AsyncClient | None = None,
    limits: ProbeLimits = ProbeLimits(),
    now: Callable[[], datetime] = utcnow,
) -> ProbeResult:
    """Probe one service of one centre within ``limits.total_timeout``; never raises."""
    started = time.monotonic()
    status: ProbeStatus
    figure: float | None = None
    reason: str | None
    details: dict[str, object] = {}
    try:
        async with asyncio.timeout(limits.total_timeout):
            outcome = await _run(target, client, limits, now)
        status, figure, reason = outcome.status, outcome.figure, outcome.reason
        details.update(outcome.details)
    except ProbeError as exc:
        status, reason = ProbeStatus.FAIL, exc.reason
        details.update(exc.details)
    except TimeoutError:
        status = ProbeStatus.FAIL
        reason = r.TOTAL_TIMEOUT.en(seconds=f"{limits.total_timeout:g}")
    except httpx.HTTPError as exc:
        status, reason = ProbeStatus.FAIL, describe_http_error(exc, limits)
    except Exception as exc:  # the contract: a probe never raises
        error_id = uuid.uuid4().hex[:8]
        log.exception(
            "probe of %s %s failed [error id %s]", target.centre, target.service, error_id
        )
        status = ProbeStatus.FAIL
        reason = r.PROBE_ERROR.en(id=error_id, kind=type(exc).__name__, error=exc)
    elapsed_ms = (time.monotonic() - started) * 1000.0
    details["elapsed_ms"] = round(elapsed_ms, 1)
    return ProbeResult(
        centre=target.centre,
        service=target.service,
        url=target.url,
        status=status,
        # latency of an answer; a failure's duration stays in details["elapsed_ms"]
        latency_ms=None if status is ProbeStatus.FAIL else round(elapsed_ms, 1),
        figure=None if figure is None else float(figure),
        reason=reason,
        checked_at=now(),
        details=details,
    )


async def sweep(
    targets: Sequence[ProbeTarget],
    *,
    concurrency: int = 16,
    client: httpx.AsyncClient | None = None,
    limits: ProbeLimits = ProbeLimits(),
    now: Callable[[], datetime] = utcnow,
) -> list[ProbeResult]:
    """Probe all ``targets`` concurrently, at most ``concurrency`` at a time; results come back
    in the order of ``targets``. One shared HTTP client (connection pool) serves the sweep."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    gate = asyncio.Semaphore(concurrency)

    async def one(target: ProbeTarget, shared: httpx.AsyncClient) -> ProbeResult:
        async with gate:
            return await probe(target, client=shared, limits=limits, now=now)

    async with AsyncExitStack() as stack:
        shared = client
        if shared is None:
            shared = await stack.enter_async_context(
                make_client(limits, max_connections=max(concurrency, 1))
            )
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(one(t, shared)) for t in targets]
        return [t.result() for t in tasks]
    raise AssertionError("unreachable")
