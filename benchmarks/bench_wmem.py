"""WIS2 monitoring events through the subscriber, on SQLite and the local Mosquitto.

Load: 10,000 WMEMs published on ``monitor/a/wis2/...`` (built from the published
examples): 20 % ERROR/CRITICAL about 200 centres (tickets opened, then updated), 10 %
repeats of an earlier id (dedupe), the rest INFO/WARNING (daily summary). Measured: from
the first publish until the subscriber has handled every message (parse, schema check,
durable dedupe, ticket open/update and the room notices in the outbox), and the
tracemalloc peak of a second run. Baseline, in the same run: parsing and schema-checking
the same messages alone (no broker, no database); the rate line's ratio is against the
target, 10,000 WMEMs/min.
"""

from __future__ import annotations

import asyncio
import copy
import json
import socket
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wisbot.adapters.console import ConsoleAdapter  # noqa: E402
from wisbot.app import App  # noqa: E402
from wisbot.clock import FakeClock  # noqa: E402
from wisbot.directory import load_directory, parse_directory  # noqa: E402
from wisbot.domain import wmem  # noqa: E402
from wisbot.services.wmem import Subscriber  # noqa: E402
from wisbot.settings import Settings  # noqa: E402
from wisbot.store.engine import upgrade  # noqa: E402

EXAMPLE = ROOT / "deploy" / "directory.example.yaml"
FIX = ROOT / "tests" / "wmem" / "fixtures"
N = 10_000


def messages() -> list[tuple[str, bytes]]:
    gm = json.loads((FIX / "wmem-gm-report.json").read_text())
    info = json.loads((FIX / "wmem-gdc-wcmp2-ets.json").read_text())
    out: list[tuple[str, bytes]] = []
    sent: list[tuple[str, bytes]] = []
    for i in range(N):
        if i % 10 == 9 and sent:
            out.append(sent[(i * 7) % len(sent)])
            continue
        doc = copy.deepcopy(gm if i % 5 == 0 else info)
        doc["id"] = str(uuid.uuid4())
        subject = f"xx-centre{i % 200}"
        doc["subject"] = subject
        if i % 5 == 0:
            doc["data"]["severity"] = "CRITICAL" if i % 15 == 0 else "ERROR"
        elif i % 3 == 0:
            doc["data"]["severity"] = "WARNING"
        item = (f"monitor/a/wis2/{subject}", json.dumps(doc).encode())
        out.append(item)
        sent.append(item)
    return out


async def publish(msgs: list[tuple[str, bytes]]) -> None:
    import aiomqtt

    # 20 in flight (paho's default): more overruns Mosquitto's per-client queue (1000
    # messages) for a subscriber and the broker drops the excess
    async with aiomqtt.Client("127.0.0.1", 1883, timeout=60) as pub:
        for i in range(0, len(msgs), 20):
            await asyncio.gather(*(pub.publish(topic, payload, qos=1)
                                   for topic, payload in msgs[i:i + 20]))


async def transport(msgs: list[tuple[str, bytes]]) -> float:
    """The same messages to a client that only counts them."""
    import aiomqtt

    got = 0
    async with aiomqtt.Client("127.0.0.1", 1883, timeout=60) as sub:
        await sub.subscribe("monitor/a/wis2/#", qos=1)

        async def count() -> None:
            nonlocal got
            async for _ in sub.messages:
                got += 1
                if got >= len(msgs):
                    return

        task = asyncio.create_task(count())
        t = time.perf_counter()
        await publish(msgs)
        await asyncio.wait_for(task, 300)
        return time.perf_counter() - t


def baseline(msgs: list[tuple[str, bytes]]) -> float:
    t = time.perf_counter()
    for topic, payload in msgs:
        wmem.parse(payload, topic)
    return time.perf_counter() - t


async def through_subscriber(msgs: list[tuple[str, bytes]]) -> float:

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/wisbot.db"
        upgrade(url)
        data = load_directory(EXAMPLE).model_dump(mode="json")
        data["rooms"].append({"key": "duty", "role": "duty", "platform": "console"})
        s = Settings(database_url=url, directory=EXAMPLE, watch_enabled=False,
                     wmem_brokers=["mqtt://127.0.0.1:1883"])
        app = App(s, directory=parse_directory(data, "bench"), clock=FakeClock(),
                  adapters=[ConsoleAdapter(echo=False)], run_worker=False, elect=False)
        await app.start()
        try:
            assert app.wmem_workers is not None
            sub: Subscriber | None = app.wmem_workers.subscriber
            assert sub is not None
            await asyncio.wait_for(sub.subscribed.wait(), 10)
            done = app.wmem.outcomes
            t = time.perf_counter()
            await publish(msgs)
            while True:  # until every message has come back through the broker
                await sub.drain()
                if sum(done.values()) >= len(msgs):
                    break
                if time.perf_counter() - t > 600:
                    raise RuntimeError(f"only {sum(done.values())} of {len(msgs)} handled")
                await asyncio.sleep(0.005)
            elapsed = time.perf_counter() - t
            tickets = done["ticket"]
            print(f"  outcomes: {dict(done)}; tickets opened {tickets}")
            return elapsed
        finally:
            await app.stop()


def main() -> int:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
    except OSError:
        print("skipped: Mosquitto is not reachable on 127.0.0.1:1883")
        return 77
    msgs = messages()
    base = baseline(msgs)
    wire = asyncio.run(transport(msgs))
    full = asyncio.run(through_subscriber(msgs))
    tracemalloc.start()
    asyncio.run(transport(msgs))  # the memory baseline: the same burst, only counted
    _, base_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    asyncio.run(through_subscriber(msgs))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rate = len(msgs) / full * 60
    print(f"wmem.subscriber_10k: {full:.2f} s (ratio={full / wire:.2f} vs baseline)")
    print(f"wmem.transport_only_10k: {wire:.2f} s (ratio=1.00 vs baseline)")
    print(f"wmem.subscriber_rate: {rate:.0f} msg/min (ratio={rate / 10_000:.2f} vs baseline)")
    print(f"wmem.parse_only_10k: {base:.2f} s (ratio={base / wire:.2f} vs baseline)")
    print(f"wmem.subscriber_peak_memory: {peak / 2**20:.1f} MiB "
          f"(ratio={peak / base_peak:.2f} vs baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
