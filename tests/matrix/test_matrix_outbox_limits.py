"""Synapse with its DEFAULT rate limits (rc_message: 0.2/s, burst 10): a `group` cascade
to every room of the example directory is delivered completely, once per room, with no
dead letter (the rate limit pauses the bot and is waited out, not counted)."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlmodel import select

from tests.conftest import EXAMPLE
from tests.matrix.synapse import Synapse
from wisbot.store.tables import OutboxRow


def _admin(server: Synapse, token: str, method: str, path: str, **kw: Any) -> Any:
    r = httpx.request(method, f"{server.url}{path}",
                      headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw)
    r.raise_for_status()
    return r.json()


async def test_group_cascade_on_default_rate_limits_reaches_every_room_once(
        synapse_default_limits: Synapse, tmp_path: Path, sqlite_url: str) -> None:
    from nio import AsyncClient

    from wisbot.adapters.console import ConsoleAdapter
    from wisbot.adapters.matrix import MatrixAdapter, provision
    from wisbot.app import App
    from wisbot.directory import parse_directory
    from wisbot.settings import Settings

    server = synapse_default_limits
    suffix = secrets.token_hex(3)
    admin = server.register(f"admin-{suffix}", admin=True)
    bot = server.register(f"bot-{suffix}")
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for room in data["rooms"]:
        room["platform"] = "matrix"
        room.pop("address", None)
    # Room creation has limits of its own: the bot is exempt only while provisioning.
    override = f"/_synapse/admin/v1/users/{bot.user_id}/override_ratelimit"
    _admin(server, admin.access_token, "POST", override,
           json={"messages_per_second": 0, "burst_count": 0})
    client = AsyncClient(server.url, bot.user_id)
    client.restore_login(bot.user_id, bot.device_id, bot.access_token)
    try:
        rooms = await provision(client, data)
    finally:
        await client.close()
    _admin(server, admin.access_token, "DELETE", override)
    assert len(rooms) == len(data["rooms"]) >= 20
    (tmp_path / "directory.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    directory = parse_directory(data)
    adapter = MatrixAdapter(server.url, bot.user_id, password=bot.password,
                            device_id="WISBOT", store_path=tmp_path / "store",
                            sync_timeout=5.0)
    settings = Settings(database_url=sqlite_url, directory=tmp_path / "directory.yaml",
                        outbox_poll_interval=0.2, outbox_backoff_base=0.2,
                        outbox_backoff_max=2.0)
    app = App(settings, directory=directory, adapters=[adapter, ConsoleAdapter(echo=False)])
    await app.start()
    try:
        started = time.monotonic()
        reply = await app.console.type(
            "anna.weber", "incident report DE-OF-NC share=group sev=2 Rate limits")
        number = re.findall(r"WIS-SEC-\d{4}-\d+", reply.plain())[0]
        deadline = time.monotonic() + 600
        while True:
            rows = await app.store.tx(lambda s: list(s.exec(select(OutboxRow)).all()))
            if all(r.status != "pending" for r in rows):
                break
            assert time.monotonic() < deadline, [(r.room_key, r.last_error) for r in rows
                                                 if r.status == "pending"]
            await asyncio.sleep(0.5)
        took = time.monotonic() - started
        assert [r.room_key for r in rows if r.status != "delivered"] == []
        assert any(r.failures for r in rows), "no rate limit was met: the test proves nothing"
        assert max(r.attempts for r in rows) == 1  # rate limits are waits, not attempts
        cascade = {r.room_key for r in rows if r.room_key in rooms}
        assert len(cascade) >= 20
        for key in cascade:
            page = _admin(server, admin.access_token, "GET",
                          f"/_synapse/admin/v1/rooms/{rooms[key]}/messages",
                          params={"dir": "b", "limit": 100})
            bodies = [e["content"].get("body", "") for e in page["chunk"]
                      if e.get("sender") == bot.user_id and e.get("type") == "m.room.message"]
            assert sum(1 for b in bodies if number in b) == 1, (key, bodies)
        print(f"default-limits cascade to {len(cascade)} rooms: {took:.1f}s")
    finally:
        await app.stop()
