"""The pseudo-locale through the near-real-time exchange watch and its dispute cases (the
daily spot lines with their figures, a case from opening to resolution with its timeline,
the reminders and the case file mailed to the working group), public lessons, indicators
(with a refused value) and sightings: any English word wisbot wrote outside ⟦…⟧ escaped
the catalogs. And real languages: each room reads its own, the working group's e-mail is
in its reader's.

What may stay unmarked is written by hand below (never derived from the code): ids,
record identifiers, centre codes and names from the example directory, scope codes,
units, the answers' command words (accept, object), the record's data keys, and the text
people typed."""

from __future__ import annotations

import re
from datetime import timedelta
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import yaml

from tests.exchange.test_dispute import CASE, RECORD, Inbox, seed, smtp  # noqa: F401
from tests.i18n.test_pseudo_rest import (  # noqa: F401 (fixture)
    KEPT,
    english_default,
    everything,
    problems,
    unmarked,
)
from wisbot import i18n
from wisbot.clock import FakeClock
from wisbot.directory import Directory, parse_directory
from wisbot.probes.harvest import HarvestStats
from wisbot.services.exchange import Source, SpotReport
from wisbot.store.exchange_tables import ExchangeVolume

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "directory.example.yaml"

CONCERN = "42 GB a day of NWP fields"
OBJECTION = "cache too small"
OUTCOME = "ICTT-WIS: RegionalExchange for the NWP fields"
LESSON = "Report phishing to the CSIRT at once"
SIGHT = "same sender at our gateway"

# Hand-written: what the exchange and indicator messages may show unmarked.
EXCHANGE_KEPT = [
    r"GISC [A-Z][a-z]+( Delhi)? operations desk", "WMO Secretariat 24/7 desk",
    r"WIS-NRT-\d+-\d+", re.escape(RECORD), r"urn:[\w:.\-]+", r"\bI-\d+\b", r"\bL-\d+\b",
    r"\[WIS\]", "NWP ICON-D2 fields", re.escape(CONCERN), re.escape(OBJECTION),
    re.escape(OUTCOME), re.escape(LESSON), re.escape(SIGHT),
    r"\bDE-OF-NC\b", r"\bDE\b", "DWD National Centre", "Germany", "Deutscher Wetterdienst",
    r"Inter-Commission Task Team on WIS \(ICTT-WIS\)", r"ICTT-WIS", r"[\w.\-]+@[\w.\-]+",
    r"\b(GlobalExchange|RegionalExchange|OriginatingCentre)\b", r"wmo:dataPolicy( core)?",
    "WMO_DistributionScopeCode", "WMOAdditional", r"\b(TB|GB|MB|kB|B|h|s)\b", r"\bGISCs?\b",
    r"oai:[A-Z][a-z]+", r"\b(accept|object)\b", r"\bmisp\b", r"\bMISP\b",
    r"(?m)^- [a-z_]+:", "Offenbach", "Tokyo", "Exeter", "Washington", "Beijing",
    "Switzerland", "MeteoSwiss", r"\bCH\b", "Jonas Keller", r"\b1\.2\.3\b", r"· (none|public) ·",
    r"\bipv4\b", r"\bdomain\b", r"evil\[\.\]example", r"TLP:[A-Z+]+",
    r"\bWIS-SEC-\d+-\d+\.misp\.json\b", "Anna Weber", "Hiroshi Sato",
]


def leftover(text: str) -> list[str]:
    """Unmarked English in a plain text (the e-mail), with this file's kept words."""
    for pattern in EXCHANGE_KEPT:
        text = re.sub(pattern, " ", text)
    return unmarked(text)


def exchange_problems(replies: list[Any]) -> list[tuple[list[str], str]]:
    """:func:`problems`, with this file's kept words too."""
    shared = list(KEPT)
    KEPT[:0] = EXCHANGE_KEPT  # first: a case number before the WIS of the shared list
    try:
        return problems(replies)
    finally:
        KEPT[:] = shared  # the shared list as it was


