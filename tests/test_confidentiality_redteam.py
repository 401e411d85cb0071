"""Red-team findings: each test shows a way protected content reached a reader it must not
reach, or let a reader infer a hidden incident or an anonymised Member."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
import yaml

from tests import test_slack
from tests._fake_slack import FakeSlack, sign, slash_body
from tests.conftest import EXAMPLE
from tests.helpers import confirmed, identifying_terms, leaks, room_text
from tests.test_slack import SECRET, C, StartSlack, U
from wisbot.adapters.console import render_text
from wisbot.directory import Directory, parse_directory

# The Slack fixtures (the app against the fake Slack Web API).
fake_slack = test_slack.fake_slack
start_slack = test_slack.start_slack

SUMMARY = "Ransomware at DWD reached the DE-OF-NC message switch; Anna Weber isolated it"


def squash(text: str) -> str:
    """Letters and digits only, as a reader takes them (full-width folded, case ignored)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def last_text(app: Any, room_key: str) -> str:
    replies = app.console.rooms.get(app.directory.room(room_key).target, [])
    return render_text(replies[-1]) if replies else ""


# ----- narrowing must also stop what is still queued for the rooms that lose access -----

async def test_narrowing_withdraws_deliveries_still_queued_for_rooms_that_lose_access(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    app.holds.add("collaboration")  # e.g. a room-integrity hold: its rows wait
    await c.type("anna.weber", f"incident report DE-OF-NC share=group {SUMMARY}", "member-de")
    await c.type("anna.weber", "incident update WIS-SEC-2026-1 Backups restored by DWD",
                 "member-de")
    await app.outbox.drain()
    assert room_text(app, "collaboration") == ""
    # The Member withdraws consent: Secretariat only.
    r = await confirmed(c, "anna.weber", "incident share WIS-SEC-2026-1 secretariat", "member-de")
    assert r.kind == "incident", r.plain()
    app.holds.discard("collaboration")
    await app.outbox.drain()
    text = room_text(app, "collaboration")
    assert "Ransomware" not in text and "Backups restored" not in text, text
    assert leaks(text, identifying_terms(app.directory, "DE")) == [], text


async def test_anonymising_withdraws_named_deliveries_still_queued(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    app.holds.add("area-tokyo")
    await c.type("anna.weber", f"incident report DE-OF-NC share=group {SUMMARY}", "member-de")
    await app.outbox.drain()
    r = await confirmed(c, "anna.weber", "incident share WIS-SEC-2026-1 group anonymous",
                        "member-de")
    assert r.kind == "incident", r.plain()
    app.holds.discard("area-tokyo")
    await app.outbox.drain()
    text = room_text(app, "area-tokyo")
    assert "a WIS centre in the area of GISC Offenbach" in text  # it still hears, anonymised
    assert leaks(text, identifying_terms(app.directory, "DE")) == [], text


# ----- lesson search must not match a withheld term -----

@pytest.mark.parametrize("words", ["DE", "phishing DE"])
async def test_lesson_search_does_not_match_a_withheld_code(make_app, words: str) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=group anonymous Phishing",
                 "member-de")
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1", "member-de")
    await c.type("anna.weber", "lessons add WIS-SEC-2026-1 share=anonymous Phishing against "
                 "DE staff was detected by the SOC", "member-de")
    await c.type("anna.weber", "incident confirm WIS-SEC-2026-1", "member-de")  # reviewed
    # The lesson is there, anonymised, for a search on visible words ...
    seen = (await c.type("hiro.sato", "lessons search phishing SOC", "collaboration")).plain()
    assert "detected by the SOC" in seen
    # ... but a hit on the withheld code would tell the reader it is about DE.
    hit = (await c.type("hiro.sato", f"lessons search {words}", "collaboration")).plain()
    assert "detected by the SOC" not in hit, hit


# ----- a named lesson must not join an incident the room may not see named -----

async def test_named_lesson_does_not_give_the_number_of_an_anonymised_incident(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", f"incident report DE-OF-NC share=group anonymous {SUMMARY}",
                 "member-de")
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1", "member-de")
    r = await confirmed(c, "anna.weber", "lessons add WIS-SEC-2026-1 share=named Keep offline "
                        "backups", "member-de")
    assert "named" in r.plain()
    await app.outbox.drain()
    # The collaboration room read WIS-SEC-2026-1 anonymised; the named lesson must not
    # tell it that WIS-SEC-2026-1 is Germany's.
    lesson = last_text(app, "collaboration")
    assert "Keep offline backups" in lesson
    assert "WIS-SEC-2026-1" not in lesson, lesson
    for who, room in (("hiro.sato", "collaboration"), ("gisc-tokyo", "gisc-tokyo"),
                      ("hiro.sato", None)):
        for cmd in ("lessons list", "lessons search backups"):
            text = (await c.type(who, cmd, room)).plain()
            assert "Keep offline backups" in text
            assert "WIS-SEC-2026-1" not in text, f"{who} {cmd}: {text}"
    # Where the incident is seen named, the lesson keeps its number.
    own = (await c.type("anna.weber", "lessons list", "member-de")).plain()
    assert "WIS-SEC-2026-1" in own


async def test_named_lesson_of_a_secretariat_only_incident_keeps_the_number_hidden(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=secretariat Odd logins",
                 "member-de")
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1", "member-de")
    await confirmed(c, "anna.weber", "lessons add WIS-SEC-2026-1 share=named Use MFA everywhere",
                    "member-de")
    await app.outbox.drain()
    text = room_text(app, "collaboration")
    assert "Use MFA everywhere" in text  # the Member chose to share it, named
    assert "WIS-SEC-2026-1" not in text, text  # but not the protected incident number
    listed = (await c.type("gisc-tokyo", "lessons list", "gisc-tokyo")).plain()
    assert "Use MFA everywhere" in listed and "WIS-SEC-2026-1" not in listed


# ----- redaction gaps -----

@pytest.mark.parametrize(("written", "withheld"), [
    ("host dwd01 was wiped", "dwd01"),                       # a digit after the alias
    ("the DWD_backup share was hit", "DWD_backup"),          # an underscore after it
    ("the de_of_nc switch", "de_of_nc"),                     # the code spelt with _
    ("the DEOFNC switch", "DEOFNC"),                         # ... or without separators
    ("found by Anna\u00a0Weber", "Anna\u00a0Weber"),         # a no-break space
    ("found by anna_weber", "anna_weber"),
    ("Ger\u200bmany was told", "Ger\u200bmany"),             # a zero-width space
    ("\uff24\uff37\uff24 staff", "\uff24\uff37\uff24"),      # full-width letters
    ("G\u0435rmany was told", "G\u0435rmany"),               # Cyrillic e
    ("the Deutscher\nWetterdienst", "Deutscher\nWetterdienst"),
])
async def test_redactor_withholds_spelling_variants(make_app, written: str,
                                                    withheld: str) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", f"incident report DE-OF-NC share=group anonymous Breach: "
                 f"{written}", "member-de")
    await app.outbox.drain()
    for key in ("collaboration", "gisc-tokyo", "area-tokyo"):
        text = room_text(app, key)
        assert "a WIS centre in the area of GISC Offenbach" in text
        assert squash(withheld) not in squash(text), f"{key}: {text}"
    shown = (await c.type("hiro.sato", "incident show WIS-SEC-2026-1", "collaboration")).plain()
    assert squash(withheld) not in squash(shown), shown
    # The Secretariat and the Member still read what was written.
    assert squash(written) in squash(room_text(app, "secretariat"))


