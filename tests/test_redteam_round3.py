"""Red team, round 3: failing tests for what issues 12-15 broke or left open.

Each test was written failing (``xfail(strict=True)``, with its finding number) and its
mark went with the fix: every one must pass now. Forbidden words
are written here by hand; nothing is derived from the code under test.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
import yaml

from tests.test_slack import fake_slack, start_slack  # noqa: F401  (fixtures)
from wisbot.adapters.console import render_text
from wisbot.directory import Directory, parse_directory

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
- {id: lukas.brandt, name: Lukas Brandt, email: lukas.brandt@dwd.example.de,
   roles: ["member:DE"]}
- {id: jonas.keller, name: Jonas Keller, email: soc@meteoswiss.example.ch,
   phone: +41 58 460 91 11, roles: ["member:CH"]}
- {id: hiro.sato, name: Hiro Sato, roles: ["member:JP"]}
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
SUMMARY = "DWD mail relay at EDZW abused; Anna Weber (+49 69 8062 0) handles it"
N = "WIS-SEC-2026-1"
# Hand-written: the affected Member's names, codes, identifiers and people.
DE_FORBIDDEN = ["DWD", "EDZW", "de-dwd", "Anna", "Weber", "8062", "Germany", "DE-OF-NC",
                "Deutscher Wetterdienst", "dwd.example", "Lukas", "Brandt"]


def directory() -> Directory:
    return parse_directory(yaml.safe_load(DIRECTORY), "redteam round 3 fixture")


def squash(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text).casefold()
                   if ch.isalnum())


def found(text: str, forbidden: list[str]) -> list[str]:
    flat = squash(text)
    return [w for w in forbidden if squash(w) in flat]


def room(app: Any, key: str) -> str:
    return "\n\n".join(render_text(r) for r in app.console.rooms.get(key, []))


async def _incident(app: Any, share: str = "group anonymous") -> None:
    r = await app.console.type("anna.weber", f"incident report DE-OF-NC share={share} sev=2 "
                               f"{SUMMARY}", "member-de")
    assert r.kind == "incident", r.plain()


# ----- finding 1: sightings are counted per row, not per centre ------------------------------

async def test_one_centre_sighting_three_indicators_is_one_other_centre(make_app) -> None:  # type: ignore[no-untyped-def]
    """"Is it only us?" is the question sightings answer. One Member (CH) that reports the
    incident and then two of its indicators is one other centre, not three."""
    app = await make_app(directory())
    await _incident(app, "group")
    c = app.console
    for kind, value in (("domain", "evil.example"), ("ipv4", "203.0.113.7")):
        r = await c.type("anna.weber", f"incident ioc add {N} {kind} {value}", "member-de")
        assert r.kind != "error", r.plain()
    for what in ("here too", "I-1 at our gateway", "I-2 in our firewall log"):
        r = await c.type("jonas.keller", f"incident seen {N} {what}")
        assert r.kind != "error", r.plain()
    await app.outbox.drain()
    de = room(app, "member-de")
    shown = render_text(await c.type("offenbach-desk", f"incident show {N}", "gisc-offenbach"))
    ranked = (await c.type("offenbach-desk", "incident list sort=sightings",
                           "gisc-offenbach")).plain()
    for where, text in (("member-de room", de), ("incident show", shown),
                        ("incident list", ranked)):
        assert "3 other centres" not in text and "3 other centre(s)" not in text, \
            f"{where}: {text}"
    assert "1 other centre" in shown, shown


# ----- finding 2: a stale widening confirmation overrides a later narrowing ------------------

async def test_a_confirmation_does_not_undo_a_narrowing_made_after_the_question(
        make_app) -> None:  # type: ignore[no-untyped-def]
    """Anna asks to widen to `group` and is told who will read it. Before she confirms, her
    colleague Lukas narrows the incident to the Secretariat (he learnt it must stay in).
    Anna's confirmation answers a question about a state that no longer exists
    ("a confirmation typed later does not act on a question about an older state"): it must
    be refused and ask again, not silently undo Lukas's narrowing to the whole group."""
    app = await make_app(directory())
    await _incident(app, "principal-gisc")
    c = app.console
    q = await c.type("anna.weber", f"incident share {N} group", "member-de")
    assert "confirm" in q.plain(), q.plain()
    r = await c.type("lukas.brandt", f"incident share {N} secretariat", "member-de")
    assert r.kind != "error", r.plain()
    await c.type("anna.weber", f"incident share {N} group confirm", "member-de")
    await app.outbox.drain()
    for key in ("collaboration", "gisc-tokyo", "member-jp", "member-ch"):
        text = room(app, key)
        assert found(text, DE_FORBIDDEN) == [] and N not in text, f"{key}: {text}"


