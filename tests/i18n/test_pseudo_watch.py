"""The GISC Watch in the reader's language: the pseudo-locale run through the daily post,
tickets, the roster, the handover (rooms, page and e-mail over real SMTP), acceptance,
reminders and escalation, the watch and service reports, leaves no English outside ⟦…⟧;
and in real languages each reader reads theirs: the next GISC's contact (French) gets a
French page and e-mail while the typist's room reads Spanish, a Chinese contact of the
same GISC gets a Chinese e-mail, and the chart title is in the duty room's language.

What may stay unmarked is written by hand below (never derived from the code)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import Message
from typing import Any

import pytest
from sqlmodel import select

from tests.helpers import room_text
from tests.i18n.test_pseudo_rest import KEPT as REST_KEPT
from tests.i18n.test_pseudo_rest import everything, problems, unmarked, wisbot_words
from tests.watch.conftest import MARCH, THREE, WIS2, fake_sweep, watch_app, watch_directory  # noqa: F401
from tests.watch.test_handover import Inbox, smtp, smtp_settings  # noqa: F401 (fixture)
from wisbot import i18n
from wisbot.adapters.console import render_text
from wisbot.directory import parse_directory
from wisbot.probes import reasons
from wisbot.store.watch_tables import Handover

# Written by hand: the example directory's GISCs, people and rooms; WIS2 service ids and
# kinds; the e-mail's addresses; probe statuses; command words inside the e-mail body.
WATCH_KEPT = [
    r"\b(Tokyo|Exeter|Offenbach|Seoul|Brasilia|Brasília)\b", r"\bET-WISOP( Chair)?\b",
    r"\b(gb-one|gb-two|gdc-one)\b", r"\b(oaipmh|sru|portal|broker|gdc)\b",
    r"\bOAI-PMH\b", r"\bSRU\b", r"\bHTTP\b", r"\bOK\b",
    r"[\w.+-]+@[\w.-]+", r"`watch accept`",
    r"SRU diagnostic 1/1", r"connection refused", r"Broker Quokka unreachable",
    r"\bHO-\d+(-next)?\b", r"\bW-\d+\b", r"\bwatch-op\b", r"\bsec-desk\b",
]
# What people typed, and the findings of automatic tickets as stored (English, like any
# stored text): the e-mail is plain text, so they are named here.
TYPED = [r"SRU diagnostic 1/1", r"OAI provider not active", r"Ticket 1 needs follow-up",
         r"Global Cache slow", r"Watch Operator", r"SRU search not active",
         r"Global Discovery Catalogue gdc-one not active"]
KEPT_ALL = [*TYPED, *REST_KEPT, *WATCH_KEPT]


@pytest.fixture(autouse=True)
def english_default() -> Iterator[None]:
    yield
    i18n.set_default("en")


def left_in(text: str) -> list[str]:
    """English words in a text outside ⟦…⟧ and the kept words (e-mail subject and body)."""
    while re.search(r"⟦[^⟦⟧]*⟧", text):
        text = re.sub(r"⟦[^⟦⟧]*⟧", " ", text)
    from tests.i18n.test_catalogs import NEVER_TRANSLATED

    for pattern in [*KEPT_ALL, *NEVER_TRANSLATED]:
        text = re.sub(pattern, " ", text)
    return re.findall(r"[A-Za-z]{2,}", text)


def watch_problems(replies: list[Any]) -> list[tuple[list[str], str]]:
    """``problems`` of test_pseudo_rest (what wisbot wrote, not a person's text nor code
    spans), with this file's kept words too."""
    return problems(replies, WATCH_KEPT)


async def _mails(inbox: Inbox, count: int) -> list[Message]:
    for _ in range(100):
        if len(inbox.messages) >= count:
            break
        await asyncio.sleep(0.02)
    return [m for _, _, m in inbox.messages]


def _subject(msg: Message) -> str:
    return str(make_header(decode_header(msg["Subject"])))


def _body(msg: Message) -> str:
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


