"""Red team, round 3 (GISC Watch side): failing tests needing the watch and JIRA fixtures
of tests/watch (kept here because pytest fixtures of a sub-folder's conftest are not seen
from tests/test_redteam_round3.py). JIRA is tests/_fake_jira.py, the local fake of exactly
the Jira Data Center REST v2 endpoints wisbot uses; Alertmanager's notifications are its
real webhook JSON (fixtures/alertmanager_firing.json). Each test was written failing
(``xfail(strict=True)``) and now passes with its finding's fix."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from tests._fake_jira import FakeJira
from tests.helpers import room_text
from tests.watch.test_alerts import alert_app, load, post, tickets
from tests.watch.test_jira import fake_jira, jira_app, mirror  # noqa: F401  (fixtures)
from wisbot.store.watch_tables import WatchTicketEvent

# ----- finding 3: a person's JIRA comment that quotes wisbot is dropped ---------------------

async def test_a_reply_quoting_wisbots_comment_is_still_read_back(
        jira_app: Any, fake_jira: FakeJira) -> None:  # noqa: F811
    """A GISC answers wisbot's comment in JIRA the usual way: it quotes it
    ({quote}…{quote}) and writes below. The quoted marker makes wisbot drop the whole
    comment as "one of ours": the rooms never read the answer, the ticket never records
    it. wisbot's own comments should be told apart by their author (the PAT's account),
    not by text any person can paste."""
    app = await jira_app()
    await app.console.type("watch-op", "watch ticket add Exeter Portal login times out",
                           "duty")
    await app.console.type("gisc-exeter", "watch ticket 1 assign Exeter", "gisc-exeter")
    r = await app.console.type("gisc-exeter", "watch ticket 1 progress Restarting the login "
                               "service", "gisc-exeter")
    assert r.kind != "error", r.plain()
    await mirror(app).tick(poll=True)
    ours = fake_jira.issues["WIS2IMS-1"].comments[-1]["body"]
    assert "(wisbot W-1 #" in ours, ours
    fake_jira.person_comments(
        "WIS2IMS-1", "{quote}" + ours + "{quote}\nNot fixed: the portal still refuses "
        "logins from Exeter's Bracknell proxy", "ukmo.duty", "Met Office duty")
    await mirror(app).poll()
    await app.outbox.drain()
    events = await app.store.tx(lambda s: [e.text for e in s.exec(select(
        WatchTicketEvent).where(WatchTicketEvent.ticket_id == 1)).all()])
    assert any("Bracknell proxy" in e for e in events), events
    assert "Bracknell proxy" in room_text(app, "gisc-exeter")


# ----- finding 4: a resolved alert that arrives first leaves a ticket open for ever ----------

async def test_firing_after_its_own_resolved_does_not_open_a_ticket(watch_app: Any) -> None:
    """Alertmanager runs as an HA pair and both replicas send; a firing POST that got a 503
    is retried after the other replica's resolved one was accepted. The receipts then
    hold "resolved" for (fingerprint, startsAt) and the late "firing" of the very same
    alert instance opens a High ticket in TRIAGE that no later notification will touch
    (Alertmanager sends nothing more for a resolved alert): TRIAGE is no longer zero and
    the GISC is told of an outage that ended."""
    app = await alert_app(watch_app)
    firing = load("alertmanager_firing.json")
    firing["alerts"] = [firing["alerts"][0]]
    resolved = load("alertmanager_firing.json")
    resolved["alerts"] = [resolved["alerts"][0]]
    resolved["status"] = "resolved"
    resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = "2026-03-02T09:40:00.000Z"
    r = await post(app, resolved)
    assert r.status_code == 200, r.text
    r = await post(app, firing)
    assert r.status_code == 200, r.text
    open_ = [t for t in await tickets(app) if t.state != "done"]
    assert open_ == [], [(t.id, t.state, t.finding) for t in open_]


# ----- finding 12: one grouped notification of error alerts floods the duty room ------------

async def test_a_grouped_error_notification_is_one_duty_post(watch_app: Any) -> None:
    """A Global Broker restarts: Alertmanager groups the `error` alert of every WIS2 Node it
    served into one notification (group_by alertname). The duty room receives one post
    per alert, 40 here, each a chat-server send under its rate limit, burying the one
    that matters. Alertmanager already grouped them: one post per notification (with the
    centres listed) is what a duty operator can read."""
    app = await alert_app(watch_app)
    body = load("alertmanager_firing.json")
    proto = body["alerts"][0]
    body["groupKey"] = "{}/{severity=\"error\"}:{alertname=\"Download_errors\"}"
    body["commonLabels"] = {"alertname": "Download_errors", "severity": "error"}
    alerts = []
    for i in range(40):
        a = {**proto, "labels": {"alertname": "Download_errors", "severity": "error",
                                 "centre_id": f"xx-node-{i:02d}"},
             "annotations": {"summary": "Download errors above 10 %"},
             "fingerprint": f"e{i:015x}"}
        alerts.append(a)
    body["alerts"] = alerts
    r = await post(app, body)
    assert r.status_code == 200, r.text
    await app.outbox.drain()
    posts = app.console.rooms.get("duty", [])
    assert len(posts) <= 3, f"{len(posts)} duty posts for one notification"


async def test_a_deeply_nested_notification_is_a_400_not_a_retry(watch_app: Any) -> None:
    """json.loads raises RecursionError (not ValueError) on deep nesting; the receiver
    takes it for a database failure and asks Alertmanager to send it again."""
    app = await alert_app(watch_app)
    r = await post(app, "[" * 100_000)
    assert r.status_code == 400, (r.status_code, r.text)
