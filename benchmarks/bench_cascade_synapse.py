"""A ``group`` cascade to every room of the example directory (all rooms on Matrix) on a
local Synapse, from the report to the last room's accepted send, with Synapse's relaxed
and its DEFAULT rate limits; each against the floor measured on the same homeserver in
the same run: a minimal raw-HTTP sender (httpx, one ``PUT /send`` after another, waiting
``retry_after_ms`` on a 429) sending the same number of messages.

Run: ``.venv/bin/python benchmarks/bench_cascade_synapse.py`` (needs matrix-synapse).
"""

from __future__ import annotations

import asyncio
import importlib.util
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.matrix.synapse import Synapse  # noqa: E402


def _admin(server: Synapse, token: str, method: str, path: str, **kw: Any) -> None:
    import httpx

    httpx.request(method, f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"},
                  timeout=30, **kw).raise_for_status()


async def _setup(server: Synapse) -> tuple[Any, dict[str, Any], dict[str, str]]:
    """The bot's account and the example directory's rooms, provisioned while the bot is
    exempt from rate limits (room creation is not what is measured)."""
    import yaml
    from nio import AsyncClient

    from wisbot.adapters.matrix import provision

    suffix = secrets.token_hex(3)
    admin = server.register(f"admin-{suffix}", admin=True)
    bot = server.register(f"bot-{suffix}")
    data = yaml.safe_load((ROOT / "deploy" / "directory.example.yaml").read_text())
    for room in data["rooms"]:
        room["platform"] = "matrix"
        room.pop("address", None)
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
    return bot, data, rooms


async def _wisbot(server: Synapse, tmp: Path) -> tuple[float, int]:
    from sqlmodel import select

    from wisbot.adapters.console import ConsoleAdapter
    from wisbot.adapters.matrix import MatrixAdapter
    from wisbot.app import App
    from wisbot.directory import parse_directory
    from wisbot.settings import Settings
    from wisbot.store.engine import upgrade
    from wisbot.store.tables import OutboxRow

    bot, data, _rooms = await _setup(server)
    db = f"sqlite:///{tmp / 'wisbot.db'}"
    upgrade(db)
    settings = Settings(database_url=db, outbox_poll_interval=0.05)
    adapter = MatrixAdapter(server.url, bot.user_id, password=bot.password,
                            device_id="WISBOT", store_path=tmp / "store", sync_timeout=5.0)
    async with App(settings, directory=parse_directory(data),
                   adapters=[adapter, ConsoleAdapter(echo=False)]) as app:
        t0 = time.perf_counter()
        await app.console.type("anna.weber",
                               "incident report DE-OF-NC share=group sev=2 Benchmark")
        while True:
            rows = await app.store.tx(lambda s: list(s.exec(select(OutboxRow)).all()))
            if rows and all(r.status != "pending" for r in rows):
                break
            await asyncio.sleep(0.01)
        took = time.perf_counter() - t0
        dead = [r.room_key for r in rows if r.status == "dead"]
        if dead:
            raise SystemExit(f"dead letters: {dead}")
    return took, len(rows)


async def _floor(server: Synapse, n: int) -> float:
    """The same number of messages by a minimal raw-HTTP client, one room each."""
    import httpx

    bot, _data, rooms = await _setup(server)
    targets = list(rooms.values())[:n]
    headers = {"Authorization": f"Bearer {bot.access_token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as http:
        t0 = time.perf_counter()
        for i, room_id in enumerate(targets):
            while True:
                r = await http.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/"
                                   f"floor-{i}", json={"msgtype": "m.notice", "body": "x"})
                if r.status_code == 429:
                    await asyncio.sleep(r.json().get("retry_after_ms", 1000) / 1000)
                    continue
                r.raise_for_status()
                break
        return time.perf_counter() - t0


async def main() -> None:
    if importlib.util.find_spec("synapse") is None:
        print("matrix-synapse is not installed")
        raise SystemExit(77)
    out = []
    for relaxed in (True, False):
        name = "relaxed" if relaxed else "default"
        with tempfile.TemporaryDirectory() as d:
            # A fresh homeserver for each: the floor must not inherit wisbot's buckets.
            server = Synapse(Path(d) / "synapse", relaxed=relaxed)
            server.start()
            try:
                took, n = await _wisbot(server, Path(d))
            finally:
                server.stop()
            server2 = Synapse(Path(d) / "synapse2", relaxed=relaxed)
            server2.start()
            try:
                floor = await _floor(server2, n)
            finally:
                server2.stop()
        out.append(f"# floor ({name} limits): a raw-HTTP sender, {n} messages one after "
                   f"another, {floor:.2f} s")
        out.append(f"cascade_synapse_{name}_limits_{n}_rooms: {took:.2f} s "
                   f"(ratio={took / floor:.2f} vs baseline)")
    print("\n".join(out))


if __name__ == "__main__":
    asyncio.run(main())
