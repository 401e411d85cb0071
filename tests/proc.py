"""A wisbot process for multi-process tests: ``python -m tests.proc <mode> ...``.

``report <db> <n> <who> <centre>``: n concurrent reports, prints the numbers.
``deliver <db> <log> [delay] [lease]``: runs the outbox worker with an adapter that
appends ``room<TAB>key<TAB>pid<TAB>time`` to <log> for every send, until nothing is
pending for 2 s. Like Slack's metadata lookup, the adapter finds a key already in the log
(a send whose process died before marking it) instead of writing it again.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from sqlmodel import select

from wisbot.adapters.base import Dispatch, MessageRef, RoomRef, UserRef
from wisbot.adapters.console import ConsoleAdapter
from wisbot.app import App
from wisbot.directory import load_directory
from wisbot.ids import Platform
from wisbot.reply import Reply
from wisbot.settings import Settings
from wisbot.store.tables import OutboxRow

EXAMPLE = Path(__file__).resolve().parent.parent / "deploy" / "directory.example.yaml"


class FileAdapter:
    platform = Platform("console")

    def __init__(self, log: str, delay: float) -> None:
        self.log = log
        self.delay = delay
        self.found: set[str] = set()

    async def start(self, dispatch: Dispatch) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, room: RoomRef, reply: Reply, *, key: str) -> MessageRef:
        if key in self.found:
            return MessageRef(self.platform, room.address, key)
        if self.delay:
            await asyncio.sleep(self.delay)
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, f"{room.address}\t{key}\t{os.getpid()}\t{time.time()}\n".encode())
        finally:
            os.close(fd)
        return MessageRef(self.platform, room.address, key)

    async def find_sent(self, room: RoomRef | UserRef, key: str) -> MessageRef | None:
        if isinstance(room, UserRef):
            return None
        path = Path(self.log)
        text = await asyncio.to_thread(lambda: path.read_text() if path.exists() else "")
        for line in text.splitlines():
            address, sent_key, *_ = line.split("\t")
            if address == room.address and sent_key == key:
                self.found.add(key)
                return MessageRef(self.platform, room.address, key)
        return None

    async def send_direct(self, user: UserRef, reply: Reply, *, key: str) -> MessageRef:
        return await self.send(RoomRef(self.platform, "@" + user.address), reply, key=key)

    async def room_members(self, room: RoomRef) -> set[UserRef]:
        return set()


async def report(db: str, n: int, who: str, centre: str) -> None:
    settings = Settings(database_url=db, directory=EXAMPLE)
    adapter = ConsoleAdapter(echo=False)
    async with App(settings, directory=load_directory(EXAMPLE), adapters=[adapter],
                   run_worker=False):
        replies = await asyncio.gather(*(
            adapter.type(who, f"incident report {centre} share=principal-gisc load {i}")
            for i in range(n)))
        for r in replies:
            print(r.ref or r.plain().replace("\n", " "), flush=True)


async def deliver(db: str, log: str, delay: float, lease: float = 1.0) -> None:
    settings = Settings(database_url=db, directory=EXAMPLE, outbox_lease_seconds=lease,
                        outbox_poll_interval=0.05)
    async with App(settings, directory=load_directory(EXAMPLE),
                   adapters=[FileAdapter(log, delay)], run_worker=True) as app:
        idle = 0
        print("ready", flush=True)
        while idle < 40:
            await asyncio.sleep(0.05)
            assert app.store is not None
            pending = await app.store.tx(lambda s: len(s.exec(
                select(OutboxRow.id).where(OutboxRow.status == "pending")).all()))
            idle = idle + 1 if pending == 0 else 0


def main() -> None:
    mode, db, *rest = sys.argv[1:]
    if mode == "report":
        asyncio.run(report(db, int(rest[0]), rest[1], rest[2]))
    elif mode == "deliver":
        asyncio.run(deliver(db, rest[0], float(rest[1]) if len(rest) > 1 else 0.0,
                            float(rest[2]) if len(rest) > 2 else 1.0))


if __name__ == "__main__":
    main()
