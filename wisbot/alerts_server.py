"""The Alertmanager webhook receiver (aiohttp): ``POST /alertmanager`` with
``Authorization: Bearer <alerts_token>``. Binds loopback by default.

Answers: 200 with what was done; 400 a body that is not a notification; 401 no or a wrong
token; 413 a body over 4 MiB; 503 when the database fails (Alertmanager retries on 5xx,
and receipts make the retry harmless). Any process may receive: the receipts in the
database keep two replicas from acting twice.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiohttp import web

from wisbot.services.alerts import AlertService, BadNotification

log = logging.getLogger(__name__)
PATH = "/alertmanager"
MAX_BODY = 4 * 1024 * 1024


class AlertServer:
    def __init__(self, alerts: AlertService, token: str, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        if not token:
            raise ValueError("the alert receiver needs a bearer token (alerts_token)")
        self.alerts = alerts
        self._token = token.encode()
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(),
                                                                  self._token)

    async def _receive(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response(
                {"error": "missing or wrong bearer token"}, status=401,
                headers={"WWW-Authenticate": 'Bearer realm="wisbot alerts"'})
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": f"the body is over {MAX_BODY} bytes"},
                                     status=413)
        try:
            outcome = await self.alerts.receive(body)
        except BadNotification as exc:
            log.warning("alert receiver: refused a notification: %s", exc)
            return web.json_response({"error": str(exc)}, status=400)
        except Exception:
            log.exception("alert receiver: storing a notification failed")
            return web.json_response({"error": "not stored; retry"}, status=503)
        return web.json_response(outcome.as_json())

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def start(self) -> str:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(PATH, self._receive)
        app.router.add_get("/healthz", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server: Any = site._server  # aiohttp keeps the bound socket here
        sockets = getattr(server, "sockets", None) or ()
        port = sockets[0].getsockname()[1] if sockets else self.port
        self.url = f"http://{self.host}:{port}{PATH}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
