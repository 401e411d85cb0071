"""Who is told what: for each confidentiality level, with and without ``anonymous``.

The positive (the rooms that must be told, in cascade order, with the right words) and the
negative (rooms that must not be told receive nothing; anonymised rooms never contain the
Member's or centre's name or code — in the message, the timeline, list, show and search).
"""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from tests.helpers import identifying_terms, leaks, room_text
from wisbot.domain.confidentiality import Share
from wisbot.reply import Reply
from wisbot.store.tables import OutboxRow

GISC_ROOMS = [
    "gisc-beijing", "gisc-brasilia", "gisc-casablanca", "gisc-exeter", "gisc-jeddah",
    "gisc-melbourne", "gisc-moscow", "gisc-new-delhi", "gisc-pretoria", "gisc-seoul",
    "gisc-tehran", "gisc-tokyo", "gisc-toulouse", "gisc-washington",
]
EXPECTED: dict[str, list[str]] = {
    "secretariat": ["secretariat", "member-de"],
    "principal-gisc": ["secretariat", "member-de", "gisc-offenbach"],
    "all-giscs": ["secretariat", "member-de", "gisc-offenbach", *GISC_ROOMS],
    "group": ["secretariat", "member-de", "gisc-offenbach", *GISC_ROOMS, "area-offenbach",
              "area-tokyo", "collaboration"],
}
NAMED_ALWAYS = {"secretariat", "member-de", "gisc-offenbach"}
SUMMARY = "Ransomware at DWD reached the DE-OF-NC message switch of Germany; Anna Weber isolated it"


def delivered_order(app) -> list[str]:  # type: ignore[no-untyped-def]
    """Rooms in the order the console received their first message."""
    return list(app.console.rooms)


async def outbox_state(app) -> str:  # type: ignore[no-untyped-def]
    """The rows as the database has them: why a room was late, when the order fails."""
    def rows(session):  # type: ignore[no-untyped-def]
        return [f"{r.id} {r.room_key} {r.status} attempts={r.attempts} "
                f"failures={r.failures} next={r.next_attempt_at} {r.last_error or ''}"
                for r in session.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all()]
    return "\n".join(await app.store.tx(rows))


@pytest.mark.parametrize("share", [s.value for s in Share])
@pytest.mark.parametrize("anonymous", [False, True])
async def test_cascade_per_level(make_app, share: str, anonymous: bool) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    flag = " anonymous" if anonymous else ""
    reply: Reply = await app.console.type(
        "anna.weber", f"incident report DE-OF-NC share={share} sev=4{flag} {SUMMARY}",
        "member-de")
    assert reply.kind == "incident", reply.plain()
    await app.outbox.drain()
    expected = EXPECTED[share]
    assert delivered_order(app) == expected, await outbox_state(app)
    everyone = [r.key for r in app.directory.rooms]
    for key in everyone:
        text = room_text(app, key)
        if key not in expected:
            assert text == "", f"{key} must not be told about a {share} incident"
            continue
        assert "WIS-SEC-2026-1" in text
        assert ("Security incident severity 4 – Systems with some connection to a WIS centre "
                "are compromised") in text
        assert "Increase vigilance; consider risk-avoidance mechanisms." in text
        terms = identifying_terms(app.directory, "DE")
        if anonymous and key not in NAMED_ALWAYS:
            assert "a WIS centre in the area of GISC Offenbach" in text
            assert leaks(text, terms) == [], f"{key} reads {leaks(text, terms)}"
        else:
            assert "DE-OF-NC" in text and "Germany" in text
    # The reply tells the reporter exactly which rooms were told.
    for key in expected:
        assert key in reply.plain()


async def test_anonymised_everywhere_show_list_search_timeline(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", f"incident report DE-OF-NC share=group anonymous {SUMMARY}",
                 "member-de")
    await c.type("anna.weber", "incident update WIS-SEC-2026-1 DWD restored backups at "
                 "DE-OF-NC", "member-de")
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1", "member-de")
    await c.type("anna.weber", "lessons add WIS-SEC-2026-1 share=anonymous Offline backups "
                 "saved Germany; DWD keeps them air-gapped", "member-de")
    # Anonymised rooms read the Member's words only once the Member confirmed the wording.
    await c.type("anna.weber", "incident confirm WIS-SEC-2026-1", "member-de")
    await app.outbox.drain()
    terms = identifying_terms(app.directory, "DE")
    # hiro.sato (Japan) in the collaboration room and GISC Tokyo in its room.
    for who, room in (("hiro.sato", "collaboration"), ("gisc-tokyo", "gisc-tokyo"),
                      ("hiro.sato", None)):
        for command in ("incident show WIS-SEC-2026-1", "incident list all",
                        "lessons search backups", "lessons list"):
            reply = await c.type(who, command, room)
            text = reply.plain()
            assert leaks(text, terms) == [], f"{who} {command}: {leaks(text, terms)}\n{text}"
        shown = (await c.type(who, "incident show WIS-SEC-2026-1", room)).plain()
        assert "a WIS centre in the area of GISC Offenbach" in shown
        assert "restored backups" in shown  # the timeline is there, anonymised
        lessons = (await c.type(who, "lessons search backups", room)).plain()
        assert "air-gapped" in lessons
        assert "WIS-SEC-2026-1" not in lessons  # the number would join it to the incident
    # Searching for the withheld name finds nothing: a hit would reveal who it is about.
    hit = (await c.type("hiro.sato", "lessons search Germany", "collaboration")).plain()
    assert "air-gapped" not in hit
    # The affected Member and the Secretariat see it named.
    named = (await c.type("sec-desk", "lessons search backups", "secretariat")).plain()
    assert "WIS-SEC-2026-1" in named and "Germany" in named
    for key in ("collaboration", "gisc-tokyo", "area-tokyo", "gisc-exeter"):
        assert leaks(room_text(app, key), terms) == []


