"""HTTP portal probe: does the GISC's portal answer, and how fast.

2xx after following up to ``ProbeLimits.max_redirects`` redirects is OK; the body is read
(capped) so that latency covers the whole page.
"""

from __future__ import annotations

import httpx

from wisbot.probes.http import iter_body, open_stream, require_success
from wisbot.probes.model import Outcome, ProbeLimits, ProbeStatus, ProbeTarget


async def probe_portal(
    target: ProbeTarget, client: httpx.AsyncClient, limits: ProbeLimits
) -> Outcome:
    async with open_stream(client, target.url, limits) as resp:
        require_success(resp)
        size = 0
        async for chunk in iter_body(resp, limits):
            size += len(chunk)
        details = {
            "http_status": resp.status_code,
            "final_url": str(resp.url),
            "redirects": resp.extensions.get("wisbot_redirects", []),
            "bytes": size,
        }
    return Outcome(ProbeStatus.OK, None, None, details)
