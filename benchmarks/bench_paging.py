"""Paging benchmark; each line: ``name: value unit (ratio=X vs baseline)``.

1,000 open pages (default steps: 0 page, 15 repeat, 30 next, 45 secretariat, 60 missed),
created at random moments of the last hour on SQLite, so their remaining steps fall due
over the next hour.

1. the cost of one scheduler tick: idle (nothing due: the common case) and busy (every
   step due in the next 60 s, fired at once), against an empty transaction;
2. lateness of each step against its due time while the clock runs at real speed for
   60 s (``--seconds``) with the default tick, against the 1 s target.

Targets (issue 5): tick under 20 ms on SQLite; p99 lateness under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from wisbot.clock import FakeClock
from wisbot.directory import load_directory
from wisbot.reply import text_reply
from wisbot.scheduler import PagingScheduler
from wisbot.services.notify import ResponseRequest
from wisbot.services.paging import PagingService
from wisbot.settings import Settings
from wisbot.store.engine import Store, upgrade
from wisbot.store.paging_tables import PageStep

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "directory.example.yaml"
PAGES = 1000


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(name: str, value: float, unit: str, ratio: float, baseline: str) -> None:
    """One result; ``baseline`` (what the ratio divides by) is printed just before it."""
    print(f"# {name}: baseline = {baseline}", flush=True)
    print(f"{name}: {value:.3f} {unit} (ratio={ratio:.3f} vs baseline)", flush=True)


async def seed(store: Store, directory_path: Path, now: datetime) -> None:
    directory = load_directory(directory_path)
    roles = ["secretariat", *(f"gisc:{g.name}" for g in directory.giscs)]
    rng = random.Random(5)
    clock = FakeClock(now)
    paging = PagingService(store, directory, clock)
    for i in range(PAGES):
        clock.now = now - timedelta(seconds=rng.uniform(0, 3600))
        request = ResponseRequest(kind="bench", ref=f"B-{i}", at=clock.now,
                                  targets=((roles[i % len(roles)], text_reply(f"page {i}")),))
        await store.tx(lambda s, r=request: paging.on_response(s, r))


async def main(seconds: float) -> None:
    tmp = tempfile.mkdtemp(prefix="wisbot-bench-")
    url = f"sqlite:///{tmp}/bench.db"
    upgrade(url)
    start = datetime.now(UTC)
    store = Store(url)
    directory = load_directory(EXAMPLE)
    await seed(store, EXAMPLE, start)

    # 1. tick cost
    empty = []
    for _ in range(50):
        t = time.perf_counter()
        await store.tx(lambda s: None)
        empty.append(time.perf_counter() - t)
    base = statistics.median(empty) * 1000
    fake = FakeClock(start)
    paging = PagingService(store, directory, fake)
    caught_up = await paging.tick()  # steps already overdue at the seed's end: not measured
    assert caught_up > 0
    idle = []
    for _ in range(50):
        t = time.perf_counter()
        await paging.tick()
        idle.append(time.perf_counter() - t)
    idle_ms = statistics.median(idle) * 1000
    line("paging_tick_idle_1000_open", idle_ms, "ms", idle_ms / base, "empty transaction")
    line("paging_tick_idle_target", idle_ms, "ms", idle_ms / 20.0, "20 ms target")

    # 2. real-speed run (the busy tick is measured on a copy of the same state below)
    def clock() -> datetime:
        return start + timedelta(seconds=time.monotonic() - mono0)

    settings = Settings(database_url=url, directory=EXAMPLE)
    mono0 = time.monotonic()
    live = PagingService(store, directory, clock)
    ticks: list[float] = []
    original = live.tick

    async def timed() -> int:
        t = time.perf_counter()
        n = await original()
        ticks.append(time.perf_counter() - t)
        return n

    live.tick = timed  # type: ignore[method-assign]
    scheduler = PagingScheduler(live, tick=settings.paging_tick)
    scheduler.start()
    await asyncio.sleep(seconds)
    await scheduler.stop()
    end = clock()
    fired = await store.tx(lambda s: list(s.exec(select(PageStep).where(
        col(PageStep.fired_at) > start, col(PageStep.seq) > 0)).all()))
    due_in_window = await store.tx(lambda s: len(s.exec(select(PageStep.id).where(
        col(PageStep.due_at) > start, col(PageStep.due_at) <= end - timedelta(
            seconds=settings.paging_tick * 2))).all()))
    late = [(st.fired_at - st.due_at).total_seconds() for st in fired if st.fired_at]
    assert len(late) >= due_in_window, (len(late), due_in_window)
    p99 = p(late, 0.99) if late else 0.0
    line("paging_step_lateness_p50", p(late, 0.5) if late else 0.0, "s",
         (p(late, 0.5) if late else 0.0) / 1.0, "1 s target")
    line("paging_step_lateness_p99", p99, "s", p99 / 1.0, "1 s target")
    line("paging_steps_fired_in_run", float(len(late)), "steps", len(late) /
         max(due_in_window, 1), "steps due in the window")
    tick_ms = statistics.median(ticks) * 1000
    line("paging_tick_live_median", tick_ms, "ms", tick_ms / 20.0, "20 ms target")
    line("paging_tick_live_p99", p(ticks, 0.99) * 1000, "ms", p(ticks, 0.99) * 1000 / 20.0,
         "20 ms target")

    # busy tick: the next minute's steps (about 1/60 of 4,000) all due at once
    fake.now = end + timedelta(seconds=60)
    t = time.perf_counter()
    n = await paging.tick()
    busy_ms = (time.perf_counter() - t) * 1000
    line(f"paging_tick_busy_{n}_steps", busy_ms, "ms", busy_ms / base, "empty transaction")
    store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    asyncio.run(main(parser.parse_args().seconds))
