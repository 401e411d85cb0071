"""Red-team findings, second round on languages (redteam-i18n2): each was written as a
failing test marked xfail(strict=True) before the code was fixed; the markers went with the
fixes. Forbidden words and inputs are written by hand, never derived from the code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.i18n import fixtures as fx
from tests.i18n.test_pseudo_wmem import VIA, fake_sweep, monitoring_app  # noqa: F401
from tests.wmem.conftest import event, raw
from wisbot import i18n

RLO = "\u202e"  # right-to-left override
PDF = "\u202c"
LRI, PDI = "\u2066", "\u2069"


@pytest.fixture(autouse=True)
def english_default() -> Iterator[None]:
    yield
    i18n.set_default("en")


def _matrix_plain(reply: Any) -> str:
    from wisbot.adapters.matrix import render

    return str(render(reply)["body"])


# ----- finding 1: a WIS2 monitoring event's title keeps its bidi controls (and @room) -------
# A WMEM follow-up's title becomes the ticket headline, rendered per room language into the
# message *title* (a plain string, not a person's span): bidi overrides are not removed and,
# on Matrix, "@room" is not neutralised, in every language. Any WIS2 centre publishing a
# monitoring event can reorder what GISC duty rooms read ("…ERROR reported by X: <RLO>…").
@pytest.mark.parametrize("duty_language", ["en", "ar"])
async def test_finding1_wmem_title_bidi_controls_never_reach_a_room(
        monitoring_app: Any, duty_language: str) -> None:  # noqa: F811
    app = await monitoring_app(duty_language)
    first = event("gc-alert-report")
    assert await app.wmem.receive_bytes(raw(first), "", VIA) == "ticket"
    again = event("gc-alert-report", data_ref=first["id"], data_severity="ERROR")
    again["data"]["content"]["title"] = f"archive {RLO}ok llits{PDF} {LRI}x{PDI} @room"
    assert await app.wmem.receive_bytes(raw(again), "", VIA) == "update"
    await app.outbox.drain()
    seen = False
    for key, msgs in app.console.rooms.items():
        for m in msgs:
            body = _matrix_plain(m)
            if "llits" not in body:
                continue
            seen = True
            assert RLO not in body and LRI not in body, (duty_language, key, body)
            assert "@room" not in body, (duty_language, key, body)
    assert seen


# ----- finding 2: Arabic WMEM headline leaves the Latin severity word unisolated ------------
# "{severity} reported by {source}: {title}": source and title are isolated in a right-to-
# left line, the event's severity ("ERROR", kept in English) is not.
async def test_finding2_arabic_wmem_headline_isolates_the_severity(
        monitoring_app: Any) -> None:  # noqa: F811
    app = await monitoring_app("ar")
    first = event("gc-alert-report")
    assert await app.wmem.receive_bytes(raw(first), "", VIA) == "ticket"
    again = event("gc-alert-report", data_ref=first["id"], data_severity="ERROR")
    again["data"]["content"]["title"] = "archive still stale"
    assert await app.wmem.receive_bytes(raw(again), "", VIA) == "update"
    await app.outbox.drain()
    titles = [m.title for m in app.console.rooms.get("duty", [])
              if m.title and "archive still stale" in m.title]
    assert titles
    for title in titles:
        assert "\u2068ERROR\u2069" in title, repr(title)


# ----- finding 3: a query with Arabic short vowels or a decomposed accent finds nothing ------
# docs/i18n.md: "Case and accents do not matter (… Arabic short vowels are ignored)". The
# lesson's text is folded, but the query is cut into words *before* folding, on \w: a short
# vowel (a combining mark) is not \w, so "المُصادقة" becomes "الم" + "صادقة" and "se\u0301curite"
# (an accent typed as a combining mark, as macOS input and copy-paste from PDFs give) becomes
# "se" + "curite": the lesson that holds the word is not found, on both databases.
SEARCH_LESSON = "فعّلنا المصادقة متعددة العوامل؛ Renforcer la sécurité du serveur."


@pytest.mark.parametrize("query", ["المُصادقة", "المصادَقة", "se\u0301curite", "SE\u0301CURITE"])
async def test_finding3_search_ignores_short_vowels_and_combining_accents(
        make_app: Any, query: str) -> None:
    import re

    app = await make_app(fx.directory())
    c = app.console
    r = await c.type("li.wei", "incident report CN-BJ-NC share=secretariat sev=1 case", None)
    assert r.kind == "incident", r.plain()
    assert (await c.type("li.wei", "incident resolve WIS-SEC-2026-1")).kind == "incident"
    r = await c.type("li.wei", f"lessons add WIS-SEC-2026-1 share=none {SEARCH_LESSON}")
    assert r.kind != "error", r.plain()
    control = await c.type("sec-desk", "lessons search المصادقة securite")
    assert re.findall(r"L-(\d+)", control.plain()) == ["1"], control.plain()
    reply = await c.type("sec-desk", f"lessons search {query}")
    assert re.findall(r"L-(\d+)", reply.plain()) == ["1"], reply.plain()


# ----- finding 4: a server's error text makes a stored reason take minutes to show ----------
# A probe reason is stored English and recognised again when shown (REASONS.words): each of
# the 61 templates is compiled into a regex with one lazy ``(.*?)`` per placeholder, and a
# value is matched again, three levels down. A Global Monitor's Prometheus answers
# {"status": "error", "errorType": "bad_data", "error": <text>}; the probe stores
# "monitor reachable but 1 of 3 indicators failed (<name>: Prometheus refused the query
# (bad_data: <text>))" (wisbot/probes/wis2.py). If <text> starts like that template and is
# full of its separators, matching it backtracks polynomially (four lazy groups): under 4,000
# characters take ~100 s of CPU, holding the GIL, for every language of every duty room's
# daily report, `watch status` and `watch` (all render the reason).
_SLOW_REASON = r"""
import sys
from wisbot import i18n
from wisbot.i18n_stored import REASONS
from wisbot.probes import reasons as r
text = ("monitor reachable but " + " of " * 300 + " indicators failed (" * 60 + ": " * 700
        + "x")
