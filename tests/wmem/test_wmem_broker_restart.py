"""A Global Broker down and back: a second Mosquitto on a free port is stopped while
events are published elsewhere (they reach the replay, served locally), then started
again; the subscriber reconnects by itself, catches up from the replay and hears live
events again. Nothing is lost, nothing handled twice."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from aiohttp import web

from tests._services import missing
from tests.wmem.conftest import event, raw
from wisbot.services.wmem import Subscriber


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.conf = folder / "m.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(exe):
            missing("Mosquitto binary not found")
        self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    missing("a second mosquitto could not start")
                import time
                time.sleep(0.05)
        missing("a second mosquitto did not open its port")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.stop()


async def _until(check: Any, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not check():
        if loop.time() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_broker_down_and_back_with_catch_up(broker: Broker, wmem_app: Any) -> None:
    published: list[dict[str, Any]] = []

    async def items(request: web.Request) -> web.Response:
        return web.json_response({"type": "FeatureCollection", "features": published})

    webapp = web.Application()
    webapp.router.add_get("/collections/wis2-monitoring-event-messages/items", items)
    runner = web.AppRunner(webapp)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    app = await wmem_app(wmem_replay_url=f"http://127.0.0.1:{port}")
    sub = Subscriber(app.wmem, app.settings.model_copy(update={
        "wmem_brokers": [f"mqtt://127.0.0.1:{broker.port}"]}))
    subject = f"xx-back{uuid.uuid4().hex[:6]}"
    evs = [event("gm-report", subject=subject)]
    evs += [event("gm-report", subject=subject, data_ref=evs[0]["id"], data_severity=sv)
            for sv in ("ERROR", "WARNING", "INFO")]
    await sub.start()
    try:
        await _until(lambda: sub.connected)
        async with aiomqtt.Client("127.0.0.1", broker.port, timeout=30) as pub:
            await pub.publish(f"monitor/a/wis2/{subject}", raw(evs[0]), qos=1)
        published.append(evs[0])
        await _until(lambda: app.wmem.outcomes["ticket"] == 1)
        broker.stop()
        await _until(lambda: not sub.connected)
        published += evs[1:3]  # published while wisbot could not hear: the replay has them
        broker.start()
        await _until(lambda: sub.connected and app.wmem.outcomes["update"] == 2)
        async with aiomqtt.Client("127.0.0.1", broker.port, timeout=30) as pub:
            await pub.publish(f"monitor/a/wis2/{subject}", raw(evs[3]), qos=1)
        await _until(lambda: app.wmem.outcomes["recovery"] == 1)
        await sub.drain()
        assert app.wmem.outcomes["ticket"] == 1
        assert sub.caught_up == 2
    finally:
        await sub.stop()
        await runner.cleanup()
