"""In-process dispatch of a mixed command load with a 17-room cascade on SQLite.

Load: report, severity, update, show in turn, every change cascading to 17 console rooms
(the Secretariat, the 15 GISC rooms, the collaboration room) through the outbox worker.
Baseline, measured in the same run: a bare sqlmodel insert + commit loop on the same disk.
Targets on a 2-core machine: >= 300 commands/s, p99 < 20 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wisbot.adapters.console import ConsoleAdapter  # noqa: E402
from wisbot.app import App  # noqa: E402
from wisbot.directory import parse_directory  # noqa: E402
from wisbot.settings import Settings  # noqa: E402
from wisbot.store.engine import make_engine, upgrade  # noqa: E402
from wisbot.store.tables import AdapterState  # noqa: E402

N_COMMANDS = int(__import__("os").environ.get("BENCH_N", "2000"))


def seventeen_rooms() -> object:
    data = yaml.safe_load((ROOT / "deploy" / "directory.example.yaml").read_text())
    data["rooms"] = [r for r in data["rooms"] if r["role"].split(":")[0] in
                     ("secretariat", "gisc", "collaboration")]
    assert len(data["rooms"]) == 17
    data.pop("working_group", None)
    return parse_directory(data)


def baseline(tmp: str, n: int) -> float:
    url = f"sqlite:///{tmp}/base.db"
    upgrade(url)
    engine = make_engine(url)
    start = time.perf_counter()
    for i in range(n):
        with Session(engine) as s, s.begin():
            s.add(AdapterState(platform="bench", name=str(i), value="x",
                               updated_at=datetime.now(UTC)))
    elapsed = time.perf_counter() - start
    engine.dispose()
    return n / elapsed


async def load(tmp: str, n: int) -> tuple[float, list[float], int]:
    url = f"sqlite:///{tmp}/load.db"
    upgrade(url)
    adapter = ConsoleAdapter(echo=False)
    settings = Settings(database_url=url, outbox_poll_interval=0.05)
    async with App(settings, directory=seventeen_rooms(), adapters=[adapter]) as app:
        year = app.clock().year
        latencies: list[float] = []
        start = time.perf_counter()
        reports = 0
        for i in range(n):
            kind = i % 4
            number = f"WIS-SEC-{year}-{reports}"
            if kind == 0:
                reports += 1
                text = f"incident report DE-OF-NC share=group sev=2 Load test incident {i}"
            elif kind == 1:
                # Below the paging threshold: paging has its own benchmark.
                text = f"severity {number} {i % 3} reason {i}"
            elif kind == 2:
                text = f"incident update {number} progress note {i}"
            else:
                text = f"incident show {number}"
            t0 = time.perf_counter()
            reply = await adapter.type("anna.weber", text)
            latencies.append(time.perf_counter() - t0)
            assert reply.kind != "error", reply.plain()
        await app.outbox.drain()
        elapsed = time.perf_counter() - start
        delivered = sum(len(v) for v in adapter.rooms.values())
    return n / elapsed, latencies, delivered


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = baseline(tmp, N_COMMANDS)
        rate, latencies, delivered = asyncio.run(load(tmp, N_COMMANDS))
    changes = N_COMMANDS * 3 // 4
    assert delivered == changes * 17, (delivered, changes * 17)
    q = statistics.quantiles(latencies, n=100)
    p50, p99 = q[49] * 1000, q[98] * 1000
    print(f"# {N_COMMANDS} commands, {delivered} room messages delivered; baseline: "
          f"{base:.0f} bare insert+commit/s")
    print(f"dispatch_mixed_17_rooms_throughput: {rate:.0f} commands/s "
          f"(ratio={rate / base:.3f} vs baseline)")
    print(f"dispatch_mixed_17_rooms_p50: {p50:.2f} ms (ratio={p50 / (1000 / base):.2f} vs "
          "baseline)")
    print(f"dispatch_mixed_17_rooms_p99: {p99:.2f} ms (ratio={p99 / (1000 / base):.2f} vs "
          "baseline)")


if __name__ == "__main__":
    main()
