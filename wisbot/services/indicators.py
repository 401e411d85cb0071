"""Indicators of an incident (``incident ioc``) and other centres' sightings of it
(``incident seen``).

An indicator is the affected Member's information: it is told like an update (a timeline
entry of kind ``ioc``): named rooms read it at once, anonymised rooms only the wording the
Member confirmed (services/consent.py). A sighting is the sighting Member's: who reported
it is read only where the audience predicate lets that Member's own secretariat-level
information be read (:func:`sighter_exposure`); everyone who sees the incident reads the
count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Directory, Room
from wisbot.domain.audience import room_sees
from wisbot.domain.confidentiality import Vis
from wisbot.domain.indicators import Ioc, defang, defang_text, parse
from wisbot.domain.tlp import SIGHTER_TLP, strictest
from wisbot.errors import InvalidState, NotAllowed, NotFound, UsageError
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, Span, bold, user
from wisbot.services.consent import has_anonymised_audience
from wisbot.services.context import Caller
from wisbot.services.incidents import IncidentService
from wisbot.services.languages import person_language, room_language
from wisbot.services.notify import notify
from wisbot.services.render import (
    actor_label,
    anon_of,
    centre_label,
    exposure,
    incident_tlp,
    redactor_for,
    text_for,
)
from wisbot.services.sightings import (
    centres_phrase,
    member_name,
    sighter_exposure,
    sighting_counts,
)
from wisbot.store.engine import Store
from wisbot.store.tables import Incident, IncidentIndicator, Sighting, TimelineEntry

_REF = re.compile(r"^(?:I-?|#)(\d{1,6})$", re.IGNORECASE)


def ioc_text(ind: IncidentIndicator) -> str:
    """The timeline wording of an indicator: defanged, its note's links defanged too."""
    head = f"I-{ind.n} {ind.type} {defang(ind.type, ind.value)}"
    return f"{head}: {defang_text(ind.note)}" if ind.note else head


@dataclass(frozen=True)
class SeenIndicator:
    """An indicator as one reader may read it: ``wording`` is what they read (the
    reviewed, redacted wording for an anonymised reader)."""

    row: IncidentIndicator
    wording: str


def visible_indicators(session: Session, directory: Directory, inc: Incident,
                       vis: Vis) -> list[SeenIndicator]:
    """The indicators a reader with ``vis`` may read: all when named; anonymised, only
    those whose wording the affected Member confirmed and whose value the Redactor leaves
    whole (a value naming the Member is withheld)."""
    if vis is Vis.NONE:
        return []
    rows = session.exec(select(IncidentIndicator, TimelineEntry)
                        .join(TimelineEntry,
                              col(TimelineEntry.id) == IncidentIndicator.timeline_id,
                              isouter=True)
                        .where(IncidentIndicator.incident_id == inc.id)
                        .order_by(col(IncidentIndicator.n))).all()
    out: list[SeenIndicator] = []
    for ind, entry in rows:
        if vis is Vis.NAMED:
            out.append(SeenIndicator(ind, ioc_text(ind)))
            continue
        reviewed = anon_of(entry) if entry is not None else None
        if reviewed is None:
            continue
        wording = text_for(directory, inc, vis, ioc_text(ind), reviewed)
        redact = redactor_for(directory, inc.member)
        if defang(ind.type, ind.value) not in wording or redact(ind.value) != ind.value:
            continue  # the value itself names the Member (or its people)
        out.append(SeenIndicator(ind, wording))
    return out


