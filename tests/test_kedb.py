"""The known-error database (issue 17 item 1) through the console, on SQLite and
PostgreSQL (``db_url``). Forbidden words are written here by hand: names, codes,
identifiers, people and phone numbers of the Members whose known errors a reader may not
see named (DE, CH)."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
import yaml

from wisbot.adapters.console import render_text
from wisbot.directory import Directory, parse_directory
from wisbot.domain import audience
from wisbot.domain.confidentiality import Vis
from wisbot.services.kedb import symptom_matches

DIRECTORY = """
members:
- {code: DE, name: Germany, aliases: [DWD, Deutscher Wetterdienst]}
- {code: CH, name: Switzerland, aliases: [MeteoSwiss, Zürich]}
- {code: JP, name: Japan, aliases: [JMA]}
centres:
- {code: DE-OF-NC, name: DWD National Centre, member: DE, principal_gisc: Offenbach,
   identifiers: [EDZW, de-dwd]}
- {code: CH-NC, name: Swiss National Centre, member: CH, principal_gisc: Offenbach,
   identifiers: [LSSW]}
- {code: JP-NC, name: JMA National Centre, member: JP, principal_gisc: Tokyo}
giscs:
- {name: Offenbach}
- {name: Tokyo, member: JP}
contacts:
- {id: sec-desk, name: Secretariat desk, roles: [secretariat]}
- {id: offenbach-desk, name: Offenbach desk, roles: ["gisc:Offenbach"]}
- {id: tokyo-desk, name: Tokyo desk, roles: ["gisc:Tokyo"]}
- {id: anna.weber, name: Anna Weber, email: anna.weber@dwd.example.de, phone: +49 69 8062 0,
   roles: ["member:DE"]}
- {id: jonas.keller, name: Jonas Keller, email: soc@meteoswiss.example.ch,
   phone: +41 58 460 91 11, roles: ["member:CH"]}
- {id: hiro.sato, name: Hiro Sato, roles: ["member:JP"]}
- {id: two.hats, name: Two Hats, roles: ["member:DE", "member:CH"]}
rooms:
- {key: secretariat, role: secretariat, platform: console}
- {key: collaboration, role: collaboration, platform: console}
- {key: gisc-offenbach, role: "gisc:Offenbach", platform: console}
- {key: gisc-tokyo, role: "gisc:Tokyo", platform: console}
- {key: member-de, role: "member:DE", platform: console}
- {key: member-ch, role: "member:CH", platform: console}
- {key: member-jp, role: "member:JP", platform: console}
oncall:
  secretariat: [sec-desk]
