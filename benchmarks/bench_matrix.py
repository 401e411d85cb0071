"""Matrix benchmarks on a local Synapse (relaxed rate limits); each line:
``name: value unit (ratio=X vs baseline)``.

1. command → reply latency of wisbot (``!severity``, median of 15), against a bare
   matrix-nio echo bot on the same homeserver, measured in the same run (target ≤ 1.3);
2. one ``group`` incident reaching every room of the example directory (all rooms moved to
   Matrix), from the command to the last room's accepted send (target < 2 s), against a
   bare nio client sending the same messages one after another.

Run: ``.venv/bin/python benchmarks/bench_matrix.py`` (needs matrix-synapse and wisbot[matrix]).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nio import AsyncClient, RoomMessageText, SyncResponse  # noqa: E402
from sqlmodel import select  # noqa: E402

from tests.matrix.synapse import Synapse  # noqa: E402

ROUNDS = 15


async def _login(server: Synapse, localpart: str) -> tuple[AsyncClient, Any]:
    reg = server.register(localpart)
    c = AsyncClient(server.url, reg.user_id)
    c.restore_login(reg.user_id, reg.device_id, reg.access_token)
    return c, reg


async def _round_trips(user: AsyncClient, room_id: str, bot_id: str, text: str) -> list[float]:
    first = await user.sync(timeout=0)
    assert isinstance(first, SyncResponse)
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        await user.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": text})
        got = False
        while not got:
            resp = await user.sync(timeout=5000)
            assert isinstance(resp, SyncResponse)
            join = resp.rooms.join.get(room_id)
            got = bool(join and any(getattr(e, "sender", "") == bot_id
                                    for e in join.timeline.events))
        times.append(time.perf_counter() - t0)
    return times


async def echo_latency(server: Synapse) -> float:
    bot, _ = await _login(server, "echo")
    user, ureg = await _login(server, "echo-user")
    room = (await bot.room_create(invite=[ureg.user_id])).room_id
    await user.join(room)
    stop = asyncio.Event()

    async def loop() -> None:
        resp = await bot.sync(timeout=0)
        since = resp.next_batch
        while not stop.is_set():
            resp = await bot.sync(timeout=1000, since=since)
            if not isinstance(resp, SyncResponse):
                continue
            since = resp.next_batch
            for rid, join in resp.rooms.join.items():
                for ev in join.timeline.events:
                    if isinstance(ev, RoomMessageText) and ev.sender != bot.user_id:
                        await bot.room_send(rid, "m.room.message", {
                            "msgtype": "m.notice", "body": ev.body,
                            "m.relates_to": {"m.in_reply_to": {"event_id": ev.event_id}}})

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.2)
    times = await _round_trips(user, room, bot.user_id, "!ping")
    stop.set()
    await task
    await bot.close()
    await user.close()
    return statistics.median(times)


def _example_on_matrix(anna: str) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load((ROOT / "deploy" / "directory.example.yaml").read_text())
    for room in data["rooms"]:
        room["platform"] = "matrix"
        room.pop("address", None)
    for c in data["contacts"]:
        if c["id"] == "anna.weber":
            c.setdefault("chat", {})["matrix"] = anna
    return data


async def wisbot_benchmarks(server: Synapse, tmp: Path) -> tuple[float, float, float, int]:
    from wisbot.adapters.base import Invocation, RoomRef, UserRef
    from wisbot.adapters.matrix import MatrixAdapter, provision, render
    from wisbot.app import App
    from wisbot.clock import utcnow
    from wisbot.directory import parse_directory
    from wisbot.settings import Settings
    from wisbot.store.engine import upgrade
    from wisbot.store.tables import OutboxRow

    admin, breg = await _login(server, "wisbot")
    anna, areg = await _login(server, "anna")
    data = _example_on_matrix(areg.user_id)
    rooms = await provision(admin, data)
    directory = parse_directory(data)
    for room_id in rooms.values():
        await anna.join(room_id)  # anna is invited where her roles take her
    db = f"sqlite:///{tmp / 'wisbot.db'}"
    upgrade(db)
    s = Settings(database_url=db, outbox_poll_interval=0.05)
    adapter = MatrixAdapter(server.url, breg.user_id, password=breg.password,
                            device_id="WISBOT", sync_timeout=5.0)
    async with App(s, directory=directory, adapters=[adapter], clock=utcnow) as app:
        room_de = rooms["member-de"]
        times = await _round_trips(anna, room_de, breg.user_id, "!severity")
        latency = statistics.median(times)
        # the cascade: command to the last accepted send
        t0 = time.perf_counter()
        await app.dispatch(Invocation(
            platform="matrix", sender=UserRef("matrix", areg.user_id),
            text="incident report DE-OF-NC share=group sev=3 anonymous Benchmark cascade",
            room=RoomRef("matrix", room_de, "member-de"), received_at=utcnow()))
        while True:
            pending = await app.store.tx(lambda sess: sess.exec(
                select(OutboxRow).where(OutboxRow.status == "pending")).all())
            if not pending:
                break
            await asyncio.sleep(0.005)
        cascade = time.perf_counter() - t0
        delivered = await app.store.tx(lambda sess: sess.exec(
            select(OutboxRow).where(OutboxRow.status == "delivered")).all())
        payloads = [(r.room_key, r.payload) for r in delivered]
    # baseline: the same messages sent one after another by a bare nio client
    from wisbot.reply import Reply

    t0 = time.perf_counter()
    for key, payload in payloads:
        await admin.room_send(rooms[key], "m.room.message",
                              render(Reply.model_validate(payload)))
    bare = time.perf_counter() - t0
    await admin.close()
    await anna.close()
    return latency, cascade, bare, len(payloads)


async def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        server = Synapse(Path(d) / "synapse", relaxed=True)
        server.start()
        try:
            echo = await echo_latency(server)
            latency, cascade, bare, n = await wisbot_benchmarks(server, Path(d))
        finally:
            server.stop()
    print(f"matrix_command_reply_latency: {latency * 1000:.1f} ms "
          f"(ratio={latency / echo:.2f} vs bare nio echo bot {echo * 1000:.1f} ms)")
    print(f"matrix_group_incident_{n}_rooms: {cascade:.3f} s "
          f"(ratio={cascade / bare:.2f} vs bare nio sequential sends {bare:.3f} s)")


if __name__ == "__main__":
    asyncio.run(main())
