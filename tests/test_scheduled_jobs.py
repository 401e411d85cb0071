"""The App schedules its daily jobs when it runs its workers."""

from __future__ import annotations


async def test_daily_jobs_are_scheduled(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(run_worker=True)
    jobs = {job.id: job for job in app.cron.scheduler.get_jobs()}
    assert "annual-report" in jobs
    daily = jobs["exchange-daily"]
    assert daily.misfire_grace_time >= 3600  # a bot down at that hour still runs it once
    hour = app.services.exchange.config.spot_hour
    assert f"hour='{hour}'" in str(daily.trigger)
