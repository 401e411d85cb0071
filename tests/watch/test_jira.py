"""The WIS2 IMS mirror against tests/_fake_jira.py, a local fake of exactly the Jira Data
Center REST API v2 endpoints wisbot uses (create issue, get issue, search by JQL,
transitions list/do, comments list/add, assignee, watchers), with a bearer token (PAT).
JIRA itself cannot run here. SQLite and, with WISBOT_TEST_POSTGRES_URL, PostgreSQL (two
Apps on one database stand for two processes)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from tests._fake_jira import FakeJira
from tests.helpers import room_text
from tests.watch.conftest import MARCH, THREE, WIS2, watch_directory
from tests.watch.test_alerts import TOKEN, load, post
from wisbot.directory import Directory, parse_directory
from wisbot.services.status import collect
from wisbot.store.alerts_jira_tables import JiraChange
from wisbot.store.watch_tables import WatchTicket

PAT = "pat-7c1e-wis2ims"
ROOT = Path(__file__).resolve().parent.parent.parent
# each GISC's account in WIS2 IMS, written by hand (the directory's jira_account)
ACCOUNTS = {"Offenbach": "dwd.gisc.ops", "Tokyo": "jma.gisc.watch", "Exeter": "ukmo.gisc",
            "Toulouse": "mf.gisc"}


def jira_directory(example: Directory) -> Directory:
    base = watch_directory(example, duty_room=True, services=THREE, wis2=WIS2)
    data: dict[str, Any] = base.model_dump(mode="json")
    for g in data["giscs"]:
        if g["name"] in ACCOUNTS:
            g["jira_account"] = ACCOUNTS[g["name"]]
    return parse_directory(data, "<jira test directory>")


@pytest.fixture
async def fake_jira() -> AsyncIterator[FakeJira]:
    fake = FakeJira(token=PAT, users=tuple(ACCOUNTS.values()))
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def jira_app(make_app: Any, example_directory: Directory, fake_jira: FakeJira) -> Any:
    async def factory(*, roster: str | None = MARCH, **settings: Any) -> Any:
        settings.setdefault("watch_enabled", False)
        settings.setdefault("jira_url", fake_jira.url)
        settings.setdefault("jira_token", PAT)
        settings.setdefault("jira_timeout_s", 2.0)
        app = await make_app(jira_directory(example_directory), alerts_port=0,
                             alerts_token=TOKEN, **settings)
        if roster:
            await app.services.watch.import_roster(roster)
        return app

    return factory


def mirror(app: Any) -> Any:
    m = app.alerts_jira.mirror
    assert m is not None
    return m


async def queue(app: Any) -> list[JiraChange]:
    return list(await app.store.tx(lambda s: s.exec(select(JiraChange).order_by(
        JiraChange.id)).all()))


async def ticket(app: Any, n: int) -> WatchTicket:
    t: WatchTicket = await app.store.tx(lambda s: s.get(WatchTicket, n))
    return t


async def test_every_ticket_is_created_with_the_wis2_ims_fields(
        jira_app: Any, fake_jira: FakeJira) -> None:
    app = await jira_app()
    firing = load("alertmanager_firing.json")  # de-dwd and jp-jma, critical
    firing["alerts"][0]["annotations"]["description"] = "wmo_wis2_gb_connected_flag 0 on 3 GBs"
    await post(app, firing)
    await app.console.type("watch-op", "watch ticket add Exeter Portal login times out "
                           "impact=medium", "duty")
    assert [c.kind for c in await queue(app)] == ["opened"] * 3  # same transaction as the ticket
    assert await mirror(app).tick(poll=False) == 3
    assert sorted(fake_jira.issues) == ["WIS2IMS-1", "WIS2IMS-2", "WIS2IMS-3"]
    de = fake_jira.issues["WIS2IMS-1"]
    assert de.fields["summary"] == "de-dwd : Disconnected WIS2 Node from all Global Brokers"
    assert "wmo_wis2_gb_connected_flag 0 on 3 GBs" in de.fields["description"]
    assert de.fields["issuetype"] == {"name": "Incident"}
    assert de.fields["priority"] == {"name": "High"}
    assert de.fields["project"] == {"key": "WIS2IMS"}
    assert de.fields["labels"] == ["wisbot", "wisbot-1"]
    assert de.fields["status"] == {"name": "TRIAGE"}
    # the area table: de → GISC Offenbach; the roster: Tokyo on watch (Offenbach too, its
    # handover not yet accepted, but the duty GISC is the watcher)
    assert de.fields["assignee"]["name"] == "dwd.gisc.ops"
    assert de.watchers == ["jma.gisc.watch"]
    assert fake_jira.issues["WIS2IMS-2"].fields["assignee"]["name"] == "jma.gisc.watch"
    exeter = fake_jira.issues["WIS2IMS-3"]
    assert exeter.fields["summary"] == "Exeter : Portal login times out"
    assert exeter.fields["priority"] == {"name": "Medium"}
    assert exeter.fields["assignee"]["name"] == "ukmo.gisc"
    assert all(c.done and not c.dead for c in await queue(app))
    assert await mirror(app).tick(poll=False) == 0  # nothing twice


async def test_status_changes_notes_and_recoveries_become_transitions_and_comments(
        jira_app: Any, fake_jira: FakeJira) -> None:
    app = await jira_app()
    await app.console.type("watch-op", "watch ticket add Exeter Portal login times out", "duty")
    await app.console.type("gisc-exeter", "watch ticket 1 assign Exeter", "gisc-exeter")
    await app.console.type("gisc-exeter", "watch ticket 1 progress Restarting the login "
                           "service", "gisc-exeter")
    await app.console.type("gisc-exeter", "watch ticket 1 review", "gisc-exeter")
    await app.console.type("watch-op", "watch ticket 1 done Portal answers since 10:05 UTC, "
                           "login checked by the duty GISC", "duty")
    await mirror(app).tick(poll=False)
    issue = fake_jira.issues["WIS2IMS-1"]
    assert issue.fields["status"] == {"name": "DONE"}
    bodies = [c["body"] for c in issue.comments]
    assert bodies[0].startswith("GISC Exeter operations desk: assigned to GISC Exeter")
    assert bodies[1].startswith("GISC Exeter operations desk: In Progress – Restarting the "
                                "login service")
    assert bodies[2].startswith("Watch Operator: Done – Portal answers since 10:05 UTC")
    assert len(bodies) == 3  # "review" carried no note: a transition only
    transitions = [c for c in fake_jira.calls if c == ("POST",
                                                       "/rest/api/2/issue/WIS2IMS-1/transitions")]
    assert len(transitions) == 3  # TO DO (assigned) is not a move here, PROGRESS, REVIEW, DONE

    # a Global Monitor recovery: a comment with the close proposal, no transition
    await post(app, load("alertmanager_firing.json"))
    resolved = load("alertmanager_firing.json")
    for a in resolved["alerts"]:
        a["status"] = "resolved"
        a["endsAt"] = "2026-03-02T09:40:00.000Z"
    await post(app, resolved)
    await mirror(app).tick(poll=False)
    de = fake_jira.issues["WIS2IMS-2"]
    assert de.fields["status"] == {"name": "TRIAGE"}
    assert "resolved at 2026-03-02T09:40:00.000Z" in de.comments[-1]["body"]
    assert "close it with `watch ticket 2 done <evidence>`" in de.comments[-1]["body"]


async def test_changes_made_in_jira_are_read_back_and_told_to_the_rooms(
        jira_app: Any, fake_jira: FakeJira) -> None:
    app = await jira_app()
    await post(app, load("alertmanager_firing.json"))
    await mirror(app).tick(poll=True)
    await app.outbox.drain()
    fake_jira.person_assigns("WIS2IMS-1", "dwd.gisc.ops")
    fake_jira.person_moves("WIS2IMS-1", "IN PROGRESS")
    fake_jira.person_comments("WIS2IMS-1", "DWD broker credentials renewed, reconnecting")
    calls = len(fake_jira.calls)
    assert await mirror(app).poll() == 2  # assignee unchanged (already theirs): status, comment
    t = await ticket(app, 1)
    assert (t.state, t.assignee) == ("progress", "GISC Offenbach")
    await app.outbox.drain()
    offenbach = room_text(app, "gisc-offenbach")
    assert "moved to In Progress in WIS2 IMS (WIS2IMS-1)" in offenbach
    assert "comment in WIS2 IMS (WIS2IMS-1)" in offenbach
    assert "HAN Xinqiang: DWD broker credentials renewed, reconnecting" in offenbach
    assert "DWD broker credentials" in room_text(app, "duty")
    assert "DWD broker credentials" not in room_text(app, "gisc-exeter")
    # read back, not echoed: no queued change, no write to JIRA
    assert await mirror(app).tick(poll=True) == 0
    assert [m for m, _ in fake_jira.calls[calls:] if m != "GET"] == []
    assert await mirror(app).poll() == 0  # the same comment is not told twice
    fake_jira.person_assigns("WIS2IMS-1", "ukmo.gisc")
    assert await mirror(app).poll() == 1
    assert (await ticket(app, 1)).assignee == "GISC Exeter"
    fake_jira.person_moves("WIS2IMS-1", "DONE")
    await mirror(app).poll()
    assert (await ticket(app, 1)).state == "done"


async def test_inactive_tickets_get_the_reminder_inside_jira(
        jira_app: Any, fake_jira: FakeJira, clock: Any) -> None:
    app = await jira_app()
    await app.console.type("watch-op", "watch ticket add Exeter Portal login times out", "duty")
    await mirror(app).tick(poll=False)
    clock.advance(days=13)
    assert await app.services.watch.remind_stalled() == []
    clock.advance(days=2)
    assert await app.services.watch.remind_stalled() == [1]
    await mirror(app).tick(poll=False)
    body = fake_jira.issues["WIS2IMS-1"].comments[-1]["body"]
    assert body.startswith("Reminder from the GISC Watch on duty: this ticket has had no "
                           "activity for 15 days.")


async def test_handover_report_counts_by_status_and_checks_triage_zero(
        jira_app: Any) -> None:
    app = await jira_app()
    await app.console.type("watch-op", "watch ticket add Exeter Portal down", "duty")
    await app.console.type("watch-op", "watch ticket add Tokyo SRU slow", "duty")
    await app.console.type("watch-op", "watch ticket 2 assign Tokyo", "duty")
    rep = await app.services.watch.report()
    assert rep.by_status == {"TRIAGE": 1, "TO DO": 1, "IN PROGRESS": 0, "IN REVIEW": 0,
                             "DONE": 0}
    text = rep.markdown()
    assert "- TRIAGE: 1" in text
    assert "TRIAGE zero: NOT met – 1 in TRIAGE (#1): assign them and move them to TO DO" in text
    await app.console.type("watch-op", "watch ticket 1 assign Exeter", "duty")
    assert "TRIAGE zero: met" in (await app.services.watch.report()).markdown()


async def test_jira_down_then_back_replays_in_order_without_duplicates(
        jira_app: Any, fake_jira: FakeJira, clock: Any) -> None:
    app = await jira_app()
    await fake_jira.stop()
    await app.console.type("watch-op", "watch ticket add Exeter Portal down", "duty")
    await app.console.type("watch-op", "watch ticket 1 assign Exeter", "duty")
    await app.console.type("watch-op", "watch ticket 1 progress first look", "duty")
    assert await mirror(app).tick(poll=False) == 0
    assert "JIRA unreachable" in (mirror(app).problem or "")
    rows = await queue(app)
    assert [r.done for r in rows] == [False] * 3 and rows[0].attempts == 1
    status = await app.store.tx(lambda s: collect(s, None, app.settings, clock()))
    line = next(x for x in status.lines() if x.startswith("WIS2 IMS mirror"))
    assert line.startswith("WIS2 IMS mirror: 3 change(s) pending; oldest pending")
    assert "0 refused; last error: JIRA unreachable" in line
    await fake_jira.start()  # same port
    assert await mirror(app).tick(poll=False) == 0  # backing off, in order
    clock.advance(seconds=5)
    assert await mirror(app).tick(poll=False) == 3
    assert list(fake_jira.issues) == ["WIS2IMS-1"]
    issue = fake_jira.issues["WIS2IMS-1"]
    assert [c["body"].split("\n\n(wisbot")[0] for c in issue.comments] == [
        "Watch Operator: assigned to GISC Exeter", "Watch Operator: In Progress – first look"]
    assert issue.fields["status"] == {"name": "IN PROGRESS"}


async def test_a_slow_jira_times_out_and_the_retry_finds_the_issue_it_created(
        jira_app: Any, fake_jira: FakeJira, clock: Any) -> None:
    app = await jira_app(jira_timeout_s=0.3)
    await app.console.type("watch-op", "watch ticket add Exeter Portal down", "duty")
    fake_jira.slow = 0.6  # answers after the client gave up; the issue is still created
    assert await mirror(app).tick(poll=False) == 0
    assert "did not answer in time" in (mirror(app).problem or "")
    await asyncio.sleep(0.8)
    fake_jira.slow = 0
    clock.advance(seconds=5)
    assert await mirror(app).tick(poll=False) == 1
    assert len(fake_jira.by_label("wisbot-1")) == 1  # found by its label, not created again


async def test_401_waits_for_a_new_token_and_429_honours_retry_after(
        jira_app: Any, fake_jira: FakeJira, clock: Any) -> None:
    app = await jira_app()
    await app.console.type("watch-op", "watch ticket add Exeter Portal down", "duty")
    fake_jira.token = "rotated"  # the PAT expired
    assert await mirror(app).tick(poll=False) == 0
    assert "refused the token (401)" in (mirror(app).problem or "")
    assert (await queue(app))[0].done is False
    fake_jira.token = PAT
    clock.advance(seconds=299)
    assert await mirror(app).tick(poll=False) == 0
    clock.advance(seconds=2)
    assert await mirror(app).tick(poll=False) == 1

    await app.console.type("watch-op", "watch ticket 1 assign Exeter", "duty")
    fake_jira.retry_after = "30"
    fake_jira.fail_next = [429]
    assert await mirror(app).tick(poll=False) == 0
    row = (await queue(app))[-1]
    assert (row.next_attempt_at - clock()).total_seconds() == pytest.approx(30, abs=1)
    clock.advance(seconds=20)
    assert await mirror(app).tick(poll=False) == 0
    clock.advance(seconds=11)
    assert await mirror(app).tick(poll=False) == 1
    assert len(fake_jira.issues["WIS2IMS-1"].comments) == 1


async def test_a_restart_mid_queue_resumes_in_order_and_duplicates_nothing(
        jira_app: Any, fake_jira: FakeJira, clock: Any) -> None:
    app = await jira_app()
    await app.console.type("watch-op", "watch ticket add Exeter Portal down", "duty")
    await app.console.type("watch-op", "watch ticket 1 assign Exeter", "duty")
    await app.console.type("watch-op", "watch ticket 1 progress looking", "duty")
    await app.console.type("watch-op", "watch ticket 1 review fixed?", "duty")
    # the comment reaches JIRA, then JIRA fails before wisbot marks it: the process stops
    m = mirror(app)
    real = m._seen

    async def crash(*a: Any) -> None:
        raise RuntimeError("killed")

    m._seen = crash
    with pytest.raises(RuntimeError):
        await m.drain()
    m._seen = real
    await app.stop()
    clock.advance(seconds=120)  # the dead process's lease expires (database clock: wait it)
    again = await jira_app(roster=None, jira_lease_seconds=5)
    await _lease_expires(again)
    assert await mirror(again).tick(poll=False) == 3  # the one it was doing, and the rest
    issue = fake_jira.issues["WIS2IMS-1"]
    assert len(fake_jira.issues) == 1 and issue.fields["status"] == {"name": "IN REVIEW"}
    assert [c["body"].split("\n\n(wisbot")[0] for c in issue.comments] == [
        "Watch Operator: assigned to GISC Exeter", "Watch Operator: In Progress – looking",
        "Watch Operator: In Review – fixed?"]


async def _lease_expires(app: Any) -> None:
    from sqlalchemy import update

    from wisbot.store.alerts_jira_tables import JiraLease

    def expire(session: Any) -> None:
        from datetime import UTC, datetime

        session.execute(update(JiraLease).values(until=datetime(2001, 1, 1, tzinfo=UTC)))

    await app.store.tx(expire)


async def test_two_processes_on_one_database_mirror_each_change_once(
        jira_app: Any, fake_jira: FakeJira) -> None:
    one = await jira_app()
    two = await jira_app(roster=None)
    for n in range(1, 6):
        await one.console.type("watch-op", f"watch ticket add Exeter Finding {n}", "duty")
        await two.console.type("watch-op", f"watch ticket {n} assign Exeter", "duty")
        await one.console.type("watch-op", f"watch ticket {n} progress step {n}", "duty")
    results = await asyncio.gather(*(mirror(a).tick(poll=False) for a in (one, two, one, two)))
    assert sum(results) == 15
    assert 0 in results  # the other process held the lease
    assert len(fake_jira.issues) == 5
    for n in range(1, 6):
        issue = fake_jira.by_label(f"wisbot-{n}")[0]
        assert [c["body"].split("\n\n(wisbot")[0] for c in issue.comments] == [
            "Watch Operator: assigned to GISC Exeter", f"Watch Operator: In Progress – step {n}"]
    assert all(r.done and not r.dead for r in await queue(one))


async def test_the_running_app_receives_alerts_and_mirrors_them_by_itself(
        jira_app: Any, fake_jira: FakeJira) -> None:
    """``wisbot run``'s App: the receiver and the mirror's loop run inside it."""
    app = await jira_app(run_worker=True, watch_enabled=True)
    assert "alerts-digest" in app.scheduler.jobs()
    r = await post(app, load("alertmanager_firing.json"))
    assert r.status_code == 200
    for _ in range(100):
        if len(fake_jira.issues) == 2:
            break
        await asyncio.sleep(0.05)
    assert sorted(i.fields["summary"] for i in fake_jira.issues.values()) == [
        "de-dwd : Disconnected WIS2 Node from all Global Brokers",
        "jp-jma : No data from centre in any Global Cache"]


async def test_a_change_jira_refuses_for_good_is_kept_and_does_not_block_the_rest(
        jira_app: Any, fake_jira: FakeJira) -> None:
    app = await jira_app()
    await app.console.type("watch-op", "watch ticket add Exeter Portal down", "duty")
    await app.console.type("watch-op", "watch ticket add Tokyo SRU slow", "duty")
    await mirror(app).tick(poll=False)
    await app.console.type("watch-op", "watch ticket 1 assign Exeter", "duty")
    await app.console.type("watch-op", "watch ticket 2 assign Tokyo", "duty")
    fake_jira.fail_next = [400]  # the first call of ticket 1's change
    assert await mirror(app).tick(poll=False) == 1
    rows = await queue(app)
    dead = [r for r in rows if r.dead]
    assert len(dead) == 1 and dead[0].ticket_id == 1 and "400" in (dead[0].last_error or "")
    assert all(r.done for r in rows)
    assert len(fake_jira.by_label("wisbot-2")[0].comments) == 1


async def test_settings_without_tokens_are_refused_at_start(
        make_app: Any, example_directory: Directory) -> None:
    with pytest.raises(ValueError, match="alerts_token"):
        await make_app(example_directory, alerts_port=0)
    with pytest.raises(ValueError, match="jira_token"):
        await make_app(example_directory, jira_url="http://127.0.0.1:9")


async def test_two_os_processes_on_one_database_mirror_each_change_once(
        jira_app: Any, fake_jira: FakeJira, db_url: str) -> None:
    """Two real ``python`` processes (tests/watch/jira_proc.py) drain one queue against the
    fake JIRA served by this test: each change reaches JIRA once, in order per ticket."""
    app = await jira_app()
    for n in range(1, 9):
        await app.console.type("watch-op", f"watch ticket add Exeter Finding {n}", "duty")
        await app.console.type("watch-op", f"watch ticket {n} assign Exeter", "duty")
        await app.console.type("watch-op", f"watch ticket {n} progress step {n}", "duty")
    root = ROOT
    env = {**os.environ, "PYTHONPATH": str(root)}
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.watch.jira_proc", db_url, fake_jira.url, PAT,
        cwd=root, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        for _ in range(2)]
    outs = [await p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), [e.decode()[-2000:] for _, e in outs]
    counts = [int(o.decode().strip().splitlines()[-1]) for o, _ in outs]
    assert sum(counts) == 24
    assert len(fake_jira.issues) == 8
    for n in range(1, 9):
        issue = fake_jira.by_label(f"wisbot-{n}")[0]
        # (the processes' directory lacks the watch contacts: the id signs the comment)
        assert [c["body"].split("\n\n(wisbot")[0] for c in issue.comments] == [
            "watch-op: assigned to GISC Exeter", f"watch-op: In Progress – step {n}"]
        assert issue.fields["status"] == {"name": "IN PROGRESS"}


async def test_tickets_opened_before_jira_was_configured_are_mirrored_once_it_is(
        jira_app: Any, make_app: Any, example_directory: Directory,
        fake_jira: FakeJira) -> None:
    before = await make_app(jira_directory(example_directory), watch_enabled=False)
    await before.services.watch.import_roster(MARCH)
    await before.console.type("watch-op", "watch ticket add Exeter Portal down", "duty")
    await before.console.type("watch-op", "watch ticket add Tokyo SRU slow", "duty")
    await before.console.type("watch-op", "watch ticket 2 done fixed meanwhile", "duty")
    assert await queue(before) == []  # no JIRA configured: nothing queued
    await before.stop()
    app = await jira_app(roster=None)
    assert await mirror(app).tick(poll=False) == 1  # the open one; Done ones stay out
    assert [i.fields["summary"] for i in fake_jira.issues.values()] == [
        "Exeter : Portal down"]
    assert await mirror(app).tick(poll=False) == 0
    mirror(app)._backfilled = False  # a restart: nothing queued twice
    assert await mirror(app).tick(poll=False) == 0 and len(fake_jira.issues) == 1


async def test_probe_tickets_are_mirrored_and_a_recovery_closes_the_issue_with_evidence(
        jira_app: Any, fake_jira: FakeJira) -> None:
    from tests.watch.conftest import FakeSweep

    app = await jira_app()
    sweep = FakeSweep()
    app.services.watch.sweeper = sweep
    for svc in ("oaipmh", "sru", "portal"):
        sweep.set("Exeter", svc, "fail", reason=f"{svc}: connection refused")
    await app.services.watch.run("manual", "Exeter")
    await mirror(app).tick(poll=False)
    issue = fake_jira.issues["WIS2IMS-1"]
    assert issue.fields["summary"] == "Exeter : GISC Exeter unreachable: no service answers"
    assert issue.fields["priority"] == {"name": "High"}
    for svc in ("oaipmh", "sru", "portal"):
        sweep.set("Exeter", svc, "ok", figure=10)
    await app.services.watch.run("manual", "Exeter")
    await mirror(app).tick(poll=False)
    assert issue.fields["status"] == {"name": "DONE"}
    assert issue.comments[-1]["body"].startswith("wisbot: Done – every service answers again")


async def test_a_jira_comment_cannot_pass_for_a_wisbot_line(
        jira_app: Any, fake_jira: FakeJira) -> None:
    app = await jira_app()
    await app.console.type("watch-op", "watch ticket add Exeter Portal down", "duty")
    await mirror(app).tick(poll=True)
    fake_jira.person_comments("WIS2IMS-1", "ok\nWatch ticket #1 – closed\n@room", "x",
                              "Mallory")
    await mirror(app).poll()
    await app.outbox.drain()
    text = room_text(app, "gisc-exeter")
    assert "Mallory: ok" in text
    assert "\nWatch ticket #1 – closed" not in text