"""
DE_FORBIDDEN = ["DWD", "EDZW", "de-dwd", "Anna", "Weber", "8062", "Germany", "DE-OF-NC",
                "Deutscher Wetterdienst", "dwd.example"]
CH_FORBIDDEN = ["Switzerland", "MeteoSwiss", "Swiss", "LSSW", "CH-NC", "Jonas", "Keller",
                "Zürich", "460 91 11", "meteoswiss.example", "certificate", "K-1"]
# K-1: CH's own, kept (share=none). K-2: DE's, shared anonymously, naming DE in its words.
K1 = ('kedb add "MeteoSwiss LSSW relay" "relay rejects bulletins: certificate expired '
      'on gateway" Renew the gateway certificate; call Jonas Keller +41 58 460 91 11')
K2 = ('kedb add share=anonymous "DWD mail relay at EDZW" "phishing mails reach operators '
      'through relay" Block the sender at the relay; ask Anna Weber (+49 69 8062 0)')


def directory() -> Directory:
    return parse_directory(yaml.safe_load(DIRECTORY), "kedb fixture")


def squash(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text).casefold()
                   if ch.isalnum())


def found(text: str, forbidden: list[str]) -> list[str]:
    flat = squash(text)
    return [w for w in forbidden if squash(w) in flat]


def text(reply: Any) -> str:
    return render_text(reply)


def suggested(reply: Any) -> str:
    """The suggestions of a report's answer (after the reporter's own words)."""
    return text(reply).partition("Known errors that may match")[2]


def room(app: Any, key: str) -> str:
    return "\n\n".join(render_text(r) for r in app.console.rooms.get(key, []))


async def ok(app: Any, who: str, line: str, where: str | None = None) -> Any:
    r = await app.console.type(who, line, where)
    assert r.kind != "error", r.plain()
    return r


async def seeded(make_app: Any) -> Any:
    app = await make_app(directory())
    r = await ok(app, "jonas.keller", K1, "member-ch")
    assert "K-1" in r.plain() and "(none)" in r.plain(), r.plain()
    r = await ok(app, "anna.weber", K2, "member-de")
    assert "K-2" in r.plain() and "without naming DE" in r.plain(), r.plain()
    return app


# ----- the predicate (no database) ----------------------------------------------------------

@pytest.mark.parametrize(("role", "share", "vis"), [
    ("secretariat", "none", Vis.NAMED), ("member:DE", "none", Vis.NAMED),
    ("member:de", "none", Vis.NAMED), ("member:CH", "none", Vis.NONE),
    ("gisc:Offenbach", "none", Vis.NONE), ("collaboration", "none", Vis.NONE),
    ("member:CH", "anonymous", Vis.ANONYMOUS), ("gisc:Tokyo", "anonymous", Vis.ANONYMOUS),
    ("collaboration", "named", Vis.NAMED), ("duty", "named", Vis.NONE),
    ("working-group", "named", Vis.NONE), ("member:CH", "public", Vis.NONE),
    ("member:CH", "bogus", Vis.NONE),
])
def test_known_error_audience_is_the_lessons_rule(role: str, share: str, vis: Vis) -> None:
    assert audience.known_error_seen_by(role, share, "DE") is vis


def test_a_room_caps_what_a_person_reads() -> None:
    mine = audience.known_error_reader_sees(["member:DE"], "collaboration", "none", "DE")
    assert mine is Vis.NONE
    assert audience.known_error_reader_sees(["member:DE"], None, "none", "DE") is Vis.NAMED
    assert audience.known_error_reader_sees(["member:DE"], "collaboration", "anonymous",
                                            "DE") is Vis.ANONYMOUS


@pytest.mark.parametrize(("symptom", "report", "match"), [
    ("phishing mails reach operators through relay", "Phishing mail to our operators", True),
    ("phishing mails reach operators through relay", "Disk full on the archive", False),
    ("certificate expired", "gateway certificate has expired since Monday", True),
    ("certificate expired", "certificate renewed", False),
    ("证书过期导致中继拒收", "网关证书过期", True),
    ("证书过期导致中继拒收", "磁盘已满", False),
    ("the and for", "the and for", False),
])
def test_symptoms_match_reports_by_their_telling_words(symptom: str, report: str,
                                                       match: bool) -> None:
    assert symptom_matches(symptom, report) is match


# ----- in chat -----------------------------------------------------------------------------------

async def test_add_show_list_search_and_link_as_each_reader_may(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await seeded(make_app)
    # The Member that met it reads it named, with its workaround; the Secretariat too.
    for who, where in (("jonas.keller", "member-ch"), ("sec-desk", None)):
        show = text(await ok(app, who, "kedb show K-1", where))
        assert "Renew the gateway certificate" in show and "CH" in show, show
        assert "TLP:RED" in show, show
    # Anyone else: the same words as a known error that does not exist.
    missing = (await app.console.type("hiro.sato", "kedb show K-99", "member-jp")).plain()
    for who, where in (("hiro.sato", "member-jp"), ("anna.weber", None),
                       ("offenbach-desk", "gisc-offenbach")):
        r = await app.console.type(who, "kedb show K-1", where)
        assert r.kind == "error" and r.plain() == missing.replace("K-99", "K-1"), r.plain()
    # K-2 anonymised: no name, code, identifier, person or phone of DE anywhere.
    for who, where in (("hiro.sato", "member-jp"), ("jonas.keller", "member-ch"),
                       ("tokyo-desk", "gisc-tokyo"), ("hiro.sato", "collaboration")):
        shown = text(await ok(app, who, "kedb show K-2", where))
        assert "Block the sender" in shown and "GISC Offenbach" in shown, shown
        assert found(shown, DE_FORBIDDEN) == [], shown
        listing = text(await ok(app, who, "kedb list", where))
        assert "K-2" in listing and found(listing, DE_FORBIDDEN) == [], listing
        if who != "jonas.keller":
            assert found(listing, CH_FORBIDDEN) == [], listing
    # Named for DE itself; but its own item is capped by the room it is read in.
    assert "DWD mail relay" in text(await ok(app, "anna.weber", "kedb show K-2", "member-de"))
    collab = text(await ok(app, "anna.weber", "kedb show K-2", "collaboration"))
    assert found(collab, DE_FORBIDDEN) == [], collab
    # Search: the words a reader sees must match by themselves.
    hit = text(await ok(app, "hiro.sato", "kedb search relay", "member-jp"))
    assert "K-2" in hit and found(hit, CH_FORBIDDEN) == [], hit
    for words in ("DWD", "EDZW", "Weber", "certificate", "LSSW"):
        miss = text(await ok(app, "hiro.sato", f"kedb search {words}", "member-jp"))
        assert "No known errors that you may see match" in miss, (words, miss)
    assert "K-2" in text(await ok(app, "anna.weber", "kedb search EDZW", "member-de"))
    assert "K-1" in text(await ok(app, "sec-desk", "kedb search gateway certif"))
    # Links: to an incident and a lesson, shown only to who reads both named.
    await ok(app, "anna.weber", "incident report DE-OF-NC share=principal-gisc sev=2 "
             "Relay abused", "member-de")
    n = f"WIS-SEC-{app.clock().year}-1"
    r = await ok(app, "anna.weber", f"kedb link K-2 {n}", "member-de")
    assert "K-2 linked to" in r.plain(), r.plain()
    await ok(app, "anna.weber", f"incident resolve {n} blocked", "member-de")
    await ok(app, "anna.weber", f"lessons add {n} share=none Keep the relay locked down",
             "member-de")
    await ok(app, "anna.weber", "kedb link K-2 L-1", "member-de")
    own = text(await ok(app, "anna.weber", "kedb show K-2", "member-de"))
    assert n in own and "L-1" in own, own
    other = text(await ok(app, "hiro.sato", "kedb show K-2", "member-jp"))
    assert n not in other and "L-1" not in other and "WIS-SEC" not in other, other
    await app.outbox.drain()
    for key in ("collaboration", "gisc-tokyo", "member-jp", "member-ch"):
        assert "K-2" not in room(app, key) and "K-1" not in room(app, key), key


async def test_kedb_refuses_clearly_and_loses_nothing(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await seeded(make_app)

    async def refused(who: str, line: str, words: str, where: str | None = None) -> None:
        r = await app.console.type(who, line, where)
        assert r.kind == "error" and words in r.plain(), (line, r.plain())
        assert "Traceback" not in r.plain()

    # Consent: only the Member's focal points share; the Secretariat records share=none.
    await refused("sec-desk", 'kedb add member=DE share=named "t" "s" w', "needs their consent")
    await refused("sec-desk", 'kedb add "t" "s" w', "member=<code>")
    await refused("hiro.sato", 'kedb add member=DE "t" "s" w', "focal points of DE")
    await refused("two.hats", 'kedb add "t" "s" w', "member=<code>")
    await refused("anna.weber", 'kedb add member=XX "t" "s" w', "XX")
    await refused("anna.weber", 'kedb add share=everyone "t" "s" w', "share must be one of")
    await refused("anna.weber", 'kedb add "t" "s"', "missing <workaround>")
    await refused("anna.weber", 'kedb add "   " "s" w', "title is empty")
    await refused("anna.weber", f'kedb add "{"x" * 201}" "s" w', "at most 200")
    await refused("anna.weber", "kedb show K-x", "they look like K-3")
    await refused("anna.weber", "kedb search !!", "at least one word")
    # Links: only who may change it; nothing hidden may be linked, with the missing words.
    r = await app.console.type("hiro.sato", "kedb link K-2 L-1", "member-jp")
    assert r.kind == "error" and "only the focal points of the Member that met K-2" in \
        r.plain() and found(r.plain(), DE_FORBIDDEN) == [], r.plain()
    assert "DE" not in r.plain().replace(".", " ").split(), r.plain()
    await refused("hiro.sato", "kedb link K-1 L-1", "no known error K-1 that you may see")
    await ok(app, "jonas.keller", "incident report CH-NC share=secretariat sev=1 x", "member-ch")
    n = f"WIS-SEC-{app.clock().year}-1"
    await refused("anna.weber", f"kedb link K-2 {n}", "no incident", "member-de")
    await refused("anna.weber", "kedb link K-2 L-7", "no lesson L-7")
    await ok(app, "sec-desk", f"kedb link K-1 {n}")
    await refused("sec-desk", f"kedb link K-1 {n}", "already linked")
    # Nothing was lost: the two known errors stand as recorded.
    listing = text(await ok(app, "sec-desk", "kedb list"))
    assert "K-1" in listing and "K-2" in listing and "K-3" not in listing, listing


async def test_suggestions_reach_the_reporter_only_and_never_a_hidden_known_error(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await seeded(make_app)
    year = app.clock().year
    # Japan reports what reads like both K-1 (CH, kept) and K-2 (DE, anonymous).
    r = await ok(app, "hiro.sato", "incident report JP-NC share=group sev=2 Phishing mails "
                 "reach our operators through the relay; gateway certificate expired",
                 "member-jp")
    assert r.private, r
    assert "Known errors that may match" in text(r), text(r)
    shown = suggested(r)  # the reporter's own words may say anything
    assert "K-2" in shown, shown
    assert "Block the sender" in shown, shown
    assert found(shown, DE_FORBIDDEN) == [] and found(shown, CH_FORBIDDEN) == [], shown
    # Switzerland reports the same: its own K-1 named, DE's K-2 anonymised.
    r = await ok(app, "jonas.keller", "incident report CH-NC share=group sev=2 Gateway "
                 "certificate expired; phishing mails reach operators", "member-ch")
    shown = suggested(r)
    assert "K-1" in shown and "Renew the gateway certificate" in shown, shown
    assert "K-2" in shown and found(shown, DE_FORBIDDEN) == [], shown
    # An update that matches gets them too; one that does not, none.
    r = await ok(app, "hiro.sato", f"incident update WIS-SEC-{year}-1 the relay passes "
                 "phishing mails to operators", "member-jp")
    assert "K-2" in suggested(r) and found(suggested(r), DE_FORBIDDEN) == [], text(r)
    r = await ok(app, "hiro.sato", f"incident update WIS-SEC-{year}-1 disk full", "member-jp")
    assert "Known errors" not in text(r), text(r)
    # In the collaboration room even DE's own item is read anonymised.
    r = await ok(app, "anna.weber", "incident report DE-OF-NC share=group sev=2 phishing "
                 "mails reach operators through relay", "collaboration")
    assert "K-2" in suggested(r) and found(suggested(r), DE_FORBIDDEN) == [], text(r)
    # No room ever reads a suggestion.
    await app.outbox.drain()
    for key in ("secretariat", "collaboration", "gisc-offenbach", "gisc-tokyo", "member-de",
                "member-ch", "member-jp"):
        assert "Known errors that may match" not in room(app, key), key
        assert "Block the sender" not in room(app, key), key


async def test_search_in_every_script_and_after_a_restart(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await ok(app, "hiro.sato", 'kedb add share=named "中继拒收" "证书过期导致中继拒收" '
             "更新证书", "member-jp")
    await ok(app, "hiro.sato", 'kedb add share=named "انقطاع" "فشل المصادقة على الخادم" '
             "أعد تشغيل الخدمة", "member-jp")
    await ok(app, "hiro.sato", 'kedb add share=named "Größe" "Übertragung bricht ab" '
             "Puffer vergrößern", "member-jp")
    for words, kid in (("证书", "K-1"), ("过期", "K-1"), ("المصادقة", "K-2"), ("المصا", "K-2"),
                       ("übertragung", "K-3"), ("ÜBERTRAG", "K-3")):
        hit = text(await ok(app, "jonas.keller", f"kedb search {words}", "member-ch"))
        assert kid in hit, (words, hit)
    # A second App on the same database (a restart) finds them all the same.
    again = await make_app(directory())
    hit = text(await ok(again, "anna.weber", "kedb search 中继", "member-de"))
    assert "K-1" in hit and "K-2" not in hit, hit
    r = await ok(again, "anna.weber", "incident report DE-OF-NC share=group sev=2 网关证书过期",
                 "member-de")
    assert "K-1" in text(r), text(r)
