"""Every scheduled job runs once per period however many replicas run, and a referral's
case file is mailed once: two App instances on one PostgreSQL (two processes' worth of
schedulers, stores and connections in one test process)."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select

from tests.conftest import EXAMPLE
from tests.exchange.test_dispute import RECORD, seed
from wisbot.adapters.console import ConsoleAdapter
from wisbot.app import App
from wisbot.clock import FakeClock
from wisbot.directory import Directory
from wisbot.scheduler import Scheduler
from wisbot.settings import Settings
from wisbot.store.ops_tables import JobRun

CASE = "WIS-NRT-2027-1"  # opened on the fixture's clock, 1 January 2027
JOBS = ("watch-daily", "watch-deadman", "watch-reminders", "watch-handover",
        "exchange-daily", "annual-report", "change-cab", "audit-reminders",
        "continuity-reminders", "drills", "wmem-purge")


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("postgres_database")
    from tests.conftest import _truncate

    _truncate(url)
    return url


class SlowMailer:
    """Takes its time, as an SMTP server does: long enough for a second sender to race."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, to: str, subject: str, body: str) -> None:
        await asyncio.sleep(0.3)
        self.sent.append((to, subject))


@pytest.fixture
async def two_apps(pg_url: str, example_directory: Directory
                   ) -> AsyncIterator[tuple[list[App], FakeClock, SlowMailer]]:
    """Two replicas that both lead (``elect=False``), as two processes would in a split
    brain: only ``job_run`` stands between them and a double run."""
    clock = FakeClock(datetime(2027, 1, 1, 0, 10, tzinfo=UTC))
    mailer = SlowMailer()
    apps = [App(Settings(database_url=pg_url, directory=EXAMPLE, watch_enabled=True,
                         watch_daily_time="02:00"),
                directory=example_directory, clock=clock,
                adapters=[ConsoleAdapter(echo=False)], run_worker=True, elect=False,
                mailer=mailer) for _ in range(2)]
    for app in apps:
        await app.start()
    yield apps, clock, mailer
    for app in apps:
        await app.stop()


def _schedulers(app: App) -> list[Scheduler]:
    return [s for s in (app.scheduler, app.cron) if s is not None]


def _count_runs(apps: list[App]) -> collections.Counter[str]:
    """Count the runs of each job's body on every replica: the registered job is replaced
    by a counter (the real bodies probe GISCs over the network)."""
    ran: collections.Counter[str] = collections.Counter()
    for app in apps:
        for sched in _schedulers(app):
            for name, (_job, period, budget) in list(sched._jobs.items()):
                async def counted(name: str = name) -> None:
                    ran[name] += 1
                    await asyncio.sleep(0.05)  # both replicas are inside at once

                sched._jobs[name] = (counted, period, budget)
    return ran


async def _fire_everywhere(apps: list[App]) -> dict[str, list[str]]:
    calls = [(name, sched.run_now(name)) for app in apps for sched in _schedulers(app)
             for name in sched._jobs]
    results = await asyncio.gather(*(c for _, c in calls))
    out: dict[str, list[str]] = collections.defaultdict(list)
    for (name, _), status in zip(calls, results, strict=True):
        out[name].append(status)
    return out


async def test_each_job_runs_once_per_period_with_two_replicas(two_apps: Any) -> None:
    apps, clock, _ = two_apps
    for app in apps:
        assert set().union(*(s._jobs for s in _schedulers(app))) == set(JOBS)
    ran = _count_runs(apps)
    first = await _fire_everywhere(apps)
    assert ran == dict.fromkeys(JOBS, 1), ran
    for name in JOBS:
        assert sorted(first[name]).count("skipped") == 1, (name, first[name])
    # again in the same period (a restart, a late misfire): nothing runs
    again = await _fire_everywhere(apps)
    assert ran == dict.fromkeys(JOBS, 1)
    assert all(s == ["skipped", "skipped"] for s in again.values()), again
    # 20 minutes on: only the short ticks (handover, CAB agendas, drills) have a new period
    clock.advance(minutes=20)
    await _fire_everywhere(apps)
    assert ran["watch-handover"] == ran["change-cab"] == ran["drills"] == 2
    assert sum(ran.values()) == len(JOBS) + 3
    # the next day: every daily job once more; the annual report waits for next year
    clock.advance(days=1)
    await _fire_everywhere(apps)
    assert ran == {**dict.fromkeys(JOBS, 2), "watch-handover": 3, "change-cab": 3,
                   "drills": 3, "annual-report": 1}

    rows = await apps[0].store.tx(lambda s: s.exec(select(JobRun)).all())
    periods = {(r.job, r.period) for r in rows}
    assert len(periods) == len(rows) == sum(ran.values())
    assert ("annual-report", "2026") in periods  # run on 1 January 2027: the UTC year 2026
    assert ("watch-handover", "2027-01-01T00:00") in periods
    assert ("watch-handover", "2027-01-01T00:30") in periods
    assert ("exchange-daily", "2026-12-31") in periods  # its 05:00 slot is not yet due
    assert all(r.status == "ok" and r.finished_at is not None for r in rows)


