"""Reachability drills and continuity plans on the console (Annex 1 §2, Annex 3 §9): a
test page through each role's 24/7 chain, marked DRILL in chat and the e-mail subject
(through a real aiosmtpd), stopped at the first answer, never in the incident figures,
measured in the annual service report; scheduled drills start once across two apps on the
same database (PostgreSQL when configured)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import select

from tests.audit_fixture import audit_directory
from tests.conftest import EXAMPLE, ROOT
from tests.helpers import room_text
from tests.test_paging_channels import smtp  # noqa: F401  (fixture)
from wisbot.adapters.console import render_text
from wisbot.services.reports import annual_report
from wisbot.store.audit_tables import DrillRun
from wisbot.store.paging_tables import Page

WED = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SEVERE = "incident report DE-OF-NC share=principal-gisc sev=3 Phishing at the operators"


def drill_pages(app: Any, contact: str) -> list[str]:
    return [render_text(r) for r in app.console.direct.get(contact, [])
            if r.kind == "page" and "DRILL" in (r.title or "")]


async def tick(app: Any, clock: Any, minutes: float) -> None:
    clock.now += timedelta(minutes=minutes)
    await app.paging.tick()
    await app.outbox.drain()


async def pages(app: Any) -> list[Page]:
    return await app.store.tx(lambda s: list(s.exec(select(Page).order_by(Page.id)).all()))


async def test_drill_is_the_secretariats_and_marked_drill_everywhere(
        make_app: Any, clock: Any, smtp: Any) -> None:  # noqa: F811
    inbox, port = smtp
    clock.now = WED
    app = await make_app(audit_directory(EXAMPLE), smtp_host="127.0.0.1", smtp_port=port,
                         smtp_from="wisbot@example.org")
    c = app.console
    refused = await c.type("anna.weber", "drill now gisc:Tokyo")
    assert refused.kind == "error" and "Secretariat" in render_text(refused)
    unknown = await c.type("sec-maria", "drill now gisc:Atlantis")
    assert unknown.kind == "error" and "Atlantis" in render_text(unknown)
    ok = await c.type("sec-maria", "drill now gisc:Tokyo")
    assert "DRILL DRILL-1 started" in render_text(ok), render_text(ok)
    await app.outbox.drain()
    await app.deliveries.drain()
    got = drill_pages(app, "gisc-tokyo")
    assert len(got) == 1 and got[0].startswith("DRILL P-1"), got
    assert "not an incident" in got[0]
    mails = inbox.to("ops@gisc-tokyo.example.org")
    assert len(mails) == 1 and mails[0]["Subject"].startswith("DRILL P-1"), mails
    # Nobody else is paged; no room hears of it.
    assert all(not drill_pages(app, cid) for cid in ("gisc-offenbach", "anna.weber"))
    assert "DRILL" not in room_text(app, "collaboration")


async def test_drill_pages_stop_at_the_first_answer(make_app: Any, clock: Any) -> None:
    clock.now = WED
    app = await make_app(audit_directory(EXAMPLE))
    c = app.console
    await c.type("sec-maria", "drill now all")
    await app.outbox.drain()
    roles = {p.role for p in await pages(app)}
    assert {"secretariat", "gisc:Offenbach", "gisc:Tokyo", "member:DE"} <= roles
    assert all(p.kind == "drill" and p.incident_id is None for p in await pages(app))
    # Someone else's drill page may not be answered by a reaction-free `ack DRILL-1`.
    await tick(app, clock, 5)
    ack = await c.type("gisc-offenbach", "ack DRILL-1")
    assert ack.kind != "error" and "gisc:Offenbach" not in render_text(ack).split("\n")[0]
    secretariat = next(p for p in await pages(app) if p.role == "secretariat")
    first = secretariat.chain[0]
    assert (await c.type(first, f"ack P-{secretariat.id}")).kind != "error"
    before = {cid: len(drill_pages(app, cid)) for cid in ("gisc-offenbach", "sec-desk",
                                                          "sec-maria", "gisc-tokyo")}
    await tick(app, clock, 10)   # 15 min: repeat
    await tick(app, clock, 15)   # 30 min: next on the chain
    await tick(app, clock, 40)   # 70 min: missed
    after = {cid: len(drill_pages(app, cid)) for cid in before}
    assert after["gisc-offenbach"] == before["gisc-offenbach"]  # answered: stopped
    assert after["sec-desk"] == before["sec-desk"]
    assert after["sec-maria"] == before["sec-maria"]
    assert after["gisc-tokyo"] > before["gisc-tokyo"]  # not answered: escalates
    by_role = {p.role: p for p in await pages(app)}
    assert by_role["gisc:Offenbach"].status == "acked"
    assert by_role["gisc:Offenbach"].acked_by == "gisc-offenbach"
    assert by_role["gisc:Tokyo"].missed_at is not None
    # The Secretariat's alert about the unanswered one says DRILL.
    assert "DRILL DRILL-1" in room_text(app, "secretariat")
    results = render_text(await c.type("sec-maria", "drill results"))
    assert "gisc:Offenbach: answered by GISC Offenbach operations desk after 5" in results
    assert "gisc:Tokyo: not answered within the 1-hour target" in results
    assert (await c.type("anna.weber", "drill results")).kind == "error"


async def test_drills_never_alter_incident_statistics(make_app: Any, clock: Any) -> None:
    clock.now = WED
    app = await make_app(audit_directory(EXAMPLE))
    c = app.console
    await c.type("anna.weber", SEVERE, "member-de")
    await tick(app, clock, 3)
    await c.type("gisc-offenbach", "ack WIS-SEC-2026-1")
    await tick(app, clock, 90)  # the incident's own pages have run their course
    now = clock.now + timedelta(hours=3)
    before = await app.store.tx(lambda s: annual_report(s, 2026, now))
    await c.type("sec-maria", "drill now all")
    await tick(app, clock, 7)
    await c.type("gisc-offenbach", "ack DRILL-1")
    await tick(app, clock, 90)
    after = await app.store.tx(lambda s: annual_report(s, 2026, now))
    for field in ("incidents", "by_severity", "pages", "pages_acknowledged",
                  "pages_secretariat_step", "pages_target_missed", "time_to_acknowledge",
                  "time_to_notify", "by_class"):
        assert getattr(after, field) == getattr(before, field), field
    assert before.reachability == {}
    offenbach = after.reachability["gisc:Offenbach"]
    assert offenbach["drills"] == 1 and offenbach["answered"] == 1
    assert offenbach["median_s"] == 7 * 60 and offenbach["within_1h"] == 1.0
    assert after.reachability["gisc:Tokyo"]["within_1h"] == 0.0
    assert next(iter(after.reachability)) == "secretariat"
    assert not any(r.startswith("member:") for r in after.reachability)
    stats = render_text(await c.type("sec-maria", "incident stats 2026", "secretariat"))
    assert "Incidents: 1" in stats
    assert "GISC Offenbach: 1 drill, answered 1, median 7 min" in stats, stats


async def test_scheduled_drill_starts_once_across_two_apps(make_app: Any, clock: Any) -> None:
    clock.now = WED
    directory = audit_directory(EXAMPLE)
    one = await make_app(directory)
    two = await make_app(directory)
    c = one.console
    assert (await c.type("anna.weber", "drill schedule 2026-12-07T09:00Z every=30")
            ).kind == "error"
    bad = await c.type("sec-maria", "drill schedule next-monday every=30")
    assert "not a time" in render_text(bad)
    ok = await c.type("sec-maria", "drill schedule 2026-12-07T09:00Z every=30")
    assert "every 30 days" in render_text(ok), render_text(ok)
    a, b = one.services.extra["continuity"], two.services.extra["continuity"]
    assert await a.run_due() == 0  # not yet
    clock.now = datetime(2026, 12, 7, 9, 5, tzinfo=UTC)
    results = await asyncio.gather(*(svc.run_due() for svc in (a, b, a, b)))
    assert sorted(results)[:3] == [0, 0, 0] and max(results) > 0
    runs = await one.store.tx(lambda s: list(s.exec(select(DrillRun)).all()))
    assert len(runs) == 1 and runs[0].started_by == "schedule"
    by_role: dict[str, int] = {}
    for p in await pages(one):
        by_role[p.role] = by_role.get(p.role, 0) + 1
    assert by_role and set(by_role.values()) == {1}
    # Later the same day: the same occurrence, nothing more; two days late: not sent late.
    clock.now = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    assert await b.run_due() == 0
    clock.now = datetime(2027, 1, 8, 9, 0, tzinfo=UTC)  # next was 6 January
    assert await a.run_due() == 0
    clock.now = datetime(2027, 2, 5, 9, 1, tzinfo=UTC)
    assert await b.run_due() > 0
    assert await a.run_due() == 0
    off = await c.type("sec-maria", "drill schedule off")
    assert "stopped" in render_text(off)
    clock.now = datetime(2027, 3, 7, 9, 1, tzinfo=UTC)
    assert await a.run_due() == 0


# ----- continuity plans ------------------------------------------------------------------

PLAN = ('continuity set DE-OF-NC services="GTS message switch, OAI-PMH portal" mto=8h '
        'rto=4h rpo=30m site="Hamburg backup hall" contacts="Desk +49 69 5550 1234" '
        'tested=2025-12-20')


async def test_continuity_plan_rules_and_audience(make_app: Any, clock: Any) -> None:
    clock.now = WED
    app = await make_app(audit_directory(EXAMPLE))
    c = app.console
    late = await c.type("anna.weber", PLAN.replace("rto=4h", "rto=12h"))
    assert "exceeds the maximum tolerable outage" in render_text(late)
    bad = await c.type("anna.weber", PLAN.replace("rpo=30m", "rpo=soon"))
    assert "not a duration" in render_text(bad)
    assert "missing site=" in render_text(await c.type(
        "anna.weber", PLAN.replace('site="Hamburg backup hall" ', "")))
    assert (await c.type("hiro.sato", PLAN)).kind == "error"
    ok = await c.type("anna.weber", PLAN, "member-de")
    shown = render_text(ok)
    assert "Hamburg backup hall" in shown and "Next test due: 2026-12-20" in shown, shown
    # Outsiders read the words of a centre with no plan.
    for who, room in (("hiro.sato", None), ("gisc-offenbach", "gisc-offenbach")):
        seen = render_text(await c.type(who, "continuity show DE-OF-NC", room))
        none = render_text(await c.type("sec-maria", "continuity show KE-NC"))
        assert seen == none.replace("KE-NC", "DE-OF-NC"), who
        assert "Hamburg" not in render_text(await c.type(who, "continuity list", room))
    assert "Hamburg" in render_text(await c.type("sec-maria", "continuity show DE-OF-NC"))
    assert "in the past" in render_text(await c.type(
        "anna.weber", "continuity tested DE-OF-NC 2027-01-01"))


async def test_continuity_test_reminders(make_app: Any, clock: Any) -> None:
    clock.now = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    app = await make_app(audit_directory(EXAMPLE))
    c = app.console
    await c.type("anna.weber", PLAN)
    svc = app.services.extra["continuity"]
    clock.now = datetime(2026, 11, 15, 7, 5, tzinfo=UTC)
    assert await svc.remind() == 0  # due 2026-12-20: more than 30 days ahead
    clock.now = datetime(2026, 11, 21, 7, 5, tzinfo=UTC)
    assert await svc.remind() == 1
    assert await svc.remind() == 0
    await app.outbox.drain()
    assert "due for a test by 2026-12-20" in room_text(app, "member-de")
    assert "due for a test" in room_text(app, "secretariat")
    assert "due for a test" not in room_text(app, "gisc-offenbach")
    await c.type("anna.weber", "continuity tested DE-OF-NC 2026-11-20")
    clock.now = datetime(2027, 10, 21, 7, 5, tzinfo=UTC)
    assert await svc.remind() == 1  # the next due date gets its own reminder


async def test_scheduled_drill_starts_once_across_two_processes(
        make_app: Any, clock: Any, db_url: str, tmp_path: Any) -> None:
    """Two real wisbot processes (``tests/drill_proc.py``) run the due drill at the same
    moment on the same database: one drill, one page per role."""
    clock.now = WED
    app = await make_app()
    await app.console.type("sec-maria", "drill schedule 2026-12-07T09:00Z every=30")
    now = datetime(2026, 12, 7, 9, 2, tzinfo=UTC).isoformat()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.drill_proc", db_url, now, str(tmp_path), cwd=ROOT,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        for _ in range(2)]
    try:
        deadline = time.monotonic() + 120
        while len(await asyncio.to_thread(lambda: list(tmp_path.glob("ready-*")))) < 2:
            assert time.monotonic() < deadline, "the processes did not start"
            assert all(p.returncode is None for p in procs)
            await asyncio.sleep(0.05)
        await asyncio.to_thread((tmp_path / "go").write_text, "go")
        done = [await asyncio.wait_for(p.communicate(), 120) for p in procs]
        outs = [(o.decode(), e.decode()) for o, e in done]
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs), outs
    started = sorted(int(out.strip().splitlines()[-1]) for out, _ in outs)
    assert started[0] == 0 and started[1] > 0, outs
    runs = await app.store.tx(lambda s: list(s.exec(select(DrillRun)).all()))
    assert len(runs) == 1
    roles = [p.role for p in await pages(app)]
    assert len(roles) == len(set(roles)) == started[1]


async def test_the_leader_schedules_the_reminders_and_drills_once_per_period(
        make_app: Any, clock: Any) -> None:
    clock.now = WED
    app = await make_app(audit_directory(EXAMPLE), run_worker=True)
    jobs = app.cron.jobs()
    assert {"audit-reminders", "continuity-reminders", "drills"} <= set(jobs)
    assert "hour='7'" in str(jobs["audit-reminders"].trigger)
    await app.console.type("sec-maria", "drill schedule 2026-12-02T09:00Z every=7")
    assert await app.cron.run_now("drills") == "ok"
    assert await app.cron.run_now("drills") == "skipped"  # same 5-minute period
    clock.now += timedelta(minutes=5)
    assert await app.cron.run_now("drills") == "ok"  # runs, but the drill is started
    runs = await app.store.tx(lambda s: list(s.exec(select(DrillRun)).all()))
    assert len(runs) == 1


async def test_moving_the_first_drill_just_after_one_ran_does_not_drill_again(
        make_app: Any, clock: Any) -> None:
    """A new first time minutes after a scheduled drill is a new slot: the period since
    the last scheduled drill still holds it back."""
    clock.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    app = await make_app(audit_directory(EXAMPLE))
    await app.console.type("sec-maria", "drill schedule 2026-12-07T09:00Z every=30")
    clock.now = datetime(2026, 12, 7, 9, 1, tzinfo=UTC)
    assert await app.services.extra["continuity"].run_due() > 0
    await app.console.type("sec-maria", "drill schedule 2026-12-07T09:05Z every=30")
    clock.now = datetime(2026, 12, 7, 9, 10, tzinfo=UTC)
    assert await app.services.extra["continuity"].run_due() == 0
    clock.now = datetime(2027, 1, 6, 9, 6, tzinfo=UTC)
    assert await app.services.extra["continuity"].run_due() > 0
    runs = await app.store.tx(lambda s: s.exec(select(DrillRun)).all())
    assert len(runs) == 2
