"""Pages survive SIGKILL mid-escalation, and two processes never fire a step twice."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from wisbot.adapters.console import ConsoleAdapter
from wisbot.app import App
from wisbot.clock import FakeClock
from wisbot.settings import Settings
from wisbot.store.engine import make_engine
from wisbot.store.paging_tables import Page, PageStep
from wisbot.store.tables import Notification, OutboxRow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "directory.example.yaml"


async def _severe_incidents(db_url: str, clock: FakeClock, n: int) -> None:
    app = App(Settings(database_url=db_url, directory=EXAMPLE), clock=clock,
              adapters=[ConsoleAdapter(echo=False)], run_worker=False)
    await app.start()
    try:
        for i in range(n):
            await app.console.type("anna.weber", f"incident report DE-OF-NC "
                                   f"share=principal-gisc sev=3 load {i}", "member-de")
    finally:
        await app.stop()


def _proc(db_url: str, clock: FakeClock, t0: float, factor: float,
          log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.paging_proc", db_url, clock.now.isoformat(), str(t0),
         str(factor), str(log)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _check_exactly_once(db_url: str, log: Path, pages: int) -> dict[str, Any]:
    engine = make_engine(db_url)
    with Session(engine) as s:
        assert len(s.exec(select(Page)).all()) == pages
        steps = s.exec(select(PageStep)).all()
        assert len(steps) == pages * 5
        assert {st.status for st in steps} == {"fired"}, "every due step fired"
        # One notification per fired step: a step that fired twice would have two.
        notes = s.exec(select(Notification).where(
            Notification.kind.in_(("page", "page-alert")))).all()  # type: ignore[attr-defined]
        assert len(notes) == len(steps)
        assert len({st.notification_id for st in steps}) == len(steps)
        assert all(st.fired_at is not None and st.fired_at >= st.due_at for st in steps)
        rows = s.exec(select(OutboxRow)).all()
        assert {r.status for r in rows} == {"delivered"}
        keys = {r.key for r in rows}
        holders = collections.Counter(st.fired_by for st in steps)
    engine.dispose()
    sent = [line.split("\t")[1] for line in log.read_text().splitlines()]
    assert set(sent) == keys, "every message was delivered"
    return {"holders": holders, "duplicates": len(sent) - len(set(sent))}


@pytest.mark.timeout(120)
def test_sigkill_mid_escalation_then_restart_fires_every_step_once(sqlite_url, tmp_path):
    clock = FakeClock()
    asyncio.run(_severe_incidents(sqlite_url, clock, 40))  # 80 pages; step 0 fired at report
    log = tmp_path / "sent.log"
    factor = 600.0  # 1 real second = 10 simulated minutes
    # Simulated time starts when the process first reads its clock, not before its
    # imports: a loaded machine must not make the 15- and 30-minute steps fall together.
    first = _proc(sqlite_url, clock, 0.0, factor, log)
    mark = Path(f"{log}.t0")
    deadline = time.time() + 60
    while not mark.exists() and time.time() < deadline:
        time.sleep(0.02)
    t0 = float(mark.read_text())
    # Kill it while it is escalating: after the 15-minute steps, before the 30-minute ones.
    deadline = time.time() + 30
    engine = make_engine(sqlite_url)
    while time.time() < deadline:
        with Session(engine) as s:
            fired = len(s.exec(select(PageStep).where(PageStep.seq == 1,
                                                      PageStep.status == "fired")).all())
        if fired:
            break
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    with Session(engine) as s:
        at_kill = collections.Counter(st.seq for st in s.exec(
            select(PageStep).where(PageStep.status == "fired")).all())
    engine.dispose()
    assert at_kill[0] == 80 and at_kill[2] == 0, at_kill
    # Down long enough for the 30-minute steps to become overdue.
    while (time.time() - t0) * factor < 33 * 60:
        time.sleep(0.05)
    second = _proc(sqlite_url, clock, t0, factor, log)
    _out, err = second.communicate(timeout=90)
    assert second.returncode == 0, err[-3000:]
    result = _check_exactly_once(sqlite_url, log, 80)
    assert len(result["holders"]) == 3  # the in-process reporter, the killed and the restart


@pytest.mark.timeout(120)
def test_two_processes_on_postgres_never_fire_a_step_twice(request, tmp_path):
    url = request.getfixturevalue("postgres_database")
    from tests.conftest import _truncate

    _truncate(url)
    clock = FakeClock()
    asyncio.run(_severe_incidents(url, clock, 60))
    log = tmp_path / "sent.log"
    factor = 1200.0
    t0 = time.time()
    procs = [_proc(url, clock, t0, factor, log) for _ in range(2)]
    for p in procs:
        _out, err = p.communicate(timeout=90)
        assert p.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
    result = _check_exactly_once(url, log, 120)
    print("holders", dict(result["holders"]), "duplicate sends", result["duplicates"])
    assert sum(result["holders"].values()) == 600
