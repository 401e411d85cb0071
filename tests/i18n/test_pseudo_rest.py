"""The pseudo-locale run beyond the incident cascade: the WHOLE demo (wisbot/demo.py), a
page / escalate / ack cycle with the Secretariat's alerts, a GISC Watch daily post and
handover, and the annual report. Any English word wisbot wrote outside ⟦…⟧ escaped the
catalogs and fails the test.

What may stay unmarked is written by hand below (never derived from the code): ids,
codes, names from the example directory, share levels, TLP labels, RSIT class/type names,
room keys and roles, command words."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from tests.i18n.test_catalogs import NEVER_TRANSLATED
from tests.watch.conftest import fake_sweep, watch_app  # noqa: F401 (fixtures)
from wisbot import i18n
from wisbot.adapters.console import render_text
from wisbot.demo import SCRIPT

# Names, codes and words that are not translated (the example directory's people,
# centres and rooms; RSIT's class and type names; command words and options).
KEPT = [
    r"WIS-SEC-\d+-\d+", r"Fraud: phishing", r"fraud/phishing",
    r"@[a-z.\-]+", r"\b(gisc|area|member)-[a-z\-]+", r"\b(gisc|area|member):[A-Z][A-Za-z]*"
    r"( [A-Z][a-z]+)?", r"\bmember:DE\b", r"\bconsole\b",
    "Maria Rossi", "Hiroshi Sato", "Wanjiru Kamau", "Kenya Meteorological Department",
    r"GISC [A-Z][a-z]+( Delhi)? operations desk", "WMO Secretariat 24/7 desk", "Kenya",
    "KE-NC", "Watch Operator", "ET-WISOP", "Exeter", "Tokyo", "Seoul", "Washington",
    r"HO-\d+", r"Q-\d+", r"O-\d+", r"W-\d+", r"#\d+", "oaipmh", "sru", "csw", "broker",
    r"gb-(one|two)", "OAI provider not active", "Ticket 1 needs follow-up",
    "all-giscs", "secretariat", "collaboration", "anonymous", "named", "share=", "sev=",
    r"`[^`]*`", r"'\d+\w* (page|repeat|next|secretariat|missed)'",
    # WIS2 IMS (JIRA) ticket states and impact levels; probe statuses and service keys.
    r"\b(Triage|To Do|In Progress|In Review|Done|TRIAGE|TO DO|IN PROGRESS|IN REVIEW|DONE)\b",
    r"\b(Very High|High|Medium)\b", r"\b(ok|degraded|fail)\b", r"\bgdc-one\b",
    r"\bUTC\b", r"\bP-\d+\b", "JSON", "CSV", "Markdown", r"\bWIS2?\b", "WMO",
]

@pytest.fixture(autouse=True)
def english_default() -> Iterator[None]:
    yield
    i18n.set_default("en")


def wisbot_words(reply: Any) -> str:
    """What wisbot itself wrote: not a person's text, nor code spans (commands, ids)."""
    parts = [reply.title or ""]
    parts += [f"{label}: {value}" for label, value in reply.fields]
    parts += ["".join(s.text for s in line if s.style not in ("user", "code"))
              for line in reply.lines]
    parts += [a.label for a in reply.actions]
    return "\n".join(parts)


def unmarked(text: str) -> list[str]:
    # Usage lines (`incident report <centre> share=…`) are command words.
    text = re.sub(r"(?m)^\s*(incident|lessons|watch|escalate|ack|severity)"
                  r"(:|( [a-z<\[][^\n]*)?$)", " ", text)
    while re.search(r"⟦[^⟦⟧]*⟧", text):  # innermost first
        text = re.sub(r"⟦[^⟦⟧]*⟧", " ", text)
    for pattern in [*KEPT, *NEVER_TRANSLATED]:
        text = re.sub(pattern, " ", text)
    text = text.replace(i18n.FSI, " ").replace(i18n.PDI, " ")
    return re.findall(r"[A-Za-z]{2,}", text)


