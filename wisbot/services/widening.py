"""Widening asks first: ``incident share <id> <wider level>`` and a ``named`` lesson say how
many rooms and organisations will read it, and change nothing until the Member's focal
point confirms within :data:`CONFIRM_WITHIN`. Narrowing stays immediate.

Who reads is the one audience predicate's answer (``services.incidents.audience`` on
``room_sees``, ``lesson_seen_by``, ``may_sit_in``); this module only counts it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from wisbot.clock import Clock
from wisbot.directory import Contact, Directory, Room
from wisbot.domain.audience import lesson_cap, lesson_seen_by, may_sit_in
from wisbot.domain.confidentiality import Exposure, Share, Vis
from wisbot.errors import InvalidState, NotFound
from wisbot.i18n import _, ngettext
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, Span, bold, user
from wisbot.services.context import Caller
from wisbot.services.incidents import IncidentService, audience
from wisbot.services.render import exposure, share_words
from wisbot.store.engine import Store
from wisbot.store.operator_tables import WideningRequest
from wisbot.store.tables import Incident

CONFIRM_WITHIN = timedelta(minutes=10)
"""Long enough to read the count and type the confirmation; short enough that a
confirmation typed later does not act on a question about an older state."""


def organisations(directory: Directory, contact: Contact) -> set[str]:
    """The organisations a contact speaks for: the Secretariat, its Members, the Members
    operating its GISCs."""
    if contact.is_secretariat:
        return {"WMO Secretariat"}
    out = {str(m) for m in contact.members}
    for g in contact.giscs:
        try:
            gisc = directory.gisc(g)
        except NotFound:
            out.add(f"GISC {g}")
            continue
        out.add(str(gisc.member) if gisc.member else f"GISC {gisc.name}")
    return out


@dataclass(frozen=True)
class Reach:
    rooms: tuple[Room, ...]
    anonymised: int
    organisations: frozenset[str]

    def words(self) -> str:
        rooms = ngettext("{n} room", "{n} rooms", len(self.rooms))
        orgs = ngettext("{n} organisation", "{n} organisations", len(self.organisations))
        if self.anonymised:
            return _t("{rooms} ({anonymised} of them anonymised) by {organisations}",
                      rooms=rooms, anonymised=self.anonymised, organisations=orgs)
        return _t("{rooms} by {organisations}", rooms=rooms, organisations=orgs)


def _reach(directory: Directory, told: Iterable[tuple[Room, Vis]]) -> Reach:
    rooms = [(r, v) for r, v in told if v is not Vis.NONE]
    orgs: set[str] = set()
    for contact in directory.contacts:
        if any(may_sit_in(directory, contact, r.role) for r, _ in rooms):
            orgs |= organisations(directory, contact)
    return Reach(tuple(r for r, _ in rooms), sum(v is Vis.ANONYMOUS for _, v in rooms),
                 frozenset(orgs))


def incident_reach(directory: Directory, exp: Exposure) -> Reach:
    return _reach(directory, audience(directory, exp))


def lesson_reach(directory: Directory, inc: Incident, caller: Contact, share: str) -> Reach:
    cap = lesson_cap(caller, exposure(inc))
    return _reach(directory, [(room, lesson_seen_by(room.role, share, inc.member, cap))
                              for room in directory.rooms])


class WideningGate:
    def __init__(self, store: Store, directory: Directory, clock: Clock,
                 incidents: IncidentService) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.incidents = incidents

    def _pending(self, session: Session, inc: Incident, caller: Caller,
                 kind: str) -> WideningRequest | None:
        return session.exec(select(WideningRequest).where(
            WideningRequest.incident_id == inc.id, WideningRequest.kind == kind,
            WideningRequest.requested_by == caller.contact.id,
            WideningRequest.status == "pending").order_by(col(WideningRequest.id).desc())
        ).first()

    def _ask(self, session: Session, inc: Incident, caller: Caller, *, kind: str, level: str,
             anonymous: bool | None, text: str | None, now: datetime) -> WideningRequest:
        for old in session.exec(select(WideningRequest).where(
                WideningRequest.incident_id == inc.id, WideningRequest.kind == kind,
                WideningRequest.requested_by == caller.contact.id,
                WideningRequest.status == "pending")):
            old.status = "replaced"
            session.add(old)
        row = WideningRequest(incident_id=inc.id or 0, kind=kind,
                              requested_by=caller.contact.id, level=level,
                              anonymous=anonymous, text=text, status="pending",
                              created_at=now, expires_at=now + CONFIRM_WITHIN)
        session.add(row)
        return row

    def _take(self, row: WideningRequest | None, now: datetime, again: str) -> None:
        """Consume a pending request, or say why there is nothing to confirm."""
        if row is None:
            raise InvalidState(_t("nothing to confirm: first type `{again}` to see who will "
                                  "read it", again=again))
        if row.expires_at <= now:
            row.status = "expired"
            raise InvalidState(_t("your request expired at {expires_at:%H:%M} UTC "
                                  "(confirmations are valid for {minutes} minutes); nothing "
                                  "changed. Ask again with `{again}`",
                                  expires_at=row.expires_at,
                                  minutes=int(CONFIRM_WITHIN.total_seconds() // 60), again=again))
        row.status = "confirmed"

    async def share(self, caller: Caller, number: str, level: Share, anonymous: bool | None,
                    confirm: bool) -> Reply | None:
        """``None``: go ahead with the share (a narrowing, a confirmed widening, or one the
        share itself refuses); else the question to confirm, or why a confirm failed."""
        def work(session: Session) -> Reply | None:
            inc, _vis = self.incidents._visible(session, caller, number, Vis.NAMED, lock=True)
            old = exposure(inc)
            new_anon = old.anonymous if anonymous is None else anonymous
            new = Exposure(old.member, old.principal_gisc, level, new_anon)
            wider = level.rank > old.share.rank or (old.anonymous and not new_anon)
            if not wider or not caller.is_member_focal(inc.member):
                return None  # narrowing is immediate; a refusal is the share's to give
            now = self.clock()
            naming = "" if anonymous is None else f" {'anonymous' if new_anon else 'named'}"
            again = f"incident share {inc.number} {level.value}{naming}"
            if confirm:
                row = self._pending(session, inc, caller, "share")
                if row is not None and (row.level != level.value
                                        or row.anonymous != new_anon):
                    row = None  # a confirmation of another question confirms nothing
                if row is not None and row.text != share_words(inc) and row.expires_at > now:
                    # Someone changed the sharing since the question (a narrowing): the
                    # count told was of another state; confirming must not undo it.
                    raise InvalidState(_(
                        "the sharing of {number} changed since you asked (now {share}): "
                        "nothing changed. Ask again with `{again}`", number=inc.number,
                        share=share_words(inc), again=again))
                self._take(row, now, again)
                return None
            # The sharing the question is about: a confirmation acts only on it.
            self._ask(session, inc, caller, kind="share", level=level.value,
                      anonymous=new_anon, text=share_words(inc), now=now)
            before, after = incident_reach(self.directory, old), \
                incident_reach(self.directory, new)
            more = len({r.key for r in after.rooms} - {r.key for r in before.rooms})
            b = ReplyBuilder(_t("{number} – confirm the wider sharing",
                                number=inc.number), kind="info")
            b.reveal(inc.number)
            than_now = (ngettext("{n} room more than now", "{n} rooms more than now", more)
                        if more else
                        _t("the same rooms as now, named where they read it anonymised"))
            b.line(_t("Nothing has changed yet. Shared as {level}, {naming}, {number} will be "
                      "read in {words} ({than_now}, shared as {share_words}).",
                      level=level.value, naming="anonymous" if new_anon else "named",
                      number=inc.number, words=after.words(), than_now=than_now,
                      share_words=share_words(inc)))
            b.line(_t("Confirm within {minutes} minutes with ",
                      minutes=int(CONFIRM_WITHIN.total_seconds() // 60)),
                   Span(text=f"{again} confirm", style="code"), ".")
            return b.build(private=True)

        return await self.store.tx(work)

    async def lesson(self, caller: Caller, number: str, text: str) -> Reply | None:
        """A ``named`` lesson by the Member's focal point: kept with the question.
        ``None``: not for this gate (``lessons add`` records or refuses it)."""
        def work(session: Session) -> Reply | None:
            inc, _ = self.incidents._visible(session, caller, number, Vis.NAMED, lock=True)
            if not caller.is_member_focal(inc.member) or inc.status == "open":
                return None
            now = self.clock()
            self._ask(session, inc, caller, kind="lesson", level="named", anonymous=False,
                      text=text, now=now)
            reach = lesson_reach(self.directory, inc, caller.contact, "named")
            b = ReplyBuilder(_t("{number} – confirm the named lesson",
                                number=inc.number), kind="info")
            b.reveal(inc.number)
            b.line(_t("Nothing is recorded yet. A named lesson names your Member and may be "
                      "read in {words}:", words=reach.words()))
            b.line(bold(_t("Lesson: ")), user(text))
            b.line(_t("Record it within {minutes} minutes with ",
                      minutes=int(CONFIRM_WITHIN.total_seconds() // 60)),
                   Span(text=f"lessons confirm {inc.number}", style="code"),
                   _t(", or record it share=anonymous instead."))
            return b.build(private=True)

        return await self.store.tx(work)

    async def take_lesson(self, caller: Caller, number: str) -> str:
        """The text of the caller's pending named lesson, consumed."""
        def work(session: Session) -> str:
            inc, _ = self.incidents._visible(session, caller, number, Vis.NAMED, lock=True)
            row = self._pending(session, inc, caller, "lesson")
            now = self.clock()
            self._take(row, now, f"lessons add {inc.number} share=named <text>")
            assert row is not None and row.text is not None
            return row.text

        return await self.store.tx(work)


def gate(services: Any) -> WideningGate:
    """The gate over the services of the moment (a directory reload replaces them)."""
    return WideningGate(services.store, services.directory, services.clock,
                        services.incidents)
