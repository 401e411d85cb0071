"""Leak tests whose forbidden words are written here by hand, never taken from the code
under test: what operators really write about a Member (its service's acronym with a
plural or possessive, the centre's GTS CCCC and WIS2 centre-id, native names, cities,
people, e-mails, phone numbers) must not reach a reader who sees the incident anonymised,
on any surface the console exposes: room posts (summaries, updates, severity notes,
lessons), each person's own replies (show with its timeline, list, lessons list and
search) and their direct messages (pages). Runs on SQLite and PostgreSQL (``db_url``).

Anonymised rooms read no free text until the affected Member confirms the redacted
wording it is shown (``incident confirm``, docs/architecture.md): the tests confirm it as
the Member's focal point would, so what they check is the Redactor's wording as anonymised
readers really get it.

Statistics: a GISC's ``incident stats`` does not move after a report it may not see.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
import yaml

from wisbot.adapters.console import render_text
from wisbot.directory import Directory, parse_directory

DIRECTORY = """
members:
- {code: DE, name: Germany, aliases: [DWD, Deutscher Wetterdienst, Deutschland]}
- {code: CH, name: Switzerland, aliases: [MeteoSwiss, Schweiz, Zürich]}
- {code: JP, name: Japan, aliases: [JMA]}
centres:
- code: DE-OF-NC
  name: DWD National Centre
  member: DE
  principal_gisc: Offenbach
  identifiers: [EDZW, de-dwd, de.dwd]
- code: CH-NC
  name: Swiss National Centre
  member: CH
  principal_gisc: Offenbach
  identifiers: [LSSW, ch-meteoswiss]
- {code: JP-NC, name: JMA National Centre, member: JP, principal_gisc: Tokyo,
   identifiers: [RJTD]}
giscs:
- {name: Offenbach}
- {name: Tokyo}
contacts:
- {id: sec-desk, name: Secretariat desk, roles: [secretariat]}
- {id: offenbach-desk, name: Offenbach desk, roles: ["gisc:Offenbach"]}
- {id: tokyo-desk, name: Tokyo desk, roles: ["gisc:Tokyo"]}
- id: anna.weber
  name: Anna Weber
  email: anna.weber@dwd.example.de
  phone: +49 69 8062 0
  roles: ["member:DE"]
  chat: {matrix: "@aweber:dwd.example.de"}
- id: jonas.keller
  name: Jonas Keller
  email: soc@meteoswiss.example.ch
  phone: +41 58 460 91 11
  roles: ["member:CH"]
- {id: hiro.sato, name: Hiro Sato, roles: ["member:JP"]}
rooms:
- {key: secretariat, role: secretariat, platform: console}
- {key: collaboration, role: collaboration, platform: console}
- {key: gisc-offenbach, role: "gisc:Offenbach", platform: console}
- {key: gisc-tokyo, role: "gisc:Tokyo", platform: console}
- {key: area-offenbach, role: "area:Offenbach", platform: console}
- {key: area-tokyo, role: "area:Tokyo", platform: console}
- {key: member-de, role: "member:DE", platform: console}
- {key: member-ch, role: "member:CH", platform: console}
oncall:
  secretariat: [sec-desk]
  gisc:Offenbach: [offenbach-desk]
  gisc:Tokyo: [tokyo-desk]
"""

# What operators write. Every line has forbidden words the directory knows of, in the
# forms people type them.
SUMMARY = ("DWDs mail relay and DWD's firewall (EDZW switch, de-dwd broker) hit; "
           "Anna Weber on +49 69 8062 0 or anna.weber@dwd.example.de; Deutschland CERT "
           "told; DWD’s VPN too")
UPDATE = ("Weber's laptop isolated; EDZW bulletins resume; call 069 8062-0; "
          "@aweber:dwd.example.de coordinates for Deutscher Wetterdienst; the DE-OF-NC "
          "switch is back")
REASON = "Germany's DWD confirms data loss at de.dwd; fax +49 (0)69 8062-1111"
LESSON = "DWD learnt: EDZW admin accounts need MFA; ask Anna Weber (+49 69 8062 0)"
CH_SUMMARY = ("MeteoSwiss's SOC (soc@meteoswiss.example.ch, +41 58 460 91 11) saw LSSW "
              "and ch-meteoswiss feeds tampered; Jonas Keller in Zürich; Schweiz notified")

# Forbidden for anonymised readers of the DE incident, written by hand.
DE_FORBIDDEN = ["DWD", "EDZW", "de-dwd", "de.dwd", "Anna", "Weber", "69 8062",
                "8062", "dwd.example", "Deutschland", "Germany", "DE-OF-NC", "aweber",
                "Deutscher Wetterdienst"]
CH_FORBIDDEN = ["MeteoSwiss", "LSSW", "ch-meteoswiss", "Jonas", "Keller", "Zürich", "Zurich",
                "Schweiz", "Switzerland", "460 91 11", "58 460", "CH-NC"]
ANONYMISED_ROOMS = ("collaboration", "gisc-tokyo", "area-tokyo", "area-offenbach")


def directory() -> Directory:
    return parse_directory(yaml.safe_load(DIRECTORY), "hand-written leak fixture")


def squash(text: str) -> str:
    """Letters and digits only, folded as a reader takes them."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", unicodedata.normalize(
        "NFKC", text)).casefold() if ch.isalnum())


