"""Changes and the CAB on Slack. Slack is hosted: slack-bolt's real request handling and
slack_sdk's real client run against the local fake of exactly the Web API wisbot uses
(tests/_fake_slack.py), with the real App on SQLite (and PostgreSQL when configured).
Each person types ``/change …`` as a slash command and reads the answer that came back
through its response_url; rooms are read from what the fake Slack received."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests._fake_slack import slack_id
from tests.changes.conftest import change_directory
from tests.changes.test_changes_console import REQUEST, SECRET_WORDS
from tests.test_slack import C, StartSlack, fake_slack, mrkdwn_texts, start_slack  # noqa: F401
from wisbot.directory import Directory, parse_directory


def slack_change_directory(base: Directory) -> Directory:
    data: dict[str, Any] = change_directory(base).model_dump(mode="json")
    for contact in data["contacts"]:
        contact.setdefault("chat", {})["slack"] = slack_id("U", contact["id"])
    for room in data["rooms"]:
        room["platform"], room["address"] = "slack", slack_id("C", room["key"])
    return parse_directory(data, "<slack change directory>")


def text_of(payload: dict[str, Any]) -> str:
    return "\n".join(mrkdwn_texts(payload))


async def test_the_steps_on_slack_with_refusals_and_rooms(
        start_slack: StartSlack, example_directory: Directory,  # noqa: F811
        clock: Any) -> None:
    env = await start_slack(slack_change_directory(example_directory))
    fields = REQUEST.removeprefix("change ")

    async def change(who: str, room: str | None, text: str) -> str:
        reply = await env.reply_to(who, room, "/change", text)
        assert reply["response_type"] == "ephemeral"  # answers are the caller's alone
        return text_of(reply)

    missing = await change("anna.weber", "member-de", fields.replace('why="Vendor end of life" ',
                                                                     ""))
    assert "missing why=" in missing and "Usage: change request" in missing
    assert "CHG-2026-1 recorded" in await change("anna.weber", "member-de", fields)
    ghost = await change("jonas.keller", None, "show CHG-2026-9")
    real = await change("jonas.keller", None, "show CHG-2026-1")
    assert real == ghost.replace("CHG-2026-9", "CHG-2026-1")
    assert "no change CHG-2026-1 that you may see" in real
    assert "accepted" in await change("sec-maria", "secretariat",
                                      "accept CHG-2026-1 priority=urgent")
    no_risk = await change("cab.chair", "cab", "decide CHG-2026-1 authorise")
    assert "no risk assessment" in no_risk
    assert "only members of the change advisory board" in \
        await change("sec-maria", "secretariat", "decide CHG-2026-1 authorise")
    await change("cab.chair", "cab", "assess CHG-2026-1 risk=low Rehearsed twice")
    # authorised at a CAB meeting whose agenda lists it
    at = clock.now + timedelta(hours=1)
    assert "scheduled" in await change("cab.chair", "cab", f"cab schedule {at:%Y-%m-%dT%H:%MZ}")
    await env.app.services.extra["changes"].post_agendas()
    clock.advance(hours=1)
    assert "authorised by the CAB (Ingrid Solberg)" in \
        await change("cab.chair", "cab", "decide CHG-2026-1 authorise")
    assert "CHG-2026-1" in await change("anna.weber", None, "calendar")

    await env.app.outbox.drain()
    for room in ("member-de", "secretariat", "cab"):
        posted = "\n".join(text_of(p) for p in env.fake.posts(C(room)))
        assert "authorised by the CAB (Ingrid Solberg)" in posted, room
    for room in ("gisc-offenbach", "gisc-tokyo", "collaboration", "area-offenbach", "duty"):
        posted = "\n".join(text_of(p) for p in env.fake.posts(C(room)))
        for word in SECRET_WORDS:
            assert word not in posted, (room, word)
