"""Indicators, sightings and exports (issue 14 items 2, 3, 5) through the console, on
SQLite and PostgreSQL (``db_url``). Forbidden words are written here by hand (the style of
tests/test_leaks_handwritten.py): names, codes, identifiers, people, e-mails, phones of
the affected Member (DE) and of the sighting Member (CH)."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
import yaml
from pymisp import MISPEvent
from stix2validator import ValidationOptions, validate_string

from tests.helpers import confirmed
from wisbot.adapters.console import render_text
from wisbot.directory import Directory, parse_directory
from wisbot.domain.indicators import defang, defang_text, parse
from wisbot.errors import UsageError

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
SUMMARY = "DWDs mail relay at EDZW abused; Anna Weber (+49 69 8062 0) handles it"
NOTE = "sent from DWD's spoofed sender, ask Anna Weber"
DE_FORBIDDEN = ["DWD", "EDZW", "de-dwd", "Anna", "Weber", "8062", "Germany", "DE-OF-NC",
                "Deutscher Wetterdienst", "dwd.example"]
CH_FORBIDDEN = ["Switzerland", "MeteoSwiss", "Swiss", "LSSW", "CH-NC", "Jonas", "Keller",
                "Zürich", "460 91 11", "meteoswiss.example"]
SIGHT_NOTE = "MeteoSwiss gateway in Zürich got the same; Jonas Keller"
N = "WIS-SEC-2026-1"


def directory() -> Directory:
    return parse_directory(yaml.safe_load(DIRECTORY), "indicator fixture")


def squash(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text).casefold()
                   if ch.isalnum())


def found(text: str, forbidden: list[str]) -> list[str]:
    flat = squash(text)
    return [w for w in forbidden if squash(w) in flat]


def room(app: Any, key: str) -> str:
    return "\n\n".join(render_text(r) for r in app.console.rooms.get(key, []))


def attachment(reply: Any) -> str:
    assert reply.attachments, reply.plain()
    return str(reply.attachments[0].content().decode("utf-8"))


# ----- validation and defanging (no database) -----------------------------------------------

@pytest.mark.parametrize(("kind", "value", "why"), [
    ("domain", "a" * 10_000 + ".example", "10,008 characters"),
    ("domain", "evil\u202e.example", "U+202E"),
    ("domain", "evil\u200b.example", "U+200B"),
    ("domain", "evil\x07.example", "U+0007"),
    ("domain", "evil .example", "whitespace"),
    ("domain", "evil\u00a0.example", "whitespace"),
    ("domain", "evil\t.example", "whitespace"),
    ("url", "javascript:alert(document.cookie)", "only http, https, ftp"),
    ("url", "JaVaScRiPt:alert(1)", "only http, https, ftp"),
    ("url", "data:text/html;base64,PHNjcmlwdD4=", "only http, https, ftp"),
    ("url", "https://evil.example/\u2066x", "U+2066"),
    ("ipv4", "203.0.113.256", "256"),
    ("ipv4", "0x7f.0.0.1", "decimal"),
    ("ipv6", "fe80::1%eth0", "no zone"),
    ("email", "user@localhost", "two labels"),
    ("hash", "abc123", "32 (MD5)"),
    ("cve", "CVE-24-1", "CVE-2024-3400"),
    ("domain", "-evil.example", "hyphen"),
    ("colour", "red", "type must be one of"),
])
def test_hostile_values_are_refused_with_the_reason(kind: str, value: str, why: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse(kind, value)
    assert why in str(exc.value), str(exc.value)
    assert len(str(exc.value)) < 300  # never the 10 kB value echoed back


@pytest.mark.parametrize(("kind", "value", "canonical", "shown"), [
    ("url", "http://evil.example/a.zip", "http://evil.example/a.zip",
     "hxxp://evil[.]example/a[.]zip"),
    ("url", "hxxps://evil[.]example/login", "https://evil.example/login",
     "hxxps://evil[.]example/login"),
    ("domain", "Evil.Example.", "evil.example", "evil[.]example"),
    ("domain", "bücher.example", "xn--bcher-kva.example", "xn--bcher-kva[.]example"),
    ("ipv4", "203.0.113.7", "203.0.113.7", "203.0.113[.]7"),
    ("ipv6", "2001:DB8::7", "2001:db8::7", "2001[:]db8[:][:]7"),
    ("email", "user@example.org", "user@example.org", "user[@]example[.]org"),
    ("hash", "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e",
     "d41d8cd98f00b204e9800998ecf8427e"),
    ("cve", "cve-2024-3400", "CVE-2024-3400", "CVE-2024-3400"),
])
def test_values_are_kept_canonical_and_shown_defanged(kind: str, value: str, canonical: str,
                                                      shown: str) -> None:
    ioc = parse(kind, value)
    assert ioc.value == canonical
    assert ioc.defanged == shown == defang(kind, canonical)


def test_hash_kind_follows_its_length() -> None:
    assert [parse("hash", "a" * n).kind for n in (32, 40, 64, 128)] == \
        ["md5", "sha1", "sha256", "sha512"]


def test_links_in_notes_are_defanged() -> None:
    text = defang_text("from http://evil.example/x, mail bad@evil.example, 203.0.113.7 "
                       "and evil.example; version 1.2 e.g. here")
    assert text == ("from hxxp://evil[.]example/x, mail bad[@]evil[.]example, 203.0.113[.]7 "
                    "and evil[.]example; version 1.2 e.g. here")


# ----- indicators in chat -----------------------------------------------------------------------

async def _incident(app: Any, share: str = "group anonymous") -> None:
    r = await app.console.type("anna.weber", f"incident report DE-OF-NC share={share} sev=2 "
                               f"{SUMMARY}", "member-de")
    assert r.kind == "incident", r.plain()


async def _add(app: Any, kind: str, value: str, note: str = "") -> Any:
    r = await app.console.type("anna.weber", f"incident ioc add {N} {kind} {value} {note}",
                               "member-de")
    assert r.kind != "error", r.plain()
    return r


async def test_indicators_are_told_defanged_and_anonymised_rooms_wait_for_consent(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await _incident(app)
    r = await _add(app, "url", "http://evil.example/login.php", f"{NOTE} via http://evil.example/x")
    assert "I-1" in r.plain() and "hxxp://evil[.]example/login[.]php" in r.plain()
    await _add(app, "ipv4", "203.0.113.7")
    await app.outbox.drain()
    for key in ("secretariat", "member-de", "gisc-offenbach"):
        text = room(app, key)
        assert "hxxp://evil[.]example/login[.]php" in text and "203.0.113[.]7" in text, key
        assert "evil.example" not in text and "203.0.113.7" not in text, text
    # Anonymised rooms read that an indicator was added, not which, until the Member confirms.
    for key in ("collaboration", "gisc-tokyo"):
        text = room(app, key)
        assert "indicator I-1 added" in text and "evil" not in text, text
    listing = await app.console.type("hiro.sato", f"incident ioc list {N}", "collaboration")
    assert "None that you may see" in listing.plain()
    r = await app.console.type("anna.weber", f"incident confirm {N}", "member-de")
    assert "confirmed" in r.plain(), r.plain()
    await app.outbox.drain()
    text = room(app, "collaboration")
    assert "hxxp://evil[.]example/login[.]php" in text and "203.0.113[.]7" in text, text
    assert found(text, DE_FORBIDDEN) == [], text
    listing = render_text(await app.console.type("hiro.sato", f"incident ioc list {N}",
                                                 "collaboration"))
    assert "203.0.113[.]7" in listing and found(listing, DE_FORBIDDEN) == [], listing
    # The timeline of an anonymised reader shows the released wording only.
    show = render_text(await app.console.type("tokyo-desk", f"incident show {N}"))
    assert "203.0.113[.]7" in show and found(show, DE_FORBIDDEN) == [], show


async def test_indicator_commands_refuse_clearly_and_lose_nothing(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await _incident(app)
    c = app.console
    r = await c.type("anna.weber", f"incident ioc add {N} url javascript:alert(1)", "member-de")
    assert r.kind == "error" and "only http, https, ftp" in r.plain()
    assert "Traceback" not in r.plain()
    r = await c.type("anna.weber", f"incident ioc add {N} domain 'evil\u202e.example'",
                     "member-de")
    assert r.kind == "error" and "U+202E" in r.plain(), r.plain()
    await _add(app, "domain", "evil.example")
    r = await c.type("anna.weber", f"incident ioc add {N} domain EVIL.example.", "member-de")
    assert r.kind == "error" and "already has this indicator as I-1" in r.plain()
    # A stranger to the incident gets the same words as for a missing one.
    hidden = await c.type("hiro.sato", f"incident ioc add {N} domain x.example", "member-jp")
    missing = await c.type("hiro.sato", "incident ioc add WIS-SEC-2026-99 domain x.example",
                           "member-jp")
    assert hidden.plain().replace(N, "#") == missing.plain().replace("WIS-SEC-2026-99", "#")
    listing = await c.type("anna.weber", f"incident ioc list {N}", "member-de")
    assert "evil[.]example" in listing.plain() and "Anna Weber" in listing.plain()


# ----- sightings -------------------------------------------------------------------------------

async def test_a_sighting_is_counted_and_never_names_its_centre_where_it_may_not(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await _incident(app)
    await _add(app, "domain", "evil.example")
    await app.console.type("anna.weber", f"incident confirm {N}", "member-de")
    await app.outbox.drain()
    before = {k: len(app.console.rooms.get(k, [])) for k in ("collaboration", "gisc-tokyo",
                                                              "gisc-offenbach", "member-jp")}
    c = app.console
    r = await c.type("jonas.keller", f"incident seen {N} I-1 {SIGHT_NOTE}")
    assert r.kind != "error" and "Seen at 1 other centre" in r.plain(), r.plain()
    r = await c.type("jonas.keller", f"incident seen {N} I-1 again")
    assert r.kind == "error" and "already recorded" in r.plain()
    r = await c.type("anna.weber", f"incident seen {N} ours too", "member-de")
    assert r.kind == "error" and "your own Member's incident" in r.plain(), r.plain()
    r = await c.type("offenbach-desk", f"incident seen {N} here", "gisc-offenbach")
    assert r.kind == "error" and "GISC's that the directory links" in r.plain(), r.plain()
    # A second centre, with no indicator: its first word starts the note.
    r = await c.type("hiro.sato", f"incident seen {N} Same phishing here")
    assert r.kind != "error", r.plain()
    await app.outbox.drain()
    sec = room(app, "secretariat")
    assert "Switzerland (CH)" in sec and "Jonas Keller" in sec and "Zürich" in sec, sec
    de = room(app, "member-de")
    assert "seen at another centre too" in de and "evil[.]example" in de
    assert found(de, CH_FORBIDDEN) == [] and "Japan" not in de and "Hiro" not in de, de
    for key, count in before.items():  # no one else is told
        assert len(app.console.rooms.get(key, [])) == count, key
    # On the incident: the count for all who see it, who only where they may know it.
    views = {
        "de": await c.type("anna.weber", f"incident show {N}", "member-de"),
        "tokyo": await c.type("tokyo-desk", f"incident show {N}", "gisc-tokyo"),
        "offenbach": await c.type("offenbach-desk", f"incident show {N}", "gisc-offenbach"),
        "sec-in-collaboration": await c.type("sec-desk", f"incident show {N}",
                                             "collaboration"),
    }
    for name, reply in views.items():
        text = render_text(reply)
        assert "Sightings: 2" in text, f"{name}: {text}"
        assert found(text, CH_FORBIDDEN) == [] and "Japan" not in text, f"{name}: {text}"
    sec_view = render_text(await c.type("sec-desk", f"incident show {N}", "secretariat"))
    assert "Switzerland (CH)" in sec_view and "Japan (JP)" in sec_view
    ch_view = render_text(await c.type("jonas.keller", f"incident show {N}"))
    assert "Switzerland (CH)" in ch_view and "Japan" not in ch_view


async def test_incident_list_sorts_by_sightings(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    c = app.console
    await _incident(app, "group")
    await c.type("anna.weber", "incident report DE-OF-NC share=group second one", "member-de")
    await c.type("jonas.keller", "incident seen WIS-SEC-2026-2 here too")
    await c.type("hiro.sato", "incident seen WIS-SEC-2026-2 and here")
    plain = (await c.type("offenbach-desk", "incident list", "gisc-offenbach")).plain()
    assert plain.index("WIS-SEC-2026-1") < plain.index("WIS-SEC-2026-2")
    ranked = (await c.type("offenbach-desk", "incident list sort=sightings",
                           "gisc-offenbach")).plain()
    assert ranked.index("WIS-SEC-2026-2") < ranked.index("WIS-SEC-2026-1"), ranked
    assert "seen at 2 other centre(s)" in ranked


# ----- exports ------------------------------------------------------------------------------

async def _full(app: Any) -> None:
    await _incident(app)
    await _add(app, "domain", "evil.example", NOTE)
    await _add(app, "url", "https://evil.example/login")
    await _add(app, "ipv4", "203.0.113.7")
    await _add(app, "ipv6", "2001:db8::7")
    await _add(app, "email", "ceo@evil.example")
    await _add(app, "hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    await _add(app, "cve", "CVE-2024-3400")
    await _add(app, "domain", "relay.dwd.example.de")  # names the Member: never anonymised
    await app.console.type("anna.weber", f"incident confirm {N}", "member-de")
    await app.console.type("jonas.keller", f"incident seen {N} I-1 {SIGHT_NOTE}")


def stix_errors(text: str) -> list[str]:
    result = validate_string(text, ValidationOptions(version="2.1"))
    return [str(e) for obj in result.object_results for e in obj.errors] \
        if not result.is_valid else []


async def test_stix_export_validates_is_anonymised_and_updates_on_reexport(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await _full(app)
    c = app.console
    r = await c.type("hiro.sato", f"incident export {N} --format stix", "collaboration")
    assert r.kind != "error" and r.private, r.plain()
    assert "TLP:GREEN" in r.plain()
    text = attachment(r)
    assert stix_errors(text) == []
    assert found(text, DE_FORBIDDEN) == [] and found(text, CH_FORBIDDEN) == [], text
    bundle = json.loads(text)
    types = [o["type"] for o in bundle["objects"]]
    assert types.count("indicator") == 6 and "vulnerability" in types and "incident" in types
    assert "[domain-name:value = 'evil.example']" in text
    assert "relay.dwd" not in text and "relay[.]" not in text  # it names the Member
    marking = next(o for o in bundle["objects"] if o["type"] == "marking-definition")
    assert marking["id"] == "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
    sighting = next(o for o in bundle["objects"] if o["type"] == "sighting")
    assert "where_sighted_refs" not in sighting
    again = attachment(await c.type("hiro.sato", f"incident export {N} format=stix",
                                    "collaboration"))
    assert {o["id"] for o in json.loads(again)["objects"]} == \
        {o["id"] for o in bundle["objects"]}
    # Named, for the Secretariat: the Member, its words and the sighting centre.
    named = attachment(await c.type("sec-desk", f"incident export {N} --format stix",
                                    "secretariat"))
    assert stix_errors(named) == []
    assert "DWD National Centre" in named and "relay.dwd.example.de" in named
    assert "Switzerland" in named and "where_sighted_refs" in named
    ids = {o["id"] for o in json.loads(named)["objects"] if o["type"] == "incident"}
    assert ids == {o["id"] for o in bundle["objects"] if o["type"] == "incident"}


async def test_misp_export_round_trips_with_tags_distribution_and_sightings(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await _full(app)
    r = await app.console.type("hiro.sato", f"incident export {N} --format misp",
                               "collaboration")
    text = attachment(r)
    assert found(text, DE_FORBIDDEN) == [] and found(text, CH_FORBIDDEN) == [], text
    ev = MISPEvent()
    ev.load(text)
    assert ev.info.startswith(N) and ev.distribution == 1
    assert [t.name for t in ev.tags] == ["tlp:green"]
    by_type = {a.type: a for a in ev.attributes}
    assert by_type["domain"].value == "evil.example" and by_type["domain"].to_ids
    assert by_type["vulnerability"].value == "CVE-2024-3400"
    assert not by_type["vulnerability"].to_ids
    assert by_type["sha256"].to_ids and by_type["email-src"].value == "ceo@evil.example"
    assert len(by_type["domain"].sightings) == 1
    assert by_type["domain"].sightings[0].source == "a WIS centre"
    assert json.loads(ev.to_json())["uuid"] == json.loads(text)["uuid"]
    named = MISPEvent()
    named.load(attachment(await app.console.type("sec-desk", f"incident export {N} "
                                                 "--format misp", "secretariat")))
    assert named.uuid == ev.uuid
    sources = [s.source for a in named.attributes for s in a.sightings]
    assert sources == ["Switzerland"]


@pytest.mark.parametrize(("share", "tlp", "distribution"), [
    ("secretariat", "tlp:red", 0), ("principal-gisc", "tlp:amber+strict", 0),
    ("all-giscs", "tlp:amber", 1), ("group", "tlp:green", 1)])
async def test_export_marking_follows_the_share_level(make_app, share: str, tlp: str,
                                                     distribution: int) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await _incident(app, share)
    misp = MISPEvent()
    misp.load(attachment(await app.console.type("sec-desk", f"incident export {N} "
                                                "--format misp", "secretariat")))
    assert [t.name for t in misp.tags] == [tlp] and misp.distribution == distribution
    stix = json.loads(attachment(await app.console.type(
        "sec-desk", f"incident export {N} --format stix", "secretariat")))
    marking = next(o for o in stix["objects"] if o["type"] == "marking-definition")
    assert marking["name"].lower() == tlp


async def test_hidden_export_reads_as_missing(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await _incident(app, "secretariat")
    c = app.console
    for fmt in ("misp", "stix"):
        hidden = await c.type("tokyo-desk", f"incident export {N} --format {fmt}")
        missing = await c.type("tokyo-desk", f"incident export WIS-SEC-2026-9 --format {fmt}")
        assert hidden.kind == missing.kind == "error" and not hidden.attachments
        assert hidden.plain().replace(N, "#") == missing.plain().replace("WIS-SEC-2026-9", "#")
    r = await c.type("sec-desk", f"incident export {N} --format pdf", "secretariat")
    assert r.kind == "error" and "--format misp|stix" in r.plain()


async def test_lesson_export_is_anonymised_and_marked(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await _incident(app, "group anonymous")
    c = app.console
    await c.type("anna.weber", f"incident resolve {N} done", "member-de")
    await c.type("anna.weber", f"lessons add {N} share=anonymous DWD learnt: EDZW admin "
                 "accounts need MFA", "member-de")
    await c.type("anna.weber", f"incident confirm {N}", "member-de")
    r = await c.type("hiro.sato", "lessons export L-1 --format stix", "collaboration")
    text = attachment(r)
    assert stix_errors(text) == [] and "admin accounts need MFA" in text
    assert found(text, DE_FORBIDDEN) == [] and N not in text, text
    assert "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb" in text
    ev = MISPEvent()
    ev.load(attachment(await c.type("hiro.sato", "lessons export L-1 --format misp",
                                    "collaboration")))
    assert [t.name for t in ev.tags] == ["tlp:green"]
    assert found(ev.to_json(), DE_FORBIDDEN) == []
    own = attachment(await c.type("anna.weber", "lessons export L-1 --format misp",
                                  "member-de"))
    assert "EDZW" in own and N in own
    await c.type("anna.weber", f"lessons add {N} kept to ourselves", "member-de")
    hidden = await c.type("hiro.sato", "lessons export L-2 --format misp", "collaboration")
    missing = await c.type("hiro.sato", "lessons export L-9 --format misp", "collaboration")
    assert hidden.plain().replace("L-2", "#") == missing.plain().replace("L-9", "#")


async def test_cli_export_renders_for_the_person_named(make_app, db_url: str,
                                                       tmp_path: Any) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from wisbot.cli import app as cli

    app = await make_app(directory())
    await _full(app)
    path = tmp_path / "directory.yaml"
    path.write_text(DIRECTORY, encoding="utf-8")
    runner = CliRunner(env={"WISBOT_DATABASE_URL": db_url, "WISBOT_DIRECTORY": str(path)})
    anon = runner.invoke(cli, ["export", "incident", N, "--format", "stix", "--as",
                               "hiro.sato", "--room", "collaboration"])
    assert anon.exit_code == 0, anon.output
    assert stix_errors(anon.stdout) == []
    assert found(anon.stdout, DE_FORBIDDEN) == [] and found(anon.stdout, CH_FORBIDDEN) == []
    out = tmp_path / "event.json"
    named = runner.invoke(cli, ["export", "incident", N, "-f", "misp", "-o", str(out)])
    assert named.exit_code == 0, named.output
    ev = MISPEvent()
    ev.load(out.read_text(encoding="utf-8"))
    assert "DWD National Centre" in ev.info  # the operator's (Secretariat's) view
    await app.console.type("anna.weber", "incident report DE-OF-NC share=secretariat other",
                           "member-de")
    hidden = runner.invoke(cli, ["export", "incident", "WIS-SEC-2026-2", "-f", "stix",
                                 "--as", "tokyo-desk"])
    assert hidden.exit_code == 1 and "no incident WIS-SEC-2026-2 that you may see" in \
        hidden.output and "Traceback" not in hidden.output
    bad = runner.invoke(cli, ["export", "incident", N, "-f", "pdf"])
    assert bad.exit_code == 1 and "--format must be misp or stix" in bad.output


async def test_two_processes_adding_at_once_number_indicators_without_gaps_or_clashes(
        make_app) -> None:  # type: ignore[no-untyped-def]
    """Two Apps on one database (two replicas): the incident row lock numbers them."""
    import asyncio

    first = await make_app(directory())
    second = await make_app(directory())
    await _incident(first, "group")

    async def add(app: Any, i: int) -> Any:
        return await app.console.type("anna.weber",
                                      f"incident ioc add {N} ipv4 198.51.100.{i}", "member-de")

    replies = await asyncio.gather(*(add(first if i % 2 else second, i) for i in range(1, 13)))
    assert all(r.kind != "error" for r in replies), [r.plain() for r in replies]
    listing = (await second.console.type("anna.weber", f"incident ioc list {N}",
                                         "member-de")).plain()
    assert [f"I-{n} " in listing for n in range(1, 13)] == [True] * 12
    assert "I-13" not in listing


async def test_widening_to_anonymised_rooms_asks_the_member_about_its_indicators(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await _incident(app, "principal-gisc")
    await _add(app, "domain", "evil.example")
    c = app.console
    r = await confirmed(c, "anna.weber", f"incident share {N} group anonymous", "member-de")
    assert r.kind != "error", r.plain()
    await app.outbox.drain()
    assert "evil[.]example" in room(app, "member-de")  # the review shows the wording
    assert "evil" not in room(app, "collaboration")
    show = render_text(await c.type("hiro.sato", f"incident show {N}", "collaboration"))
    assert "evil" not in show and "not shown in anonymised rooms" in show, show
    await c.type("anna.weber", f"incident confirm {N}", "member-de")
    await app.outbox.drain()
    assert "evil[.]example" in room(app, "collaboration")
    # Narrowing again: the collaboration room is no longer told, and its export is refused.
    await confirmed(c, "anna.weber", f"incident share {N} principal-gisc named", "member-de")
    r = await c.type("hiro.sato", f"incident export {N} --format misp", "collaboration")
    assert r.kind == "error" and not r.attachments


def test_rsit_class_is_tagged_in_misp_and_labelled_in_stix() -> None:
    """Read with getattr: the classification column may or may not be there yet."""
    from datetime import UTC, datetime

    from wisbot.domain.confidentiality import Vis
    from wisbot.domain.tlp import Tlp
    from wisbot.services.export import IncidentView, misp_incident, rsit_tag, stix_incident

    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    view = IncidentView(number=N, vis=Vis.ANONYMOUS, tlp=Tlp.AMBER, centre="a WIS centre",
                        severity=3, severity_words="severity 3", status="open",
                        summary="phishing", created=at, updated=at, rsit="fraud/phishing")
    assert rsit_tag("fraud/phishing") == 'rsit:fraud="phishing"'
    ev = MISPEvent()
    ev.load(misp_incident(view))
    assert [t.name for t in ev.tags] == ["tlp:amber", 'rsit:fraud="phishing"']
    assert ev.threat_level_id == 2 and ev.distribution == 1
    stix = stix_incident(view)
    assert stix_errors(stix) == []
    incident = next(o for o in json.loads(stix)["objects"] if o["type"] == "incident")
    assert "rsit:fraud/phishing" in incident["labels"]


async def test_queued_indicator_posts_are_withdrawn_when_the_member_narrows(
        make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await _incident(app, "group")
    await app.outbox.drain()
    await _add(app, "domain", "evil.example")
    # Narrowed before the outbox ran: the GISC Tokyo and collaboration rows never leave.
    r = await app.console.type("anna.weber", f"incident share {N} principal-gisc", "member-de")
    assert r.kind != "error", r.plain()
    await app.outbox.drain()
    assert "evil[.]example" in room(app, "gisc-offenbach")
    for key in ("gisc-tokyo", "collaboration"):
        assert "evil" not in room(app, key), key


async def test_a_review_waiting_over_a_restart_releases_the_indicator_after_it(
        make_app) -> None:  # type: ignore[no-untyped-def]
    first = await make_app(directory())
    await _incident(first)
    await _add(first, "ipv4", "203.0.113.7")
    await first.outbox.drain()
    await first.stop()
    second = await make_app(directory())
    r = await second.console.type("anna.weber", f"incident confirm {N}", "member-de")
    assert "confirmed" in r.plain(), r.plain()
    await second.outbox.drain()
    assert "203.0.113[.]7" in room(second, "collaboration")
    assert found(room(second, "collaboration"), DE_FORBIDDEN) == []


async def test_a_gisc_desk_records_a_sighting_for_its_operating_member(make_app) -> None:  # type: ignore[no-untyped-def]
    app = await make_app(directory())
    await _incident(app)
    r = await app.console.type("tokyo-desk", f"incident seen {N} Same lure at GISC Tokyo",
                               "gisc-tokyo")
    assert r.kind != "error" and "Seen at 1 other centre" in r.plain(), r.plain()
    await app.outbox.drain()
    assert "Japan (JP), reported by Tokyo desk" in room(app, "secretariat")
    de = room(app, "member-de")
    assert "seen at another centre too" in de and "Japan" not in de and "Tokyo" not in de
