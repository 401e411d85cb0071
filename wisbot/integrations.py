"""Global Monitor alerts and the WIS2 IMS mirror, wired into the App: built from the
settings, started in every process (any process may receive alerts; the JIRA mirror's
lease lets one process at a time mirror), stopped with the App."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from wisbot.clock import Clock
from wisbot.directory import Directory
from wisbot.services.alerts import AlertService
from wisbot.services.jira import JiraClient, JiraMirror
from wisbot.services.watch import WatchService
from wisbot.settings import Settings
from wisbot.store.engine import Store

log = logging.getLogger(__name__)


@dataclass
class AlertsJira:
    alerts: AlertService
    mirror: JiraMirror | None = None
    server: object | None = None

    @classmethod
    def build(cls, store: Store, directory: Directory, settings: Settings,
              watch: WatchService, clock: Clock, *, holder: str | None = None) -> AlertsJira:
        """The services, with the mirror's queue hooked on the watch tickets (nothing runs
        yet: :meth:`start`)."""
        out = cls(AlertService(store, directory, watch, clock))
        s = settings
        if s.jira_url:
            if s.jira_token is None:
                raise ValueError("jira_url is set but jira_token is not (a personal access "
                                 "token of the WIS2 IMS project)")
            client = JiraClient(s.jira_url, s.jira_token.get_secret_value(),
                                timeout=s.jira_timeout_s)
            out.mirror = JiraMirror(store, directory, s, watch, clock, client, holder=holder)
            watch.on_ticket_change.append(out.mirror.enqueue)
        if s.alerts_port is not None and s.alerts_token is None:
            raise ValueError("alerts_port is set but alerts_token is not: Alertmanager must "
                             "send a bearer token")
        return out

    async def start(self, settings: Settings, *, run_worker: bool = True) -> None:
        if settings.alerts_port is not None and settings.alerts_token is not None:
            from wisbot.alerts_server import AlertServer

            server = AlertServer(self.alerts, settings.alerts_token.get_secret_value(),
                                 settings.alerts_host, settings.alerts_port)
            url = await server.start()
            self.server = server
            log.info("Alertmanager webhook receiver at %s", url)
        if self.mirror is not None and run_worker:
            self.mirror.start()

    async def stop(self) -> None:
        from wisbot.alerts_server import AlertServer

        if isinstance(self.server, AlertServer):
            await self.server.stop()
            self.server = None
        if self.mirror is not None:
            await self.mirror.stop()