# ----- finding 7: protected text in a wrong room is left there when the command fails -------

SECRET = "Ransomware on EDZW switch, call Anna Weber +49 69 8062 4321"


def _posted(text: str, room_key: str = "collaboration") -> Any:
    from wisbot.adapters.base import Invocation, MessageRef, RoomRef, UserRef

    return Invocation(platform="console", sender=UserRef("console", "anna.weber"), text=text,
                      room=RoomRef("console", room_key, room_key),
                      reply_to=MessageRef("console", room_key, "m1"))


@pytest.mark.parametrize("text", [
    # a report with a typo in the severity: refused, the secret stays in the room
    f"!incident report DE-OF-NC share=secretariat sev=7 {SECRET}",
    # a report with a typo in the centre
    f"!incident report DE-OF-NX share=secretariat {SECRET}",
    # an update of a principal-gisc incident typed in the collaboration room: refused as
    # "no incident that you may see here", the update's text stays for everyone there
    f"!incident update WIS-SEC-2026-1 {SECRET}",
], ids=["bad-severity", "bad-centre", "update-in-wrong-room"])
async def test_a_refused_command_carrying_protected_text_is_still_warned_about(
        make_app, text: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 12 item 7: a protected report typed in a room that may not see it gets the
    count of readers outside the audience and, on Matrix, the redaction. The check runs
    only when the command succeeded and revealed an incident; the usual way of typing it
    in the wrong room is a command that fails, and then the person's text stays readable
    by the Secretariat-excluded room with no word to its author. (The console stands for a
    surface where the bot cannot remove a message: the warning is what is checked.)"""
    app = await make_app()
    app.console.members["collaboration"] |= {"anna.weber", "gisc-tokyo", "gisc-exeter",
                                             "somebody-else"}
    r = await app.console.type("anna.weber", "incident report DE-OF-NC share=principal-gisc "
                               "first", "member-de")
    assert r.kind == "incident", r.plain()
    reply = await app.dispatch(_posted(text))
    plain = render_text(reply)
    assert reply.kind == "error", plain  # refused, as a tired operator's typo is
    assert "Warning" in plain and "outside the incident's audience" in plain, plain


# ----- findings 8 and 9: TLP labels on sightings and indicators -----------------------------

# Hand-written: the sighting Member's names and people (CH saw DE's incident).
CH_FORBIDDEN = ["Switzerland", "MeteoSwiss", "Jonas", "Keller", "Zürich", "CH-NC", "LSSW"]


async def _sighted(app: Any) -> None:
    c = app.console
    await _incident(app, "group")
    r = await c.type("anna.weber", f"incident ioc add {N} domain evil.example", "member-de")
    assert r.kind != "error", r.plain()
    r = await c.type("jonas.keller", f"incident seen {N} I-1 at the MeteoSwiss Zürich gateway")
    assert r.kind != "error", r.plain()
    await app.outbox.drain()


async def test_sighting_and_indicator_messages_are_tlp_labelled(make_app) -> None:  # type: ignore[no-untyped-def]
    """Issue 14 item 1: TLP 2.0 on every message about an incident, shown first."""
    app = await make_app(directory())
    await _sighted(app)
    c = app.console
    unlabelled = []
    for key in ("secretariat", "member-de"):
        for reply in app.console.rooms.get(key, []):
            if "seen at another centre" in reply.title and not reply.title.startswith("TLP:"):
                unlabelled.append(f"{key}: {reply.title}")
    for who, text, where in (
            ("anna.weber", f"incident ioc list {N}", "member-de"),
            ("anna.weber", f"incident ioc add {N} ipv4 203.0.113.7", "member-de"),
            ("hiro.sato", f"incident seen {N} same here", None)):
        reply = await c.type(who, text, where)
        assert reply.kind != "error", reply.plain()
        if not reply.title.startswith("TLP:"):
            unlabelled.append(f"{text}: {reply.title}")
    assert unlabelled == []


async def test_naming_the_sighting_member_takes_the_strictest_label(make_app) -> None:  # type: ignore[no-untyped-def]
    """Who sighted an incident is the sighting Member's secretariat-level information (read
    by the Secretariat and that Member only: TLP:RED). "The strictest label wins when
    several apply": the Secretariat's `incident show` and its exports (the CLI export's
    default view) name Switzerland and Jonas Keller under TLP:GREEN, so a Secretariat
    officer may pass them to the whole community, and a MISP import shares them with the
    community (distribution 1)."""
    from pymisp import MISPEvent

    from wisbot.services.export import ExportService

    app = await make_app(directory())
    await _sighted(app)
    show = await app.console.type("sec-desk", f"incident show {N}", "secretariat")
    text = render_text(show)
    assert found(text, CH_FORBIDDEN), text  # the Secretariat reads who: right
    problems = []
    if show.tlp in ("TLP:GREEN", "TLP:CLEAR", "TLP:AMBER"):
        problems.append(f"show labelled {show.tlp}")
    incidents = app.services.incidents
    service = ExportService(incidents.store, incidents.directory, incidents)
    caller = _caller(app, "sec-desk")
    _, misp = await app.store.tx(lambda s: service.incident_document(s, caller, N, "misp"))
    ev = MISPEvent()
    ev.load(misp)
    if found(misp, CH_FORBIDDEN) and (ev.distribution != 0
                                      or "tlp:green" in [t.name for t in ev.tags]):
        problems.append(f"misp names the sighter at distribution {ev.distribution}, "
                        f"tags {[t.name for t in ev.tags]}")
    assert problems == []


def _caller(app: Any, contact_id: str, room_key: str | None = None) -> Any:
    from wisbot.domain.audience import person_roles
    from wisbot.services.context import Caller

    d = app.services.incidents.directory
    contact = d.contact(contact_id)
    return Caller(contact=contact, room=d.room(room_key) if room_key else None,
                  platform="cli", roles=person_roles(d, contact))


# ----- finding 10: Slack `!` messages in a wrong channel get no warning ---------------------

async def test_slack_bang_report_in_a_wrong_channel_warns_its_author(
        start_slack: Any, fake_slack: Any) -> None:  # noqa: F811
    """Slack is a hosted service: slack-bolt's real request handling and slack_sdk's client
    against tests/_fake_slack.py, the local fake of exactly the Web API used.

    docs: "a posted message there (or on any surface the bot cannot delete a person's
    message on) gets the advice to delete it". A slash command is never read by the
    channel; a `!` message is, by everyone in it. Anna reports a Secretariat-only incident
    with `!` in the collaboration channel: she must be told (privately) that the channel's
    other members read it and to delete it; nothing of it may be posted in the channel."""
    import asyncio

    from tests._fake_slack import slack_id
    from tests.test_slack_operator import _message

    fake_slack.members[slack_id("C", "collaboration")] = [
        slack_id("U", "anna.weber"), slack_id("U", "gisc-tokyo"),
        slack_id("U", "gisc-exeter")]
    env = await start_slack()
    await env.event(_message("anna.weber", "collaboration",
                             f"!incident report DE-OF-NC share=secretariat sev=1 {SECRET}"))
    await env.fake.wait_for(lambda: any(c.method in ("chat.postEphemeral", "chat.postMessage")
                                        and c.params.get("channel") ==
                                        slack_id("C", "collaboration")
                                        for c in env.fake.calls))
    await asyncio.sleep(0.2)
    await env.app.outbox.drain()
    channel = slack_id("C", "collaboration")
    public = "\n".join(str(p.get("text")) + str(p.get("blocks")) for p in env.fake.posts(channel))
    assert found(public, ["Ransomware", "EDZW", "Anna", "8062"]) == [], public
    private = "\n".join(str(c.params.get("text")) for c in env.fake.calls
                        if c.method == "chat.postEphemeral")
    assert "Warning" in private and "outside the incident's audience" in private, private


# ----- finding 11: the named view of an anonymous incident is labelled for the community ----

async def test_named_view_of_an_anonymous_incident_is_not_tlp_green(make_app) -> None:  # type: ignore[no-untyped-def]
    """`group anonymous`: the group reads the incident, anonymised; only the Secretariat,
    the Member and its principal GISC read who it is. GISC Offenbach's room reads the
    Member's name under TLP:GREEN ("recipients may share within their community"), and its
    MISP export of that named view goes out as tlp:green, distribution 1 ("this
    community"): following the label, Offenbach may tell the collaboration room that it is
    DWD. The named view's label must be the strictest of what names the Member
    (TLP:AMBER+STRICT here); the anonymised view may stay TLP:GREEN."""
    from pymisp import MISPEvent

    from wisbot.services.export import ExportService

    app = await make_app(directory())
    await _incident(app, "group anonymous")
    await app.outbox.drain()
    problems = []
    for reply in app.console.rooms.get("gisc-offenbach", []):
        if found(render_text(reply), DE_FORBIDDEN) and reply.tlp in ("TLP:GREEN",
                                                                     "TLP:CLEAR"):
            problems.append(f"gisc-offenbach post names DE under {reply.tlp}")
    show = await app.console.type("offenbach-desk", f"incident show {N}", "gisc-offenbach")
    if found(render_text(show), DE_FORBIDDEN) and show.tlp == "TLP:GREEN":
        problems.append("offenbach's incident show names DE under TLP:GREEN")
    incidents = app.services.incidents
    service = ExportService(incidents.store, incidents.directory, incidents)
    caller = _caller(app, "offenbach-desk", "gisc-offenbach")
    _, misp = await app.store.tx(lambda s: service.incident_document(s, caller, N, "misp"))
    ev = MISPEvent()
    ev.load(misp)
    if found(misp, DE_FORBIDDEN) and (ev.distribution != 0
                                      or "tlp:green" in [t.name for t in ev.tags]):
        problems.append(f"offenbach's MISP export names DE at distribution "
                        f"{ev.distribution}, tags {[t.name for t in ev.tags]}")
    assert problems == []


# ----- findings 13 and 14: `wisbot export -o` ------------------------------------------------

def _cli(db_url: str, tmp_path: Any) -> Any:
    from typer.testing import CliRunner

    path = tmp_path / "directory.yaml"
    path.write_text(DIRECTORY, encoding="utf-8")
    return CliRunner(env={"WISBOT_DATABASE_URL": db_url, "WISBOT_DIRECTORY": str(path)})


async def test_export_to_a_bad_output_path_is_a_clear_error(make_app, db_url: str,
                                                            tmp_path: Any) -> None:  # type: ignore[no-untyped-def]
    from wisbot.cli import app as cli

    app = await make_app(directory())
    await _incident(app, "secretariat")
    runner = _cli(db_url, tmp_path)
    for out in (tmp_path, tmp_path / "no-such-folder" / "event.json"):
        r = runner.invoke(cli, ["export", "incident", N, "-f", "misp", "-o", str(out)])
        assert r.exit_code == 1 and isinstance(r.exception, SystemExit), repr(r.exception)
        assert "error:" in r.output and str(out.name) in r.output, r.output


async def test_a_red_export_file_is_readable_by_its_owner_only(make_app, db_url: str,
                                                               tmp_path: Any) -> None:  # type: ignore[no-untyped-def]
    """`wisbot export incident … -o /tmp/event.json` on a shared operations host: the file
    holds a TLP:RED incident (the Secretariat and the Member only), yet every local user
    may read it. Written 0600 (as ssh keys are), the label is kept on the disk too."""
    import os
    import stat

    from wisbot.cli import app as cli

    app = await make_app(directory())
    await _incident(app, "secretariat")
    out = tmp_path / "event.json"
    old = os.umask(0o022)
    try:
        r = _cli(db_url, tmp_path).invoke(cli, ["export", "incident", N, "-f", "misp", "-o",
                                                str(out)])
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    assert "DWD" in out.read_text(encoding="utf-8")
    mode = stat.S_IMODE(out.stat().st_mode)
    assert mode & 0o077 == 0, oct(mode)


# ----- finding 16: round-3 features speak English only --------------------------------------

async def test_sightings_indicators_and_widening_speak_the_readers_language(make_app) -> None:  # type: ignore[no-untyped-def]
    """Issue 15: every message in the reader's language. Germany's room and Anna read
    French; the incident cascade is French (the control), but the sighting card told to
    the room, her `incident ioc add` reply and her widening question are English."""
    data = yaml.safe_load(DIRECTORY)
    for room_ in data["rooms"]:
        if room_["key"] == "member-de":
            room_["language"] = "fr"
    for contact in data["contacts"]:
        if contact["id"] == "anna.weber":
            contact["language"] = "fr"
    app = await make_app(parse_directory(data, "redteam fr fixture"))
    c = app.console
    await _incident(app, "principal-gisc")
    await app.outbox.drain()
    control = room(app, "member-de")
    assert "new incident reported" not in control, control  # French, as it should be
    english = []
    r = await c.type("anna.weber", f"incident ioc add {N} domain evil.example", "member-de")
    if "recorded" in r.plain() or "Told:" in r.plain():
        english.append(f"ioc add: {r.plain()[:80]}")
    await c.type("jonas.keller", f"incident seen {N} here too")
    await app.outbox.drain()
    card = room(app, "member-de")[len(control):]
    if "seen at another centre too" in card or "another WIS centre" in card:
        english.append(f"sighting card: {card[-160:]}")
    q = await c.type("anna.weber", f"incident share {N} group", "member-de")
    if "Nothing has changed yet" in q.plain():
        english.append(f"widening: {q.plain()[:80]}")
    assert english == []


# ----- finding 17: Slack `!` messages arrive in Slack's markup and are taken literally -------

async def test_slack_bang_commands_read_the_text_the_person_typed(
        start_slack: Any) -> None:  # noqa: F811
    """Slack is a hosted service: slack-bolt and slack_sdk against tests/_fake_slack.py.

    A message event's ``text`` is Slack's formatted text (api.slack.com, "Retrieving
    messages"): a domain, URL or e-mail the person typed arrives as a link
    (`<http://evil.example|evil.example>`, `<mailto:a@evil.example|a@evil.example>`),
    and `&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;`. The texts below are hand-written in
    that format for what Anna typed in Germany's channel."""
    import asyncio

    from sqlmodel import select

    from tests._fake_slack import slack_id
    from tests.test_slack_operator import _message
    from wisbot.store.tables import Incident, IncidentIndicator

    env = await start_slack()
    await env.event(_message("anna.weber", "member-de", "!incident report DE-OF-NC "
                             "share=principal-gisc sev=1 Spam &amp; phishing via "
                             "&lt;relay&gt;"))
    await env.fake.wait_for(lambda: any(c.method in ("chat.postEphemeral", "chat.postMessage")
                                        for c in env.fake.calls))
    for typed in ("domain <http://evil.example|evil.example>",
                  "email <mailto:ceo@evil.example|ceo@evil.example>"):
        before = len(env.fake.calls)
        await env.event(_message("anna.weber", "member-de",
                                 f"!incident ioc add WIS-SEC-2026-1 {typed}"))
        await env.fake.wait_for(lambda b=before: any(
            c.method in ("chat.postEphemeral", "chat.postMessage")
            and c.params.get("channel") == slack_id("C", "member-de")
            for c in env.fake.calls[b:]))
    await asyncio.sleep(0.2)
    store = env.app.store
    summaries = store.run(lambda s: [i.summary for i in s.exec(select(Incident)).all()])
    values = store.run(lambda s: sorted(i.value for i in s.exec(select(
        IncidentIndicator)).all()))
    assert (summaries, values) == (["Spam & phishing via <relay>"],
                                   ["ceo@evil.example", "evil.example"])
