"""Global Monitor alerts through the Alertmanager webhook receiver (Alertmanager's
``webhook_config`` JSON, version "4", copied into fixtures/alertmanager_*.json with alert
names and severities of the WIS2 Global Broker and Global Cache rule files).

Posted over real HTTP to the aiohttp receiver inside the App; SQLite and, with
WISBOT_TEST_POSTGRES_URL, PostgreSQL (two Apps on one database stand for two replicas
behind a load balancer)."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from tests.helpers import room_text
from wisbot.store.alerts_jira_tables import AlertReceipt, AlertTicket
from wisbot.store.watch_tables import WatchTicket, WatchTicketEvent

FIX = Path(__file__).parent / "fixtures"
TOKEN = "am-token-5f1d"
# Words the wrong rooms must never read, written by hand
DE_CENTRE = "de-dwd"
JP_CENTRE = "jp-jma"
NOT_OFFENBACH_ROOMS = ["gisc-exeter", "gisc-seoul", "gisc-beijing", "gisc-washington",
                       "gisc-brasilia", "collaboration", "member-de", "secretariat"]


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIX / name).read_text())
    return doc


async def alert_app(watch_app: Any, **kw: Any) -> Any:
    kw.setdefault("duty_room", True)
    return await watch_app(alerts_port=0, alerts_token=TOKEN, **kw)


def url_of(app: Any) -> str:
    server = app.alerts_jira.server
    assert server is not None and server.url
    return str(server.url)


async def post(app: Any, body: Any, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    content = body if isinstance(body, bytes | str) else json.dumps(body)
    async with httpx.AsyncClient() as c:
        return await c.post(url_of(app), content=content,
                            headers={**headers, "Content-Type": "application/json"})


async def tickets(app: Any) -> list[WatchTicket]:
    return list(await app.store.tx(lambda s: s.exec(select(WatchTicket).order_by(
        WatchTicket.id)).all()))


async def test_critical_opens_one_ticket_per_alert_and_centre_and_repeats_do_not(
        watch_app: Any) -> None:
    app = await alert_app(watch_app)
    r = await post(app, load("alertmanager_firing.json"))
    assert r.status_code == 200, r.text
    assert r.json()["opened"] == [1, 2]
    got = await tickets(app)
    assert [(t.subject, t.impact, t.state, t.reporter) for t in got] == [
        ("Offenbach", "high", "triage", "alertmanager"),
        ("Tokyo", "high", "triage", "alertmanager")]
    assert got[0].finding.startswith("de-dwd : Disconnected WIS2 Node from all Global Brokers")
    keys = await app.store.tx(lambda s: sorted(
        (k.key, k.ticket_id) for k in s.exec(select(AlertTicket)).all()))
    assert keys == [("No_data:jp-jma", 2), ("disconnectedwis2nodeallgb:de-dwd", 1)]

    # Alertmanager's repeat (repeat_interval) and a retry: nothing new
    for _ in range(2):
        r = await post(app, load("alertmanager_firing.json"))
        assert r.status_code == 200 and r.json()["repeats"] == 2 and r.json()["opened"] == []
    # the same alert in another group's notification, plus a second series of the same
    # alert and centre (another fingerprint): still one ticket per alertname:centre_id
    grouped = load("alertmanager_firing.json")
    grouped["groupKey"] = "{}:{centre_id=\"de-dwd\"}"
    other = copy.deepcopy(grouped["alerts"][0])
    other["fingerprint"] = "5f3b1c2a9d0e7f99"
    other["labels"]["instance"] = "gb-two"
    grouped["alerts"] = [grouped["alerts"][0], other]
    r = await post(app, grouped)
    assert r.json()["opened"] == [] and r.json()["noted"] == [1] and r.json()["repeats"] == 1
    assert len(await tickets(app)) == 2

    await app.outbox.drain()
    offenbach = room_text(app, "gisc-offenbach")
    assert "Watch ticket #1 – new ticket" in offenbach and DE_CENTRE in offenbach
    assert "Watch ticket #1" in room_text(app, "duty")
    assert JP_CENTRE in room_text(app, "gisc-tokyo")
    assert JP_CENTRE not in offenbach
    for key in NOT_OFFENBACH_ROOMS:
        assert DE_CENTRE not in room_text(app, key), key


async def test_resolved_notes_and_proposes_closing_and_firing_again_reopens(
        watch_app: Any, clock: Any) -> None:
    app = await alert_app(watch_app)
    await post(app, load("alertmanager_firing.json"))
    resolved = load("alertmanager_firing.json")
    resolved["status"] = "resolved"
    for a in resolved["alerts"]:
        a["status"] = "resolved"
        a["endsAt"] = "2026-03-02T09:40:00.000Z"
    r = await post(app, resolved)
    assert r.json()["noted"] == [1, 2]
    assert (await tickets(app))[0].state == "triage"  # closing is a person's decision
    events = await app.store.tx(lambda s: s.exec(select(WatchTicketEvent).where(
        WatchTicketEvent.ticket_id == 1)).all())
    assert events[-1].kind == "note"
    assert "resolved at 2026-03-02T09:40:00.000Z" in events[-1].text
    assert "close it with `watch ticket 1 done <evidence>`" in events[-1].text
    await app.outbox.drain()
    assert "alert resolved – close proposed" in room_text(app, "gisc-offenbach")

    await app.console.type("watch-op", "watch ticket 1 done Connected to all GBs since 09:40",
                           "duty")
    clock.advance(hours=3)
    again = load("alertmanager_firing.json")
    again["alerts"] = [again["alerts"][0]]
    again["alerts"][0]["startsAt"] = "2026-03-02T12:00:00.000Z"
    r = await post(app, again)
    assert r.json()["reopened"] == [1] and r.json()["opened"] == []
    got = await tickets(app)
    assert len(got) == 2 and got[0].state == "triage" and got[0].closed_at is None


async def test_error_goes_to_the_duty_room_warning_to_the_daily_digest(
        watch_app: Any, clock: Any) -> None:
    app = await alert_app(watch_app)
    r = await post(app, load("alertmanager_mixed.json"))
    assert r.json() | {"skipped": []} == r.json()
    assert (r.json()["posted"], r.json()["digest"], r.json()["opened"]) == (1, 1, [])
    await app.outbox.drain()
    duty = room_text(app, "duty")
    assert "Global Monitor error alert firing" in duty
    assert "Alert: disconnectedwis2nodemultiplegb" in duty
    assert "Centre: fr-meteofrance" in duty
    assert "Download errors" not in duty  # a warning waits for the digest
    assert "fr-meteofrance" not in room_text(app, "gisc-toulouse")
    alerts = app.alerts_jira.alerts
    assert await alerts.digest() == 1
    assert await alerts.digest() == 0  # once a day, also after a restart
    await app.outbox.drain()
    duty = room_text(app, "duty")
    assert "Global Monitor warnings since" in duty
    assert "fr-meteofrance · Download_errors_from_centre · firing" in duty
    clock.advance(days=1)
    assert await alerts.digest() == 0  # nothing new
    # a month on: receipts of alerts no longer sent are purged, those still sent are kept
    clock.advance(days=29)
    still = load("alertmanager_mixed.json")
    still["alerts"] = [still["alerts"][0]]
    assert (await post(app, still)).json()["repeats"] == 1
    clock.advance(days=2)
    await alerts.digest()
    left = await app.store.tx(lambda s: [r.alertname for r in s.exec(select(AlertReceipt))])
    assert left == ["disconnectedwis2nodemultiplegb"]
    assert (await post(app, still)).json()["repeats"] == 1  # not posted again


async def test_wrong_token_and_bad_bodies_are_clear_4xx_and_lose_nothing(
        watch_app: Any) -> None:
    app = await alert_app(watch_app)
    body = load("alertmanager_firing.json")
    for token in (None, "wrong"):
        r = await post(app, body, token=token)
        assert r.status_code == 401 and "bearer token" in r.json()["error"]
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert await tickets(app) == []
    r = await post(app, b'{"version": "4", "alerts": [')
    assert r.status_code == 400 and "not JSON" in r.json()["error"]
    r = await post(app, b"[1, 2]")
    assert r.status_code == 400 and "JSON object" in r.json()["error"]
    r = await post(app, {"version": "4", "status": "firing"})
    assert r.status_code == 400 and "alerts" in r.json()["error"]
    r = await post(app, {"version": "3", "alerts": []})
    assert r.status_code == 400 and "version" in r.json()["error"]
    r = await post(app, b'{"alerts": [], "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}')
    assert r.status_code == 413 and "bytes" in r.json()["error"]
    # one broken alert in a good notification: the others are kept, the broken one named
    mixed = load("alertmanager_firing.json")
    mixed["alerts"].append({"status": "firing", "labels": {"severity": "critical"}})
    mixed["alerts"].append("nonsense")
    r = await post(app, mixed)
    assert r.status_code == 200 and r.json()["opened"] == [1, 2]
    assert r.json()["skipped"] == ["alerts[2]: no alertname label",
                                   "alerts[3]: not an alert with labels"]


async def test_a_database_failure_is_a_5xx_and_the_retry_is_applied_once(
        watch_app: Any) -> None:
    app = await alert_app(watch_app)
    store = app.alerts_jira.alerts.store
    real = store.tx
    calls = {"n": 0}

    async def failing(fn: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("INSERT", {}, Exception("database is down"))
        return await real(fn)

    store.tx = failing
    try:
        r = await post(app, load("alertmanager_firing.json"))
        assert r.status_code == 503  # Alertmanager retries on 5xx
        assert await tickets(app) == []
        r = await post(app, load("alertmanager_firing.json"))
        assert r.status_code == 200 and r.json()["opened"] == [1, 2]
    finally:
        store.tx = real


async def test_two_replicas_receiving_the_same_notifications_act_once(
        watch_app: Any) -> None:
    """Two Apps on one database (PostgreSQL: two replicas behind a load balancer), each
    with its own receiver; Alertmanager's notifications reach both, at the same time."""
    one = await alert_app(watch_app)
    two = await alert_app(watch_app, roster=None)
    firing = load("alertmanager_firing.json")
    grouped = copy.deepcopy(firing)
    grouped["groupKey"] = "{}:{centre_id=\"de-dwd\"}"
    grouped["alerts"] = [firing["alerts"][0]]
    answers = await asyncio.gather(post(one, firing), post(two, firing), post(one, grouped),
                                   post(two, grouped), post(two, firing))
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert sorted(t for r in answers for t in r.json()["opened"]) == [1, 2]
    assert len(await tickets(one)) == 2
    opened = await one.store.tx(lambda s: s.exec(select(WatchTicketEvent).where(
        WatchTicketEvent.kind == "opened")).all())
    assert len(opened) == 2