# ----- Slack: replies that anyone else in the conversation would read -----

async def _slack_reply(env: Any, who: str, channel: str, text: str) -> dict[str, Any]:
    env._n += 1
    body = slash_body("/incident", text, user=U(who), channel=channel,
                      response_url=env.fake.response_url(f"r{env._n}"))
    before = len(env.fake.responses)
    status, _, _ = await env.post(body, sign(SECRET, body))
    assert status == 200
    responses = await env.fake.wait_responses(before + 1)
    reply: dict[str, Any] = responses[before][1]
    return reply


async def test_slack_reply_in_a_direct_conversation_is_ephemeral(
        start_slack: StartSlack) -> None:
    """A slash command typed in a DM with *another person* (a ``D…`` channel, like the
    bot's own DM) is answered with the caller's own view: posted in the channel, the
    other person would read a Secretariat-only incident."""
    env = await start_slack()
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=secretariat Phishing wave")
    reply = await _slack_reply(env, "anna.weber", "DANNAWITHHIRO", "show WIS-SEC-2026-1")
    assert "Phishing wave" in reply["text"]
    assert reply["response_type"] == "ephemeral", reply


async def test_slack_command_in_a_held_channel_is_refused(start_slack: StartSlack,
                                                           fake_slack: FakeSlack) -> None:
    """A stranger in a closed channel stops protected posts there: a command typed in it
    is not answered (not even ephemerally: the channel is not trusted), only told "on
    hold". Slack through slack-bolt against the local fake (tests/_fake_slack.py)."""
    fake_slack.members[C("gisc-offenbach")] = [U("gisc-offenbach"), "USTRANGER1"]
    env = await start_slack()
    assert env.app.holds == {"gisc-offenbach"}
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=principal-gisc Brute force on SSH")
    reply = await env.reply_to("gisc-offenbach", "gisc-offenbach", "/incident",
                               "show WIS-SEC-2026-1")
    assert "on hold" in reply["text"]
    for word in ("Brute force", "SSH", "WIS-SEC-2026-1", "USTRANGER1", "stranger"):
        assert word not in reply["text"], word
    assert reply["response_type"] == "ephemeral", reply


