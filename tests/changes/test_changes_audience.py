"""The one predicate decides a change's audience: the requesting centre, the Secretariat
and the CAB. Checked for every contact and room of the test directory, with expected
audiences written by hand."""

from __future__ import annotations

import itertools

import pytest

from tests.changes.conftest import change_directory
from wisbot.directory import Directory
from wisbot.domain import audience
from wisbot.domain.changes import Facts, State, parse_change_number, transition
from wisbot.errors import InvalidState, UsageError
from wisbot.services.context import resolve_caller


@pytest.fixture
def directory(example_directory: Directory) -> Directory:
    return change_directory(example_directory)


def test_who_reads_a_change_of_a_german_national_centre(directory: Directory) -> None:
    readers = {c.id for c in directory.contacts
               if audience.change_person_reads(audience.person_roles(directory, c), "DE")}
    assert readers == {"sec-desk", "sec-maria", "anna.weber", "cab.chair", "cab.expert"}
    rooms = {r.key for r in directory.rooms if audience.change_seen_by(r.role, "DE")}
    assert rooms == {"secretariat", "member-de", "cab"}
    # a GISC centre's change: its own GISC room too, no other
    rooms = {r.key for r in directory.rooms
             if audience.change_seen_by(r.role, "DE", "Offenbach")}
    assert rooms == {"secretariat", "member-de", "cab", "gisc-offenbach"}


def test_a_room_never_shows_a_change_to_someone_who_may_not_read_it(
        directory: Directory) -> None:
    for contact, room in itertools.product(directory.contacts, directory.rooms):
        if not audience.may_sit_in(directory, contact, room.role):
            continue
        roles = audience.person_roles(directory, contact)
        for member, gisc in (("DE", None), ("DE", "Offenbach"), ("JP", "Tokyo"), ("CH", None)):
            if audience.change_seen_by(room.role, member, gisc):
                assert audience.change_person_reads(roles, member, gisc), \
                    (contact.id, room.key, member)
            caller = resolve_caller(directory, "console", contact.chat_id("console") or "",
                                    room.target)
            assert audience.change_reader_reads(caller.roles, room.role, member, gisc) == (
                audience.change_person_reads(roles, member, gisc)
                and audience.change_seen_by(room.role, member, gisc))


def test_the_state_machine() -> None:
    def facts(state: State, risk: str | None = "low") -> Facts:
        return Facts(state=state, risk_level=risk, priority="high")

    assert transition(facts(State.REQUESTED), "accept") is State.ACCEPTED
    assert transition(facts(State.ACCEPTED), "defer") is State.ACCEPTED
    with pytest.raises(InvalidState, match="no risk assessment"):
        transition(facts(State.ACCEPTED, None), "authorise")
    assert transition(facts(State.ACCEPTED), "authorise") is State.AUTHORISED
    with pytest.raises(InvalidState, match="cannot be closed"):
        transition(facts(State.AUTHORISED), "close")
    for final in (State.REJECTED, State.REFUSED, State.CLOSED):
        for action in ("accept", "authorise", "tested", "close"):
            with pytest.raises(InvalidState, match="final"):
                transition(facts(final), action)
    assert [s.step for s in (State.REQUESTED, State.ACCEPTED, State.AUTHORISED,
                             State.TESTED, State.IMPLEMENTED, State.CLOSED)] == [1, 2, 3, 4, 5, 6]
    assert parse_change_number("chg-2026-007") == "CHG-2026-7"
    with pytest.raises(UsageError):
        parse_change_number("WIS-SEC-2026-1")
