"""The daily GISC Watch run on top of its probes, on SQLite.

Load: the example directory's 15 GISCs × 3 WIS 1.0 services plus 8 WIS 2.0 services,
30 days of history already stored; the probes are scripted (no network), so what is
measured is wisbot's own work: store results, update tickets, anomalies, the 30-day PNG
chart, the daily post, retention. Baseline, measured in the same run: the same run
without the post (no chart, no table). Target: the full daily run under 2 s.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wisbot.adapters.console import ConsoleAdapter  # noqa: E402
from wisbot.app import App  # noqa: E402
from wisbot.clock import FakeClock  # noqa: E402
from wisbot.directory import load_directory, parse_directory  # noqa: E402
from wisbot.probes.base import ProbeResult, ProbeStatus, ProbeTarget  # noqa: E402
from wisbot.settings import Settings  # noqa: E402
from wisbot.store.engine import upgrade  # noqa: E402

EXAMPLE = ROOT / "deploy" / "directory.example.yaml"


def directory() -> Any:
    data = load_directory(EXAMPLE).model_dump(mode="json")
    data["rooms"].append({"key": "duty", "role": "duty", "platform": "console"})
    data["wis2"] = {f"gb-{i}": {"kind": "broker", "url": f"mqtt://gb-{i}.invalid"}
                    for i in range(3)}
    data["wis2"].update({f"gc-{i}": {"kind": "cache", "url": f"https://gc-{i}.invalid/x"}
                         for i in range(3)})
    data["wis2"].update({f"gdc-{i}": {"kind": "gdc", "url": f"https://gdc-{i}.invalid/"}
                         for i in range(2)})
    return parse_directory(data)


async def main() -> None:
    clock = FakeClock(datetime(2026, 3, 1, 0, 30, tzinfo=UTC))
    day = [0]

    async def fake(targets: list[ProbeTarget], *, now: Any, **_: Any) -> list[ProbeResult]:
        out = []
        for i, t in enumerate(targets):
            fail = (i + day[0]) % 17 == 0
            out.append(ProbeResult(t.centre, t.service, t.url,
                                   ProbeStatus.FAIL if fail else ProbeStatus.OK,
                                   None if fail else 120.0, None if fail else 10_000 + i * day[0],
                                   "timeout" if fail else None, now(), {}))
        return out

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        s = Settings(database_url=url, directory=EXAMPLE, watch_enabled=False)
        app = App(s, directory=directory(), clock=clock,
                  adapters=[ConsoleAdapter(echo=False)], run_worker=False)
        await app.start()
        w = app.services.watch
        w.sweeper = fake
        targets = len(w.targets())
        for d in range(30):
            day[0] = d
            await w.run("daily", post=False)
            clock.advance(days=1)
        day[0] = 30
        t0 = time.perf_counter()
        await w.run("daily", post=False)
        bare = time.perf_counter() - t0
        clock.advance(minutes=1)
        t0 = time.perf_counter()
        await w.run("daily")  # the first post of a process also imports matplotlib
        first = time.perf_counter() - t0
        clock.advance(minutes=1)
        t0 = time.perf_counter()
        out = await w.run("daily")
        full = time.perf_counter() - t0
        await app.stop()
    assert out.reply is not None and out.reply.attachments
    print(f"targets: {targets}, history: 30 days, chart "
          f"{out.reply.attachments[0].size} bytes")
    print(f"watch.daily_run_with_post: {full:.3f} s (ratio={full / bare:.2f} vs baseline)")
    print(f"watch.daily_run_first_in_process: {first:.3f} s (ratio={first / bare:.2f} vs "
          "baseline)")
    print(f"watch.daily_run_no_post: {bare:.3f} s (ratio=1.00 vs baseline)")


if __name__ == "__main__":
    asyncio.run(main())