async def test_pseudo_locale_watch_daily_tickets_roster_handover_and_reports(
        watch_app: Any, fake_sweep: Any, clock: Any,  # noqa: F811
        smtp: tuple[Inbox, int]) -> None:  # noqa: F811
    inbox, port = smtp
    app = await watch_app(duty_room=True, watch_escalation_contact="et-chair",
                          watch_escalation_room="secretariat", **smtp_settings(port))
    i18n.set_default("qps")
    c, w = app.console, app.services.watch
    # two daily posts: figures, a day-on-day change, a broker collapse, failures
    fake_sweep.set("Tokyo", "oaipmh", figure=10_000)
    fake_sweep.set("Exeter", "oaipmh", figure=9_800)
    fake_sweep.set("Offenbach", "oaipmh", figure=9_900)
    fake_sweep.set("gb-one", "broker", figure=5_000)
    fake_sweep.set("gdc-one", "gdc", figure=41_000)
    await w.run("daily")
    clock.advance(days=1)
    fake_sweep.set("Tokyo", "oaipmh", figure=25_000)
    fake_sweep.set("Exeter", "sru", "fail", reason="SRU diagnostic 1/1")
    fake_sweep.set("gb-one", "broker", figure=100)
    fake_sweep.set("gdc-one", "gdc", "fail", reason="connection refused")
    out = await w.run("daily")
    assert out.anomalies and out.opened
    # an automatic ticket partly recovers, then closes
    clock.advance(hours=2)
    fake_sweep.set("Exeter", "sru", "ok", figure=10)
    fake_sweep.set("Exeter", "portal", "fail", reason="connection refused")
    replies = [await c.type("watch-op", "watch probe Exeter", "gisc-tokyo")]
    fake_sweep.set("Exeter", "portal", "ok")
    await w.run("manual", "Exeter")
    # tickets by hand: add, assign, move, close, refusals, show, list
    for text in ("watch ticket add Exeter OAI provider not active",
                 "watch ticket add Seoul Broker Quokka unreachable impact=high",
                 "watch ticket add Seoul x impact=huge",
                 "watch ticket 3 assign Tokyo", "watch ticket 3 progress",
                 "watch ticket 3 progress", "watch ticket 3 triage",
                 "watch ticket 3 done", "watch ticket 3 frobnicate", "watch ticket 3",
                 "watch ticket add WIS2 Global Cache slow", "watch"):
        replies.append(await c.type("watch-op", text, "gisc-tokyo"))
    assert [r for r in replies if r.kind == "error"], replies
    # the roster
    replies.append(await c.type("watch-op", "watch roster", "gisc-tokyo"))
    replies.append(await c.type("sec-desk", "watch roster set 2026-05-01 2026-05-15 Seoul",
                                "secretariat"))
    replies.append(await c.type("sec-desk", "watch roster 2026", "secretariat"))
    # escalation to the ET-WISOP chair (room and person)
    replies.append(await c.type("watch-op", "watch escalate GISC Seoul unreachable for days",
                                "gisc-tokyo"))
    # the dead-man's switch: a day without a daily run
    clock.advance(days=1, hours=4)
    assert await w.deadman_check()
    # the handover: rooms, page, e-mail
    clock.advance(days=9)  # 2026-03-14
    replies.append(await c.type("gisc-tokyo", "watch handover Ticket 1 needs follow-up",
                                "gisc-tokyo"))
    replies.append(await c.type("gisc-tokyo", "watch report 01/03/2026 2026-03-14",
                                "gisc-tokyo"))
    (msg,) = await _mails(inbox, 1)
    assert _subject(msg).startswith("⟦"), _subject(msg)
    assert not left_in(_subject(msg)), _subject(msg)
    body = _body(msg)
    assert body.startswith("⟦") and "⟦GISC Watch report⟧" in body, body
    assert not left_in(body), (left_in(body), body)
    # the period starts, the reminder, the escalation past the deadline, the acceptance
    clock.advance(days=2, hours=10)  # 2026-03-16 01:00, Exeter's period
    await w.handover_tick()
    clock.advance(hours=25)
    await w.handover_tick()
    clock.advance(hours=48)
    done = await w.handover_tick()
    assert any(d.startswith("escalate HO-1") for d in done), done
    await app.paging.tick()
    replies.append(await c.type("gisc-exeter", "watch accept", "gisc-exeter"))
    replies.append(await c.type("gisc-exeter", "watch accept", "gisc-exeter"))
    # the service report
    replies.append(await c.type("sec-desk", "incident stats", "secretariat"))
    # the operator's status: job names and the on-call names are ids and names
    status = wisbot_words(await c.type("sec-desk", "wisbot status", "secretariat"))
    status = re.sub(r"\b[a-z]+(-[a-z0-9]+)+\b", " ", status.split("⟦On call now:⟧")[0])
    assert not unmarked(status), (unmarked(status), status)
    await app.outbox.drain()
    pages = [r for r in everything(app) if r.kind == "page"]
    # the handover's page and its escalation's (HO-1-next), each rendered for the person
    assert {p.ref for p in pages} == {"P-1", "P-2"}, [p.ref for p in pages]
    assert any("⟦GISC Watch handover HO-1 not accepted⟧" in (p.title or "") for p in pages)
    titles = " ".join(r.title or "" for r in everything(app))
    for word in ("⟦GISC Watch daily report", "⟦Watch ticket #1", "⟦GISC Watch roster changed",
                 "⟦GISC Watch escalation to the ET-WISOP chair", "⟦GISC Watch dead-man's",
                 "⟦Reminder: GISC Watch handover HO-1", "⟦GISC Watch handover HO-1 not accepted",
                 "⟦GISC Watch: GISC Exeter is on duty", "⟦Handover HO-1 accepted"):
        assert word in titles, (word, titles)
    post = " ".join(render_text(r) for r in everything(app))
    for word in ("⟦outlier⟧", "⟦collapse⟧", "⟦partially open – ", "⟦now also failing: "):
        assert word in post, word
    left = watch_problems(replies + everything(app))
    assert not left, left[:5]


