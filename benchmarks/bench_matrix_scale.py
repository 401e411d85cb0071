"""A ``group`` incident at WMO scale on a real Synapse with its *default* rate limits, the
bot's account exempted by the documented admin call (docs/matrix.md): the generated
directory (193 Members, 226 rooms, tests/scale.py) is provisioned, then one report's
cascade is timed from the command to the last room's accepted send (target < 5 s).

Baseline, in the same run: a bare HTTP client sending the same messages to the same rooms
one after another with the same exempt account.

Run: ``.venv/bin/python benchmarks/bench_matrix_scale.py`` (needs matrix-synapse and
wisbot[matrix]; exits 77, skipped, without them).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if importlib.util.find_spec("synapse") is None or importlib.util.find_spec("nio") is None:
    print("# skipped: needs matrix-synapse and matrix-nio")
    sys.exit(77)

from sqlalchemy import func  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from tests.matrix.synapse import Synapse  # noqa: E402
from tests.scale import scale_directory_data  # noqa: E402


def _data(anna: str) -> dict[str, Any]:
    data = scale_directory_data(platform="matrix")
    for c in data["contacts"]:
        c.pop("chat", None)  # nobody else has an account here: no invitations
        if c["id"] == "anna.weber":
            c["chat"] = {"matrix": anna}
    return data


async def run(server: Synapse, tmp: Path) -> tuple[float, float, int, int, float]:
    from nio import AsyncClient

    from wisbot.adapters.base import Invocation, UserRef
    from wisbot.adapters.matrix import MatrixAdapter, provision, render
    from wisbot.app import App
    from wisbot.clock import utcnow
    from wisbot.directory import parse_directory
    from wisbot.reply import Reply
    from wisbot.settings import Settings
    from wisbot.store.engine import upgrade
    from wisbot.store.tables import OutboxRow

    bot = server.register("wisbot", admin=True)
    anna = server.register("anna")
    auth = {"Authorization": f"Bearer {bot.access_token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=auth, timeout=30) as http:
        r = await http.post(f"/_synapse/admin/v1/users/{bot.user_id}/override_ratelimit",
                            json={"messages_per_second": 0, "burst_count": 0})
        r.raise_for_status()
    data = _data(anna.user_id)
    client = AsyncClient(server.url, bot.user_id)
    client.restore_login(bot.user_id, bot.device_id, bot.access_token)
    t0 = time.perf_counter()
    rooms = await provision(client, data)
    provisioned = time.perf_counter() - t0
    await client.close()
    directory = parse_directory(data)
    db = f"sqlite:///{tmp / 'wisbot.db'}"
    upgrade(db)
    s = Settings(database_url=db, outbox_poll_interval=0.05, watch_enabled=False)
    adapter = MatrixAdapter(server.url, bot.user_id, password=bot.password,
                            device_id="WISBOT", sync_timeout=5.0)
    async with App(s, directory=directory, adapters=[adapter], clock=utcnow) as app:
        t0 = time.perf_counter()
        reply = await app.dispatch(Invocation(
            platform="matrix", sender=UserRef("matrix", anna.user_id),
            text="incident report DE-OF-NC share=group sev=2 Benchmark cascade at scale",
            room=None, received_at=utcnow()))
        assert reply.kind != "error", reply.plain()
        report_id = await app.store.tx(lambda sess: sess.exec(
            select(func.min(OutboxRow.notification_id))).one())
        in_rooms = col(OutboxRow.notification_id) == report_id
        while True:
            pending = await app.store.tx(lambda sess: sess.exec(
                select(OutboxRow).where(OutboxRow.status == "pending", in_rooms)).all())
            if not pending:
                break
            await asyncio.sleep(0.005)
        cascade = time.perf_counter() - t0
        rows = await app.store.tx(lambda sess: sess.exec(select(OutboxRow).where(in_rooms)).all())
        dead = sum(1 for row in rows if row.status != "delivered")
        payloads = [(row.room_key, row.payload) for row in rows]
    async with httpx.AsyncClient(base_url=server.url, headers=auth, timeout=30) as http:
        t0 = time.perf_counter()
        for i, (key, payload) in enumerate(payloads):
            resp = await http.put(f"/_matrix/client/v3/rooms/{rooms[key]}/send/m.room.message/"
                                  f"bare{i}", json=render(Reply.model_validate(payload)))
            resp.raise_for_status()
        bare = time.perf_counter() - t0
    return cascade, bare, len(payloads), dead, provisioned


async def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        server = Synapse(Path(d) / "synapse", relaxed=False)
        server.start()
        try:
            cascade, bare, n, dead, provisioned = await run(server, Path(d))
        finally:
            server.stop()
    print(f"# provisioned 226 rooms in {provisioned:.1f} s (exempt account, default limits)")
    print(f"# baseline: a bare HTTP client sending the same {n} messages one after another, "
          f"{bare:.3f} s; target < 5 s; not delivered: {dead}")
    print(f"matrix_group_incident_scale_{n}_rooms_exempt: {cascade:.3f} s "
          f"(ratio={cascade / bare:.2f} vs baseline)")


if __name__ == "__main__":
    asyncio.run(main())
