"""Background timing: the page-deadline loop and the cron-like jobs.

Page deadlines are rows (``page_step.due_at``), not in-memory timers: the loop below asks
the database every ``tick`` seconds (or when woken) for due steps, so a restart loses
nothing and an overdue step fires at once. Cron-like jobs (the annual service report on
1 January) run on APScheduler 3.x; their ``misfire_grace_time`` is set deliberately:

* ``annual-report``: 6 hours. A bot that was busy or paused around midnight still posts
  the report; one that comes back later posts it only on request (``wisbot report``),
  and a durable marker makes a second process or a restart never post it twice.
* GISC Watch (:class:`Scheduler`, jobs added by the App): the daily probe run may start
  up to ``watch_misfire_grace_s`` late (a restart across the slot); later than that it is
  skipped and the dead-man's switch reports the missing day instead of a silent late run.
  Every watch job is wrapped so an exception is logged and the next run still happens.

Every job runs once per period however many replicas run: :class:`JobRuns` inserts
``job_run (job, period)`` (unique) before the job starts, in the same transaction as the
check that this replica still holds the leader lease; a replica that loses that insert
skips the run. Periods are UTC: ``2026-12-02`` for a daily job (the day of its latest
slot), ``2026-12-02T10:15`` for the 15-minute handover tick, ``2025`` for the annual
report (the year it covers). The row records ``ok``, ``failed`` or ``overran`` (still
running after its period; the next period's run starts anyway).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from wisbot.clock import Clock, utcnow
from wisbot.loop import WakeableLoop
from wisbot.services.paging import PagingService
from wisbot.store.engine import Store
from wisbot.store.ops_tables import JobRun

log = logging.getLogger(__name__)

ANNUAL_REPORT_GRACE = 6 * 3600


class PagingScheduler(WakeableLoop):
    """Fires due page steps every ``tick`` seconds, or at once when woken."""

    name = "wisbot-pager"

    def __init__(self, paging: PagingService, *, tick: float = 1.0,
                 on_fired: Callable[[], None] | None = None) -> None:
        super().__init__(tick)
        self.paging = paging
        self.tick = tick
        self.on_fired = on_fired
        self.passes = 0

    async def run_once(self) -> bool:
        try:
            await self.paging.tick()
        finally:
            self.passes += 1
        return False  # tick() already fired everything due; wait for the next tick


Job = Callable[[], Awaitable[Any]]
Period = Callable[[datetime], str]


def daily_period(hour: int, minute: int) -> Period:
    """The UTC day of the latest ``hour:minute`` slot at or before ``now``."""
    def period(now: datetime) -> str:
        return (now.astimezone(UTC) - timedelta(hours=hour, minutes=minute)).date().isoformat()

    return period


def every_period(minutes: float) -> Period:
    """The start of the ``minutes``-long UTC slot ``now`` is in."""
    step = int(minutes * 60)

    def period(now: datetime) -> str:
        ts = int(now.timestamp()) // step * step
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M")

    return period


class JobRuns:
    """Runs a scheduled job at most once per (job, period) across replicas and restarts,
    and records how it ended."""

    def __init__(self, store: Store, clock: Clock = utcnow, *, holder: str = "",
                 fence: Callable[[Session], bool] | None = None) -> None:
        self.store = store
        self.clock = clock
        self.holder = holder
        self.fence = fence
        """Checked in the claiming transaction: False (the lead is lost) skips the run."""

    async def run(self, name: str, period: str, job: Job, *,
                  budget: float | None = None) -> str:
        """``ok``, ``failed``, ``overran`` or ``skipped`` (another replica or an earlier
        run has it, or this replica no longer leads)."""
        run_id = await self.store.tx(lambda s: self._claim(s, name, period))
        if run_id is None:
            log.info("scheduled job %s for %s: already run or not leading; skipped",
                     name, period)
            return "skipped"
        task = asyncio.ensure_future(job())
        status, detail = "ok", None
        began = time.monotonic()
        try:
            if budget is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(task), budget)
                except TimeoutError:
                    log.warning("scheduled job %s for %s is still running after %.0f s "
                                "(overran); the next period's run starts anyway",
                                name, period, budget)
                    await self.store.tx(lambda s: self._mark(s, run_id, "overran", None,
                                                             finished=False))
                    status = "overran"
            await task
        except asyncio.CancelledError:
            task.cancel()
            await self.store.tx(lambda s: self._mark(s, run_id, "failed", "stopped"))
            raise
        except Exception as exc:
            log.exception("scheduled job %s for %s failed; it runs again at its next time",
                          name, period)
            status, detail = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        if budget is not None and status == "ok" and time.monotonic() - began > budget:
            status = "overran"
        await self.store.tx(lambda s: self._mark(s, run_id, status, detail))
        return status

    def _claim(self, session: Session, name: str, period: str) -> int | None:
        if not self.store.sqlite:
            # a replica cut off mid-claim must not block the next leader's claim for long
            session.execute(text("SET LOCAL idle_in_transaction_session_timeout = 5000"))
        if self.fence is not None and not self.fence(session):
            return None
        insert = sqlite_insert if self.store.sqlite else pg_insert
        t = JobRun.__table__  # type: ignore[attr-defined]
        got = session.execute(insert(t).values(
            job=name, period=period, holder=self.holder, started_at=self.clock(),
            status="running").on_conflict_do_nothing(index_elements=["job", "period"])
            .returning(t.c.id)).scalar_one_or_none()
        return int(got) if got is not None else None

    def _mark(self, session: Session, run_id: int, status: str, detail: str | None, *,
              finished: bool = True) -> None:
        values: dict[str, Any] = {"status": status, "detail": detail}
        if finished:
            values["finished_at"] = self.clock()
        session.execute(update(JobRun).where(JobRun.id == run_id)  # type: ignore[arg-type]
                        .values(**values))


async def _unguarded(name: str, job: Job) -> str:
    try:
        await job()
    except Exception:
        log.exception("scheduled job %s failed; it runs again at its next time", name)
        return "failed"
    return "ok"


class Scheduler:
    """APScheduler on UTC; every job goes through :class:`JobRuns` when given one."""

    def __init__(self, runs: JobRuns | None = None, *, clock: Clock = utcnow) -> None:
        self._sched = AsyncIOScheduler(timezone=UTC)
        self.runs = runs
        self.clock = clock
        self._jobs: dict[str, tuple[Job, Period, float]] = {}

    def _add(self, name: str, job: Job, trigger: Any, period: Period, budget: float,
             misfire_grace_time: int) -> None:
        self._jobs[name] = (job, period, budget)
        self._sched.add_job(functools.partial(self.run_now, name), trigger, id=name, name=name,
                            misfire_grace_time=misfire_grace_time, coalesce=True,
                            max_instances=2, replace_existing=True)

    def daily(self, name: str, job: Job, *, hour: int, minute: int,
              misfire_grace_time: int) -> None:
        self._add(name, job, CronTrigger(hour=hour, minute=minute, timezone=UTC),
                  daily_period(hour, minute), 24 * 3600.0, misfire_grace_time)

    def every(self, name: str, job: Job, *, minutes: float, misfire_grace_time: int) -> None:
        # Slots aligned on the UTC hour, so every replica names a period alike.
        trigger: Any = (CronTrigger(minute=f"*/{int(minutes)}", timezone=UTC)
                        if minutes == int(minutes) and 60 % int(minutes) == 0
                        else IntervalTrigger(minutes=minutes, timezone=UTC))
        self._add(name, job, trigger, every_period(minutes), minutes * 60.0,
                  misfire_grace_time)

    async def run_now(self, name: str, *, now: datetime | None = None) -> str:
        """Run job ``name`` for the period of ``now`` (default: the clock), guarded."""
        job, period, budget = self._jobs[name]
        if self.runs is None:
            return await _unguarded(name, job)
        return await self.runs.run(name, period(now or self.clock()), job, budget=budget)

    def jobs(self) -> dict[str, Any]:
        return {j.id: j for j in self._sched.get_jobs()}

    def start(self) -> None:
        if not self._sched.running:
            self._sched.start()

    def stop(self) -> None:
        if self._sched.running:
            self._sched.shutdown(wait=False)


class CronJobs(Scheduler):
    """The bot's own wall-clock jobs: the annual service report and the daily jobs the
    services declare (e.g. the exchange spotting)."""

    def __init__(self, annual_report: Callable[[int], object] | None = None,
                 runs: JobRuns | None = None, *, clock: Clock = utcnow) -> None:
        super().__init__(runs, clock=clock)
        self.annual_report = annual_report
        if annual_report is not None:
            self._jobs["annual-report"] = (self._annual, _report_year, 24 * 3600.0)
            self._sched.add_job(
                functools.partial(self.run_now, "annual-report"),
                CronTrigger(month=1, day=1, hour=0, minute=10, timezone="UTC"),
                id="annual-report", misfire_grace_time=ANNUAL_REPORT_GRACE, coalesce=True,
                max_instances=1, replace_existing=True)

    @property
    def scheduler(self) -> AsyncIOScheduler:
        return self._sched

    async def _annual(self) -> None:
        if self.annual_report is None:
            return
        result = self.annual_report(int(_report_year(self.clock())))
        if asyncio.iscoroutine(result):
            await result


def _report_year(now: datetime) -> str:
    """The year the annual report covers: the last UTC year."""
    return str(now.astimezone(UTC).year - 1)