async def test_the_elected_replica_alone_schedules(pg_url: str,
                                                  example_directory: Directory) -> None:
    apps = [App(Settings(database_url=pg_url, directory=EXAMPLE, watch_enabled=True,
                         leader_lease_seconds=1.5, leader_renew_seconds=0.25),
                directory=example_directory, adapters=[ConsoleAdapter(echo=False)],
                run_worker=True) for _ in range(2)]
    try:
        for app in apps:
            await app.start()
        assert [bool(_schedulers(a)) for a in apps] == [True, False]
        assert set(apps[0].scheduler.jobs()) == {  # type: ignore[union-attr]
            "watch-daily", "watch-deadman", "watch-reminders", "watch-handover"}
        assert "change-cab" in apps[0].cron.jobs()  # type: ignore[union-attr]
    finally:
        for app in apps:
            await app.stop()


async def test_a_referral_mails_the_case_file_once(two_apps: Any) -> None:
    apps, clock, mailer = two_apps
    a, b = apps
    await seed(a, clock)
    for who, text in (("gisc-offenbach", f"escalate exchange {RECORD} DE-OF-NC "
                       "scope=GlobalExchange 42 GB a day"),
                      ("gisc-offenbach", f"escalate exchange {CASE} consult"),
                      ("gisc-tokyo", f"escalate exchange {CASE} accept"),
                      ("gisc-exeter", f"escalate exchange {CASE} object cache too small")):
        reply = await a.console.type(who, text, who)
        assert CASE in reply.plain(), reply.plain()

    async def sweep() -> None:
        # the daily job's mail step on both replicas, while the referral sends its mail
        for _ in range(10):
            await asyncio.gather(a.services.exchange.deliver_mail(),
                                 b.services.exchange.deliver_mail())
            await asyncio.sleep(0.01)

    refer = a.console.type("gisc-offenbach", f"escalate exchange {CASE} refer",
                           "gisc-offenbach")
    reply, _ = await asyncio.gather(refer, sweep())
    assert "referred to" in reply.plain()
    assert len(mailer.sent) == 1, mailer.sent
    assert mailer.sent[0][0] == "ictt-wis@example.org" and CASE in mailer.sent[0][1]
    # and a second refer is refused by the case's stage: no second mail either
    again = await b.console.type("gisc-offenbach", f"escalate exchange {CASE} refer",
                                 "gisc-offenbach")
    assert again.plain().startswith("Refused"), again.plain()
    await b.services.exchange.deliver_mail()
    assert len(mailer.sent) == 1


def test_the_annual_report_covers_the_last_utc_year() -> None:
    from datetime import timedelta, timezone

    from wisbot.scheduler import _report_year

    los_angeles = timezone(timedelta(hours=-8))
    # 1 January 00:10 UTC is still 31 December in the west: the report is for 2026
    assert _report_year(datetime(2026, 12, 31, 16, 10, tzinfo=los_angeles)) == "2026"
    assert _report_year(datetime(2027, 1, 1, 0, 10, tzinfo=UTC)) == "2026"


async def test_a_job_that_overruns_is_recorded_and_the_next_period_still_runs(
        db_url: str) -> None:
    from wisbot.scheduler import JobRuns
    from wisbot.store.engine import Store

    store = Store(db_url)
    release = asyncio.Event()
    ran: list[str] = []

    async def slow() -> None:
        ran.append("slow")
        await release.wait()

    async def quick() -> None:
        ran.append("quick")

    async def broken() -> None:
        raise RuntimeError("the GISC answered 500")

    try:
        runs = JobRuns(store, holder="test")
        first = asyncio.create_task(runs.run("watch-handover", "2026-12-02T10:15", slow,
                                             budget=0.2))
        await asyncio.sleep(0.5)  # past its budget, still running
        rows = await store.tx(lambda s: s.exec(select(JobRun)).all())
        assert [(r.period, r.status, r.finished_at) for r in rows] == [
            ("2026-12-02T10:15", "overran", None)]
        assert await runs.run("watch-handover", "2026-12-02T10:30", quick,
                              budget=0.2) == "ok"
        release.set()
        assert await first == "overran"
        assert await runs.run("watch-daily", "2026-12-02", broken) == "failed"
        rows = await store.tx(lambda s: s.exec(select(JobRun).order_by(JobRun.id)).all())
        assert [(r.period, r.status) for r in rows] == [
            ("2026-12-02T10:15", "overran"), ("2026-12-02T10:30", "ok"),
            ("2026-12-02", "failed")]
        assert all(r.finished_at is not None for r in rows)
        assert "the GISC answered 500" in (rows[2].detail or "")
        assert ran == ["slow", "quick"]
    finally:
        store.close()