def problems(replies: list[Any], kept: Sequence[str] = ()) -> list[tuple[list[str], str]]:
    """English wisbot wrote outside ⟦…⟧; ``kept``: a test file's own words set aside first
    (before the shared list)."""
    found = []
    for reply in replies:
        text = wisbot_words(reply)
        for pattern in kept:
            text = re.sub(pattern, " ", text)
        left = unmarked(text)
        if left:
            found.append((left, render_text(reply)))
    if found and (dump := os.environ.get("WISBOT_I18N_DUMP")):
        with open(dump, "a", encoding="utf-8") as fh:
            fh.writelines(f"{left}\n{text}\n\n" for left, text in found)
    return found


def everything(app: Any) -> list[Any]:
    c = app.console
    return [r for rs in [*c.rooms.values(), *c.direct.values()] for r in rs]


async def test_pseudo_locale_whole_demo(make_app: Any) -> None:
    """Every step of the demo script: the reply to whoever typed it, and every message
    each room and person received."""
    app = await make_app()
    i18n.set_default("qps")
    c = app.console
    year = app.clock().year
    replies = []
    for who, room, text, why in SCRIPT:
        assert str(why).startswith("⟦") and str(why).endswith("⟧"), why  # the narration
        replies.append(await c.type(who, text.format(year=year), room))
        await app.outbox.drain()
    assert len(replies) == len(SCRIPT) and everything(app)
    left = problems(replies + everything(app))
    assert not left, left[:5]


async def test_pseudo_locale_page_escalate_ack(make_app: Any, clock: Any) -> None:
    """A severity 4 page, the reminder and the next step, the Secretariat's 'target at
    risk' alert, an escalation and the acknowledgement; the on-call view."""
    app = await make_app(paging_steps="0 page, 5 repeat, 10 next, 15 secretariat, 60 missed")
    i18n.set_default("qps")
    c = app.console
    replies = [await c.type("anna.weber", "incident report DE-OF-NC share=principal-gisc "
                            "sev=4 Phishing at DWD operators", "member-de")]
    for _ in range(3):
        clock.advance(minutes=5)
        await app.services.paging.tick()
    replies.append(await c.type("anna.weber", "escalate WIS-SEC-2026-1 nobody answers",
                                "member-de"))
    replies.append(await c.type("sec-desk", "escalate oncall", "secretariat"))
    replies.append(await c.type("gisc-offenbach", "ack P-1", "gisc-offenbach"))
    replies.append(await c.type("gisc-offenbach", "ack P-9"))
    clock.advance(minutes=61)
    await app.services.paging.tick()
    await app.outbox.drain()
    kinds = {r.kind for r in everything(app)}
    assert {"page", "alert"} <= kinds, kinds
    left = problems(replies + everything(app))
    assert not left, left[:5]


async def test_pseudo_locale_watch_daily_handover_and_annual_report(
        watch_app: Any, fake_sweep: Any, clock: Any) -> None:  # noqa: F811
    app = await watch_app(duty_room=True)
    i18n.set_default("qps")
    c = app.console
    fake_sweep.set("Tokyo", "oaipmh", figure=10_000)
    fake_sweep.set("Exeter", "oaipmh", figure=9_800)
    await app.services.watch.run("daily")
    clock.advance(days=1)
    fake_sweep.set("Tokyo", "oaipmh", figure=25_000)
    fake_sweep.set("Exeter", "sru", "fail", reason="SRU diagnostic 1/1")
    await app.services.watch.run("daily")
    replies = [await c.type("watch-op", "watch ticket add Exeter OAI provider not active",
                            "gisc-tokyo")]
    replies.append(await c.type("watch-op", "watch", "gisc-tokyo"))
    clock.advance(days=11)
    replies.append(await c.type("gisc-tokyo", "watch handover Ticket 1 needs follow-up",
                                "gisc-tokyo"))
    replies.append(await c.type("gisc-tokyo", "watch report 01/03/2026 2026-03-05",
                                "gisc-tokyo"))
    replies.append(await c.type("sec-desk", "incident stats", "secretariat"))
    await app.outbox.drain()
    titles = " ".join(r.title or "" for r in everything(app))
    assert "daily" in titles and "HO-1" in titles, titles
    left = problems(replies + everything(app))
    assert not left, left[:5]
