"""Handover per the 2025 practice: report to the next GISC, e-mail over real SMTP
(aiosmtpd), the page hook, acceptance, reminders, the GISC that never accepts, and
escalation to the ET-WISOP chair."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from tests.helpers import room_text
from wisbot.store.paging_tables import Page


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def smtp_settings(port: int) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False,
            "smtp_from": "wisbot@gisc-tokyo.example.org",
            "watch_ops_email": "gisc-ops@lists.example.org"}


async def test_handover_posts_mails_pages_and_accept_ends_the_outgoing_watch(
        watch_app: Any, clock: Any, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    app = await watch_app(**smtp_settings(port))

    def pages(session: Any) -> list[tuple[str, str, str, str]]:
        return [(p.kind, p.ref, p.role, p.status) for p in session.exec(select(Page)).all()]
    await app.console.type("watch-op", "watch ticket add Exeter OAI provider not active",
                           "gisc-tokyo")
    clock.advance(days=12)  # 2026-03-14, Tokyo's period ends on the 15th
    reply = await app.console.type("gisc-tokyo", "watch handover Ticket 1 needs follow-up",
                                   "gisc-tokyo")
    assert reply.title == "Handover HO-1 sent to GISC Exeter", reply.plain()
    assert "GISC Tokyo stays on watch until GISC Exeter types `watch accept`" in reply.plain()
    assert "E-mailed to the next GISC" in reply.plain()
    await app.outbox.drain()
    exeter = room_text(app, "gisc-exeter")
    assert "GISC Watch handover HO-1: GISC Tokyo → GISC Exeter" in exeter
    assert "Note: Ticket 1 needs follow-up" in exeter
    assert "1 | 02/03/2026 | GISC Exeter | OAI provider not active | open | Watch Operator" \
        in exeter
    assert "Duty GISC: GISC Tokyo; watch period from 01/03/2026 to 14/03/2026" in exeter
    assert "Please confirm with `watch accept`" in exeter
    assert "HO-1" in room_text(app, "collaboration")
    assert "HO-1" not in room_text(app, "gisc-seoul")
    # the next GISC is paged (on-call chain of gisc:Exeter) until it accepts
    assert await app.store.tx(pages) == [("handover", "HO-1", "gisc:Exeter", "open")]

    # the e-mail, through a real SMTP server
    for _ in range(50):
        if inbox.messages:
            break
        await asyncio.sleep(0.02)
    (sender, rcpts, msg), = inbox.messages
    assert sender == "wisbot@gisc-tokyo.example.org"
    assert msg["To"] == "ops@gisc-exeter.example.org"
    assert "gisc-ops@lists.example.org" in msg["Cc"] and "wis-security@example.org" in msg["Cc"]
    assert set(rcpts) >= {"ops@gisc-exeter.example.org", "gisc-ops@lists.example.org",
                          "wis-security@example.org"}
    assert msg["Subject"] == "GISC Watch handover HO-1: GISC Tokyo to GISC Exeter"
    body = msg.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "| 1 | 02/03/2026 | GISC Exeter | OAI provider not active | open |" in body
    assert "Please confirm by typing `watch accept`" in body

    clock.advance(days=2)  # 2026-03-16: Exeter's period has started
    w = app.services.watch
    assert await app.store.tx(lambda s: w.on_watch(s, clock())) == ["Exeter", "Tokyo"]
    wrong = await app.console.type("gisc-seoul", "watch accept", "gisc-seoul")
    assert wrong.kind == "error"
    accepted = await app.console.type("gisc-exeter", "watch accept", "gisc-exeter")
    assert accepted.title == "Handover HO-1 accepted"
    assert "Open tickets to review: 1 (#1)" in accepted.plain()
    assert await app.store.tx(lambda s: w.on_watch(s, clock())) == ["Exeter"]
    assert await app.store.tx(pages) == [("handover", "HO-1", "gisc:Exeter", "stopped")]
    await app.outbox.drain()
    assert "GISC Exeter accepted the GISC Watch from GISC Tokyo" in room_text(app, "gisc-tokyo")


async def test_a_gisc_that_never_accepts(watch_app: Any, clock: Any) -> None:
    app = await watch_app()
    w = app.services.watch
    clock.advance(days=13)  # 2026-03-15 09:00, the last day of Tokyo's period
    reply = await app.console.type("gisc-tokyo", "watch handover", "gisc-tokyo")
    assert "Not e-mailed: no SMTP server is configured" in reply.plain()
    assert await w.handover_tick() == ["period-start Tokyo"]  # the notice for Tokyo's period
    clock.advance(hours=15)  # 2026-03-16 00:00: Exeter's period starts regardless
    assert await w.handover_tick() == ["period-start Exeter"]
    await app.outbox.drain()
    assert "The watch period of GISC Exeter runs 16/03/2026 – 31/03/2026 (00:00–23:59 UTC) and " \
           "has started, handover report received." in room_text(app, "gisc-exeter")
    summary = await app.console.type("gisc-exeter", "watch", "gisc-exeter")
    assert "Duty GISC: GISC Exeter" in summary.plain()
    assert "Also on watch: GISC Tokyo until GISC Exeter accepts the handover" in summary.plain()
    clock.advance(hours=9)  # 24 h after the report
    assert await w.handover_tick() == ["remind HO-1"]
    assert await w.handover_tick() == []
    await app.outbox.drain()
    assert "Reminder: GISC Watch handover HO-1" in room_text(app, "gisc-exeter")
    assert "GISC Tokyo stays on watch until you do" in room_text(app, "gisc-exeter")
    # the outgoing GISC still gets the watch posts
    await w.run("daily")
    await app.outbox.drain()
    assert "GISC Watch daily report" in room_text(app, "gisc-tokyo")
    assert "GISC Watch daily report" in room_text(app, "gisc-exeter")
    # deadline: 72 h from the later of the report and the period start (16th 00:00)
    clock.advance(hours=24)  # 17th 09:00
    assert await w.handover_tick() == ["remind HO-1"]
    clock.advance(hours=39)  # 19th 00:00
    assert await w.handover_tick() == ["escalate HO-1 to Brasilia"]
    assert await w.handover_tick() == []  # once
    await app.outbox.drain()
    brasilia = room_text(app, "gisc-brasilia")
    assert "GISC Exeter has not accepted the watch from GISC Tokyo" in brasilia
    assert "GISC Brasilia, next on the roster after GISC Exeter: please agree a revised " \
           "handover date with GISC Tokyo; the remaining period can be split" in brasilia
    assert "has not accepted" in room_text(app, "secretariat")
    assert "has not accepted" in room_text(app, "gisc-exeter")
    assert "has not accepted" not in room_text(app, "gisc-seoul")


async def test_only_the_duty_gisc_hands_over_and_late_handover_goes_to_the_current(
        watch_app: Any, clock: Any) -> None:
    app = await watch_app()
    refused = await app.console.type("gisc-seoul", "watch handover", "gisc-seoul")
    assert refused.kind == "error" and "only the duty GISC (GISC Tokyo)" in refused.plain()
    # Offenbach's period ended on 28/02; handing over late goes to Tokyo, already on duty
    late = await app.console.type("gisc-offenbach", "watch handover sorry, late",
                                  "gisc-offenbach")
    assert late.title == "Handover HO-1 sent to GISC Tokyo", late.plain()
    await app.outbox.drain()
    assert "watch period from 16/02/2026 to 28/02/2026" in room_text(app, "gisc-tokyo")
    none = await app.console.type("gisc-exeter", "watch accept", "gisc-exeter")
    assert none.kind == "error" and "no handover waiting" in none.plain()


async def test_escalate_reaches_the_et_wisop_chair(watch_app: Any) -> None:
    app = await watch_app(watch_escalation_contact="et-chair",
                          watch_escalation_room="secretariat")
    reply = await app.console.type("gisc-tokyo", "watch escalate GISC Exeter unreachable for "
                                   "two weeks", "gisc-tokyo")
    assert "Sent to the ET-WISOP chair: secretariat, @et-chair" in reply.plain()
    await app.outbox.drain()
    direct = "\n".join(r.plain() for r in app.console.direct["et-chair"])
    assert "GISC Watch escalation to the ET-WISOP chair" in direct
    assert "From: GISC Tokyo operations desk (GISC Tokyo)" in direct
    assert "GISC Exeter unreachable for two weeks" in room_text(app, "secretariat")


async def test_escalate_without_a_chair_says_what_to_configure(watch_app: Any) -> None:
    app = await watch_app()
    reply = await app.console.type("gisc-tokyo", "watch escalate help me", "gisc-tokyo")
    assert reply.kind == "error" and "watch_escalation_contact" in reply.plain()


async def test_unknown_escalation_contact_fails_at_start(make_app: Any) -> None:
    from wisbot.errors import NotFound

    with pytest.raises(NotFound, match="unknown contact 'et-chiar'"):
        await make_app(watch_escalation_contact="et-chiar", watch_enabled=False)