error = r.PROM_REFUSED.en(kind="bad_data", error=text)
stored = r.MONITOR_PARTLY.en(failed=1, total=3, name="availability", error=error)
assert len(stored) < 4000, len(stored)
with i18n.use(sys.argv[1]):
    REASONS.words(stored)
print("done")
"""


@pytest.mark.parametrize("language", ["fr"])
def test_finding4_a_servers_error_text_is_shown_in_a_second(language: str) -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run([sys.executable, "-c", _SLOW_REASON, language], cwd=root,
                              capture_output=True, text=True, timeout=5,
                              env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    except subprocess.TimeoutExpired:
        pytest.fail("REASONS.words took over 5 s on one stored reason")
    assert done.stdout.strip() == "done", done.stderr


# ----- finding 5: a person's ticket note reaches every ticket room's title as it was typed --
# `watch ticket 1 todo <note>` tells the ticket's rooms "moved to To Do by <name>: <note>" as
# the message *title* (rendered per language by ticket_headline), a plain string: the note's
# bidi overrides and "@room" are not removed, unlike a person's text anywhere else
# (docs/i18n.md: "A person cannot break out: bidi controls in their text are removed").
async def _ticket_moved_with(monitoring_app: Any, language: str, note: str) -> Any:  # noqa: F811
    app = await monitoring_app(language)
    assert await app.wmem.receive_bytes(raw(event("gc-alert-report")), "", VIA) == "ticket"
    r = await app.console.type("watch-op", f"watch ticket 1 todo {note}", "duty")
    assert r.kind != "error", r.plain()
    await app.outbox.drain()
    return app


@pytest.mark.parametrize("language", ["en", "ar"])
async def test_finding5_a_ticket_note_cannot_break_out_of_the_title(
        monitoring_app: Any, language: str) -> None:  # noqa: F811
    app = await _ticket_moved_with(monitoring_app, language,
                                   f"checked {RLO}tnemhcatta{PDF} @room")
    bodies = [_matrix_plain(m) for msgs in app.console.rooms.values() for m in msgs
              if "tnemhcatta" in _matrix_plain(m)]
    assert bodies
    for body in bodies:
        assert RLO not in body and "@room" not in body, body


# ----- finding 6: a note that ends like a WIS2 IMS move is read as one in other languages ----
# The ticket rooms are told an English headline that each language parses again
# (watch.ticket_headline). "moved to To Do by Watch Operator: <note>" is tried against
# "moved to {state} in WIS2 IMS ({key})" first, so a note ending "… in WIS2 IMS (WIS2IMS-99)"
# makes a French or Arabic room read wisbot's own words "moved to … in WIS2 IMS
# (WIS2IMS-99)" — a change the WIS2 incident management system never made — with the
# English "by Watch Operator" left in the sentence. The English room reads the note as typed.
@pytest.mark.parametrize("language", ["fr", "ar"])
async def test_finding6_a_note_is_not_read_as_a_wis2_ims_move(
        monitoring_app: Any, language: str) -> None:  # noqa: F811
    app = await _ticket_moved_with(monitoring_app, language,
                                   "see ticket in WIS2 IMS (WIS2IMS-99)")
    titles = [m.title for m in app.console.rooms.get("duty", []) if m.title
              and "WIS2IMS-99" in m.title]
    assert titles
    for title in titles:
        # Hand-written: the English word a French/Arabic reader must not read, and the
        # catalog's own words for a WIS2 IMS move in each language.
        assert " by Watch Operator" not in title, title
        assert {"fr": "dans WIS2 IMS", "ar": "في WIS2 IMS"}[language] not in title, title


# ----- finding 7: a query and its answer reach their readers in the other side's language ---
# `incident query` is built once, in the asker's language, and posted as it is to every
# Secretariat room and paged to the Secretariat's on-call (the page re-renders only incident
# cards): an Arabic Member room's query reaches the French Secretariat room in Arabic, laid
# out right to left, and the French on-call person's page mixes French and Arabic. The
# answer, built in the Secretariat's language, is posted to the Arabic room in French.
async def test_finding7_query_and_answer_in_each_readers_language(make_app: Any) -> None:
    app = await make_app(fx.directory())
    c = app.console
    r = await c.type("amina.alaoui", "incident query DE-OF-NC", "member-ma")
    assert r.kind != "error", r.plain()
    await app.outbox.drain()
    r = await c.type("sec-desk", "incident answer Q-1 no incident known", "secretariat")
    assert r.kind != "error", r.plain()
    await app.outbox.drain()
    wrong = []
    for key, want in (("secretariat", "fr"), ("member-ma", "ar")):
        for m in c.rooms.get(key, []):
            if (m.ref or "").startswith("Q-") and m.lang != want:
                wrong.append((key, m.lang, m.title))
    for m in c.direct.get("sec-desk", []):  # the on-call person reads French
        text = "".join(s.text for line in m.lines for s in line)
        if any("\u0600" <= ch <= "\u06ff" for ch in text):
            wrong.append(("@sec-desk", m.lang, text[:80]))
    assert not wrong, wrong


# ----- finding 8: a sighting tells the affected Member the sighter's language ---------------
# `incident seen` builds its notice once, in the sighter's language, and posts it to the
# Secretariat rooms and the affected Member's room (or its people directly). The Member's
# copy withholds the sighter ("another WIS centre (only the WMO Secretariat knows which)")
# but is written in Chinese when a Chinese reader saw it: the language itself points at the
# sighter (a Chinese-, Arabic- or Russian-writing Member is one of few). The English Member
# room and the French Secretariat room read Chinese.
async def test_finding8_a_sighting_reads_in_each_rooms_language(make_app: Any) -> None:
    app = await make_app(fx.directory())
    c = app.console
    r = await c.type("anna.weber", "incident report DE-OF-NC share=group sev=2 relay hit",
                     "member-de")
    assert r.kind == "incident", r.plain()
    await app.outbox.drain()
    r = await c.type("li.wei", "incident seen WIS-SEC-2026-1 same here", None)
    assert r.kind != "error", r.plain()
    await app.outbox.drain()
    from wisbot.adapters.console import render_text

    member = [render_text(m) for m in c.rooms.get("member-de", [])
              if "WIS-SEC-2026-1" in (m.title or "")][-1]
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in member), member
    assert "another" in member.casefold(), member  # English: the room's language
    secretariat = [m for m in c.rooms.get("secretariat", []) if m.ref == "WIS-SEC-2026-1"][-1]
    assert secretariat.lang == "fr", render_text(secretariat)


# ----- finding 9: an exchange dispute page reaches its reader in the deployment's language --
# A dispute opened about a Member's record pages the Member's on-call ("member:DE"). The
# page's card is rendered once in WISBOT_LANGUAGE (``each.in_(None)``) and PagingService
# re-renders only incident, drill and handover cards (``_card_in``): an Arabic-reading focal
# point gets an English card, flagged ``lang: ar`` (laid out right to left), next to the
# same case's direct message in Arabic. docs/i18n.md: a person reads pages in their language.
async def test_finding9_exchange_page_in_the_paged_persons_language(
        make_app: Any, clock: Any) -> None:
    import yaml

    from tests.exchange.test_dispute import RECORD, seed
    from tests.i18n.test_pseudo_exchange import EXAMPLE
    from wisbot.directory import parse_directory

    data = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    for contact in data["contacts"]:
        if contact["id"] == "anna.weber":
            contact["language"] = "ar"
    app = await make_app(parse_directory(data))
    await seed(app, clock)
    c = app.console
    r = await c.type("gisc-offenbach", f"escalate exchange {RECORD} DE-OF-NC 42 GB a day",
                     "gisc-offenbach")
    assert r.kind != "error", r.plain()
    await app.outbox.drain()
    pages = [m for m in c.direct.get("anna.weber", []) if m.kind == "page"]
    assert pages
    for m in pages:
        # Hand-written English words of the card that an Arabic reader must not get.
        text = (m.title or "") + "\n".join("".join(s.text for s in line) for line in m.lines)
        assert "exchange dispute opened" not in text and "Record:" not in text, text


# ----- finding 10: the GISC Watch daily report writes counts with an English comma ----------
# The daily post's table formats a count with Python's "{:,.0f}" in every language: a French,
# Spanish or Russian duty room reads "12,345" records as twelve point three (their decimal
# comma) — the day-on-day figures the watch compares. i18n.number() ("12 345") is not used.
@pytest.mark.parametrize("language", ["fr", "es", "ru"])
async def test_finding10_daily_report_counts_in_the_rooms_number_format(
        monitoring_app: Any, fake_sweep: Any, language: str) -> None:  # noqa: F811
    from wisbot.adapters.console import render_text

    app = await monitoring_app(language)
    fake_sweep.set("Tokyo", "oaipmh", figure=12_345)
    await app.services.watch.run("daily")
    await app.outbox.drain()
    text = "\n".join(render_text(m) for m in app.console.rooms.get("duty", []))
    assert "12" in text
    assert "12,345" not in text, text  # hand-written: the English grouping
