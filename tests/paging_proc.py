"""A wisbot pager process on a shared, scaled clock: ``python -m tests.paging_proc <db>
<start-iso> <t0> <factor> <log> [<directory> <platform>]``.

Simulated time is ``start + (time.time() - t0) * factor`` in every process, so a restarted
or second process continues the same timeline. Deliveries are appended to ``<log>`` by the
file adapter of :mod:`tests.proc`. Exits when no page step and no message is pending.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import select

from tests.proc import EXAMPLE, FileAdapter
from wisbot.app import App
from wisbot.directory import load_directory
from wisbot.ids import Platform
from wisbot.settings import Settings
from wisbot.store.paging_tables import PageStep
from wisbot.store.tables import OutboxRow


class ScaledClock:
    """``t0 == 0``: simulated time starts at the first reading (after the imports, which
    take seconds on a loaded machine), and that ``t0`` is written to ``<log>.t0`` for the
    test and the processes after this one."""

    def __init__(self, start: datetime, t0: float, factor: float, log: str) -> None:
        self.start, self.t0, self.factor, self.log = start, t0, factor, log

    def __call__(self) -> datetime:
        if not self.t0:
            self.t0 = time.time()
            Path(f"{self.log}.t0").write_text(repr(self.t0))
        return self.start + timedelta(seconds=(time.time() - self.t0) * self.factor)


async def run(db: str, start: str, t0: float, factor: float, log: str,
              directory: str = str(EXAMPLE), platform: str = "console") -> None:
    settings = Settings(database_url=db, directory=directory, paging_tick=0.02,
                        outbox_poll_interval=0.05, outbox_lease_seconds=1.0)
    clock = ScaledClock(datetime.fromisoformat(start), t0, factor, log)
    adapter = FileAdapter(log, 0.0)
    adapter.platform = Platform(platform)
    async with App(settings, directory=load_directory(directory), clock=clock,
                   adapters=[adapter], run_worker=True) as app:
        print("ready", flush=True)
        assert app.store is not None
        while True:
            await asyncio.sleep(0.1)

            def pending(s):  # type: ignore[no-untyped-def]
                steps = s.exec(select(PageStep.id).where(PageStep.status == "pending")).first()
                rows = s.exec(select(OutboxRow.id).where(OutboxRow.status == "pending")).first()
                return steps is not None or rows is not None

            if not await app.store.tx(pending):
                break


if __name__ == "__main__":
    db, start, t0, factor, log, *rest = sys.argv[1:]
    asyncio.run(run(db, start, float(t0), float(factor), log, *rest))
