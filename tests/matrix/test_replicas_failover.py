"""Two real ``wisbot run`` processes on one PostgreSQL with a real Synapse: the leader is
SIGKILLed with a cascade in flight and a page step due. The follower takes over within
30 s; every room reads every message exactly once (each member's own /sync), the page step
fires exactly once, and a command typed during the failover is answered once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.matrix.conftest import World, make_world
from tests.matrix.synapse import Synapse
from wisbot.store.engine import make_engine
from wisbot.store.ops_tables import LeaderLease, Replica
from wisbot.store.paging_tables import Page, PageStep
from wisbot.store.tables import Incident, OutboxRow

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("secretariat", "member-de", "gisc-offenbach", "gisc-tokyo", "gisc-exeter",
         "area-offenbach", "collaboration")
READER = {"secretariat": "sec", "member-de": "anna", "gisc-offenbach": "of",
          "gisc-tokyo": "tk", "gisc-exeter": "ex", "area-offenbach": "of",
          "collaboration": "ex"}
SERVING = re.compile(r"leading \(epoch (\d+)\): chat inbound and scheduled jobs running")
PAGE_ALERT = re.compile(r"(TLP:\S+ )?P-\d+ – ")  # a page alert, labelled like its incident


class Replica_:
    """One ``wisbot run`` process; its log is read for the "leading" line."""

    def __init__(self, world: World, name: str) -> None:
        reg = world.regs["bot"]
        env = {**os.environ, "PYTHONPATH": str(ROOT),
               "WISBOT_DATABASE_URL": world.db_url,
               "WISBOT_DIRECTORY": str(world.tmp / "directory.yaml"),
               "WISBOT_ADAPTERS": "matrix", "WISBOT_MATRIX_HOMESERVER": world.server.url,
               "WISBOT_MATRIX_USER_ID": reg.user_id, "WISBOT_MATRIX_PASSWORD": reg.password,
               "WISBOT_MATRIX_DEVICE_ID": "WISBOT", "WISBOT_MATRIX_SYNC_TIMEOUT": "2",
               "WISBOT_MATRIX_STORE_PATH": str(world.tmp / "crypto-store"),
               "WISBOT_WATCH_ENABLED": "false", "WISBOT_OUTBOX_POLL_INTERVAL": "0.2",
               "WISBOT_OUTBOX_LEASE_SECONDS": "5", "WISBOT_OUTBOX_BACKOFF_BASE": "0.2",
               "WISBOT_OUTBOX_BACKOFF_MAX": "2", "WISBOT_OUTBOX_MAX_ATTEMPTS": "1000",
               # the second step falls due while the leader is dead
               "WISBOT_PAGING_STEPS": "0 page, 20s secretariat, 2h missed",
               "WISBOT_LOG_LEVEL": "INFO"}
        self.name = name
        self.log = world.tmp / f"{name}.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "wisbot", "run"], cwd=ROOT,
                                     env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.serving: dict[int, float] = {}
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with self.log.open("w") as out:
            for line in self.proc.stderr:
                out.write(line)
                out.flush()
                self.lines.append(line)
                m = SERVING.search(line)
                if m:
                    self.serving[int(m.group(1))] = time.monotonic()

    def tail(self) -> str:
        return f"--- {self.name}\n" + "".join(self.lines[-40:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@pytest.fixture
async def pg_world(synapse: Synapse, tmp_path: Path,
                   request: pytest.FixtureRequest) -> AsyncIterator[World]:
    url: str = request.getfixturevalue("postgres_database")
    from tests.conftest import _truncate

    _truncate(url)
    w = await make_world(synapse, tmp_path, url)
    yield w
    for p in w.people.values():
        await p.close()


def _query(url: str, fn: Callable[[Session], Any]) -> Any:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return fn(s)
    finally:
        engine.dispose()


async def _until(what: str, cond: Callable[[], bool], within: float,
                 replicas: list[Replica_]) -> None:
    import asyncio

    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n"
                                 + "\n".join(r.tail() for r in replicas))
        await asyncio.sleep(0.1)


@pytest.mark.timeout(300)
async def test_sigkill_of_the_leader_mid_cascade_with_a_page_step_due(
        pg_world: World) -> None:
    w = pg_world
    p, r, bot, url = w.people, w.rooms, w.bot, w.db_url
    replicas: list[Replica_] = []
    try:
        first = Replica_(w, "first")
        replicas.append(first)
        await _until("the first replica to lead", lambda: 1 in first.serving, 90, replicas)
        second = Replica_(w, "second")
        replicas.append(second)
        await _until("the second replica to follow", lambda: _query(url, lambda s: len(
            s.exec(select(Replica)).all())) == 2, 60, replicas)
        holder = _query(url, lambda s: s.get(LeaderLease, "wisbot").holder)
        assert f":{first.proc.pid}:" in holder

        # A group report (a cascade to every room) that pages: kill the leader as soon
        # as the cascade is written, before it is all delivered.
        await p["anna"].say(r["member-de"],
                            "!incident report DE-OF-NC share=group sev=3 Failover drill")
        await _until("the cascade to be written", lambda: _query(url, lambda s: len(
            s.exec(select(OutboxRow)).all())) >= len(ROOMS), 60, replicas)
        first.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        first.proc.wait()
        in_flight = _query(url, lambda s: [row.room_key for row in s.exec(
            select(OutboxRow).where(OutboxRow.status == "pending")).all()])
        number = _query(url, lambda s: s.exec(select(Incident)).one().number)

        # typed while nobody syncs
        typed = await p["sec"].say(r["secretariat"], "!incident list")

        await _until("the follower to lead", lambda: 2 in second.serving, 30, replicas)
        took = second.serving[2] - killed
        assert took < 30, took

        def settled(s: Session) -> bool:
            steps = s.exec(select(PageStep).where(PageStep.seq == 1)).all()
            pending = s.exec(select(OutboxRow).where(OutboxRow.status != "delivered")).all()
            return bool(steps) and all(st.status == "fired" for st in steps) and not pending

        await _until("the page step and every message to be delivered",
                     lambda: _query(url, settled), 90, replicas)

        pages = _query(url, lambda s: s.exec(select(Page)).all())
        assert pages
        steps = _query(url, lambda s: s.exec(select(PageStep).where(PageStep.seq == 1)).all())
        assert len(steps) == len(pages) and all(st.notification_id for st in steps)

        # what each person reads in their own sync
        for room in ROOMS:
            person = p[READER[room]]
            await person.sync()
            cascade = [n["body"] for n in person.notices(r[room], bot)
                       # the reporter's room reads the cascade as the threaded answer
                       if number in n["body"] and not PAGE_ALERT.match(n["body"])]
            assert len(cascade) == 1, (room, cascade, in_flight)
        at_risk = [n["body"] for n in p["sec"].notices(r["secretariat"], bot)
                   if "1-hour target at risk" in n["body"]]
        assert len(at_risk) == len(pages), at_risk  # the due step fired once per page
        answers = [n for n in p["sec"].notices(r["secretariat"], bot)
                   if n.get("m.relates_to", {}).get("m.in_reply_to", {})
                   .get("event_id") == typed]
        assert len(answers) == 1, answers  # (the list itself goes to a direct message)

        def lists() -> list[str]:
            dms = [room_id for room_id in p["sec"].events if room_id not in r.values()]
            return [n["body"] for room_id in dms for n in p["sec"].notices(room_id, bot)
                    if number in n["body"]]

        deadline = time.monotonic() + 30
        while not lists() and time.monotonic() < deadline:
            await p["sec"].sync(timeout_ms=1000)  # joins the direct chat, then reads it
        await p["sec"].sync()
        assert len(lists()) == 1, lists()
        print(f"failover took {took:.1f} s; in flight at the kill: {in_flight}")
    finally:
        for rep in replicas:
            rep.stop()
