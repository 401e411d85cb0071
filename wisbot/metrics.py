"""Prometheus ``/metrics`` on a loopback port.

Every value is read from the database at scrape time (one short transaction), so two
wisbot processes report the same numbers and a restart loses no history. The registry is
the App's own, never the library's global one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import Session, col, select

from wisbot.store.engine import Store
from wisbot.store.paging_tables import Page, PageDelivery
from wisbot.store.tables import Incident, OutboxRow

log = logging.getLogger(__name__)
TTA_BUCKETS = (60.0, 300.0, 900.0, 1800.0, 2700.0, 3600.0, 7200.0, 14400.0)


class WisbotCollector(Collector):
    def __init__(self, store: Store, adapters: Callable[[], dict[str, bool]]) -> None:
        self.store = store
        self.adapters = adapters

    def _snapshot(self, session: Session) -> dict[str, Any]:
        open_by_sev = dict(session.exec(
            select(Incident.severity, func.count()).where(col(Incident.status) == "open")
            .group_by(col(Incident.severity))).all())
        # Drill pages test the chains; they are not incident paging figures.
        not_drill = col(Page.kind) != "drill"
        pending_pages = session.exec(select(func.count()).select_from(Page)
                                     .where(col(Page.status) == "open", not_drill)).one()
        outbox = dict(session.exec(select(OutboxRow.status, func.count())
                                   .group_by(col(OutboxRow.status))).all())
        deliveries = dict(session.exec(select(PageDelivery.status, func.count())
                                       .group_by(col(PageDelivery.status))).all())
        acked = session.exec(select(Page.created_at, Page.acked_at)
                             .where(col(Page.acked_at).is_not(None), not_drill)).all()
        tta = [(a - c).total_seconds() for c, a in acked if a is not None]
        return {"open": open_by_sev, "pages": pending_pages, "outbox": outbox,
                "deliveries": deliveries, "tta": tta}

    def collect(self) -> Iterable[Metric]:
        try:
            snap = self.store.run(self._snapshot)
        except Exception:
            log.exception("metrics: reading the database failed")
            up = GaugeMetricFamily("wisbot_database_up", "Whether /metrics could read the "
                                   "database.")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("wisbot_database_up", "Whether /metrics could read the database.")
        up.add_metric([], 1)
        yield up
        g = GaugeMetricFamily("wisbot_open_incidents", "Open incidents by severity.",
                              labels=["severity"])
        for level in range(6):
            g.add_metric([str(level)], snap["open"].get(level, 0))
        yield g
        g = GaugeMetricFamily("wisbot_pending_pages", "Pages not yet acknowledged.")
        g.add_metric([], snap["pages"])
        yield g
        g = GaugeMetricFamily("wisbot_outbox_depth", "Messages waiting for delivery.",
                              labels=["channel"])
        g.add_metric(["chat"], snap["outbox"].get("pending", 0))
        g.add_metric(["page"], snap["deliveries"].get("pending", 0))
        yield g
        g = GaugeMetricFamily("wisbot_dead_letters", "Messages given up on after retries.",
                              labels=["channel"])
        g.add_metric(["chat"], snap["outbox"].get("dead", 0))
        g.add_metric(["page"], snap["deliveries"].get("dead", 0))
        yield g
        values: list[float] = snap["tta"]
        buckets: list[tuple[str, float]] = []
        for bound in TTA_BUCKETS:
            buckets.append((str(bound), float(sum(1 for v in values if v <= bound))))
        buckets.append(("+Inf", float(len(values))))
        h = HistogramMetricFamily("wisbot_time_to_acknowledge_seconds",
                                  "Time from a page to its acknowledgement.",
                                  buckets=buckets, sum_value=sum(values))
        yield h
        g = GaugeMetricFamily("wisbot_adapter_connected", "Chat adapter connection state "
                              "(1 connected).", labels=["platform"])
        for platform, connected in sorted(self.adapters().items()):
            g.add_metric([platform], 1 if connected else 0)
        yield g


class MetricsServer:
    def __init__(self, store: Store, adapters: Callable[[], dict[str, bool]], *,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(WisbotCollector(store, adapters))
        self.host = host
        self.port = port
        self._server: WSGIServer | None = None

    def start(self) -> None:
        server, _thread = start_http_server(self.port, addr=self.host, registry=self.registry)
        self._server = server
        self.port = server.server_port
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"