async def figures(app: Any, clock: FakeClock) -> None:
    """Message counts above the threshold and tripled day on day."""
    today = clock.now.strftime("%Y-%m-%d")
    yesterday = (clock.now - timedelta(days=1)).strftime("%Y-%m-%d")

    def work(session: Any) -> None:
        for day, value in ((yesterday, 300_000.0), (today, 900_000.0)):
            session.add(ExchangeVolume(centre="DE-OF-NC", metric="messages_24h", day=day,
                                       value=value, source="monitor:gm", at=clock.now))

    await app.store.tx(work)


async def test_pseudo_locale_exchange_case_daily_spot_and_mail(
        make_app: Any, clock: FakeClock, smtp: tuple[int, Inbox]) -> None:  # noqa: F811
    port, inbox = smtp
    app = await make_app(smtp_host="127.0.0.1", smtp_port=port, exchange_reminder_days=7)
    await seed(app, clock)
    await figures(app, clock)
    i18n.set_default("qps")
    c = app.console
    svc = app.services.exchange

    assert await svc.post_daily_sections() == ["Offenbach"]
    await svc._report_overrun(SpotReport(at=clock.now, harvests=[
        (Source("oai:Offenbach", "oai", "https://gisc.example/oai"), "timeout",
         HarvestStats(source="oai:Offenbach", pages=3, records=120,
                      resume={"resumptionToken": "x"})),
        (Source("oai:Tokyo", "oai", "https://gisc.example/oai"), "ok", HarvestStats())]))
    replies = [
        await c.type("gisc-offenbach", "escalate exchange", "gisc-offenbach"),
        await c.type("gisc-offenbach", f"escalate exchange {RECORD} DE-OF-NC scope=Global "
                     "x", "gisc-offenbach"),
        await c.type("gisc-offenbach", f"escalate exchange {RECORD} DE-OF-NC "
                     f"scope=GlobalExchange {CONCERN}", "gisc-offenbach"),
        await c.type("gisc-offenbach", f"escalate exchange {CASE} refer", "gisc-offenbach"),
        await c.type("gisc-offenbach", f"escalate exchange {CASE} frobnicate",
                     "gisc-offenbach"),
        await c.type("gisc-offenbach", f"escalate exchange {CASE} consult", "gisc-offenbach"),
        await c.type("gisc-tokyo", f"escalate exchange {CASE} accept", "gisc-tokyo"),
        await c.type("gisc-exeter", f"escalate exchange {CASE} object {OBJECTION}",
                     "gisc-exeter"),
        await c.type("gisc-tokyo", f"escalate exchange {CASE} object", "gisc-tokyo"),
        await c.type("sec-desk", f"escalate exchange {CASE} accept", "secretariat"),
        await c.type("gisc-offenbach", "escalate exchange list all", "gisc-offenbach"),
    ]
    clock.advance(days=7, hours=1)
    assert await svc.remind_due() == 12
    replies.append(await c.type("gisc-offenbach", f"escalate exchange {CASE} refer",
                                "gisc-offenbach"))
    replies.append(await c.type("sec-desk", f"escalate exchange {CASE} resolve {OUTCOME}",
                                "secretariat"))
    replies.append(await c.type("gisc-offenbach", f"escalate exchange show {CASE}",
                                "gisc-offenbach"))
    await app.outbox.drain()
    shown = replies[-1].plain()
    for words in ("⟦case opened⟧", "⟦consultation⟧", "⟦answer changed⟧", "⟦reminder⟧",
                  "⟦referred⟧", "⟦mailed⟧", "⟦resolved⟧", "⟦GISC {gisc} reminded⟧"
                  .replace("{gisc}", "Beijing")):
        assert words in shown, (words, shown)
    kinds = {r.kind for r in everything(app)}
    assert {"exchange", "alert"} <= kinds, kinds
    left = exchange_problems(replies + everything(app))
    assert not left, left[:5]

    assert len(inbox.messages) == 1
    _, mail = inbox.messages[0]
    subject = str(make_header(decode_header(mail["Subject"])))
    body = mail.get_payload(decode=True).decode()
    assert subject.startswith("⟦[WIS]"), subject
    assert "⟦## Timeline⟧" in body and "⟦mailed⟧" not in body  # mailed after it was written
    assert not leftover(subject), subject
    assert not leftover(body), (leftover(body), body)


