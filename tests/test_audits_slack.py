"""Audits, continuity plans and drills over Slack: slack-bolt's real request handling and
slack_sdk's client against the local fake of exactly the Web API used
(tests/_fake_slack.py; Slack is a hosted service). An outsider's slash command reads the
words of a missing case; the report reaches only its audience's channels; a drill page is
a DRILL direct message that stops at the first answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests._fake_slack import slack_id
from tests.audit_fixture import audit_data
from tests.conftest import EXAMPLE
from tests.test_slack import C, StartSlack, U, fake_slack, start_slack
from wisbot.directory import parse_directory

__all__ = ["fake_slack", "start_slack"]  # fixtures shared with test_slack

SECRET_FINDING = "alternate site shares the primary power feed"


def slack_audit_directory() -> Any:
    data = audit_data(EXAMPLE)
    for contact in data["contacts"]:
        contact.setdefault("chat", {})["slack"] = slack_id("U", contact["id"])
    for room in data["rooms"]:
        room["platform"] = "slack"
        room["address"] = slack_id("C", room["key"])
    return parse_directory(data, "slack audit directory")


def texts(env: Any, channel: str) -> str:
    return "\n".join(str(p.get("text", "")) + str(p.get("blocks", ""))
                     for p in env.fake.posts(channel))


async def test_audit_over_slack(start_slack: StartSlack, clock: Any) -> None:
    clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    env = await start_slack(slack_audit_directory())
    say = env.reply_to
    got = await say("anna.weber", "member-de", "/audit",
                    "request DE-OF-NC https://example.org/self-assessment.pdf")
    assert "AUD-1" in got["text"] and got["response_type"] == "ephemeral", got
    # A stranger to the case: the same words as a case that does not exist.
    real = await say("hiro.sato", None, "/audit", "show AUD-1")
    missing = await say("hiro.sato", None, "/audit", "show AUD-5")
    assert real["text"] == missing["text"].replace("AUD-5", "AUD-1")
    assert "DE-OF-NC" not in real["text"]
    bad_team = await say("sec-maria", "secretariat", "/audit",
                         "team AUD-1 lead=lena.huber expert=kofi.mensah")
    assert "Region VI" in bad_team["text"]
    await say("sec-maria", "secretariat", "/audit",
              "team AUD-1 lead=ines.duarte expert=kofi.mensah")
    for text in ("assess AUD-1", "satisfied AUD-1", "schedule AUD-1 2026-12-03"):
        assert "Refused" not in (await say("ines.duarte", None, "/audit", text))["text"]
    clock.now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    await say("ines.duarte", None, "/audit", "meeting AUD-1 opening")
    clock.now = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    closing = await say("ines.duarte", None, "/audit", "meeting AUD-1 closing")
    assert "2026-12-11" in closing["text"], closing
    await say("ines.duarte", None, "/audit",
              f"report AUD-1 outcome=not-compliant Finding: {SECRET_FINDING}")
    await env.app.outbox.drain()
    for room in ("member-de", "secretariat", "working-group"):
        assert SECRET_FINDING in texts(env, C(room)), room
    for room in ("gisc-offenbach", "collaboration", "area-offenbach"):
        assert SECRET_FINDING not in texts(env, C(room)), room


async def test_drill_over_slack_stops_at_first_answer(start_slack: StartSlack,
                                                       clock: Any) -> None:
    clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    env = await start_slack(slack_audit_directory())
    refused = await env.reply_to("gisc-tokyo", None, "/drill", "now gisc:Tokyo")
    assert "Secretariat" in refused["text"]
    await env.reply_to("sec-maria", "secretariat", "/drill", "now gisc:Tokyo")
    await env.app.outbox.drain()

    def drill_dms() -> list[dict[str, Any]]:
        return [p for p in env.fake.posts() if p["channel"].startswith("D")
                and "DRILL" in str(p.get("text", ""))]

    first = drill_dms()
    assert len(first) == 1 and str(first[0]["text"]).lstrip("*").startswith("DRILL P-1"), first
    ack = await env.reply_to("gisc-tokyo", None, "/ack", "DRILL-1")
    assert "acknowledged" in ack["text"].lower()
    clock.now += timedelta(minutes=70)
    await env.app.paging.tick()
    await env.app.outbox.drain()
    assert len(drill_dms()) == 1  # no reminder, no escalation after the answer
    assert U("gisc-tokyo")  # the contact paged has a Slack id


async def test_continuity_over_slack(start_slack: StartSlack, clock: Any) -> None:
    clock.now = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    env = await start_slack(slack_audit_directory())
    say = env.reply_to
    plan = ('set DE-OF-NC services="GTS switch" mto=2h rto=6h rpo=1h '
            'site="Lindau annex" contacts="desk"')
    late = await say("anna.weber", "member-de", "/continuity", plan)
    assert "exceeds the maximum tolerable outage" in late["text"]
    ok = await say("anna.weber", "member-de", "/continuity", plan.replace("rto=6h", "rto=1h"))
    assert "Lindau annex" in ok["text"] and ok["response_type"] == "ephemeral"
    seen = await say("gisc-offenbach", "gisc-offenbach", "/continuity", "show DE-OF-NC")
    none = await say("sec-maria", None, "/continuity", "show KE-NC")
    assert seen["text"] == none["text"].replace("KE-NC", "DE-OF-NC")
    assert (await env.app.services.extra["continuity"].remind()) == 1  # never tested: due
    await env.app.outbox.drain()
    assert "due for a test" in texts(env, C("member-de"))
    assert "Lindau" not in texts(env, C("gisc-offenbach"))
