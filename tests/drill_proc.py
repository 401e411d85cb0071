"""A second wisbot process starting due drills: ``python -m tests.drill_proc <db> <now-iso>
<dir>``. Writes ``<dir>/ready-<pid>``, waits for ``<dir>/go`` (so two processes start the
same drill together), runs one scheduled-drill pass and prints how many pages it started."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from tests.proc import EXAMPLE
from wisbot.clock import FakeClock
from wisbot.directory import load_directory
from wisbot.services.continuity import ContinuityService
from wisbot.services.paging import PagingService
from wisbot.store.engine import Store


def main(url: str, now: str, where: str) -> int:
    store = Store(url)
    directory = load_directory(EXAMPLE)
    clock = FakeClock(datetime.fromisoformat(now))
    paging = PagingService(store, directory, clock)
    drills = ContinuityService(store, directory, clock, page=paging.on_response)
    Path(where, f"ready-{os.getpid()}").write_text("ready")
    deadline = time.monotonic() + 60
    while not Path(where, "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go within 60 s")
        time.sleep(0.01)
    started = asyncio.run(drills.run_due())
    store.close()
    return started


if __name__ == "__main__":
    print(main(*sys.argv[1:4]))
