"""The web server: uvicorn as a task of the running :class:`~wisbot.app.App` (``wisbot run``
with ``WISBOT_WEB_ENABLED``) or alone (``wisbot web``). Sessions live in the database, so
any number of processes may serve behind one proxy."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from wisbot.web.app import build_web_app
from wisbot.web.auth import WebAuth
from wisbot.web.auth_routes import auth_routes

if TYPE_CHECKING:
    from wisbot.app import App

log = logging.getLogger(__name__)


def site_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    try:  # the facility's pages (register, lessons, watch, reports) when installed
        from wisbot.web.pages import page_routes
    except ImportError:
        pass
    else:
        routes.extend(page_routes())
    return [*routes, *auth_routes()]


def build_site(bot: App) -> Starlette:
    """The whole facility, signed in through database sessions."""
    auth = WebAuth(bot)
    bot.services.extra["web_auth"] = auth
    return build_web_app(bot, site_routes(), authenticate=auth.authenticate)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_dev_mode(host: str, dev: bool) -> None:
    if dev and not is_loopback(host):
        raise ValueError(f"WISBOT_WEB_DEV (cookies without Secure) is for loopback only; "
                         f"web_host is {host}: serve behind a TLS proxy instead")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # wisbot's own signal handling stops the App, which stops this server.
        yield


class WebServer:
    def __init__(self, bot: App, host: str | None = None, port: int | None = None) -> None:
        s = bot.settings
        self.bot = bot
        self.host = host or s.web_host
        self.port = s.web_port if port is None else port
        check_dev_mode(self.host, s.web_dev)
        self.url: str | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    async def start(self) -> str:
        config = uvicorn.Config(
            build_site(self.bot), host=self.host, port=self.port, lifespan="off",
            log_config=None, access_log=False, proxy_headers=True,
            forwarded_allow_ips=self.bot.settings.web_forwarded_allow_ips,
            server_header=False)
        self._server = _Server(config)
        # Bound here, so a port in use is an OSError of ours (uvicorn would exit the process).
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        self._sock = sock
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise OSError(f"the web server could not start on {self.host}:{self.port}")
            await asyncio.sleep(0.02)
        port = sock.getsockname()[1]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{port}"
        log.info("web facility served at %s", self.url)
        return self.url

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(self._task, 10)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()
        if self._sock is not None:
            self._sock.close()
        self._server = self._task = self._sock = None
