"""One predicate: who may sit in which room, and who may read what there, is decided by
``wisbot/domain/audience.py`` alone; Slack's and Matrix's membership checks, ``Caller``,
lessons, exchange cases and pages all agree with it.

Slack is tested through slack-bolt / slack-sdk against the local fake Slack Web API
(``tests/_fake_slack.py``): the real adapter's room check, from ``conversations.members``.
Matrix at unit level: its room check (``MatrixAdapter._check_room``) holds a room for the
identities :func:`wisbot.services.integrity.strangers` returns.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from tests import test_slack
from tests._fake_slack import FakeSlack, slack_directory, slack_id
from tests.conftest import EXAMPLE
from tests.test_slack import StartSlack
from wisbot.adapters.console import ConsoleAdapter, render_text
from wisbot.app import App
from wisbot.clock import FakeClock
from wisbot.directory import Contact, Directory, Room, parse_directory
from wisbot.domain import audience
from wisbot.domain.confidentiality import Exposure, Share, Vis
from wisbot.services.context import Caller, may_be_in_room, resolve_caller
from wisbot.services.integrity import may_be_in, strangers
from wisbot.settings import Settings

fake_slack = test_slack.fake_slack
start_slack = test_slack.start_slack


def _with_duty(data: dict) -> dict:  # type: ignore[type-arg]
    data["contacts"].append({"id": "watch.op", "name": "Pat Watch", "roles": ["watch"]})
    data["contacts"].append({"id": "two.hats", "name": "Two Hats",
                             "roles": ["gisc:Tokyo", "member:CH"]})
    data["rooms"].append({"key": "duty", "role": "duty", "platform": "console"})
    return data


@pytest.fixture(scope="module")
def directory() -> Directory:
    data = _with_duty(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    return parse_directory(data, "example + duty room")


def exposures(directory: Directory) -> list[Exposure]:
    return [Exposure(c.member, c.principal_gisc, share, anon)
            for c in directory.centres for share in Share for anon in (False, True)]


def test_every_membership_rule_is_the_predicate(directory: Directory) -> None:
    """Slack's check (``may_be_in_room``), Matrix's (``integrity.strangers``) and
    provisioning's (``integrity.may_be_in``) give the predicate's answer for every
    contact in every room."""
    for contact, room in itertools.product(directory.contacts, directory.rooms):
        expected = audience.may_sit_in(directory, contact, room.role)
        assert may_be_in_room(directory, contact, room.role) is expected
        assert may_be_in(directory, contact, room) is expected
        address = contact.chat_id("console")
        assert address is not None
        assert (strangers(directory, room, "console", [address]) == []) is expected, \
            (contact.id, room.key)


@pytest.mark.parametrize(("contact", "room", "admitted"), [
    ("anna.weber", "gisc-offenbach", False),  # a Member's focal point, its GISC's room
    ("anna.weber", "area-offenbach", True),   # ... its principal GISC's area room
    ("anna.weber", "duty", False),            # the duty room is the watch operators'
    ("watch.op", "duty", True),
    ("gisc-tokyo", "gisc-offenbach", False),
    ("hiro.sato", "member-de", False),
    ("sec-desk", "member-de", True),          # the Secretariat may sit anywhere
    ("two.hats", "gisc-tokyo", True),
    ("two.hats", "area-offenbach", True),     # CH's principal GISC is Offenbach
])
def test_known_cases(directory: Directory, contact: str, room: str, admitted: bool) -> None:
    assert audience.may_sit_in(directory, directory.contact(contact),
                               directory.room(room).role) is admitted


def test_nobody_admitted_to_a_room_reads_more_there_than_alone(directory: Directory) -> None:
    """Admission and reading are one rule: whoever may sit in a room may read, alone,
    everything the room is told (incidents, lessons, exchange cases)."""
    exps = exposures(directory)
    members = [m.code for m in directory.members]
    for contact, room in itertools.product(directory.contacts, directory.rooms):
        if not audience.may_sit_in(directory, contact, room.role):
            continue
        roles = audience.person_roles(directory, contact)
        for exp in exps:
            assert audience.room_sees(room.role, exp).value <= \
                audience.person_sees(directory, contact, exp).value, (contact.id, room.key, exp)
        for member, share in itertools.product(members, ("named", "anonymous", "none")):
            assert audience.lesson_seen_by(room.role, share, member).value <= \
                audience.lesson_reader_sees(roles, None, share, member).value
        for member, referred in itertools.product(members, (False, True)):
            if audience.case_seen_by(room.role, member, referred) and room.role != \
                    "working-group":
                assert audience.case_person_reads(roles, member), (contact.id, room.key)


def test_caller_asks_the_predicate(directory: Directory) -> None:
    exps = exposures(directory)
    for contact in directory.contacts:
        for room in [None, *directory.rooms]:
            caller = resolve_caller(directory, "console", contact.chat_id("console") or "",
                                    room.target if room else None)
            for exp in exps:
                assert caller.sees(exp) is audience.reader_sees(
                    directory, contact, room.role if room else None, exp)
            for share in ("named", "anonymous", "none"):
                assert caller.sees_lesson(share, "DE") is audience.lesson_reader_sees(
                    audience.person_roles(directory, contact), room.role if room else None,
                    share, "DE")


def test_a_reader_sees_the_minimum_of_person_and_room(directory: Directory) -> None:
    exp = Exposure("DE", "Offenbach", Share.SECRETARIAT, False)
    sec = directory.contact("sec-desk")
    # The Secretariat reads a Secretariat-only incident alone and in its room ...
    assert audience.reader_sees(directory, sec, None, exp) is Vis.NAMED
    assert audience.reader_sees(directory, sec, "secretariat", exp) is Vis.NAMED
    # ... not in the collaboration room, where everyone would read it.
    assert audience.reader_sees(directory, sec, "collaboration", exp) is Vis.NONE
    caller = Caller(contact=sec, room=directory.room("collaboration"), platform="console",
                    roles=audience.person_roles(directory, sec))
    assert caller.sees(exp) is Vis.NONE and not caller.sees_live_statistics
    assert Caller(contact=sec, room=None, platform="console",
                  roles=caller.roles).sees_live_statistics


def test_pages_reach_only_holders_of_the_role_who_may_read_them(directory: Directory) -> None:
    exp = Exposure("DE", "Offenbach", Share.ALL_GISCS, True)
    tokyo = directory.contact("gisc-tokyo")
    assert audience.may_be_paged(directory, tokyo, "gisc:Tokyo", exp)
    assert not audience.may_be_paged(directory, tokyo, "gisc:Offenbach", exp)
    narrowed = Exposure("DE", "Offenbach", Share.PRINCIPAL_GISC, True)
    assert not audience.may_be_paged(directory, tokyo, "gisc:Tokyo", narrowed)
    assert audience.may_be_paged(directory, directory.contact("sec-desk"), "gisc:Tokyo", exp)
    assert audience.may_be_paged(directory, tokyo, "gisc:Tokyo", None)  # e.g. a handover


# ----- Slack's room check, end to end through slack-bolt against the fake Slack ---------

def _slack_dir(tmp_path: Path) -> Directory:
    data = _with_duty(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return slack_directory(path)


def _members_for(directory: Directory, room: Room, outsider: Contact | None) -> list[str]:
    inside = [c for c in directory.contacts if audience.may_sit_in(directory, c, room.role)]
    people = inside + ([outsider] if outsider is not None else [])
    return [slack_id("U", c.id) for c in people]


async def test_slack_holds_exactly_the_rooms_the_predicate_refuses(
        start_slack: StartSlack, fake_slack: FakeSlack, tmp_path: Path) -> None:
    """Every channel holds its whole audience; half the channels also hold one contact
    the predicate refuses there (a different one each): exactly those are held."""
    directory = _slack_dir(tmp_path)
    expected: set[str] = set()
    contacts = itertools.cycle(directory.contacts)
    for i, room in enumerate(directory.rooms):
        outsider = None
        if i % 2 == 0:
            for _ in range(len(directory.contacts)):
                candidate = next(contacts)
                if not audience.may_sit_in(directory, candidate, room.role):
                    outsider = candidate
                    break
        if outsider is not None:
            expected.add(room.key)
        fake_slack.members[room.target] = _members_for(directory, room, outsider)
    assert {"duty", "gisc-offenbach"} & expected or len(expected) > 5
    env = await start_slack(directory)
    assert env.app.holds == expected


async def test_slack_refuses_a_members_focal_point_in_its_gisc_room_and_anyone_in_duty(
        start_slack: StartSlack, fake_slack: FakeSlack, tmp_path: Path) -> None:
    """The two cases where Slack's old rule disagreed with Matrix's."""
    directory = _slack_dir(tmp_path)
    fake_slack.members[slack_id("C", "gisc-offenbach")] = [
        slack_id("U", "gisc-offenbach"), slack_id("U", "anna.weber")]
    fake_slack.members[slack_id("C", "duty")] = [slack_id("U", "watch.op"),
                                                 slack_id("U", "hiro.sato")]
    fake_slack.members[slack_id("C", "area-tokyo")] = [slack_id("U", "hiro.sato"),
                                                       slack_id("U", "two.hats")]
    env = await start_slack(directory)
    assert env.app.holds == {"gisc-offenbach", "duty"}


# ----- a page's chain is fixed when it opens; the predicate is asked at every step -----

async def test_a_contact_who_lost_the_role_is_not_paged_after_a_restart(
        db_url: str, clock: FakeClock) -> None:
    """GISC Tokyo's desk is paged, then (directory edit + restart) moves to GISC Exeter:
    the page's repeat does not reach it with what GISC Tokyo may read."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))

    async def run(directory: Directory) -> App:
        app = App(Settings(database_url=db_url, directory=EXAMPLE), directory=directory,
                  clock=clock, adapters=[ConsoleAdapter(echo=False)], run_worker=False)
        await app.start()
        return app

    app = await run(parse_directory(data))
    try:
        await app.console.type("anna.weber", "incident report DE-OF-NC share=all-giscs sev=3 "
                               "relay breached", "member-de")
        await app.paging.tick()
        await app.outbox.drain()
        first = [render_text(r) for r in app.console.direct["gisc-tokyo"]]
        assert any("relay breached" in t for t in first), first
    finally:
        await app.stop()
    for c in data["contacts"]:
        if c["id"] == "gisc-tokyo":
            c["roles"] = ["gisc:Exeter"]
    data["oncall"]["gisc:Exeter"].append("gisc-tokyo")
    data["oncall"].pop("gisc:Tokyo", None)
    app = await run(parse_directory(data, "gisc-tokyo moved to Exeter"))
    try:
        clock.advance(minutes=16)
        await app.paging.tick()
        await app.outbox.drain()
        later = [render_text(r) for r in app.console.direct.get("gisc-tokyo", [])]
        assert not any("relay breached" in t for t in later), later
        # The Secretariat learns that GISC Tokyo's page reaches nobody.
        sec = "\n".join(render_text(r) for r in app.console.rooms["secretariat"])
        assert "nobody is on call" in sec, sec
    finally:
        await app.stop()
