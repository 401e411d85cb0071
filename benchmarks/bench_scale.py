"""In-process cost at WMO scale: the example directory (21 rooms) against the generated
one (193 Members, 15 GISCs, 226 rooms; tests/scale.py), on SQLite, in the same run.

* mixed dispatch: report (share=group), severity, update, show in turn by a Member's
  focal point, every change cascading through the outbox to the console rooms;
* ``lessons add`` p50 (share=anonymous: the lesson is redacted for every Member room).

The ratio is the large directory against the small one: 1.0 means the cost does not grow
with the directory (the cascade itself reaches more rooms, so some growth is expected in
the dispatch rate; none in ``lessons add``'s own work beyond its fan-out).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scale import example_data, scale_directory  # noqa: E402
from wisbot.adapters.console import ConsoleAdapter  # noqa: E402
from wisbot.app import App  # noqa: E402
from wisbot.directory import Directory, parse_directory  # noqa: E402
from wisbot.settings import Settings  # noqa: E402
from wisbot.store.engine import upgrade  # noqa: E402

N_COMMANDS = int(os.environ.get("BENCH_N", "400"))
N_LESSONS = int(os.environ.get("BENCH_LESSONS", "60"))


async def dispatch_rate(url: str, directory: Directory, n: int) -> tuple[float, float]:
    """Commands per second, and room messages delivered per second."""
    upgrade(url)
    adapter = ConsoleAdapter(echo=False)
    settings = Settings(database_url=url, outbox_poll_interval=0.05, watch_enabled=False)
    async with App(settings, directory=directory, adapters=[adapter]) as app:
        year = app.clock().year
        reports = 0
        start = time.perf_counter()
        for i in range(n):
            kind = i % 4
            number = f"WIS-SEC-{year}-{reports}"
            if kind == 0:
                reports += 1
                text = f"incident report DE-OF-NC share=group sev=2 Load test incident {i}"
            elif kind == 1:
                text = f"severity {number} {i % 3} reason {i}"
            elif kind == 2:
                text = f"incident update {number} progress note {i}"
            else:
                text = f"incident show {number}"
            reply = await adapter.type("anna.weber", text)
            assert reply.kind != "error", reply.plain()
        await app.outbox.drain()
        elapsed = time.perf_counter() - start
        delivered = sum(len(v) for v in adapter.rooms.values())
        return n / elapsed, delivered / elapsed


async def lessons_p50(url: str, directory: Directory, n: int) -> float:
    upgrade(url)
    adapter = ConsoleAdapter(echo=False)
    settings = Settings(database_url=url, watch_enabled=False)
    async with App(settings, directory=directory, adapters=[adapter], run_worker=False) as app:
        year = app.clock().year
        await adapter.type("anna.weber", "incident report DE-OF-NC share=group sev=2 Lessons")
        number = f"WIS-SEC-{year}-1"
        reply = await adapter.type("anna.weber", f"incident resolve {number} fixed")
        assert reply.kind != "error", reply.plain()
        times: list[float] = []
        for i in range(n):
            t0 = time.perf_counter()
            reply = await adapter.type(
                "anna.weber", f"lessons add {number} share=anonymous Anna Weber at DWD "
                f"rotated the keys of DE-OF-NC, lesson {i}")
            times.append(time.perf_counter() - t0)
            assert reply.kind != "error", reply.plain()
        return statistics.median(times) * 1000


def main() -> None:
    small = parse_directory(example_data())
    large = scale_directory()
    print(f"# directories: {len(small.rooms)} rooms vs {len(large.rooms)} rooms "
          f"({len(large.members)} Members)")
    with tempfile.TemporaryDirectory() as tmp:
        rate_small, msgs_small = asyncio.run(dispatch_rate(f"sqlite:///{tmp}/a.db", small,
                                                           N_COMMANDS))
        rate_large, msgs_large = asyncio.run(dispatch_rate(f"sqlite:///{tmp}/b.db", large,
                                                           N_COMMANDS))
        p50_small = asyncio.run(lessons_p50(f"sqlite:///{tmp}/c.db", small, N_LESSONS))
        p50_large = asyncio.run(lessons_p50(f"sqlite:///{tmp}/d.db", large, N_LESSONS))
    print(f"# mixed dispatch at {len(small.rooms)} rooms: {rate_small:.0f} commands/s, "
          f"{msgs_small:.0f} room messages/s")
    print(f"dispatch_mixed_{len(large.rooms)}_rooms: {rate_large:.0f} commands/s "
          f"(ratio={rate_large / rate_small:.3f} vs baseline)")
    # A group report reaches more rooms in the larger directory: per message delivered,
    # the cost should not grow.
    print(f"dispatch_mixed_{len(large.rooms)}_rooms_messages: {msgs_large:.0f} messages/s "
          f"(ratio={msgs_large / msgs_small:.3f} vs baseline)")
    print(f"# lessons add p50: {p50_small:.2f} ms at {len(small.rooms)} rooms")
    print(f"lessons_add_p50_{len(large.rooms)}_rooms: {p50_large:.2f} ms "
          f"(ratio={p50_large / p50_small:.2f} vs baseline)")


if __name__ == "__main__":
    main()
