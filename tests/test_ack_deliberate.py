"""Acknowledgement is deliberate: a reaction or a reply acts only on a *page* message, and
only on the page of the person's own role; acknowledging by incident number acts on one's
own pages only; the reply says what was acknowledged.

Reactions are passed as an adapter passes them (``Invocation.extra["ack_of"]``: the id of
the message reacted to), on the console and both databases."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

from sqlmodel import select

from tests._fake_slack import block_actions_payload, sign
from tests.test_slack import (  # noqa: F401  (pytest fixtures)
    SECRET,
    StartSlack,
    U,
    blocks_of,
    fake_slack,
    start_slack,
)
from wisbot.adapters.base import Invocation, RoomRef, UserRef
from wisbot.clock import utcnow
from wisbot.ids import Platform
from wisbot.reply import Reply
from wisbot.store.paging_tables import Page
from wisbot.store.tables import OutboxRow

CONSOLE = Platform("console")
SEVERE = ("incident report DE-OF-NC share=principal-gisc sev=3 Phishing mails to the "
          "Offenbach operators")


async def statuses(app: Any) -> dict[str, str]:
    rows = await app.store.tx(lambda s: list(s.exec(select(Page)).all()))
    return {p.role: p.status for p in rows}


async def message_of(app: Any, room_key: str, kind: str) -> str:
    """The platform id of the delivered message of ``kind`` in ``room_key`` (``@id``: DM)."""
    def find(s: Any) -> str:
        for row in s.exec(select(OutboxRow).where(OutboxRow.room_key == room_key,
                                                  OutboxRow.status == "delivered")):
            if row.payload.get("kind") == kind:
                return str(row.message_id)
        raise AssertionError(f"no delivered {kind} in {room_key}")
    return str(await app.store.tx(find))


async def react(app: Any, who: str, message_id: str, room: str | None) -> Reply:
    """``who`` reacts ✅ to ``message_id`` (in ``room``'s address; None: a direct chat)."""
    address = app.directory.room(room).target if room else None
    inv = Invocation(platform=CONSOLE, sender=UserRef(CONSOLE, who), text="ack",
                     room=RoomRef(CONSOLE, address) if address else None,
                     received_at=utcnow(), extra={"ack_of": message_id})
    reply: Reply = await app.dispatch(inv)
    return reply


async def test_a_reaction_on_an_incident_notice_acknowledges_nothing(make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    await app.outbox.drain()
    notice = await message_of(app, "secretariat", "incident")
    hint = await react(app, "sec-maria", notice, "secretariat")
    assert hint.kind == "hint" and hint.private and "nothing was acknowledged" in hint.plain()
    notice = await message_of(app, "gisc-offenbach", "incident")
    await react(app, "gisc-offenbach", notice, "gisc-offenbach")
    assert await statuses(app) == {"gisc:Offenbach": "open", "secretariat": "open"}


async def test_a_reaction_on_ones_own_page_acknowledges_that_page_only(make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    await app.outbox.drain()
    page = await message_of(app, "@gisc-offenbach", "page")
    reply = await react(app, "gisc-offenbach", page, None)
    assert reply.kind != "error", reply.plain()
    text = reply.plain()
    assert "Acknowledged: P-1" in text and "GISC Offenbach, WIS-SEC-2026-1" in text
    assert "within the 1-hour target" in text
    assert await statuses(app) == {"gisc:Offenbach": "acked", "secretariat": "open"}


async def test_a_reaction_on_someone_elses_page_acts_on_nothing(make_app: Any) -> None:
    """The Secretariat's page alert about GISC Offenbach's page is not a page: a ✅ on it
    is a hint; and a contact reacting to a page of a role not theirs acknowledges nothing."""
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    await app.outbox.drain()
    page = await message_of(app, "@gisc-offenbach", "page")
    hint = await react(app, "sec-desk", page, None)
    assert hint.kind == "hint" and "ack P-1" in hint.plain()
    assert await statuses(app) == {"gisc:Offenbach": "open", "secretariat": "open"}
    # Typed with its number, the Secretariat's acknowledgement is deliberate: it acts.
    typed = await app.console.type("sec-desk", "ack P-1")
    assert "Acknowledged: P-1" in typed.plain()


async def test_ack_by_incident_number_acts_on_the_callers_own_pages_only(
        make_app: Any) -> None:
    """A Secretariat 'seen' by incident number must not stop GISC Offenbach's escalation."""
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    reply = await app.console.type("sec-desk", "ack WIS-SEC-2026-1")
    assert "P-2" in reply.plain() and "P-1" not in reply.plain()
    assert await statuses(app) == {"gisc:Offenbach": "open", "secretariat": "acked"}


async def test_a_reaction_on_an_unknown_message_is_only_a_hint(make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    hint = await react(app, "gisc-offenbach", "c-no-such-message", "gisc-offenbach")
    assert hint.kind == "hint"
    assert await statuses(app) == {"gisc:Offenbach": "open", "secretariat": "open"}


async def test_a_second_reaction_says_who_already_acknowledged(make_app: Any) -> None:
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    await app.outbox.drain()
    page = await message_of(app, "@gisc-offenbach", "page")
    await react(app, "gisc-offenbach", page, None)
    again = await react(app, "gisc-offenbach", page, None)
    assert again.kind == "error" and "already acknowledged by GISC Offenbach" in again.plain()


async def test_a_reaction_passed_with_its_page_number_still_needs_ones_own_role(
        make_app: Any) -> None:
    """The Matrix adapter turns a ✅ on a page into `ack P-n` with the message it was on
    (``extra["ack_message"]``): a Secretariat contact's reaction on GISC Offenbach's page
    is not a deliberate acknowledgement of it."""
    app = await make_app()
    await app.console.type("anna.weber", SEVERE, "member-de")
    await app.outbox.drain()
    page = await message_of(app, "@gisc-offenbach", "page")
    inv = Invocation(platform=CONSOLE, sender=UserRef(CONSOLE, "sec-maria"), text="ack P-1",
                     received_at=utcnow(), extra={"ack_message": page})
    refused = await app.dispatch(inv)
    assert refused.kind == "error"
    assert await statuses(app) == {"gisc:Offenbach": "open", "secretariat": "open"}
    own = Invocation(platform=CONSOLE, sender=UserRef(CONSOLE, "gisc-offenbach"),
                     text="ack P-1", received_at=utcnow(), extra={"ack_message": page})
    assert "Acknowledged: P-1" in (await app.dispatch(own)).plain()


async def test_slack_acknowledge_button_acts_only_for_ones_own_role(
        start_slack: StartSlack) -> None:  # noqa: F811
    """Through slack-bolt against tests/_fake_slack.py: the page's Acknowledge button,
    pressed by a Secretariat contact (not on GISC Offenbach's chain), acknowledges
    nothing; pressed by the desk it acknowledges that page and says so."""
    env = await start_slack()
    for _ in range(200):  # the start-up room checks pass (rooms are held until then)
        if not env.app.holds:
            break
        await asyncio.sleep(0.05)
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=principal-gisc sev=4 Credentials stolen")
    desk_dm = "D" + U("gisc-offenbach")
    for _ in range(100):  # the page's direct message, once the outbox has sent it
        await env.app.outbox.drain()
        if env.fake.posts(desk_dm):
            break
        await asyncio.sleep(0.05)
    (posted,) = env.fake.posts(desk_dm)
    (button,) = next(b for b in blocks_of(posted) if b["type"] == "actions")["elements"]

    async def click(who: str, name: str) -> dict[str, Any]:
        before = len(env.fake.responses)
        payload = block_actions_payload(user=U(who), channel=desk_dm, action=button,
                                        response_url=env.fake.response_url(name))
        body = urlencode({"payload": json.dumps(payload)})
        status, _, _ = await env.post(body, sign(SECRET, body))
        assert status == 200
        return (await env.fake.wait_responses(before + 1))[before][1]

    refused = await click("sec-maria", "sec")
    assert refused["response_type"] == "ephemeral" and "no open page" in refused["text"]
    assert (await statuses(env.app))["gisc:Offenbach"] == "open"
    done = await click("gisc-offenbach", "desk")
    assert "Acknowledged: P-1" in done["text"]
    assert (await statuses(env.app))["gisc:Offenbach"] == "acked"
