"""Several wisbot processes on one database: numbers stay gap-free, messages go out once."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import Session, select

from wisbot.store.engine import make_engine
from wisbot.store.tables import Incident, OutboxRow

ROOT = Path(__file__).resolve().parent.parent


def _proc(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.proc", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(p: subprocess.Popen[str], timeout: float = 120) -> str:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err[-3000:]
    return out


def test_fifty_concurrent_reports_from_two_processes_get_consecutive_numbers(db_url: str) -> None:
    a = _proc("report", db_url, "25", "anna.weber", "DE-OF-NC")
    b = _proc("report", db_url, "25", "jonas.keller", "CH-NC")
    numbers = _wait(a).split() + _wait(b).split()
    year = numbers[0].split("-")[2]
    assert sorted(numbers, key=lambda n: int(n.rsplit("-", 1)[1])) == \
        [f"WIS-SEC-{year}-{i}" for i in range(1, 51)]
    engine = make_engine(db_url)
    with Session(engine) as s:
        rows = s.exec(select(Incident)).all()
        assert sorted(r.seq for r in rows) == list(range(1, 51))
        # Every report's cascade was written with it: 3 rooms each.
        assert len(s.exec(select(OutboxRow)).all()) == 50 * 3 - 25  # CH has no member room
    engine.dispose()


def _pending(db_url: str) -> list[OutboxRow]:
    engine = make_engine(db_url)
    with Session(engine) as s:
        rows = list(s.exec(select(OutboxRow).where(OutboxRow.status == "pending")).all())
    engine.dispose()
    return rows


def _lines(log: Path) -> list[tuple[str, str, str]]:
    if not log.exists():
        return []
    return [tuple(line.split("\t")[:3]) for line in log.read_text().splitlines()]  # type: ignore[misc]


def _times(log: Path) -> list[tuple[str, str, int, float]]:
    """(room, key, pid, time) of every send."""
    out = []
    for line in log.read_text().splitlines():
        room, key, pid, at = line.split("\t")
        out.append((room, key, int(pid), float(at)))
    return out


def _seed(db_url: str, n: int) -> list[str]:
    out = _wait(_proc("report", db_url, str(n), "anna.weber", "DE-OF-NC"))
    assert len(out.split()) == n
    keys = [r.key for r in _pending(db_url)]
    assert len(keys) == 3 * n
    return keys


def test_two_processes_never_deliver_a_message_twice(db_url: str, tmp_path: Path) -> None:
    keys = _seed(db_url, 30)
    log = tmp_path / "sent.log"
    a = _proc("deliver", db_url, str(log), "0.002")
    b = _proc("deliver", db_url, str(log), "0.002")
    _wait(a)
    _wait(b)
    sent = _lines(log)
    counts = collections.Counter(key for _, key, _ in sent)
    assert set(counts) == set(keys)
    assert [k for k, c in counts.items() if c > 1] == []
    # Per room, the order of the cascade is kept.
    by_room: dict[str, list[int]] = collections.defaultdict(list)
    for room, key, _ in sent:
        by_room[room].append(int(key.split("-")[0][1:]))
    for room, ids in by_room.items():
        assert ids == sorted(ids), room
    assert _pending(db_url) == []


def test_killed_mid_cascade_then_restarted_delivers_every_remaining_message_once(
        db_url: str, tmp_path: Path) -> None:
    """SIGKILL a delivering process part-way; a new process finishes the job. Only the one
    message in flight at the kill may be sent again, with the same key (which Matrix
    dedupes)."""
    keys = _seed(db_url, 10)
    log = tmp_path / "sent.log"
    first = _proc("deliver", db_url, str(log), "0.05")
    deadline = time.monotonic() + 60
    while len(_lines(log)) < 8:
        assert time.monotonic() < deadline, "first process delivered nothing"
        time.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=30)
    delivered_before = len(_lines(log))
    assert delivered_before < len(keys), "the kill came too late to test anything"
    _wait(_proc("deliver", db_url, str(log), "0"))
    counts = collections.Counter(key for _, key, _ in _lines(log))
    assert set(counts) == set(keys)
    # The rows in flight at the kill are found by their key, not sent again.
    assert [k for k, c in counts.items() if c > 1] == []
    assert _pending(db_url) == []


def test_sigkill_one_of_two_processes_mid_cascade_the_other_resumes_within_seconds(
        db_url: str, tmp_path: Path) -> None:
    """Two processes deliver one cascade; SIGKILL the one holding rooms part-way. Its
    leases (3 s, on the database's clock) expire and the survivor resumes those rooms
    within seconds: every row exactly once (the one in flight at the kill is found by
    its key), in order per room."""
    keys = _seed(db_url, 20)
    log = tmp_path / "sent.log"
    a = _proc("deliver", db_url, str(log), "0.1", "3")
    b = _proc("deliver", db_url, str(log), "0.1", "3")
    deadline = time.monotonic() + 60
    while True:
        sent = _times(log) if log.exists() else []
        pids = collections.Counter(pid for _, _, pid, _ in sent)
        if pids and max(pids.values()) >= 6:
            break
        assert time.monotonic() < deadline, "nothing was delivered"
        time.sleep(0.02)
    victim = a if pids[a.pid] >= pids[b.pid] else b
    survivor = b if victim is a else a
    os.kill(victim.pid, signal.SIGKILL)
    killed_at = time.time()
    victim.communicate(timeout=30)
    victim_rooms = {room for room, _, pid, _ in _times(log) if pid == victim.pid}
    _wait(survivor)
    sent = _times(log)
    counts = collections.Counter(key for _, key, _, _ in sent)
    assert set(counts) == set(keys)
    assert [k for k, c in counts.items() if c > 1] == []
    by_room: dict[str, list[int]] = collections.defaultdict(list)
    for room, key, _, _ in sent:
        by_room[room].append(int(key.split("-")[0][1:]))
    assert all(ids == sorted(ids) for ids in by_room.values())
    resumed = [min(at for room, _, pid, at in sent if room == r and pid == survivor.pid
                   and at > killed_at) for r in victim_rooms
               if any(room == r and at > killed_at for room, _, _, at in sent)]
    assert resumed, "the kill came too late to test anything"
    assert max(resumed) - killed_at < 8, f"resumed {max(resumed) - killed_at:.1f}s after"
    assert _pending(db_url) == []


async def test_restart_in_process_mid_cascade(make_app) -> None:  # type: ignore[no-untyped-def]
    """A new App on the same database picks up a cascade an earlier App left half done:
    the crashed App's leases hold its rooms back only until they expire, which is seconds
    on the database's clock (not the process's), then every room gets the report once."""
    import asyncio

    app1 = await make_app(outbox_lease_seconds=1.0)
    await app1.console.type("anna.weber", "incident report DE-OF-NC share=group Phishing",
                            "member-de")
    # Lease five rooms, then stop as a crash would: leases held, rows pending.
    taken = await app1.store.tx(lambda s: app1.outbox._claim(s, limit=5))
    assert len(taken) == 5
    app2 = await make_app(outbox_lease_seconds=1.0)
    await app2.outbox.drain()
    early = set(app2.console.rooms)
    crashed = {app1.directory.room(k).target for k in taken}
    assert early.isdisjoint(crashed), "leases of the crashed App are respected while valid"
    assert len(early) == 15
    await asyncio.sleep(1.2)
    await app2.outbox.drain()
    assert set(app2.console.rooms) == early | crashed
    assert all(len(v) == 1 for v in app2.console.rooms.values())
    assert app1.console.rooms == {}
