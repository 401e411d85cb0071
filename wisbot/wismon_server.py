"""Serves the WIS Monitor JSON folder over HTTP (aiohttp): ``/monitor.json``,
``/events.json``, ``/centres.json`` and nothing else. Binds loopback by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

FILES = ("monitor.json", "events.json", "centres.json")


class WismonServer:
    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = folder
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = self.folder / name
        if name not in FILES or not path.is_file():
            raise web.HTTPNotFound(text=f"{name} is not published (yet)")
        return web.Response(body=path.read_bytes(), content_type="application/json",
                            charset="utf-8", headers={"Cache-Control": "max-age=300"})

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/{name}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server: Any = site._server  # aiohttp keeps the bound socket here
        sockets = getattr(server, "sockets", None) or ()
        port = sockets[0].getsockname()[1] if sockets else self.port
        self.url = f"http://{self.host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
