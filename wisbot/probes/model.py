"""Probe vocabulary: what is probed, the limits a probe keeps to, and what it reports.

Kept free of I/O so that the watch service, the store and the anomaly rules can import it
without pulling in httpx or MQTT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the clock every result is stamped with)."""
    return datetime.now(UTC)


class ProbeStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # answers, but something a duty operator should look at
    FAIL = "fail"  # unreachable, wrong answer, or an outage


class Service(StrEnum):
    """The services GISC Watch looks at (WIS 1.0: OAI-PMH, SRU, portal; WIS 2.0 globals)."""

    OAIPMH = "oaipmh"
    SRU = "sru"
    PORTAL = "portal"
    GDC = "gdc"  # Global Discovery Catalogue (OGC API - Records)
    BROKER = "broker"  # Global Broker (MQTT)
    CACHE = "cache"  # Global Cache (HTTP download)
    MONITOR = "monitor"  # Global Monitor (Prometheus HTTP API)
    WISMON = "wismon"  # another GISC's WIS Monitor JSON (monitor.json)


@dataclass(frozen=True)
class ProbeTarget:
    """One service of one centre, e.g. ``ProbeTarget("GISC-Offenbach", Service.OAIPMH, url)``.

    ``options`` are per-service knobs (``metadataPrefix``, ``window_s``, ...), documented on
    each probe function.
    """

    centre: str
    service: Service
    url: str
    options: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class ProbeResult:
    """What one probe found. ``figure`` is the service's headline number (records, messages,
    bytes); ``reason`` says in plain words why the status is not OK."""

    centre: str
    service: Service
    url: str
    status: ProbeStatus
    latency_ms: float | None
    figure: float | None
    reason: str | None
    checked_at: datetime
    details: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def ok(self) -> bool:
        return self.status is ProbeStatus.OK


@dataclass(frozen=True)
class ProbeLimits:
    """Bounds every probe keeps to, whatever the server does.

    Timeouts are seconds; ``max_bytes`` caps each response body; ``max_pages`` caps
    resumption-token paging; ``max_redirects`` caps redirects followed. A harvest page over
    ``max_bytes`` is read on, unparsed and unkept, up to ``skip_bytes`` to find its
    resumption token, so that the harvest goes on after it.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    max_pages: int = 10_000
    max_redirects: int = 10
    skip_bytes: int = 256 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    """What a service-specific probe returns to :func:`wisbot.probes.base.probe`, which adds
    the target, timing and clock."""

    status: ProbeStatus
    figure: float | None = None
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