def _languages_directory(example_directory: Any) -> Any:
    """The watch directory with rooms and people in languages: the duty room Chinese, the
    typist's room (Tokyo) Spanish, a second Exeter contact who reads Chinese."""
    base = watch_directory(example_directory, duty_room=True, services=THREE, wis2=WIS2)
    data = base.model_dump(mode="json")
    for room in data["rooms"]:
        if room["key"] == "duty":
            room["language"] = "zh"
        if room["key"] == "gisc-tokyo":
            room["language"] = "es"
    data["contacts"].append({"id": "exeter-li", "name": "Li Wei",
                             "email": "li@gisc-exeter.example.org",
                             "roles": ["gisc:Exeter"], "language": "zh"})
    return parse_directory(data, "<watch languages directory>")


async def test_handover_page_and_mail_in_each_readers_language_and_the_chart_title(
        make_app: Any, example_directory: Any, fake_sweep: Any, clock: Any,  # noqa: F811
        smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    inbox, port = smtp
    titles: list[tuple[str, str]] = []

    def chart(points: Any, *, title: str) -> bytes:
        titles.append((i18n.current(), title))
        return b"\x89PNG fake"

    monkeypatch.setattr("wisbot.services.watch.chart_png", chart)
    app = await make_app(_languages_directory(example_directory), watch_enabled=False,
                         **smtp_settings(port))
    w = app.services.watch
    w.sweeper = fake_sweep
    await w.import_roster(MARCH)
    c = app.console
    # the chart of the daily post: in the duty room's language (Chinese)
    fake_sweep.set("Tokyo", "oaipmh", figure=10_000)
    await w.run("daily")
    with i18n.use("zh"):
        day = i18n.day(clock().date())
    assert ("zh", f"GISC值守，截至 {day} 的30天") in titles, titles
    await app.outbox.drain()
    assert "GISC值守日报" in room_text(app, "duty")

    # the next GISC's contact chose French; the typist's room reads Spanish
    await c.type("gisc-exeter", "language fr")
    await c.type("watch-op", "watch ticket add Exeter OAI provider not active", "gisc-tokyo")
    clock.advance(days=12)
    reply = await c.type("gisc-tokyo", "watch handover all quiet", "gisc-tokyo")
    assert reply.title == "Traspaso HO-1 enviado al CMSI Exeter", reply.title
    await app.outbox.drain()
    (page,) = [render_text(r) for r in c.direct.get("gisc-exeter", []) if r.kind == "page"]
    assert "Passation de veille des CMSI HO-1 : CMSI Tokyo → CMSI Exeter" in page, page
    assert "Tickets : " in page or "Tickets" in page
    assert "all quiet" in page and "watch report 2026-03-01 2026-03-14" in page

    # one e-mail per language: French to the contact who chose it (with the copies),
    # Chinese to the one whose directory entry says zh
    mails = await _mails(inbox, 2)
    assert len(mails) == 2, [m["To"] for m in mails]
    by_to = {m["To"]: m for m in mails}
    fr, zh = by_to["ops@gisc-exeter.example.org"], by_to["li@gisc-exeter.example.org"]
    assert _subject(fr) == "Passation de veille des CMSI HO-1 : du CMSI Tokyo au CMSI Exeter"
    assert "gisc-ops@lists.example.org" in fr["Cc"] and zh["Cc"] is None
    body = _body(fr)
    assert body.startswith("Le CMSI Tokyo passe la veille des CMSI au CMSI Exeter")
    assert "# Rapport de veille des CMSI 01/03/2026 – 14/03/2026" in body
    assert "| N° | date | CMSI | résultat | statut | rapporteur |" in body
    assert "| 1 | 02/03/2026 | GISC Exeter | OAI provider not active | ouvert |" in body
    assert "Veuillez confirmer en tapant `watch accept` dans le salon du CMSI Exeter." in body
    assert _subject(zh) == "GISC值守交接 HO-1：GISC Tokyo 移交给 GISC Exeter"
    assert "请在 GISC Exeter 的聊天室中输入 `watch accept` 确认。" in _body(zh)
    # the copy kept with the handover is English
    kept = await app.store.tx(lambda s: s.exec(select(Handover)).one().report)
    assert kept.startswith("# GISC Watch report 01/03/2026 – 14/03/2026")

    # the handover in the rooms: each in its own language (Tokyo's Spanish typist aside,
    # Exeter's room has none set: English)
    assert "GISC Watch handover HO-1: GISC Tokyo → GISC Exeter" in room_text(app, "gisc-exeter")

    # a probe's reason (a catalogued phrase, stored in English) in the room's language
    fake_sweep.set("Exeter", "sru", "fail", reason=reasons.REFUSED.en())
    probed = (await c.type("watch-op", "watch probe Exeter", "gisc-tokyo")).plain()
    with i18n.use("es"):
        refused = i18n._(str.__str__(reasons.REFUSED.template))
        title = i18n._("Probe results ({sum}/{count} OK)", sum=7, count=8)
    assert refused in probed and "connection refused" not in probed, probed
    assert probed.startswith(title.split("(")[0]) and "Probe results" not in probed, probed


async def test_a_failed_language_group_does_not_take_the_copies_with_it(
        make_app: Any, example_directory: Any, fake_sweep: Any, clock: Any) -> None:  # noqa: F811
    """The first language group's e-mail fails (the SMTP server refuses it): the next one
    still carries the copies to the GISC operations list and the Secretariat, and the typist
    is told who was not e-mailed. A stub of the one mailer method used stands for SMTP."""
    sent: list[tuple[list[str], list[str]]] = []

    class Refusing:
        async def send(self, *, to: list[str], cc: list[str], subject: str,
                       body: str) -> None:
            if "ops@gisc-exeter.example.org" in to:  # hand-written: the French group
                raise ConnectionRefusedError("550 mailbox unavailable")
            sent.append((to, cc))

    app = await make_app(_languages_directory(example_directory), watch_enabled=False,
                         watch_ops_email="gisc-ops@lists.example.org")
    w = app.services.watch
    w.sweeper = fake_sweep
    w.mailer = Refusing()
    await w.import_roster(MARCH)
    await app.console.type("gisc-exeter", "language fr")
    clock.advance(days=12)
    reply = await app.console.type("gisc-tokyo", "watch handover all quiet", "gisc-tokyo")
    text = reply.plain()
    assert "ops@gisc-exeter.example.org" in text and "li@gisc-exeter.example.org" not in text, \
        text
    ((to, cc),) = sent
    assert to == ["li@gisc-exeter.example.org"], sent
    assert {"gisc-ops@lists.example.org", "wis-security@example.org"} <= set(cc), sent
