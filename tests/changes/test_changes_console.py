"""Changes and the CAB (Annex 1 §4.4) end to end on the console, on SQLite and PostgreSQL:
the six steps, the negative paths, and who reads what. Forbidden words are written here
by hand (never taken from the code under test)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from tests.changes.conftest import cab_meeting
from tests.helpers import room_text
from wisbot.store.change_tables import ChangeRequest
from wisbot.store.tables import Notification

REQUEST = ('change request DE-OF-NC what="Replace the OAI-PMH frontend" '
           'why="Vendor end of life" who="DWD web operations" when=2026-03-10T08:00Z '
           'until=2026-03-10T10:00Z how="Blue-green switch with rollback" '
           'risk="Harvesters see a short gap" impact="Offenbach harvest paused" '
           'cost="Two person-days"')
# Words only the change's audience may read (hand-written, not derived from the code).
SECRET_WORDS = ("Replace the OAI-PMH frontend", "Vendor end of life", "DWD web operations",
                "Blue-green switch", "CHG-2026-1")
OUTSIDERS = ("gisc-offenbach", "gisc-tokyo", "area-offenbach", "collaboration", "duty",
             "working-group")


async def say(app: Any, who: str, text: str, room: str | None = None) -> str:
    reply = await app.console.type(who, text, room)
    return str(reply.plain())


async def test_the_six_steps_with_their_refusals(change_app: Any, clock: Any) -> None:
    app = await change_app()
    # step 1: every field is required; a missing one names itself and shows the usage
    missing = await say(app, "anna.weber", REQUEST.replace('cost="Two person-days"', ""),
                        "member-de")
    assert "missing cost=" in missing and "Usage: change request" in missing
    bad_time = await say(app, "anna.weber", REQUEST.replace("when=2026-03-10T08:00Z",
                                                            "when=next-tuesday"), "member-de")
    assert "when='next-tuesday'" in bad_time or "when=next-tuesday" in bad_time
    assert "is not a time" in bad_time
    assert not await app.store.tx(lambda s: s.exec(select(ChangeRequest)).all())
    # a Member's focal point may not request for another Member's centre
    other = await say(app, "jonas.keller", REQUEST)
    assert "Refused" in other and "may request a change" in other
    made = await say(app, "anna.weber", REQUEST, "member-de")
    assert "CHG-2026-1 recorded" in made

    # step 2: accepted with a priority but no risk assessment
    assert "only the WMO Secretariat and members of the change advisory board" in \
        await say(app, "anna.weber", "change accept CHG-2026-1 priority=high")
    bad_priority = await say(app, "sec-maria", "change accept CHG-2026-1 priority=hihg")
    assert "did you mean high" in bad_priority
    accepted = await say(app, "sec-maria", "change accept CHG-2026-1 priority=high "
                                           "Well understood work")
    assert "accepted, priority high" in accepted

    # step 3: no authorisation without a risk assessment, and only by CAB members
    no_risk = await say(app, "cab.chair", "change decide CHG-2026-1 authorise")
    assert "no risk assessment" in no_risk and "cannot authorise" in no_risk
    not_cab = await say(app, "sec-maria", "change decide CHG-2026-1 authorise")
    assert "only members of the change advisory board" in not_cab
    state = await app.store.tx(lambda s: s.exec(select(ChangeRequest)).one().state)
    assert state == "accepted"
    await say(app, "sec-maria", "change assess CHG-2026-1 risk=medium Rollback rehearsed")
    no_meeting = await say(app, "cab.chair", "change decide CHG-2026-1 authorise")
    assert "at a CAB meeting whose agenda listed it" in no_meeting
    await cab_meeting(app, clock)
    authorised = await say(app, "cab.chair", "change decide CHG-2026-1 authorise "
                                             "Outside the 00 UTC run", "cab")
    assert "authorised by the CAB (Ingrid Solberg)" in authorised

    # the calendar: the centre and the board see it, another Member does not
    assert "CHG-2026-1" in await say(app, "anna.weber", "change calendar")
    assert "CHG-2026-1" in await say(app, "cab.expert", "change calendar")
    assert "CHG-2026-1" not in await say(app, "jonas.keller", "change calendar")

    # steps 4–6, in order only
    early = await say(app, "anna.weber", "change implemented CHG-2026-1")
    assert "cannot be marked implemented" in early and "next: test it" in early
    assert "tested" in await say(app, "anna.weber", "change tested CHG-2026-1 Passed on "
                                                    "staging", "member-de")
    assert "only the requesting centre's focal points" in \
        await say(app, "cab.expert", "change implemented CHG-2026-1")
    assert "implemented" in await say(app, "anna.weber", "change implemented CHG-2026-1")
    assert "only the WMO Secretariat and members" in \
        await say(app, "anna.weber", "change close CHG-2026-1 fine")
    assert "missing <review>" in await say(app, "sec-maria", "change close CHG-2026-1")
    closed = await say(app, "sec-maria", "change close CHG-2026-1 Done as planned")
    assert "closed after review" in closed
    again = await say(app, "cab.chair", "change decide CHG-2026-1 refuse too late")
    assert "cannot be refused" in again and "final" in again

    shown = await say(app, "anna.weber", "change show CHG-2026-1")
    assert "Ingrid Solberg · authorised: Outside the 00 UTC run" in shown
    assert "Maria Rossi · accepted" in shown and "Done as planned" in shown
    assert "step 6 of 6" in shown

    # every step reached the centre's room, the Secretariat's and the CAB's; no other room
    await say(app, "anna.weber", "incident report DE-OF-NC share=group sev=2 Phishing mails "
                                 "to operators", "member-de")
    await app.outbox.drain()
    assert "WIS-SEC-2026-1" in room_text(app, "collaboration")
    assert "WIS-SEC" not in room_text(app, "cab")  # the CAB room reads changes only
    for room in ("member-de", "secretariat", "cab"):
        text = room_text(app, room)
        assert "CHG-2026-1" in text and "Replace the OAI-PMH frontend" in text, room
        assert "closed after review" in text, room
    for room in OUTSIDERS:
        text = room_text(app, room)
        for word in SECRET_WORDS:
            assert word not in text, (room, word)


async def test_a_rejected_change_is_final_and_needs_a_reason(change_app: Any) -> None:
    app = await change_app()
    await say(app, "anna.weber", REQUEST)
    assert "missing <reason>" in await say(app, "sec-maria", "change reject CHG-2026-1")
    assert "rejected" in await say(app, "cab.chair", "change reject CHG-2026-1 Duplicate")
    after = await say(app, "sec-maria", "change accept CHG-2026-1 priority=low")
    assert "cannot be accepted" in after and "final" in after
    assert "CHG-2026-1" not in await say(app, "anna.weber", "change list")
    assert "CHG-2026-1 · rejected" in await say(app, "anna.weber", "change list all")


async def test_outsiders_get_the_answer_for_a_missing_change(change_app: Any) -> None:
    """Another Member, the centre's own principal GISC (not the requesting centre), and a
    GISC elsewhere: the same words as for a change that does not exist."""
    app = await change_app()
    await say(app, "anna.weber", REQUEST)
    for who in ("jonas.keller", "gisc-offenbach", "gisc-tokyo", "watch-op"):
        for verb, tail in (("show", ""), ("tested", " x"), ("implemented", ""),
                           ("assess", " risk=low x"), ("decide", " authorise")):
            real = await say(app, who, f"change {verb} CHG-2026-1{tail}")
            ghost = await say(app, who, f"change {verb} CHG-2026-7{tail}")
            assert real == ghost.replace("CHG-2026-7", "CHG-2026-1"), (who, verb, real)
            if verb in ("show", "tested", "implemented"):
                assert "no change CHG-2026-1 that you may see" in real
        listed = await say(app, who, "change list all")
        for word in SECRET_WORDS:
            assert word not in listed, (who, word)
    # the board and the Secretariat read it; a CAB member who is also a GISC focal point
    # reads it alone, but not in a GISC room, where everyone reads what is shown
    assert "Vendor end of life" in await say(app, "cab.expert", "change show CHG-2026-1")
    in_room = await say(app, "cab.expert", "change show CHG-2026-1", "gisc-tokyo")
    assert "not shown in gisc-tokyo" in in_room and "Vendor" not in in_room
    assert "Vendor end of life" in await say(app, "sec-desk", "change show CHG-2026-1",
                                             "secretariat")


async def test_a_gisc_centre_s_change_is_read_by_its_own_gisc_room(change_app: Any) -> None:
    app = await change_app()
    made = await say(app, "gisc-offenbach", REQUEST.replace("DE-OF-NC", "DE-GISC"),
                     "gisc-offenbach")
    assert "CHG-2026-1 recorded" in made
    assert "Vendor end of life" in await say(app, "gisc-offenbach", "change show CHG-2026-1")
    assert "no change CHG-2026-1" in await say(app, "gisc-tokyo", "change show CHG-2026-1")
    await app.outbox.drain()
    assert "CHG-2026-1" in room_text(app, "gisc-offenbach")
    assert "CHG-2026-1" not in room_text(app, "gisc-tokyo")


async def test_agenda_before_the_meeting_then_one_reminder_of_what_is_undecided(
        change_app: Any, clock: Any) -> None:
    app = await change_app()
    svc = app.services.extra["changes"]
    assert "only the WMO Secretariat and members" in \
        await say(app, "anna.weber", "change cab schedule 2026-03-04T10:00Z")
    assert "has passed" in await say(app, "sec-maria", "change cab schedule 2026-03-01T10:00Z")
    assert "scheduled" in await say(app, "sec-maria", "change cab schedule 2026-03-04T10:00Z")
    assert "already scheduled" in await say(app, "cab.chair",
                                            "change cab schedule 2026-03-04T10:00Z")
    for _ in range(3):
        await say(app, "anna.weber", REQUEST)
    await say(app, "sec-maria", "change accept CHG-2026-1 priority=low risk=low")
    await say(app, "sec-maria", "change accept CHG-2026-2 priority=urgent")  # not assessed
    # CHG-2026-3 is still only requested: not on the agenda

    await svc.tick()  # 49 h before: too early
    clock.advance(hours=26)  # 23 h before the meeting
    await svc.tick()
    await svc.tick()  # the same agenda is never posted twice
    restarted = await change_app()  # a restart (a new process on the same database)
    await restarted.services.extra["changes"].tick()
    await app.outbox.drain()
    cab = room_text(app, "cab")
    assert cab.count("CAB meeting 2026-03-04 10:00 UTC: agenda") == 1
    cab = cab[cab.index("CAB meeting 2026-03-04 10:00 UTC: agenda"):]
    first, second = cab.index("CHG-2026-2"), cab.index("CHG-2026-1")
    assert first < second  # urgent first
    assert "NOT ASSESSED: cannot be authorised" in cab
    assert "CHG-2026-3" not in cab
    assert "CAB meeting 2026-03-04 10:00 UTC: agenda" in room_text(app, "secretariat")
    assert "agenda" not in room_text(app, "member-de")
    assert "agenda posted" in await say(app, "cab.chair", "change cab")

    clock.advance(hours=24)  # the meeting
    await say(app, "cab.chair", "change decide CHG-2026-1 authorise")
    await say(app, "cab.expert", "change decide CHG-2026-2 defer assess first")
    clock.advance(hours=3)
    await svc.tick()
    await svc.tick()
    await app.outbox.drain()
    cab = room_text(app, "cab")
    assert cab.count("left 1 change undecided") == 1
    reminder = cab[cab.index("left 1 change undecided"):]
    assert "CHG-2026-2" in reminder and "CHG-2026-1" not in reminder
    notes = await app.store.tx(lambda s: [n.kind for n in s.exec(select(Notification))])
    assert notes.count("cab-agenda") == 1 and notes.count("cab-reminder") == 1


async def test_without_a_cab_room_the_agenda_goes_to_each_member_directly(
        change_app: Any, clock: Any) -> None:
    app = await change_app(cab_room=False)
    await say(app, "sec-maria", "change cab schedule 2026-03-03T08:00Z")
    await say(app, "anna.weber", REQUEST)
    await say(app, "sec-maria", "change accept CHG-2026-1 priority=medium risk=low")
    await app.services.extra["changes"].tick()
    await app.outbox.drain()
    for member in ("cab.chair", "cab.expert"):
        direct = "\n".join(r.plain() for r in app.console.direct.get(member, []))
        assert "agenda" in direct and "CHG-2026-1" in direct, member
