"""The one reply rule: a reply is posted where the command was typed only if everyone that
room admits may read all of it; otherwise it is the caller's alone (Slack: ephemeral).
Refusals reveal nothing: a hidden page reads as a missing one.

On the console (both databases) and on Slack through slack-bolt against tests/_fake_slack.py.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from tests.test_slack import (  # noqa: F401  (pytest fixtures)
    StartSlack,
    fake_slack,
    start_slack,
)
from wisbot.adapters.console import render_text
from wisbot.reply import ReplyBuilder

SEVERE = ("incident report DE-OF-NC share=principal-gisc sev=3 Phishing mails to the "
          "Offenbach operators")


async def test_ack_in_the_collaboration_room_is_private_and_in_the_gisc_room_public(
        make_app: Any) -> None:
    app = await make_app()
    c = app.console
    await c.type("anna.weber", SEVERE, "member-de")
    # Every GISC sits in the collaboration room: the page's role and incident are not theirs.
    shared = await c.type("gisc-offenbach", "ack P-1", "collaboration")
    assert "P-1" in shared.plain() and "WIS-SEC-2026-1" in shared.plain()
    assert shared.private
    # The Secretariat room may read its own page's reply.
    mine = await c.type("sec-desk", "ack P-2", "secretariat")
    assert "acknowledged by" in mine.plain()
    assert not mine.private


async def test_an_ack_in_the_gisc_room_tells_the_room(make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    reply = await app.console.type("gisc-offenbach", "ack P-1", "gisc-offenbach")
    assert "acknowledged by GISC Offenbach operations desk" in reply.plain()
    assert not reply.private  # everyone in GISC Offenbach's room may read the incident


async def test_escalate_is_posted_only_where_the_room_may_read_it(make_app: Any,
                                                                 clock: Any) -> None:
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=all-giscs anonymous sev=3 "
                 "Anna Weber saw EDZW logins", "member-de")
    # GISC Offenbach (the principal GISC) reads it anonymised in its own room: the reply
    # is the room's.
    tokyo = await c.type("gisc-offenbach", "escalate WIS-SEC-2026-1 no answer yet",
                         "gisc-offenbach")
    assert tokyo.kind != "error", tokyo.plain()
    assert not tokyo.private
    for word in ("Anna", "Weber", "EDZW", "DE-OF-NC", "Germany", "DWD", "Member DE"):
        assert word not in render_text(tokyo)
    # In the member room, the Member's focal point escalates (escalations of one
    # incident are 5 minutes apart at least): public there.
    clock.advance(minutes=6)
    own = await c.type("anna.weber", "escalate WIS-SEC-2026-1", "member-de")
    assert not own.private and own.kind != "error", own.plain()
    # In the collaboration room the incident is not readable: the refusal is private and
    # reads like one for a missing incident.
    hidden = await c.type("gisc-tokyo", "escalate WIS-SEC-2026-1", "collaboration")
    missing = await c.type("gisc-tokyo", "escalate WIS-SEC-2026-77", "collaboration")
    assert hidden.private and hidden.kind == "error"
    assert hidden.plain().replace("-1 ", "-N ") == missing.plain().replace("-77 ", "-N ")


async def test_override_list_is_private_outside_the_roles_rooms(make_app: Any,
                                                                clock: Any) -> None:
    app = await make_app()
    c = app.console
    end = (clock.now + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    r = await c.type("gisc-tokyo", f"escalate override gisc:Tokyo gisc-tokyo now {end} "
                     "Hiroshi on sick leave", "gisc-tokyo")
    assert r.kind != "error", r.plain()
    other = await c.type("gisc-exeter", "escalate override list", "collaboration")
    assert "sick leave" not in other.plain()  # another role's stand-ins are not Exeter's
    shared = await c.type("gisc-tokyo", "escalate override list", "collaboration")
    assert "sick leave" in shared.plain() and shared.private
    own = await c.type("gisc-tokyo", "escalate override list", "gisc-tokyo")
    assert not own.private
    sec = await c.type("sec-desk", "escalate override list", "secretariat")
    assert not sec.private


async def test_a_report_typed_where_the_incident_may_not_be_seen_is_answered_privately(
        make_app: Any) -> None:
    app = await make_app()
    reply = await app.console.type(
        "anna.weber", "incident report DE-OF-NC share=secretariat sev=2 Quiet one",
        "collaboration")
    assert reply.private and "may not see this incident" in reply.plain()


async def test_dispatch_decides_from_what_a_reply_reveals(make_app: Any,
                                                          monkeypatch: Any) -> None:
    """The one place: a reply that declares a hidden incident is made private by dispatch,
    even when the service built it as a public one."""
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")

    async def careless_show(caller: Any, number: str) -> Any:
        return ReplyBuilder("WIS-SEC-2026-1 – details").reveal("WIS-SEC-2026-1") \
            .line("Phishing mails to the Offenbach operators").build()

    monkeypatch.setattr(app.services.incidents, "show", careless_show)
    shared = await app.console.type("gisc-offenbach", "incident show WIS-SEC-2026-1",
                                    "collaboration")
    assert shared.private
    own = await app.console.type("gisc-offenbach", "incident show WIS-SEC-2026-1",
                                 "gisc-offenbach")
    assert not own.private


async def test_a_page_not_yours_reads_like_a_missing_one(make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    hidden = render_text(await app.console.type("gisc-tokyo", "ack P-1", "gisc-tokyo"))
    missing = render_text(await app.console.type("gisc-tokyo", "ack P-42", "gisc-tokyo"))
    assert hidden.replace("P-1 ", "P-N ") == missing.replace("P-42 ", "P-N ")
    for word in ("Offenbach", "DE-OF-NC", "WIS-SEC"):
        assert word not in hidden


async def test_slack_ack_in_a_shared_channel_is_ephemeral(start_slack: StartSlack) -> None:  # noqa: F811
    """Through slack-bolt against the fake Slack: the answer to `ack P-1` in the
    collaboration channel comes back ephemeral, in the GISC's own channel in_channel."""
    env = await start_slack()
    for _ in range(200):  # the start-up room checks pass (rooms are held until then)
        if not env.app.holds:
            break
        await asyncio.sleep(0.05)
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=principal-gisc sev=4 Stolen credentials")
    shared = await env.reply_to("gisc-offenbach", "collaboration", "/ack", "P-1")
    assert shared["response_type"] == "ephemeral" and "P-1" in shared["text"]
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=principal-gisc sev=4 Second one")
    own = await env.reply_to("gisc-offenbach", "gisc-offenbach", "/ack", "P-3")
    assert own["response_type"] == "in_channel" and "P-3" in own["text"]
