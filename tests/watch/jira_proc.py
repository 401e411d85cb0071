"""A wisbot process that only mirrors to JIRA, for the multi-process test:
``python -m tests.watch.jira_proc <database-url> <jira-url> <token>``. Runs mirror passes
until nothing has been pending for 1.5 s, then prints how many changes it mirrored."""

from __future__ import annotations

import asyncio
import sys
import time

from sqlmodel import col, select

from tests.proc import EXAMPLE
from wisbot.adapters.console import ConsoleAdapter
from wisbot.app import App
from wisbot.directory import load_directory
from wisbot.settings import Settings
from wisbot.store.alerts_jira_tables import JiraChange


async def main(db: str, jira: str, token: str) -> None:
    s = Settings(database_url=db, directory=EXAMPLE, jira_url=jira, jira_token=token,
                 jira_lease_seconds=5, watch_enabled=False)
    app = App(s, directory=load_directory(EXAMPLE), adapters=[ConsoleAdapter(echo=False)],
              run_worker=False)
    await app.start()
    mirror = app.alerts_jira.mirror
    assert mirror is not None
    done = 0
    idle_since = time.monotonic()
    try:
        while time.monotonic() - idle_since < 1.5:
            n = await mirror.tick(poll=False)
            done += n
            left = await app.store.tx(lambda s: s.exec(select(JiraChange.id).where(
                col(JiraChange.done).is_(False))).first())
            if left is not None or n:
                idle_since = time.monotonic()
            await asyncio.sleep(0.05)
    finally:
        await app.stop()
    print(done, flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
