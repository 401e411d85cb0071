"""A small wrapper over APScheduler 3.x: jobs call services; the App starts and stops it.

Every job is wrapped so an exception is logged and the next run still happens. Times are
UTC. ``misfire_grace_time`` is set per job on purpose: the daily probe run may start up to
``watch_misfire_grace_s`` late (a restart across the slot); later than that it is skipped
and the dead-man's switch reports the missing day instead of a silent late run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)
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