class IndicatorService:
    def __init__(self, store: Store, directory: Directory, clock: Clock,
                 incidents: IncidentService) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.incidents = incidents

    async def add(self, caller: Caller, number: str, kind: str, value: str,
                  note: str | None) -> Reply:
        ioc = parse(kind, value)
        note = (note or "").strip() or None

        def work(session: Session) -> Reply:
            inc, _ = self.incidents._visible(session, caller, number, Vis.NAMED, lock=True)
            self.incidents._may_change(caller, inc, _t("add indicators to"))
            if inc.status == "closed":
                raise InvalidState(_t("{number} is closed: reopen it first", number=inc.number))
            same = session.exec(select(IncidentIndicator).where(
                IncidentIndicator.incident_id == inc.id, IncidentIndicator.type == ioc.type,
                IncidentIndicator.value == ioc.value)).first()
            if same is not None:
                raise InvalidState(_t("{number} already has this indicator as I-{n_text}",
                                      number=inc.number, n_text=same.n))
            last = session.exec(select(func.max(IncidentIndicator.n)).where(
                IncidentIndicator.incident_id == inc.id)).one()
            now = self.clock()
            ind = IncidentIndicator(incident_id=inc.id or 0, n=(last or 0) + 1, type=ioc.type,
                                    value=ioc.value, note=note, added_by=caller.contact.id,
                                    added_at=now)
            text = ioc_text(ind)
            entry = self.incidents._timeline(session, inc, caller, "ioc", text,
                                             {"indicator": ind.n})
            session.flush()
            ind.timeline_id = entry.id
            session.add(ind)
            inc.updated_at = now
            session.add(inc)
            told = self.incidents._cascade(session, inc, "ioc", f"indicator I-{ind.n} added",
                                           note=text, note_by=caller.contact.id)
            self.incidents._review(session, inc, entry)
            b = ReplyBuilder(_t("{number} – indicator I-{n_text} recorded",
                                number=inc.number, n_text=ind.n), kind="incident",
                             tlp=incident_tlp(inc))
            b.reveal(inc.number)
            b.line(bold(f"I-{ind.n} "), Span(text=f"{ioc.kind} "), user(ioc.defanged))
            if note:
                b.line(bold(_t("Note: ")), user(defang_text(note)))
            b.line(bold(_t("Told: ")), Span(text=", ".join(
                f"{room.key} ({_t('named') if v is Vis.NAMED else _t('anonymised')})"
                for room, v in told) or _t("no room")))
            if has_anonymised_audience(self.directory, exposure(inc)):
                b.line(bold(_t("Anonymised rooms: ")), Span(
                    text=_t("they read it only once a focal point of the affected Member "
                            "confirms the wording (`incident confirm {number}`).",
                            number=inc.number)))
            return b.build(private=True)

        return await self.store.tx(work)

    async def list(self, caller: Caller, number: str) -> Reply:
        def work(session: Session) -> Reply:
            inc, vis = self.incidents._visible(session, caller, number)
            b = ReplyBuilder(_t("{number} – indicators", number=inc.number), kind="incident",
                             tlp=incident_tlp(inc, vis))
            b.ref = inc.number
            b.reveal(inc.number, named=vis is Vis.NAMED)
            b.field(_t("Centre"), centre_label(self.directory, inc, vis))
            shown = visible_indicators(session, self.directory, inc, vis)
            for seen in shown:
                if vis is Vis.NAMED:
                    who = actor_label(self.directory, seen.row.added_by, inc, vis)
                    when = i18n.when(seen.row.added_at)
                    b.line(user(seen.wording), Span(text=f" · {when} · {who}"))
                else:
                    b.line(user(seen.wording))
            if not shown:
                b.line(_t("None that you may see here."))
            counts = sighting_counts(session, [inc.id or 0])
            if counts:
                b.line(bold(_t("Sightings: ")), Span(text=i18n.number(counts[inc.id or 0])))
            return b.build(private=True)

        return await self.store.tx(work)

    async def seen(self, caller: Caller, number: str, indicator: str | None,
                   note: str | None) -> Reply:
        def work(session: Session) -> Reply:
            inc, vis = self.incidents._visible(session, caller, number, lock=True)
            member = self._sighter(caller, inc)
            ind, text = self._indicator(session, inc, vis, indicator, note)
            dup = select(Sighting).where(Sighting.incident_id == inc.id,
                                         Sighting.member == member)
            dup = dup.where(Sighting.indicator_id == ind.id) if ind is not None else \
                dup.where(col(Sighting.indicator_id).is_(None))
            if session.exec(dup).first() is not None:
                raise InvalidState(_t("your Member's sighting of {number}{value} is already "
                                      "recorded",
                                      number=inc.number, value=' I-' + str(ind.n) if ind else ''))
            now = self.clock()
            session.add(Sighting(incident_id=inc.id or 0, indicator_id=ind.id if ind else None,
                                 member=member, reported_by=caller.contact.id, note=text,
                                 created_at=now))
            session.flush()
            count = sighting_counts(session, [inc.id or 0]).get(inc.id or 0, 0)
            self._tell(session, inc, member, ind, text, count, caller.contact.id)
            b = ReplyBuilder(_t("{number} – sighting recorded", number=inc.number),
                             kind="incident", tlp=incident_tlp(inc, vis))
            b.reveal(inc.number, named=vis is Vis.NAMED)
            b.line(_t("Seen at {centres_phrase} now. The affected Member and the WMO "
                      "Secretariat were told; only the Secretariat and your own Member read "
                      "that it was yours.", centres_phrase=centres_phrase(count)))
            if ind is not None:
                b.line(bold(f"I-{ind.n}: "), user(defang(ind.type, ind.value)))
            return b.build(private=True)

        return await self.store.tx(work)

    def _sighter(self, caller: Caller, inc: Incident) -> str:
        """The sighting Member: the caller's own, or their GISC's operating Member."""
        mine = list(caller.contact.members)
        for name in caller.contact.giscs:
            try:
                member = self.directory.gisc(name).member
            except NotFound:
                continue
            if member:
                mine.append(member)
        others = [m for m in mine if m.casefold() != inc.member.casefold()]
        if others:
            return others[0]
        if mine:
            raise NotAllowed(_t("{number} is your own Member's incident: add what you see with "
                                "`incident update` or `incident ioc add`; sightings are other "
                                "centres'", number=inc.number))
        raise NotAllowed(_t("sightings are recorded by the focal points of a centre (a "
                            "Member's, or a GISC's that the directory links to its Member)"))

    def _indicator(self, session: Session, inc: Incident, vis: Vis, word: str | None,
                   note: str | None) -> tuple[IncidentIndicator | None, str | None]:
        """The indicator ``word`` names (I-n, or its value) among those the caller may
        read; a word that names none starts the note."""
        note = (note or "").strip() or None
        if not word:
            return None, note
        seen = [s.row for s in visible_indicators(session, self.directory, inc, vis)]
        m = _REF.match(word.strip())
        if m:
            n = int(m.group(1))
            for ind in seen:
                if ind.n == n:
                    return ind, note
            raise NotFound(_t("no indicator I-{n_text} of {number} that you may see here "
                              "(`incident ioc list {number}`)", n_text=n, number=inc.number))
        for ind in seen:
            if _same(ind, word):
                return ind, note
        return None, " ".join(p for p in (word, note) if p)

    def _tell(self, session: Session, inc: Incident, member: str,
              ind: IncidentIndicator | None, note: str | None, count: int,
              by: str) -> None:
        """The affected Member and the Secretariat are told; the sighter is named only
        where that Member's own information may be read."""
        exp = exposure(inc)
        sighter = sighter_exposure(self.directory, member)
        own = f"member:{inc.member}".casefold()
        rooms = [r for r in self.directory.rooms
                 if r.role == "secretariat" or r.role.casefold() == own]
        deliveries: list[tuple[Room, Reply]] = []
        for room in rooms:
            if room_sees(room.role, exp) is Vis.NONE:
                continue
            # In the room's language, never the sighter's: that would point at the sighter.
            with i18n.use(room_language(room)):
                deliveries.append((room, self._card(inc, room_sees(room.role, sighter),
                                                    member, ind, note, count, by)))
        direct: list[tuple[str, Reply]] = []
        if not any(r.role.casefold() == own for r in rooms):
            for c in self.directory.contacts_of_member(inc.member):
                with i18n.use(person_language(session, self.directory, c.id)):
                    direct.append((c.id, self._card(inc, Vis.NONE, member, ind, note, count,
                                                    by)))
        notify(session, kind="sighting", now=self.clock(), incident_id=inc.id,
               deliveries=deliveries, direct=direct)

    def _card(self, inc: Incident, sighter_vis: Vis, member: str,
              ind: IncidentIndicator | None, note: str | None, count: int,
              by: str) -> Reply:
        # Names the affected Member; naming the sighter too, the strictest label wins.
        label = strictest((incident_tlp(inc), SIGHTER_TLP)) if sighter_vis is Vis.NAMED \
            else incident_tlp(inc)
        b = ReplyBuilder(_t("{number} – seen at another centre too",
                            number=inc.number), kind="incident", tlp=label)
        b.ref = inc.number
        b.reveal(inc.number)
        b.field(_t("Centre"), centre_label(self.directory, inc, Vis.NAMED))
        b.field(_t("Sightings"), f"{i18n.number(count)} ({centres_phrase(count)})")
        if ind is not None:
            b.line(bold(_t("Indicator I-{n_text}: ",
                           n_text=ind.n)), user(defang(ind.type, ind.value)))
        if sighter_vis is Vis.NAMED:
            b.reveal(roles=(f"member:{member}",))
            who = actor_label(self.directory, by, None, Vis.NAMED)
            b.line(bold(_t("Seen at: ")), Span(text=_t(
                "{member_name}, reported by {who}",
                member_name=member_name(self.directory, member), who=who)))
            if note:
                b.line(bold(_t("Note: ")), user(defang_text(note)))
        else:
            b.line(bold(_t("Seen at: ")), Span(text=_t("another WIS centre (only the WMO "
                                                   "Secretariat reads which)")))
        return b.build()


def _same(ind: IncidentIndicator, word: str) -> bool:
    try:
        return parse(ind.type, word).value == ind.value
    except UsageError:
        return False


__all__ = ["IndicatorService", "Ioc", "SeenIndicator", "sighter_exposure",
           "sighting_counts", "visible_indicators"]
