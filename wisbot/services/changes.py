"""Change management and the change advisory board (Annex 1 §4, docs/changes.md).

A request for change (``CHG-<year>-<n>``) comes from a centre; it is filtered and assessed
(accepted with a priority and a risk assessment, or rejected), authorised at a CAB meeting,
tested, implemented and closed after review (:mod:`wisbot.domain.changes`).

Who reads a change is the one predicate's (:func:`~wisbot.domain.audience.change_seen_by`):
the requesting centre, the Secretariat and the CAB. Anyone else is told exactly what they
would be told of a change that does not exist.

CAB meetings are rows (``change cab schedule``). The scheduled job (:meth:`tick`, leader
only) posts each meeting's agenda ``change_agenda_hours`` before it, and after the meeting
reminds the board of the items it left undecided; each post is claimed by a conditional
update of its column, so two processes on one database post it once.

An authorised change to a Global Service is announced as a planned outage through the
outage service (:meth:`WmemService.plan_outage`), in the decision's transaction: a WMEM
too when publishing is on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text as sql
from sqlalchemy import update
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Centre, Directory, Room
from wisbot.domain.audience import change_person_reads, change_seen_by, person_roles
from wisbot.domain.changes import (
    OPEN,
    Facts,
    State,
    change_number,
    parse_change_number,
    priority_rank,
    state_words,
    step_words,
    transition,
)
from wisbot.errors import InvalidState, NotAllowed, NotFound, UsageError
from wisbot.i18n import _, ngettext
from wisbot.reply import Reply, ReplyBuilder, bold, user
from wisbot.services.context import Caller
from wisbot.services.languages import person_language, room_language
from wisbot.services.notify import notify
from wisbot.store.change_tables import CabMeeting, ChangeEvent, ChangeRequest
from wisbot.store.engine import Store

log = logging.getLogger(__name__)
MAX_TEXT = 2000
MAX_LISTED = 50
MEETING_EARLY = timedelta(minutes=30)
"""A decision may be taken this long before the meeting's time (it may start early)."""


def _next_seq(session: Session, year: int) -> int:
    value = session.execute(
        sql("INSERT INTO change_counter (year, last_seq) VALUES (:y, 1) "
            "ON CONFLICT (year) DO UPDATE SET last_seq = change_counter.last_seq + 1 "
            "RETURNING last_seq"), {"y": year}).scalar_one()
    return int(value)


def _id(row: ChangeRequest | CabMeeting) -> int:
    assert row.id is not None
    return row.id


