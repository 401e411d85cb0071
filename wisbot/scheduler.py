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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from wisbot.loop import WakeableLoop
from wisbot.services.paging import PagingService

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


def _guard(name: str, job: Job) -> Job:
    async def run() -> None:
        try:
            await job()
        except Exception:
            log.exception("scheduled job %s failed; it runs again at its next time", name)

    run.__name__ = f"guarded_{name}"
    return run


class Scheduler:
    def __init__(self) -> None:
        self._sched = AsyncIOScheduler(timezone=UTC)

    def daily(self, name: str, job: Job, *, hour: int, minute: int,
              misfire_grace_time: int) -> None:
        self._sched.add_job(_guard(name, job), CronTrigger(hour=hour, minute=minute,
                                                          timezone=UTC),
                            id=name, name=name, misfire_grace_time=misfire_grace_time,
                            coalesce=True, max_instances=1, replace_existing=True)

    def every(self, name: str, job: Job, *, minutes: float, misfire_grace_time: int) -> None:
        self._sched.add_job(_guard(name, job), IntervalTrigger(minutes=minutes, timezone=UTC),
                            id=name, name=name, misfire_grace_time=misfire_grace_time,
                            coalesce=True, max_instances=1, replace_existing=True)

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

    def __init__(self, annual_report: Callable[[int], object] | None = None) -> None:
        super().__init__()
        self.annual_report = annual_report
        if annual_report is not None:
            self._sched.add_job(
                self._annual, CronTrigger(month=1, day=1, hour=0, minute=10, timezone="UTC"),
                id="annual-report", misfire_grace_time=ANNUAL_REPORT_GRACE, coalesce=True,
                max_instances=1, replace_existing=True)

    @property
    def scheduler(self) -> AsyncIOScheduler:
        return self._sched

    async def _annual(self) -> None:
        if self.annual_report is None:
            return
        year = datetime.now().year - 1
        try:
            result = self.annual_report(year)
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            log.exception("annual report job failed")