async def test_list_by_centre_does_not_match_anonymised(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=group anonymous Scan", "member-de")
    by_centre = (await c.type("hiro.sato", "incident list all centre=DE-OF-NC")).plain()
    assert "WIS-SEC-2026-1" not in by_centre
    everything = (await c.type("hiro.sato", "incident list all")).plain()
    assert "WIS-SEC-2026-1" in everything and "DE-OF-NC" not in everything


async def test_room_caps_what_a_person_sees(make_app) -> None:  # type: ignore[no-untyped-def]
    """The Secretariat typing in the collaboration room gets only what that room may read."""
    app = await make_app()
    c = app.console
    await c.type("wanjiru.kamau", "incident report KE-NC share=secretariat Scans of KMD FTP")
    there = (await c.type("sec-desk", "incident show WIS-SEC-2026-1", "collaboration")).plain()
    assert "Scans" not in there and "no incident WIS-SEC-2026-1 that you may see" in there
    own = (await c.type("sec-desk", "incident show WIS-SEC-2026-1", "secretariat")).plain()
    assert "Scans of KMD FTP" in own


async def test_hidden_incident_is_indistinguishable_from_missing(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("wanjiru.kamau", "incident report KE-NC share=secretariat Scans")
    hidden = (await c.type("gisc-offenbach", "incident show WIS-SEC-2026-1",
                           "gisc-offenbach")).plain()
    missing = (await c.type("gisc-offenbach", "incident show WIS-SEC-2026-9",
                            "gisc-offenbach")).plain()
    assert hidden.replace("-1", "-N") == missing.replace("-9", "-N")
    # Acting on it is refused the same way.
    upd = (await c.type("gisc-offenbach", "incident update WIS-SEC-2026-1 hello",
                        "gisc-offenbach")).plain()
    assert "no incident WIS-SEC-2026-1 that you may see" in upd


async def test_query_never_reveals_a_hidden_incident(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    before = (await c.type("gisc-tokyo", "incident query KE-NC", "gisc-tokyo")).plain()
    await c.type("wanjiru.kamau", "incident report KE-NC share=secretariat Scans")
    after = (await c.type("gisc-tokyo", "incident query KE-NC", "gisc-tokyo")).plain()
    assert before.replace("Q-1", "Q-N") == after.replace("Q-2", "Q-N")
    await app.outbox.drain()
    sec = room_text(app, "secretariat")
    assert "Q-2" in sec and "incident answer Q-2" in sec
    await c.type("sec-desk", "incident answer Q-2 Nothing to report for your area",
                 "secretariat")
    await app.outbox.drain()
    tokyo = room_text(app, "gisc-tokyo")
    assert "Nothing to report for your area" in tokyo
    assert "Scans" not in tokyo
    # A query the asker can answer from what it may see: no Secretariat query.
    await c.type("anna.weber", "incident report DE-OF-NC share=all-giscs Phishing", "member-de")
    seen = (await c.type("gisc-offenbach", "incident query DE", "gisc-offenbach")).plain()
    assert "WIS-SEC-2026-2" in seen and "Q-" not in seen


async def test_lessons_none_stays_with_member_and_secretariat(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=group Phishing", "member-de")
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1", "member-de")
    await app.outbox.drain()
    before = {k: len(v) for k, v in c.rooms.items()}
    r = await c.type("anna.weber", "lessons add WIS-SEC-2026-1 Keep this internal", "member-de")
    assert "none" in r.plain()
    await app.outbox.drain()
    grown = {k for k, v in c.rooms.items() if len(v) > before.get(k, 0)}
    assert grown == {"secretariat", "member-de"}
    assert "Keep this internal" not in (await c.type("hiro.sato", "lessons list")).plain()
    assert "Keep this internal" in (await c.type("sec-desk", "lessons list",
                                                 "secretariat")).plain()


async def test_reporter_is_warned_when_the_area_has_one_member(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    thin = (await c.type("hiro.sato", "incident report JP-TK-NC share=group anonymous Scan",
                         "gisc-tokyo")).plain()
    assert "GISC Tokyo's area has only one Member" in thin
    wide = (await c.type("anna.weber", "incident report DE-OF-NC share=group anonymous Scan",
                         "member-de")).plain()
    assert "only one Member" not in wide