class ChangeService:
    def __init__(self, store: Store, directory: Directory, clock: Clock, *,
                 agenda_hours: float = 24.0, remind_after_hours: float = 2.0,
                 wmem: Any = None) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.agenda_lead = timedelta(hours=agenda_hours)
        self.remind_after = timedelta(hours=remind_after_hours)
        self.wmem = wmem
        """The outage service (:class:`~wisbot.services.wmem.WmemService`), if running."""

    # ----- who ----------------------------------------------------------------------------

    @staticmethod
    def is_cab(caller: Caller) -> bool:
        """A member of the change advisory board: the ``cab`` role in the directory."""
        return "cab" in caller.contact.roles

    def _manager(self, caller: Caller, what: str) -> None:
        if not (caller.is_secretariat or self.is_cab(caller)):
            raise NotAllowed(_("only the WMO Secretariat and members of the change advisory "
                               "board may {what}", what=what))

    def _room_check(self, caller: Caller, member: str | None,
                    gisc: str | None = None) -> None:
        room = caller.room
        if room is None or change_seen_by(room.role, member, gisc):
            return
        raise NotAllowed(_("changes are read by the requesting centre, the WMO Secretariat "
                           "and the change advisory board, so they are not shown in {room}. "
                           "Use your own room or a direct message with wisbot.",
                           room=room.key))

    def _missing(self, number: str) -> NotFound:
        """The one answer for a change that does not exist and one the caller may not read."""
        return NotFound(_("no change {number} that you may see (`change list` shows them)",
                          number=number))

    def _get(self, session: Session, caller: Caller, number: str) -> ChangeRequest:
        number = parse_change_number(number)
        row = session.exec(select(ChangeRequest).where(ChangeRequest.number == number)).first()
        if row is None or not change_person_reads(caller.roles, row.member, row.gisc):
            raise self._missing(number)
        self._room_check(caller, row.member, row.gisc)
        return row

    def _centre(self, text: str) -> Centre:
        found = self.directory.centre_by_identifier(text)
        return found if found is not None else self.directory.centre(text)

    def _gisc_of(self, centre: Centre) -> str | None:
        return centre.principal_gisc if centre.kind == "GISC" else None

    def _name(self, actor: str) -> str:
        if actor == "wisbot":
            return "wisbot"
        try:
            return self.directory.contact(actor).name
        except NotFound:
            return _("a former contact")

    # ----- telling ------------------------------------------------------------------------

    def _rooms(self, change: ChangeRequest) -> list[Room]:
        """The rooms a change's steps are posted to: every room the predicate lets read it."""
        return [r for r in self.directory.rooms
                if change_seen_by(r.role, change.member, change.gisc)]

    def _board_rooms(self) -> list[Room]:
        return [r for r in self.directory.rooms if r.role in ("cab", "secretariat")]

    def _board_direct(self) -> list[str]:
        """CAB members by direct message when no CAB room is configured."""
        if self.directory.rooms_with_role("cab"):
            return []
        return [c.id for c in self.directory.contacts if "cab" in c.roles]

    @staticmethod
    def _each(rooms: Sequence[Room], build: Callable[[], Reply]) -> list[tuple[Room, Reply]]:
        out = []
        for room in rooms:
            with i18n.use(room_language(room)):
                out.append((room, build()))
        return out

    def _event(self, session: Session, change: ChangeRequest, actor: str, kind: str,
               text: str = "", meeting_id: int | None = None) -> None:
        session.add(ChangeEvent(change_id=_id(change), at=self.clock(), actor=actor,
                                kind=kind, text=text[:MAX_TEXT], meeting_id=meeting_id))

    def _card(self, session: Session, change: ChangeRequest, headline: str, *,
              note: str | None = None, full: bool = False) -> Reply:
        b = ReplyBuilder(f"{change.number} – {headline}", kind="change")
        b.ref = change.number
        b.field(_("Centre"), change.centre)
        b.field(_("State"), f"{state_words(change.state)} "
                f"({_('step {n} of 6', n=State(change.state).step)})")
        if change.priority:
            b.field(_("Priority"), change.priority)
        b.field(_("Risk assessment"), change.risk_level or _("not assessed"))
        b.field(_("When"), f"{i18n.when(change.starts_at)} – {i18n.when(change.ends_at)}")
        if change.service:
            b.field(_("Global Service"), change.service)
        b.line(bold(_("What: ")), user(change.what))
        if full:
            for label, value in ((_("Why: "), change.why), (_("Who: "), change.who),
                                 (_("How: "), change.how), (_("Risk: "), change.risk),
                                 (_("Impact: "), change.impact), (_("Cost: "), change.cost)):
                b.line(bold(label), user(value))
            if change.assessment:
                b.line(bold(_("Assessment: ")), user(change.assessment))
        if note:
            b.line(bold(_("Note: ")), user(note))
        if full:
            b.line(bold(_("Timeline:")))
            for e in session.exec(select(ChangeEvent).where(
                    ChangeEvent.change_id == _id(change)).order_by(col(ChangeEvent.id))).all():
                head = f"  {i18n.when(e.at)} · {self._name(e.actor)} · {step_words(e.kind)}"
                meeting = (session.get(CabMeeting, e.meeting_id)
                           if e.kind == "on agenda" and e.meeting_id is not None else None)
                if meeting is not None:  # wisbot's own words: the meeting, in the reader's
                    b.line(head, ": ", i18n.when(meeting.at))
                else:
                    b.line(head, *((": ", user(e.text)) if e.text else ()))
        return b.build()

    def _tell(self, session: Session, change: ChangeRequest, kind: str,
              headline: Callable[[], str], note: str | None = None) -> None:
        deliveries = self._each(self._rooms(change),
                                lambda: self._card(session, change, headline(), note=note))
        notify(session, kind=kind, now=self.clock(), incident_id=None, deliveries=deliveries)

    # ----- step 1: the request ------------------------------------------------------------

    async def request(self, caller: Caller, centre_text: str, fields: Mapping[str, str],
                      starts_at: datetime, ends_at: datetime, service: str | None) -> Reply:
        centre = self._centre(centre_text)
        gisc = self._gisc_of(centre)
        if not (caller.is_secretariat or caller.is_member_focal(centre.member)
                or (gisc is not None and caller.is_gisc_focal(gisc))):
            raise NotAllowed(_("only the focal points of {centre}'s Member (or of its GISC) "
                               "and the WMO Secretariat may request a change for it",
                               centre=centre.code))
        self._room_check(caller, centre.member, gisc)
        for key, value in fields.items():
            if not value.strip():
                raise UsageError(_("{field}= is empty: say it in a few words", field=key))
            if len(value) > MAX_TEXT:
                raise UsageError(_("{field}= is too long (at most {n} characters)",
                                   field=key, n=MAX_TEXT))
        if ends_at <= starts_at:
            raise UsageError(_("the change ends before it starts: until= must be after when="))
        if service is not None:
            if self.wmem is None:
                raise UsageError(_("service= names a Global Service, but WIS 2.0 monitoring "
                                   "is not running in this wisbot"))
            self.wmem.resolve_service(service)  # a clear error for an unknown service

        def work(session: Session) -> Reply:
            now = self.clock()
            number = change_number(now.year, _next_seq(session, now.year))
            row = ChangeRequest(
                number=number, centre=centre.code, member=centre.member, gisc=gisc,
                service=service, starts_at=starts_at, ends_at=ends_at,
                state=State.REQUESTED.value, requested_by=caller.contact.id,
                created_at=now, updated_at=now, what=fields["what"].strip(),
                why=fields["why"].strip(), who=fields["who"].strip(),
                how=fields["how"].strip(), risk=fields["risk"].strip(),
                impact=fields["impact"].strip(), cost=fields["cost"].strip())
            session.add(row)
            session.flush()
            self._event(session, row, caller.contact.id, "requested")
            self._tell(session, row, "change-requested",
                       lambda: _("request for change from {centre}", centre=centre.code))
            b = ReplyBuilder(_("{number} recorded: request for change", number=number),
                             kind="change")
            b.ref = number
            b.line(_("Next: the Secretariat or the CAB filters and assesses it "
                     "(`change accept {number} priority=… risk=…` or `change reject`).",
                     number=number))
            return b.build(private=True)

        return await self.store.tx(work)

    # ----- step 2: filter and assess ------------------------------------------------------

    async def accept(self, caller: Caller, number: str, priority: str, risk_level: str | None,
                     reason: str) -> Reply:
        self._manager(caller, _("filter and assess changes"))

        def work(session: Session) -> Reply:
            row = self._get(session, caller, number)
            row.state = transition(self._facts(row), "accept").value
            row.priority = priority
            if risk_level is not None:
                transition(self._facts(row), "assess")
                row.risk_level = risk_level
                row.assessment = reason[:MAX_TEXT] or row.assessment
            row.updated_at = self.clock()
            self._event(session, row, caller.contact.id, "accepted",
                        f"priority={priority}" + (f" risk={risk_level}" if risk_level else "")
                        + (f" – {reason}" if reason else ""))
            self._tell(session, row, "change-accepted",
                       lambda: _("accepted, priority {priority}", priority=priority),
                       note=reason or None)
            return self._done(row, _("accepted, priority {priority}", priority=priority))

        return await self.store.tx(work)

    async def reject(self, caller: Caller, number: str, reason: str) -> Reply:
        self._manager(caller, _("filter and assess changes"))
        if not reason.strip():
            raise UsageError(_("say why the change is rejected: the centre reads the reason"))

        def work(session: Session) -> Reply:
            row = self._get(session, caller, number)
            row.state = transition(self._facts(row), "reject").value
            row.updated_at = self.clock()
            self._event(session, row, caller.contact.id, "rejected", reason)
            self._tell(session, row, "change-rejected", lambda: _("rejected"), note=reason)
            return self._done(row, _("rejected"))

        return await self.store.tx(work)

    async def assess(self, caller: Caller, number: str, risk_level: str,
                     assessment: str) -> Reply:
        self._manager(caller, _("filter and assess changes"))
        if not assessment.strip():
            raise UsageError(_("give the assessment: what could go wrong, and how likely"))

        def work(session: Session) -> Reply:
            row = self._get(session, caller, number)
            transition(self._facts(row), "assess")
            row.risk_level = risk_level
            row.assessment = assessment[:MAX_TEXT]
            row.updated_at = self.clock()
            self._event(session, row, caller.contact.id, "assessed",
                        f"risk={risk_level} – {assessment}")
            return self._done(row, _("risk assessed: {level}", level=risk_level))

        return await self.store.tx(work)

    # ----- step 3: the CAB decides --------------------------------------------------------

    async def decide(self, caller: Caller, number: str, decision: str, note: str) -> Reply:
        if not self.is_cab(caller):
            raise NotAllowed(_("only members of the change advisory board (the `cab` role in "
                               "the directory) decide on changes"))
        if decision == "refuse" and not note.strip():
            raise UsageError(_("say why the CAB refuses the change: the centre reads the "
                               "reason"))
        queued = [False]

        def work(session: Session) -> Reply:
            row = self._get(session, caller, number)
            now = self.clock()
            state = transition(self._facts(row), decision).value
            if decision == "authorise":
                self._may_authorise(session, caller, row, now)
            row.state = state
            row.updated_at = now
            meeting = self._current_meeting(session, now)
            if decision != "defer":
                row.decided_by, row.decided_at = caller.contact.id, now
            self._event(session, row, caller.contact.id, {
                "authorise": "authorised", "refuse": "refused", "defer": "deferred"}[decision],
                note, meeting_id=meeting)
            headline: Callable[[], str] = {"authorise": lambda: _("authorised by the CAB ({who})",
                                               who=caller.contact.name),
                        "refuse": lambda: _("refused by the CAB ({who})",
                                            who=caller.contact.name),
                        "defer": lambda: _("deferred by the CAB ({who}) to a later meeting",
                                           who=caller.contact.name)}[decision]
            self._tell(session, row, f"change-{decision}", headline, note=note or None)
            extra = None
            if decision == "authorise" and row.service and self.wmem is not None \
                    and not row.outage_announced:
                _reply, queued[0] = self.wmem.plan_outage(
                    session, row.service, row.starts_at, row.ends_at,
                    # The duty room, `watch outages` and the WMEM's readers are outside
                    # the change's audience: the service and the window only. The text is
                    # the WMEM's title (WIS2 data, English); the name reads the same in
                    # every language (the duty room's post is the outage service's).
                    "Planned maintenance", by_id=caller.contact.id,
                    by_name=f"CAB ({caller.contact.name})")
                row.outage_announced = True
                extra = _("{service} is announced as a planned outage in the operations "
                          "calendar (`watch outages`).", service=row.service)
            return self._done(row, headline(), extra)

        reply = await self.store.tx(work)
        if queued[0]:
            self.wmem.published()
        return reply

    # ----- steps 4–6: test, implement, close ----------------------------------------------

    async def advance(self, caller: Caller, number: str, action: str, text: str) -> Reply:
        if action == "close" and not text.strip():
            raise UsageError(_("give the review: did the change do what it should, and what "
                               "was learnt"))
        if action == "tested" and not text.strip():
            raise UsageError(_("give the test result"))

        def work(session: Session) -> Reply:
            row = self._get(session, caller, number)
            if action == "close":
                self._manager(caller, _("review and close changes"))
            elif not (caller.is_secretariat or caller.is_member_focal(row.member)
                      or (row.gisc is not None and caller.is_gisc_focal(row.gisc))):
                raise NotAllowed(_("only the requesting centre's focal points and the WMO "
                                   "Secretariat record its tests and implementation"))
            row.state = transition(self._facts(row), action).value
            row.updated_at = self.clock()
            kind = {"tested": "tested", "implemented": "implemented", "close": "closed"}[action]
            self._event(session, row, caller.contact.id, kind, text)
            words: Callable[[], str] = {
                "tested": lambda: _("tested"), "implemented": lambda: _("implemented"),
                "close": lambda: _("closed after review")}[action]
            self._tell(session, row, f"change-{kind}", words, note=text or None)
            return self._done(row, words())

        return await self.store.tx(work)

    # ----- reading ------------------------------------------------------------------------

    @staticmethod
    def _facts(row: ChangeRequest) -> Facts:
        return Facts(state=State(row.state), risk_level=row.risk_level, priority=row.priority)

    def _done(self, row: ChangeRequest, headline: str, extra: str | None = None) -> Reply:
        b = ReplyBuilder(f"{row.number} – {headline}", kind="change")
        b.ref = row.number
        b.field(_("State"), state_words(row.state))
        if extra:
            b.line(extra)
        return b.build(private=True)

    async def show(self, caller: Caller, number: str) -> Reply:
        def work(session: Session) -> Reply:
            row = self._get(session, caller, number)
            return self._card(session, row, _("request for change"), full=True).model_copy(
                update={"private": True})

        return await self.store.tx(work)

    def _visible(self, caller: Caller, rows: Sequence[ChangeRequest]) -> list[ChangeRequest]:
        return [r for r in rows if change_person_reads(caller.roles, r.member, r.gisc)
                and (caller.room is None or change_seen_by(caller.room.role, r.member, r.gisc))]

    async def list_changes(self, caller: Caller, which: str) -> Reply:
        self._room_check(caller, None)

        def work(session: Session) -> Reply:
            q = select(ChangeRequest).order_by(col(ChangeRequest.id))
            if which == "open":
                q = q.where(col(ChangeRequest.state).in_(OPEN))
            rows = self._visible(caller, session.exec(q).all())
            b = ReplyBuilder(_("Changes ({which}): {n}", which=which, n=len(rows)),
                             kind="change")
            for r in rows[-MAX_LISTED:]:
                b.line(f"{r.number} · {state_words(r.state)} · {r.priority or '–'} · "
                       f"{r.centre} · "
                       f"{i18n.when(r.starts_at)} · ", user(r.what[:120]))
            if not rows:
                b.line(_("none"))
            return b.build(private=True)

        return await self.store.tx(work)

    async def calendar(self, caller: Caller) -> Reply:
        """Upcoming implementations: authorised or tested changes not yet over."""
        self._room_check(caller, None)
        now = self.clock()

        def work(session: Session) -> Reply:
            rows = self._visible(caller, session.exec(
                select(ChangeRequest).where(
                    col(ChangeRequest.state).in_((State.AUTHORISED.value,
                                                  State.TESTED.value)),
                    col(ChangeRequest.ends_at) > now)
                .order_by(col(ChangeRequest.starts_at), col(ChangeRequest.id))).all())
            b = ReplyBuilder(_("Change calendar: upcoming implementations"), kind="change")
            for r in rows[:MAX_LISTED]:
                service = f" · {r.service}" if r.service else ""
                b.line(bold(f"{i18n.when(r.starts_at)} – {i18n.when(r.ends_at)}"),
                       f" · {r.number} · {r.centre} · {state_words(r.state)}{service} · ",
                       user(r.what[:120]))
            if not rows:
                b.line(_("No authorised change is due."))
            return b.build(private=True)

        return await self.store.tx(work)

    # ----- CAB meetings -------------------------------------------------------------------

    async def schedule(self, caller: Caller, at: datetime) -> Reply:
        self._manager(caller, _("schedule CAB meetings"))
        now = self.clock()
        if at <= now:
            raise UsageError(_("the meeting time {at} has passed", at=i18n.when(at)))

        def work(session: Session) -> Reply:
            if session.exec(select(CabMeeting).where(CabMeeting.at == at)).first() is not None:
                raise UsageError(_("a CAB meeting is already scheduled at {at}",
                                   at=i18n.when(at)))
            session.add(CabMeeting(at=at, created_by=caller.contact.id, created_at=now))
            b = ReplyBuilder(_("CAB meeting scheduled for {at}", at=i18n.when(at)),
                             kind="change")
            b.line(_("wisbot posts the agenda of pending changes {hours} h before it.",
                     hours=i18n.number(self.agenda_lead.total_seconds() / 3600)))
            return b.build(private=True)

        return await self.store.tx(work)

    async def meetings(self, caller: Caller) -> Reply:
        self._manager(caller, _("see the CAB's meetings"))
        now = self.clock()

        def work(session: Session) -> Reply:
            rows = session.exec(select(CabMeeting).where(
                col(CabMeeting.at) > now - self.remind_after).order_by(col(CabMeeting.at))).all()
            b = ReplyBuilder(_("CAB meetings"), kind="change")
            for m in rows:
                posted = _("agenda posted") if m.agenda_posted_at else _("agenda not yet posted")
                b.line(f"{i18n.when(m.at)} · {posted}")
            if not rows:
                b.line(_("No CAB meeting is scheduled: `change cab schedule <time>`."))
            for line in self._pending_words(session):
                b.line(line)
            return b.build(private=True)

        return await self.store.tx(work)

    def _pending(self, session: Session) -> list[ChangeRequest]:
        rows = session.exec(select(ChangeRequest).where(
            ChangeRequest.state == State.ACCEPTED.value).order_by(col(ChangeRequest.id))).all()
        return sorted(rows, key=lambda r: (priority_rank(r.priority), r.starts_at))

    def _pending_words(self, session: Session) -> list[str]:
        n = len(self._pending(session))
        return [_("Changes waiting for a CAB decision: {n}", n=i18n.number(n))]

    def _may_authorise(self, session: Session, caller: Caller, row: ChangeRequest,
                       now: datetime) -> None:
        """Annex 1 §4.4: authorised at a scheduled CAB meeting whose agenda listed it, and
        not by an interested party (its requester or the requesting centre's people)."""
        roles = person_roles(self.directory, caller.contact) - {"cab", "secretariat"}
        if caller.contact.id == row.requested_by or any(
                change_seen_by(r, row.member, row.gisc) for r in roles):
            raise NotAllowed(_("{number} was requested by you or your centre: another "
                               "member of the CAB decides on it", number=row.number))
        listed = select(ChangeEvent.meeting_id).where(
            ChangeEvent.change_id == row.id, ChangeEvent.kind == "on agenda")
        meeting = session.exec(select(CabMeeting).where(
            col(CabMeeting.id).in_(listed),
            col(CabMeeting.at) <= now + MEETING_EARLY,
            col(CabMeeting.at) > now - self.remind_after)).first()
        if meeting is None:
            raise InvalidState(_("{number} is authorised at a CAB meeting whose agenda "
                                 "listed it: schedule one with `change cab schedule <time>` "
                                 "(see `change cab`)", number=row.number))

    def _current_meeting(self, session: Session, now: datetime) -> int | None:
        """The meeting a decision belongs to: the latest one whose agenda is out."""
        m = session.exec(select(CabMeeting).where(col(CabMeeting.agenda_posted_at).is_not(None))
                         .order_by(col(CabMeeting.at).desc())).first()
        return m.id if m is not None else None

    def _agenda(self, session: Session, meeting: CabMeeting, rows: Sequence[ChangeRequest], *,
                reminder: bool) -> Reply:
        title = (ngettext("Reminder: the CAB meeting of {at} left {n} change undecided",
                          "Reminder: the CAB meeting of {at} left {n} changes undecided",
                          len(rows), at=i18n.when(meeting.at)) if reminder
                 else _("CAB meeting {at}: agenda", at=i18n.when(meeting.at)))
        b = ReplyBuilder(title, kind="change")
        for i, r in enumerate(rows, 1):
            risk = r.risk_level or _("NOT ASSESSED: cannot be authorised")
            b.line(f"{i}. {r.number} · {r.priority or '–'} · {_('risk')} {risk} · {r.centre} · "
                   f"{i18n.when(r.starts_at)} · ", user(r.what[:200]))
        if not rows:
            b.line(_("No change waits for a decision."))
        b.line(_("Decide with `change decide <change> authorise|refuse|defer [note]` "
                 "(CAB members)."))
        return b.build()

    async def post_agendas(self) -> int:
        """Post the agenda of every meeting due within the lead time, once each."""
        now = self.clock()

        def work(session: Session) -> int:
            posted = 0
            due = session.exec(select(CabMeeting).where(
                col(CabMeeting.agenda_posted_at).is_(None),
                col(CabMeeting.at) <= now + self.agenda_lead,
                col(CabMeeting.at) > now)).all()
            for meeting in due:
                claimed = session.execute(
                    update(CabMeeting).where(col(CabMeeting.id) == _id(meeting),
                                             col(CabMeeting.agenda_posted_at).is_(None))
                    .values(agenda_posted_at=now))
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                rows = self._pending(session)
                for r in rows:
                    self._event(session, r, "wisbot", "on agenda",
                                i18n.when(meeting.at), meeting_id=_id(meeting))
                self._post_board(session, meeting, rows, reminder=False)
                posted += 1
            return posted

        return await self.store.tx(work)

    async def remind_undecided(self) -> int:
        """After a meeting, remind the board once of its agenda items still undecided."""
        now = self.clock()

        def work(session: Session) -> int:
            sent = 0
            due = session.exec(select(CabMeeting).where(
                col(CabMeeting.reminded_at).is_(None),
                col(CabMeeting.agenda_posted_at).is_not(None),
                col(CabMeeting.at) <= now - self.remind_after)).all()
            for meeting in due:
                claimed = session.execute(
                    update(CabMeeting).where(col(CabMeeting.id) == _id(meeting),
                                             col(CabMeeting.reminded_at).is_(None))
                    .values(reminded_at=now))
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                on_agenda = {e.change_id for e in session.exec(select(ChangeEvent).where(
                    ChangeEvent.meeting_id == _id(meeting), ChangeEvent.kind == "on agenda"))}
                rows = [r for r in self._pending(session) if r.id in on_agenda]
                if rows:
                    self._post_board(session, meeting, rows, reminder=True)
                    sent += 1
            return sent

        return await self.store.tx(work)

    def _post_board(self, session: Session, meeting: CabMeeting,
                    rows: Sequence[ChangeRequest], *, reminder: bool) -> None:
        deliveries = []
        for room in self._board_rooms():
            mine = [r for r in rows if change_seen_by(room.role, r.member, r.gisc)]
            with i18n.use(room_language(room)):
                deliveries.append((room, self._agenda(session, meeting, mine,
                                                      reminder=reminder)))
        direct = []
        for cid in self._board_direct():
            contact = self.directory.contact(cid)
            roles = person_roles(self.directory, contact)
            mine = [r for r in rows if change_person_reads(roles, r.member, r.gisc)]
            with i18n.use(person_language(session, self.directory, cid)):
                direct.append((cid, self._agenda(session, meeting, mine,
                                                 reminder=reminder)))
        notify(session, kind="cab-reminder" if reminder else "cab-agenda", now=self.clock(),
               incident_id=None, deliveries=deliveries, direct=direct)

    async def tick(self) -> None:
        """The scheduled job: agendas due, then reminders due."""
        posted = await self.post_agendas()
        reminded = await self.remind_undecided()
        if posted or reminded:
            log.info("CAB: %d agenda(s) posted, %d reminder(s) sent", posted, reminded)