async def test_pseudo_locale_public_lesson_indicators_and_sightings(make_app: Any) -> None:
    app = await make_app()
    i18n.set_default("qps")
    c = app.console
    n = "WIS-SEC-2026-1"
    replies = [
        await c.type("anna.weber", "incident report DE-OF-NC share=all-giscs sev=2 Phishing "
                     "at the gateway", "member-de"),
        await c.type("anna.weber", f"incident ioc add {n} ipv4 1.2.3", "member-de"),
        await c.type("anna.weber", f"incident ioc add {n} hash abc", "member-de"),
        await c.type("anna.weber", f"incident ioc add {n} domain evil.example", "member-de"),
        await c.type("anna.weber", f"incident ioc list {n}", "member-de"),
        await c.type("jonas.keller", f"incident seen {n} I-1 {SIGHT}"),
        await c.type("anna.weber", f"incident show {n}", "member-de"),
        await c.type("anna.weber", f"incident export {n} --format misp", "member-de"),
        await c.type("anna.weber", f"incident resolve {n}", "member-de"),
        await c.type("anna.weber", f"lessons add {n} share=public {LESSON}", "member-de"),
        await c.type("anna.weber", "lessons release L-1", "member-de"),
    ]
    await app.outbox.drain()
    texts = [r.plain() for r in replies]
    assert "⟦not a valid ipv4 indicator: ⟦four decimal numbers separated by dots" in texts[1], \
        texts[1]
    kinds = {r.kind for r in everything(app)}
    assert {"review", "lesson"} <= kinds, kinds
    left = exchange_problems(replies + everything(app))
    assert not left, left[:5]


def language_directory() -> Directory:
    """The example directory with the Secretariat room reading Chinese, the working group's
    address being a French-reading contact's."""
    data = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    for room in data["rooms"]:
        if room["key"] == "secretariat":
            room["language"] = "zh"
    for contact in data["contacts"]:
        if contact["id"] == "gisc-exeter":
            contact["language"] = "fr"
            exeter = contact["email"]
    data["working_group"]["email"] = exeter
    return parse_directory(data)


async def test_each_room_and_the_mail_reader_read_their_language(
        make_app: Any, clock: FakeClock, smtp: tuple[int, Inbox]) -> None:  # noqa: F811
    port, inbox = smtp
    app = await make_app(language_directory(), smtp_host="127.0.0.1", smtp_port=port)
    await seed(app, clock)
    c = app.console
    await c.type("gisc-offenbach", f"escalate exchange {RECORD} DE-OF-NC {CONCERN}",
                 "gisc-offenbach")
    await c.type("gisc-offenbach", f"escalate exchange {CASE} consult", "gisc-offenbach")
    await c.type("gisc-tokyo", f"escalate exchange {CASE} object {OBJECTION}", "gisc-tokyo")
    out = await c.type("gisc-offenbach", f"escalate exchange {CASE} refer", "gisc-offenbach")
    await app.outbox.drain()
    # The room it was typed in reads English; the Secretariat room Chinese.
    assert "referred to Inter-Commission Task Team on WIS (ICTT-WIS) (stage 3)" in out.plain()
    sec = "\n".join(r.plain() for r in app.console.rooms["secretariat"])
    assert "交换争议已开启（第1阶段）" in sec, sec
    assert "征询已开始（第2阶段）" in sec and "统计：" in sec, sec
    assert "exchange dispute opened" not in sec
    own = "\n".join(r.plain() for r in app.console.rooms["gisc-offenbach"])
    assert "exchange dispute opened (stage 1)" in own
    # The working group's address is a French reader's: the case file is in French.
    _, mail = inbox.messages[0]
    subject = str(make_header(decode_header(mail["Subject"])))
    body = mail.get_payload(decode=True).decode()
    assert "échange en temps quasi réel" in subject and "renvoyé à" in subject, subject
    assert "## Chronologie" in body and "## Positions des CMSI" in body, body
    assert "Décompte : pour : 0, contre : 1, sans réponse : 13." in body, body
    assert "## Timeline" not in body