# ----- the duty room reads probe posts, not lessons -----

def _with_duty_room() -> Directory:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["contacts"].append({"id": "watch.op", "name": "Pat Watch", "roles": ["watch"]})
    data["rooms"].append({"key": "duty", "role": "duty", "platform": "console",
                          "name": "GISC Watch duty operators"})
    return parse_directory(data, "example + duty room")


async def test_duty_room_is_not_shown_lessons(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(_with_duty_room())
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=group Phishing", "member-de")
    await c.type("anna.weber", "incident resolve WIS-SEC-2026-1", "member-de")
    await confirmed(c, "anna.weber", "lessons add WIS-SEC-2026-1 share=named Block macros",
                    "member-de")
    await c.type("anna.weber", "lessons add WIS-SEC-2026-1 share=anonymous Train staff",
                 "member-de")
    await app.outbox.drain()
    assert room_text(app, "duty") == ""  # lessons are not posted there ...
    for who in ("watch.op", "gisc-offenbach", "sec-desk"):
        for cmd in ("lessons list", "lessons search macros staff", "lessons search staff"):
            text = (await c.type(who, cmd, "duty")).plain()
            # ... nor shown to whoever asks there: every operator in the room reads it.
            assert "Block macros" not in text and "Train staff" not in text, f"{who} {cmd}"
    # The collaboration room still has them.
    assert "Block macros" in (await c.type("watch.op", "lessons list", "collaboration")).plain()


# ----- room integrity: a directory contact outside a room's audience is a stranger there --

@pytest.mark.parametrize(("room", "intruder"), [
    ("member-de", "hiro.sato"),        # Japan's focal point in Germany's own room
    ("gisc-offenbach", "gisc-tokyo"),  # another GISC's desk in the principal GISC's room
    ("area-tokyo", "anna.weber"),      # a Member of GISC Offenbach's area
])
async def test_room_check_holds_a_room_with_a_contact_outside_its_audience(
        start_slack: StartSlack, fake_slack: FakeSlack, room: str, intruder: str) -> None:
    legit = {"member-de": "anna.weber", "gisc-offenbach": "gisc-offenbach",
             "area-tokyo": "hiro.sato"}[room]
    fake_slack.members[C(room)] = [U(legit), U("sec-maria"), U(intruder)]
    # Rooms whose audience is right are not held.
    fake_slack.members[C("area-offenbach")] = [U("gisc-offenbach"), U("anna.weber"),
                                               U("jonas.keller"), U("wanjiru.kamau")]
    fake_slack.members[C("collaboration")] = [U("hiro.sato"), U("anna.weber")]
    env = await start_slack()
    assert env.app.holds == {room}
    await env.reply_to("anna.weber", "member-de", "/incident",
                       "report DE-OF-NC share=group Brute force on SSH")
    await env.app.outbox.drain()
    assert not env.fake.attempts(C(room))  # held, not sent, not dropped
    alert = next(p["text"] for p in env.fake.posts(C("secretariat"))
                 if "Room integrity" in p["text"])
    assert room in alert and U(intruder) in alert and U(legit) not in alert


# ----- the short names a reader knows a Member by -----

@pytest.mark.parametrize(("reporter", "centre", "written", "withheld"), [
    ("sec-desk", "RU-GISC", "Roshydromet mail relay abused", "Roshydromet"),
    ("sec-desk", "GB-GISC", "the Met Office firewall logged it", "Met Office"),
    ("jonas.keller", "CH-NC", "the MeteoSwiss SOC was alerted", "MeteoSwiss"),
    ("jonas.keller", "CH-NC", "write to soc@meteoswiss.example.org", "meteoswiss"),
    ("anna.weber", "DE-OF-NC", "Weber isolated the host", "Weber"),
    ("wanjiru.kamau", "KE-NC", "Kamau's laptop was the entry point", "Kamau"),
])
async def test_redactor_withholds_organisation_short_names_and_surnames(
        make_app, reporter: str, centre: str, written: str, withheld: str) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    r = await c.type(reporter, f"incident report {centre} share=group anonymous {written}",
                     "secretariat" if reporter == "sec-desk" else None)
    assert r.kind == "incident", r.plain()
    await app.outbox.drain()
    for key in ("collaboration", "gisc-tokyo", "area-tokyo"):
        text = room_text(app, key)
        if reporter == "sec-desk":
            # the Secretariat's report stays with it until the Member widens it (finding 17)
            assert "WIS-SEC-" not in text, f"{key}: {text}"
        else:
            assert "a WIS centre in the area of GISC" in text
        assert squash(withheld) not in squash(text), f"{key}: {text}"
    assert written in room_text(app, "secretariat")


# ----- a named lesson needs the affected Member's consent -----

async def test_only_the_affected_member_may_share_a_lesson_named(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("wanjiru.kamau", "incident report KE-NC share=secretariat Scans of KMD FTP")
    await c.type("wanjiru.kamau", "incident resolve WIS-SEC-2026-1")
    await app.outbox.drain()
    r = await confirmed(c, "sec-desk", "lessons add WIS-SEC-2026-1 share=named Close FTP",
                        "secretariat")
    assert r.kind == "error" and "consent" in r.plain(), r.plain()
    await app.outbox.drain()
    assert "Close FTP" not in room_text(app, "collaboration")
    # The Secretariat may still record it anonymised or kept, the Member named.
    ok = await c.type("sec-desk", "lessons add WIS-SEC-2026-1 share=anonymous Close FTP",
                      "secretariat")
    assert "recorded" in ok.plain()
    own = await confirmed(c, "wanjiru.kamau", "lessons add WIS-SEC-2026-1 share=named Use SFTP")
    assert "recorded" in own.plain()


async def test_pages_follow_narrowing_and_anonymising(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    """A page repeats every 15 minutes: after the Member narrows or anonymises, a repeat
    must not carry more than the paged role may now read, and a role that lost access is
    no longer paged at all."""
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=all-giscs sev=3 DWD switch "
                 "breached", "member-de")
    await app.outbox.drain()
    assert "DE-OF-NC" in c.direct["gisc-tokyo"][-1].plain()
    before_tokyo, before_exeter = len(c.direct["gisc-tokyo"]), len(c.direct["gisc-exeter"])
    await confirmed(c, "anna.weber", "incident share WIS-SEC-2026-1 all-giscs anonymous",
                    "member-de")
    await confirmed(c, "anna.weber", "incident share WIS-SEC-2026-1 principal-gisc", "member-de")
    clock.advance(minutes=16)
    await app.services.paging.tick()
    await app.outbox.drain()
    assert len(c.direct["gisc-tokyo"]) == before_tokyo, "GISC Tokyo lost access: no repeat"
    assert len(c.direct["gisc-exeter"]) == before_exeter
    repeat = c.direct["gisc-offenbach"][-1].plain()
    assert repeat.count("Reminder") == 1 and "DE-OF-NC" in repeat


async def test_page_repeat_after_anonymising_is_anonymised(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    app = await make_app()
    c = app.console
    await c.type("anna.weber", "incident report DE-OF-NC share=all-giscs sev=3 DWD switch "
                 "breached", "member-de")
    await confirmed(c, "anna.weber", "incident share WIS-SEC-2026-1 all-giscs anonymous",
                    "member-de")
    clock.advance(minutes=16)
    await app.services.paging.tick()
    await app.outbox.drain()
    repeat = c.direct["gisc-tokyo"][-1].plain()
    assert "Reminder" in repeat
    assert "a WIS centre in the area of GISC Offenbach" in repeat
    for term in ("DE-OF-NC", "Germany", "DWD"):
        assert term not in repeat