def found(text: str, forbidden: list[str]) -> list[str]:
    flat = squash(text)
    return [word for word in forbidden if squash(word) in flat]


def room(app: Any, key: str) -> str:
    return "\n\n".join(render_text(r) for r in app.console.rooms.get(key, []))


def direct(app: Any, contact: str) -> str:
    return "\n\n".join(render_text(r) for r in app.console.direct.get(contact, []))


async def confirm_wording(app: Any, focal: str = "anna.weber", room_key: str = "member-de",
                          number: str = "WIS-SEC-2026-1") -> None:
    """The affected Member's focal point confirms every wording waiting for its review:
    from then on anonymised rooms read the redacted free text."""
    r = await app.console.type(focal, f"incident confirm {number}", room_key)
    assert r.kind != "error" and "confirmed" in r.plain(), r.plain()


async def _de_incident(app: Any) -> None:
    c = app.console
    r = await c.type("anna.weber", f"incident report DE-OF-NC share=group anonymous sev=3 "
                     f"{SUMMARY}", "member-de")
    assert r.kind == "incident", r.plain()
    assert (await c.type("anna.weber", f"incident update WIS-SEC-2026-1 {UPDATE}",
                         "member-de")).kind == "incident"
    assert (await c.type("anna.weber", f"severity WIS-SEC-2026-1 4 {REASON}",
                         "member-de")).kind == "incident"
    assert (await c.type("anna.weber", "incident resolve WIS-SEC-2026-1 fixed",
                         "member-de")).kind == "incident"
    r = await c.type("anna.weber", f"lessons add WIS-SEC-2026-1 share=anonymous {LESSON}",
                     "member-de")
    assert "recorded" in r.plain(), r.plain()
    await confirm_wording(app)
    await app.paging.tick()
    await app.outbox.drain()


