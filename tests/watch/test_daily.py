"""The daily run: the post (table, day-on-day change, anomalies, chart), where it goes,
retention, once per day, the dead-man's switch, and the scheduler's jobs."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import select

from tests.helpers import room_text
from wisbot.settings import Settings
from wisbot.store.watch_tables import ProbeRecord, ProbeRun


def counts(fake: Any, tokyo: float, exeter: float, offenbach: float) -> None:
    fake.set("Tokyo", "oaipmh", figure=tokyo)
    fake.set("Exeter", "oaipmh", figure=exeter)
    fake.set("Offenbach", "oaipmh", figure=offenbach)


async def test_daily_post_table_change_anomalies_and_chart(watch_app: Any, fake_sweep: Any,
                                                           clock: Any) -> None:
    app = await watch_app(duty_room=True)
    w = app.services.watch
    counts(fake_sweep, 10_000, 9_800, 10_100)
    fake_sweep.set("gb-one", "broker", figure=5000)
    fake_sweep.set("gb-two", "broker", figure=4800)
    await w.run("daily")
    clock.advance(days=1)
    counts(fake_sweep, 25_000, 9_700, 10_050)  # Tokyo +150 %
    fake_sweep.set("gb-two", "broker", figure=100)  # collapse
    fake_sweep.set("Exeter", "sru", "fail", reason="SRU diagnostic 1/1: general system error")
    out = await w.run("daily")
    await app.outbox.drain()
    posts = app.console.rooms["duty"]
    assert len(posts) >= 2
    post = posts[-1]
    text = post.plain()
    assert post.title == "GISC Watch daily report – 2026-03-03 (10/11 OK)"
    assert "GISC / service" in text and "latency" in text and "change" in text
    tokyo_row = next(line for line in text.splitlines() if line.startswith("GISC Tokyo / oaipmh"))
    assert tokyo_row.split()[-4:] == ["42", "ms", "25,000", "+150%"]
    assert "GISC Exeter / sru" in text and "↳ SRU diagnostic 1/1: general system error" in text
    assert "[outlier] Tokyo has 25,000 records" in text
    assert "[change] Tokyo: rose 150% in a day, from 10,000 to 25,000" in text
    assert "[collapse] Global Broker gb-two: message count collapsed by 98%" in text
    assert {a.kind.value for a in out.anomalies} == {"outlier", "change", "collapse"}
    assert "Tickets opened: #1" in text
    # the chart: a real PNG of some substance, and the console shows it as an attachment
    (chart,) = post.attachments
    raw = base64.b64decode(chart.data)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.size == len(raw) > 10_000
    assert f"[attachment chart.png, {len(raw)} bytes]" in room_text(app, "duty")
    # a watch post, not an incident: no other GISC's room gets it
    assert "daily report" not in room_text(app, "gisc-beijing")


async def test_daily_post_goes_to_the_gisc_on_watch_when_there_is_no_duty_room(
        watch_app: Any, fake_sweep: Any) -> None:
    app = await watch_app()
    await app.services.watch.run("daily")
    await app.outbox.drain()
    assert "GISC Watch daily report" in room_text(app, "gisc-tokyo")
    # Offenbach handed over nothing yet, so it stays on watch and sees the post too
    assert "GISC Watch daily report" in room_text(app, "gisc-offenbach")
    assert room_text(app, "gisc-exeter") == ""


async def test_daily_runs_once_per_utc_day(watch_app: Any, fake_sweep: Any, clock: Any) -> None:
    app = await watch_app(duty_room=True)
    w = app.services.watch
    assert await w.daily() is not None
    assert await w.daily() is None
    clock.advance(days=1)
    assert await w.daily() is not None
    await app.outbox.drain()
    assert len(app.console.rooms["duty"]) == 2


async def test_results_are_kept_for_the_retention_period(watch_app: Any, fake_sweep: Any,
                                                         clock: Any) -> None:
    app = await watch_app(duty_room=True, watch_retention_days=31)
    w = app.services.watch
    first = await w.run("daily")
    clock.advance(days=31)
    await w.run("daily")

    def runs(session: Any) -> list[int]:
        return [r.id for r in session.exec(select(ProbeRun)).all()]

    assert first.run_id in await app.store.tx(runs)  # 31 days old: kept
    clock.advance(days=1)
    await w.run("daily")
    assert first.run_id not in await app.store.tx(runs)

    def old(session: Any) -> int:
        return len(session.exec(select(ProbeRecord).where(
            ProbeRecord.run_id == first.run_id)).all())

    assert await app.store.tx(old) == 0
    with pytest.raises(ValidationError):
        Settings(watch_retention_days=30)


async def test_deadman_switch_missing_and_unfinished_runs(watch_app: Any, fake_sweep: Any,
                                                          clock: Any) -> None:
    app = await watch_app(duty_room=True)
    w = app.services.watch
    # installed on 2026-03-02 09:00: that day's 00:30 run was before wisbot existed
    assert await w.deadman_check() == []
    clock.advance(days=1)  # 2026-03-03 09:00, no run at 00:30
    told = await w.deadman_check()
    assert told == ["secretariat", "duty"]
    assert await w.deadman_check() == []  # once per day
    await app.outbox.drain()
    assert "the daily GISC Watch run of 2026-03-03 (due 00:30 UTC) did not happen" in \
        room_text(app, "secretariat")
    assert "dead-man's switch" in room_text(app, "duty")

    # the next day's run starts but never finishes (the process died mid-sweep)
    clock.advance(days=1)

    async def hang(*_: Any, **__: Any) -> Any:
        raise RuntimeError("killed mid-sweep")

    w.sweeper = hang
    with pytest.raises(RuntimeError):
        await w.run("daily")
    assert await w.deadman_check() == ["secretariat", "duty"]
    await app.outbox.drain()
    assert "the daily GISC Watch run of 2026-03-04 started at 09:00 UTC and did not finish" in \
        room_text(app, "secretariat")

    # a finished run: silence
    clock.advance(days=1)
    w.sweeper = fake_sweep
    await w.run("daily")
    assert await w.deadman_check() == []


async def test_deadman_waits_for_the_grace_after_the_daily_time(watch_app: Any,
                                                                clock: Any) -> None:
    app = await watch_app(duty_room=True, watch_daily_time="06:00", watch_deadman_minutes=60)
    w = app.services.watch
    clock.advance(days=1, hours=-3)  # 2026-03-03 06:00: today's run is not yet overdue
    assert await w.deadman_check() == []
    clock.advance(minutes=61)
    assert await w.deadman_check() == ["secretariat", "duty"]


async def test_app_schedules_the_watch_jobs(watch_app: Any) -> None:
    app = await watch_app(watch_enabled=True, watch_daily_time="01:15",
                          watch_misfire_grace_s=1800)
    jobs = app.scheduler.jobs()
    assert set(jobs) == {"watch-daily", "watch-deadman", "watch-reminders", "watch-handover"}
    daily = jobs["watch-daily"]
    assert daily.misfire_grace_time == 1800
    assert str(daily.trigger) == "cron[hour='1', minute='15']"
    assert str(jobs["watch-deadman"].trigger) == "cron[hour='3', minute='15']"
    assert daily.next_run_time is not None and daily.next_run_time.utcoffset() == timedelta(0)
    await app.stop()
    assert app.scheduler is None


async def test_watch_probe_command_and_usage(watch_app: Any, fake_sweep: Any) -> None:
    app = await watch_app(duty_room=True)
    fake_sweep.set("Exeter", "portal", "fail", reason="HTTP 503 Service Unavailable")
    reply = await app.console.type("gisc-tokyo", "watch probe Exeter", "gisc-tokyo")
    assert reply.title == "Probe results (2/3 OK)"
    assert "Exeter / portal: fail (–) – HTTP 503 Service Unavailable" in reply.plain()
    assert "Tickets opened: #1" in reply.plain()
    assert [t.centre for t in fake_sweep.calls[-1]] == ["Exeter"] * 3
    kind = await app.console.type("gisc-tokyo", "watch probe broker", "gisc-tokyo")
    assert kind.title == "Probe results (2/2 OK)"
    unknown = await app.console.type("gisc-tokyo", "watch probe Ofenbach", "gisc-tokyo")
    assert unknown.kind == "error" and "did you mean 'Offenbach'" in unknown.plain()
    typo = await app.console.type("gisc-tokyo", "watch tikcet 1", "gisc-tokyo")
    assert typo.kind == "error" and "Usage: watch" in typo.plain()
    overview = await app.console.type("gisc-tokyo", "watch help", "gisc-tokyo")
    assert "watch handover [<note>]" in overview.plain()
