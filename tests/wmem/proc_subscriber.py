"""A wisbot process that hears WMEMs: ``python -m tests.wmem.proc_subscriber <db> <n>``.

It leads alone (no election: the worst case of two processes both subscribed), prints
``ready`` once subscribed to the local Mosquitto, and exits after ``n`` events have been
handled (or dropped as duplicates), printing its outcomes as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from wisbot.adapters.console import ConsoleAdapter
from wisbot.app import App
from wisbot.directory import load_directory, parse_directory
from wisbot.settings import Settings

EXAMPLE = Path(__file__).resolve().parent.parent.parent / "deploy" / "directory.example.yaml"


async def main(db: str, n: int) -> None:
    data = load_directory(EXAMPLE).model_dump(mode="json")
    data["rooms"].append({"key": "duty", "role": "duty", "platform": "console"})
    s = Settings(database_url=db, directory=EXAMPLE, watch_enabled=False,
                 wmem_brokers=["mqtt://127.0.0.1:1883"])
    app = App(s, directory=parse_directory(data, "proc"), adapters=[ConsoleAdapter(echo=False)],
              run_worker=False, elect=False)
    await app.start()
    try:
        assert app.wmem_workers is not None and app.wmem_workers.subscriber is not None
        await asyncio.wait_for(app.wmem_workers.subscriber.subscribed.wait(), 20)
        print("ready", flush=True)
        async with asyncio.timeout(120):
            while True:
                if sum(app.wmem.outcomes.values()) >= n:
                    break
                await asyncio.sleep(0.05)
        print(json.dumps(dict(app.wmem.outcomes)), flush=True)
    finally:
        await app.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