async def test_anonymised_rooms_never_read_what_operators_write(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await _de_incident(app)
    # The words were really written: the Secretariat reads them all.
    sec = room(app, "secretariat")
    assert found(sec, DE_FORBIDDEN) == DE_FORBIDDEN, sec
    for key in ANONYMISED_ROOMS:
        text = room(app, key)
        assert "a WIS centre in the area of GISC Offenbach" in text, key
        assert "mail relay" in text and "bulletins resume" in text, key  # released
        assert found(text, DE_FORBIDDEN) == [], f"{key}: {text}"
    lessons = room(app, "collaboration")
    assert "admin accounts need MFA" in lessons, lessons


async def test_each_persons_own_anonymised_view_withholds_them(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await _de_incident(app)
    c = app.console
    views = {
        "show in gisc-tokyo": await c.type("tokyo-desk", "incident show WIS-SEC-2026-1",
                                           "gisc-tokyo"),
        "show alone": await c.type("tokyo-desk", "incident show WIS-SEC-2026-1"),
        "show in collaboration": await c.type("hiro.sato", "incident show WIS-SEC-2026-1",
                                              "collaboration"),
        "list": await c.type("tokyo-desk", "incident list all", "gisc-tokyo"),
        "list alone": await c.type("hiro.sato", "incident list all"),
        "lessons list": await c.type("tokyo-desk", "lessons list", "gisc-tokyo"),
        "lessons search": await c.type("hiro.sato", "lessons search MFA accounts",
                                       "collaboration"),
        "lessons search alone": await c.type("tokyo-desk", "lessons search MFA"),
    }
    # The lesson is found, anonymised (the title echoes the words searched: not counted).
    assert "MFA" in "\n".join(render_text(views["lessons search"]).splitlines()[1:])
    assert "bulletins resume" in views["show alone"].plain()  # the timeline is shown
    for name, reply in views.items():
        text = render_text(reply)
        assert found(text, DE_FORBIDDEN) == [], f"{name}: {text}"
    # A search for a withheld word finds nothing that would tie the lesson to DE.
    for word in ("EDZW", "Weber", "DWDs"):
        reply = await c.type("tokyo-desk", f"lessons search {word}")
        text = "\n".join(render_text(reply).splitlines()[1:])  # the title echoes the words
        assert found(text, DE_FORBIDDEN) == [] and "MFA" not in text, f"{word}: {text}"
    # The page to GISC Tokyo's desk, by direct message, is anonymised too.
    paged = direct(app, "tokyo-desk")
    assert "needs your response" in paged and "area of GISC Offenbach" in paged
    assert found(paged, DE_FORBIDDEN) == [], paged
    # The Member itself and its principal GISC read it named.
    own = render_text(await c.type("offenbach-desk", "incident show WIS-SEC-2026-1",
                                   "gisc-offenbach"))
    assert "EDZW" in own and "Anna Weber" in own


async def test_a_second_members_words_are_withheld_and_the_first_stays_readable(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    c = app.console
    r = await c.type("jonas.keller", f"incident report CH-NC share=group anonymous "
                     f"{CH_SUMMARY}", "member-ch")
    assert r.kind == "incident", r.plain()
    await confirm_wording(app, "jonas.keller", "member-ch")
    await app.outbox.drain()
    assert found(room(app, "secretariat"), CH_FORBIDDEN) == CH_FORBIDDEN
    for key in ANONYMISED_ROOMS:
        text = room(app, key)
        assert found(text, CH_FORBIDDEN) == [], f"{key}: {text}"
        assert "feeds tampered" in text  # what does not identify CH is still told


@pytest.mark.parametrize("number", ["+33 1 23 45 67 89", "0033 1 23 45 67 89",
                                    "tel. 01 23 45 67 89", "(030) 1234 5678"])
async def test_any_phone_number_is_withheld_from_anonymised_text(make_app,
                                                                 number: str) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    c = app.console
    await c.type("anna.weber", f"incident report DE-OF-NC share=group anonymous the "
                 f"attacker's hotline {number} called staff", "member-de")
    await confirm_wording(app)
    await app.outbox.drain()
    digits = "".join(ch for ch in number if ch.isdigit())[-8:]
    assert digits in squash(room(app, "secretariat"))
    text = room(app, "collaboration")
    assert "hotline" in text and digits not in squash(text), text


async def test_dates_times_and_addresses_are_not_taken_for_phone_numbers(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=group anonymous since "
                 "2026-12-01 14:00 from 203.0.113.77 port 8443, ticket 4711", "member-de")
    await confirm_wording(app)
    await app.outbox.drain()
    text = room(app, "collaboration")
    assert "2026-12-01 14:00 from 203.0.113.77 port 8443, ticket 4711" in text, text


async def test_it_and_de_as_words_are_not_withheld_but_the_codes_are(make_app) -> None:  # type: ignore[no-untyped-def]
    """Withholding every "de" would itself say which Member it is."""
    app = await make_app(directory())
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=group anonymous it hit the "
                 "de facto gateway; DE staff and DE's CERT told", "member-de")
    await confirm_wording(app)
    await app.outbox.drain()
    text = room(app, "collaboration")
    assert "it hit the de facto gateway" in text, text
    assert "DE staff" not in text and "DE's" not in text, text


# ----- statistics -----------------------------------------------------------------------

async def test_a_gisc_sees_no_change_in_stats_after_a_hidden_report(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=group sev=2 visible one",
                 "member-de")
    await app.paging.tick()  # the pager's running hours are counted: not what is compared
    await app.outbox.drain()
    asks = [("tokyo-desk", "collaboration"), ("tokyo-desk", "gisc-tokyo"),
            ("tokyo-desk", None), ("hiro.sato", "collaboration"),
            ("sec-desk", "collaboration")]  # the Secretariat in a shared room: no more
    before = {a: render_text(await c.type(a[0], "incident stats", a[1])) for a in asks}
    sec_before = render_text(await c.type("sec-desk", "incident stats", "secretariat"))
    assert "Incidents: 1" in before[("tokyo-desk", "collaboration")]
    # A hidden report (Secretariat and the Member only), severe, paged, acknowledged.
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=5 hidden",
                 "member-de")
    await app.paging.tick()
    await app.outbox.drain()
    await c.type("sec-desk", "ack WIS-SEC-2026-2", "secretariat")
    for ask, text in before.items():
        after = render_text(await c.type(ask[0], "incident stats", ask[1]))
        assert after == text, f"{ask}: {text!r} → {after!r}"
    # The Secretariat, in its room, reads the live count.
    sec_after = render_text(await c.type("sec-desk", "incident stats", "secretariat"))
    assert "Incidents: 1" in sec_before and "Incidents: 2" in sec_after, sec_after


async def test_a_closed_year_reads_as_published(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    """Before 1 January's report a GISC gets only what it may see of last year; after it,
    the figures as published (only the incidents shared with the group, as the group was
    told), which later changes do not move."""
    from wisbot.services.reports import post_annual_report

    app = await make_app(directory())
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=group sev=2 seen", "member-de")
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=1 hidden",
                 "member-de")
    clock.advance(days=365)
    year = clock().year - 1
    mine = render_text(await c.type("tokyo-desk", f"incident stats {year}", "gisc-tokyo"))
    assert "Incidents: 1" in mine and "you may see" in mine, mine
    assert await post_annual_report(app.store, app.directory, clock, year)
    await c.type("anna.weber", f"severity WIS-SEC-{year}-1 5 worse than thought", "member-de")
    published = render_text(await c.type("tokyo-desk", f"incident stats {year}",
                                          "gisc-tokyo"))
    assert "as published" in published and "Incidents: 1" in published, published
    assert "By severity: 0: 0, 1: 0, 2: 1, 3: 0, 4: 0, 5: 0" in published, published
    # This year's live figures are still the Secretariat's alone.
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat sev=1 new hidden",
                 "member-de")
    now = render_text(await c.type("tokyo-desk", "incident stats", "gisc-tokyo"))
    assert "Incidents: 0" in now, now
