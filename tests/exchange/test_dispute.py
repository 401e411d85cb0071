"""The three-stage dispute procedure, typed by focal points in their rooms (console), on
SQLite and PostgreSQL, with the working group's mail going to a real SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from typer.testing import CliRunner

from tests.conftest import EXAMPLE
from tests.helpers import room_text
from wisbot.cli import app as cli
from wisbot.clock import FakeClock
from wisbot.store.exchange_tables import ExchangeRecord, ExchangeVolume

RECORD = "urn:x-wmo:md:int.wmo.wis::HHXA50EDZW"
CASE = "WIS-NRT-2026-1"
OTHER_GISCS = ["Beijing", "Brasilia", "Casablanca", "Exeter", "Jeddah", "Melbourne",
               "Moscow", "New Delhi", "Pretoria", "Seoul", "Tehran", "Tokyo", "Toulouse",
               "Washington"]
NEVER_TOLD = ("collaboration", "area-offenbach", "area-tokyo")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Any]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[int, Inbox]]:
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(inbox, hostname="127.0.0.1"),
                                      "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield port, inbox
    server.close()
    await server.wait_closed()


async def seed(app: Any, clock: FakeClock) -> None:
    def work(session: Any) -> None:
        session.add(ExchangeRecord(
            identifier=RECORD, source="wis1", title="NWP ICON-D2 fields", scope="GlobalExchange",
            previous_scope="OriginatingCentre", licence="WMOAdditional", centre="DE-OF-NC",
            principal_gisc="Offenbach", harvested_from="oai:Offenbach",
            first_seen_at=clock.now, updated_at=clock.now, offered_at=clock.now))
        session.add(ExchangeVolume(centre="DE-OF-NC", metric="bytes_24h",
                                   day=clock.now.strftime("%Y-%m-%d"), value=42e9,
                                   source="wismon", at=clock.now))

    await app.store.tx(work)


async def say(app: Any, who: str, text: str, room: str | None) -> str:
    reply = await app.console.type(who, text, room)
    await app.outbox.drain()
    return reply.plain()


async def test_full_three_stage_case(make_app: Any, clock: FakeClock,
                                     smtp: tuple[int, Inbox]) -> None:
    port, inbox = smtp
    app = await make_app(smtp_host="127.0.0.1", smtp_port=port, exchange_reminder_days=7)
    await seed(app, clock)

    # ---- stage 1: the principal GISC opens, the provider Member is told
    out = await say(app, "gisc-offenbach",
                    f"escalate exchange {RECORD} DE-OF-NC scope=GlobalExchange "
                    "42 GB a day of NWP fields for the GISC caches", "gisc-offenbach")
    assert f"{CASE} – exchange dispute opened (stage 1)" in out
    assert "Stage: stage 1 – discussion with the provider" in out
    assert "bytes in the GISC cache, 24 h: 42.0 GB" in out
    for room in ("secretariat", "gisc-offenbach", "member-de"):
        assert f"{CASE} – exchange dispute opened" in room_text(app, room), room
    assert CASE in "\n".join(r.plain() for r in app.console.direct["anna.weber"])
    assert CASE not in room_text(app, "gisc-tokyo")  # not consulted yet

    # ---- stage 2: consultation of every other GISC
    out = await say(app, "gisc-offenbach", f"escalate exchange {CASE} consult", "gisc-offenbach")
    assert "consultation started (stage 2)" in out and "14 GISCs asked" in out
    for gisc in OTHER_GISCS:
        key = "gisc-" + gisc.lower().replace(" ", "-")
        assert "your GISC is consulted (stage 2)" in room_text(app, key), key
    assert "your GISC is consulted" not in room_text(app, "gisc-offenbach")

    out = await say(app, "gisc-tokyo", f"escalate exchange {CASE} accept", "gisc-tokyo")
    assert "GISC Tokyo accepts" in out and "1 accept, 0 object, 13 not answered" in out
    await say(app, "gisc-exeter", f"escalate exchange {CASE} object cache too small",
              "gisc-exeter")
    await say(app, "gisc-washington", f"escalate exchange {CASE} accept", "gisc-washington")
    clock.advance(hours=3)
    out = await say(app, "gisc-washington",
                    f"escalate exchange {CASE} object bandwidth to Region IV", "gisc-washington")
    assert "GISC Washington objects (replaces its earlier 'accept')" in out
    assert "1 accept, 2 object, 11 not answered" in out
    assert "GISC Washington objects" in room_text(app, "gisc-offenbach")

    shown = await say(app, "gisc-tokyo", f"escalate exchange show {CASE}", "gisc-tokyo")
    assert "GISC Washington · accept (replaced by a later answer)" in shown
    assert "GISC Washington · object: bandwidth to Region IV" in shown
    assert "Tally: 1 accept, 2 object, 11 not answered" in shown

    # ---- reminders on the fake clock: after 7 days, once, to those who have not answered
    clock.advance(days=6, hours=20)
    assert await app.services.exchange.remind_due() == 0
    clock.advance(hours=1)
    assert await app.services.exchange.remind_due() == 11
    await app.outbox.drain()
    assert "reminder: GISC Beijing has not answered" in room_text(app, "gisc-beijing")
    assert "reminder" not in room_text(app, "gisc-tokyo")
    assert "reminder" not in room_text(app, "gisc-washington")
    assert await app.services.exchange.remind_due() == 0  # not twice for the same period
    clock.advance(days=7)
    assert await app.services.exchange.remind_due() == 11

    # ---- stage 3: referral to the working group's room and e-mail
    out = await say(app, "gisc-offenbach", f"escalate exchange {CASE} refer", "gisc-offenbach")
    assert "referred to Inter-Commission Task Team on WIS (ICTT-WIS) (stage 3)" in out
    wg = room_text(app, "working-group")
    assert CASE in wg and "Tally: 1 accept, 2 object, 11 not answered" in wg
    assert "GISC Exeter · object: cache too small" in wg
    assert len(inbox.messages) == 1
    rcpt, mail = inbox.messages[0]
    assert rcpt == ["ictt-wis@example.org"]
    assert CASE in mail["Subject"]
    body = mail.get_payload(decode=True).decode()
    assert "| Washington | accept |" in body and "| Washington | object | bandwidth" in body
    assert "## Timeline" in body

    out = await say(app, "sec-desk",
                    f"escalate exchange {CASE} resolve ICTT-WIS: RegionalExchange for the NWP "
                    "fields; reported to INFCOM", "secretariat")
    assert "closed: resolved" in out
    assert "Outcome (resolved): ICTT-WIS: RegionalExchange" in room_text(app, "working-group")

    # ---- the case never reached the rooms of the whole group
    for room in NEVER_TOLD:
        assert CASE not in room_text(app, room), room
        assert RECORD not in room_text(app, room), room

    # ---- the report from the CLI
    args = ["exchange", "report", CASE, "--format", "md",
            "--database-url", app.settings.database_url, "--directory", str(EXAMPLE)]
    result = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert result.exit_code == 0, result.output
    md = result.output
    assert md.startswith(f"# {CASE}: near-real-time exchange of `{RECORD}`")
    assert "| Stage | closed |" in md
    assert "Tally: 1 accept, 2 object, 11 not answered." in md
    assert "| Washington | accept |  |" in md and "| replaced |" in md
    assert md.count("| wisbot | reminder |") == 22
    assert "| wisbot | mailed | case file to ictt-wis@example.org |" in md
    # the record's fields read as words, not Python reprs
    record = md.split("## Record", 1)[1].split("##", 1)[0]
    assert "None" not in record and "True" not in record, record


async def test_agreement_closes_stage_one(make_app: Any, clock: FakeClock) -> None:
    app = await make_app()
    await say(app, "sec-desk", f"escalate exchange {RECORD} DE-OF-NC too frequent",
              "secretariat")
    out = await say(app, "gisc-offenbach",
                    f"escalate exchange {CASE} agreed DWD sends hourly instead of 5-minutely",
                    "gisc-offenbach")
    assert "closed: agreed with the provider" in out
    out = await say(app, "gisc-offenbach", f"escalate exchange {CASE} consult", "gisc-offenbach")
    assert "Refused:" in out and "is at closed" in out
    listed = await say(app, "gisc-offenbach", "escalate exchange list all", "gisc-offenbach")
    assert f"{CASE} · closed · DE-OF-NC · GISC Offenbach" in listed
    assert CASE not in await say(app, "gisc-offenbach", "escalate exchange list",
                                 "gisc-offenbach")


async def test_authorisation_negatives(make_app: Any, clock: FakeClock) -> None:
    app = await make_app()
    # a GISC that is not the provider's principal GISC cannot open
    out = await say(app, "gisc-tokyo", f"escalate exchange {RECORD} DE-OF-NC too big",
                    "gisc-tokyo")
    assert out.startswith("Refused: only GISC Offenbach's focal points")
    # the provider's Member cannot open either
    out = await say(app, "anna.weber", f"escalate exchange {RECORD} DE-OF-NC too big", None)
    assert out.startswith("Refused: only GISC Offenbach's focal points")
    # nothing was opened
    assert "Exchange dispute cases (all): 0" in await say(
        app, "sec-desk", "escalate exchange list all", "secretariat")

    await say(app, "gisc-offenbach", f"escalate exchange {RECORD} DE-OF-NC too big",
              "gisc-offenbach")
    # only the owner or the Secretariat moves the case on
    out = await say(app, "gisc-tokyo", f"escalate exchange {CASE} consult", "gisc-tokyo")
    assert out.startswith("Refused: only GISC Offenbach's focal points")
    await say(app, "gisc-offenbach", f"escalate exchange {CASE} consult", "gisc-offenbach")
    # a Member cannot vote, nor the Secretariat, nor the owning GISC
    out = await say(app, "anna.weber", f"escalate exchange {CASE} accept", "member-de")
    assert out.startswith("Refused: only GISCs answer a consultation; you are a focal point "
                          "of Member DE")
    out = await say(app, "sec-desk", f"escalate exchange {CASE} object", "secretariat")
    assert out.startswith("Refused: only GISCs answer a consultation")
    out = await say(app, "gisc-offenbach", f"escalate exchange {CASE} accept", "gisc-offenbach")
    assert "GISC Offenbach owns" in out
    shown = await say(app, "sec-desk", f"escalate exchange show {CASE}", "secretariat")
    assert "Tally: 0 accept, 0 object, 14 not answered" in shown
    # case contents are not shown in the collaboration room, even to a GISC
    out = await say(app, "gisc-tokyo", f"escalate exchange show {CASE}", "collaboration")
    assert out.startswith("Refused: exchange dispute cases concern a named provider")
    assert RECORD not in out
    out = await say(app, "gisc-tokyo", f"escalate exchange {CASE} accept", "collaboration")
    assert out.startswith("Refused: exchange dispute cases concern a named provider")
    # another Member's focal point does not learn about the case
    out = await say(app, "hiro.sato", f"escalate exchange show {CASE}", None)
    assert out.startswith("Refused: no exchange dispute case") and "DE-OF-NC" not in out
    # referral is stage 3 only after consultation answers; resolve only after referral
    out = await say(app, "gisc-offenbach", f"escalate exchange {CASE} resolve done",
                    "gisc-offenbach")
    assert "`resolve` is possible only at stage 3" in out
    assert room_text(app, "collaboration") == ""


async def test_bad_input_gets_usage(make_app: Any) -> None:
    app = await make_app()
    out = await say(app, "gisc-offenbach", "escalate exchange", "gisc-offenbach")
    assert "escalate exchange <metadata-id> <provider centre>" in out
    out = await say(app, "gisc-offenbach", f"escalate exchange {RECORD} DE-OF-NC scope=Global x",
                    "gisc-offenbach")
    assert "scope must be one of GlobalExchange" in out
    out = await say(app, "gisc-offenbach", f"escalate exchange {RECORD} XX-NC big",
                    "gisc-offenbach")
    assert "Refused: unknown centre 'XX-NC'" in out
    out = await say(app, "gisc-offenbach", "escalate exchange WIS-NRT-2026-9 consul",
                    "gisc-offenbach")
    assert "unknown case action 'consul' (did you mean consult?)" in out


async def test_opening_and_consulting_page_the_provider_and_the_gisc(
        make_app: Any, clock: FakeClock) -> None:
    """Stage 1 pages the provider Member's on-call focal point; stage 2 pages the GISCs
    asked; answering does not need the page, but acknowledging it stops it."""
    app = await make_app()
    await say(app, "gisc-offenbach", f"escalate exchange {RECORD} DE-OF-NC too frequent",
              "gisc-offenbach")
    await app.outbox.drain()
    pages = [r.plain() for r in app.console.direct["anna.weber"] if r.kind == "page"]
    assert pages and CASE in pages[0] and "ack P-" in pages[0]
    await say(app, "gisc-offenbach", f"escalate exchange {CASE} consult", "gisc-offenbach")
    await app.outbox.drain()
    tokyo = [r.plain() for r in app.console.direct["gisc-tokyo"] if r.kind == "page"]
    assert tokyo and CASE in tokyo[-1]
    # The collaboration room hears nothing of a case about a named provider.
    assert CASE not in room_text(app, "collaboration")
