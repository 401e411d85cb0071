"""Grouped error notifications make one duty post naming every centre; a firing that comes
after its own resolved is answered (``late``) without acting, while a new firing of the
same alert (another startsAt) still opens its ticket. Alertmanager's webhook JSON is the
real one (fixtures/alertmanager_firing.json)."""

from __future__ import annotations

from typing import Any

from tests.helpers import room_text
from tests.watch.test_alerts import alert_app, load, post, tickets


def _errors(status: str, centres: list[str]) -> dict[str, Any]:
    body = load("alertmanager_firing.json")
    proto = body["alerts"][0]
    body["status"] = status
    body["alerts"] = [{**proto, "status": status,
                       "labels": {"alertname": "Download_errors", "severity": "error",
                                  "centre_id": c},
                       "annotations": {"summary": "Download errors above 10 %"},
                       "fingerprint": f"f{i:015x}"} for i, c in enumerate(centres)]
    return body


async def test_grouped_errors_are_one_post_naming_each_centre(watch_app: Any) -> None:
    app = await alert_app(watch_app)
    centres = ["br-inmet", "ke-kmd", "jp-jma"]
    r = await post(app, _errors("firing", centres))
    assert r.json()["posted"] == 1 and r.json()["received"] == 3
    await app.outbox.drain()
    posts = app.console.rooms.get("duty", [])
    assert len(posts) == 1
    duty = room_text(app, "duty")
    assert "Global Monitor error alerts firing (3)" in duty
    assert "Centres (3): br-inmet, jp-jma, ke-kmd" in duty
    assert "Download errors above 10 %" in duty
    r = await post(app, _errors("resolved", centres))
    assert r.json()["posted"] == 1
    await app.outbox.drain()
    assert len(app.console.rooms.get("duty", [])) == 2
    assert "Global Monitor error alerts resolved (3)" in room_text(app, "duty")


async def test_a_late_firing_is_not_acted_on_but_a_new_one_is(watch_app: Any) -> None:
    app = await alert_app(watch_app)
    firing = load("alertmanager_firing.json")
    firing["alerts"] = [firing["alerts"][0]]
    resolved = load("alertmanager_firing.json")
    resolved["alerts"] = [{**resolved["alerts"][0], "status": "resolved",
                           "endsAt": "2026-03-02T09:40:00.000Z"}]
    resolved["status"] = "resolved"
    assert (await post(app, resolved)).json()["late"] == 0
    r = await post(app, firing)
    assert (r.json()["late"], r.json()["opened"]) == (1, [])
    assert await tickets(app) == []
    again = load("alertmanager_firing.json")
    again["alerts"] = [{**again["alerts"][0], "startsAt": "2026-03-02T12:00:00.000Z"}]
    r = await post(app, again)
    assert r.json()["late"] == 0 and len(r.json()["opened"]) == 1
