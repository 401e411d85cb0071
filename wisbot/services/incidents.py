"""The incident process: report, update, severity, sharing, queries, show and list."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import text as sql
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Directory, Room
from wisbot.domain.audience import role_sees, room_sees
from wisbot.domain.confidentiality import (
    SHARE_HELP,
    Exposure,
    Share,
    Vis,
    cascade_rank,
)
from wisbot.domain.incident_models import IncidentModel
from wisbot.domain.rsit import RsitType
from wisbot.domain.rsit import words as rsit_words
from wisbot.domain.severity import severity
from wisbot.domain.tlp import SIGHTER_TLP, Tlp, strictest, tlp_for
from wisbot.errors import InvalidState, NotAllowed, NotFound, UsageError
from wisbot.i18n import N_, ngettext
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, Reveal, Span, bold, user
from wisbot.services.consent import (
    has_anonymised_audience,
    release,
    request_review,
    request_reviews,
    withdraw_for_consent,
)
from wisbot.services.context import Caller
from wisbot.services.languages import each_in_its_language, person_language, room_language
from wisbot.services.lists import WHICH, centre_short, list_title, summary_span
from wisbot.services.notify import ResponseHook, ResponseRequest, no_paging, notify
from wisbot.services.render import (
    centre_label,
    exposure,
    incident_reply,
    incident_tlp,
    redactor_for,
    share_words,
    timeline_lines,
    timeline_msg,
    word,
)
from wisbot.services.sightings import sighting_counts, sighting_lines
from wisbot.store.engine import Store
from wisbot.store.tables import (
    ConsentReview,
    Incident,
    IncidentCounter,
    IncidentQuery,
    TimelineEntry,
)

NUMBER_RE = re.compile(r"^WIS-SEC-(\d{4})-(\d{1,9})$", re.IGNORECASE)
QUERY_RE = re.compile(r"^Q-?(\d{1,9})$", re.IGNORECASE)
STATUSES = ("open", "resolved", "closed")


SHORT_NUMBER_RE = re.compile(r"^(?:(?:WIS-)?SEC-)?(?:(\d{4})-)?#?(\d{1,9})$", re.IGNORECASE)


def parse_number(text: str, year: int | None = None, *, bare: bool = True) -> str:
    """``WIS-SEC-2026-7``; with ``year`` (this year), also the short forms people type:
    ``7``, ``#7`` (unless ``bare`` is off: ``ack 7`` could mean page P-7), ``2026-7``,
    ``SEC-2026-7``. A typo is a usage error, not a refusal."""
    m = NUMBER_RE.match(text.strip())
    if m:
        return f"WIS-SEC-{m.group(1)}-{int(m.group(2))}"
    short = SHORT_NUMBER_RE.match(text.strip())
    if short and (short.group(1) or (year is not None and bare)):
        return f"WIS-SEC-{short.group(1) or year}-{int(short.group(2))}"
    shown_year = year if year is not None else datetime.now(UTC).year
    if short:
        seq = int(short.group(2))
        raise UsageError(_t("{strip!r} is not an incident number: type "
                            "WIS-SEC-{shown_year}-{seq} (or P-{seq} for a page)",
                            strip=text.strip(), shown_year=shown_year, seq=seq))
    raise UsageError(_t("{strip!r} is not an incident number: they look like "
                        "WIS-SEC-{shown_year}-7, or 7 for this year's seventh",
                        strip=text.strip(), shown_year=shown_year))


def parse_query_id(text: str) -> int:
    m = QUERY_RE.match(text.strip())
    if not m:
        raise NotFound(_t("{text!r} is not a query number: they look like Q-3", text=text))
    return int(m.group(1))


def audience(directory: Directory, exp: Exposure) -> list[tuple[Room, Vis]]:
    """Every bound room that may be told, with what it may read, in cascade order."""
    told = [(room, room_sees(room.role, exp)) for room in directory.rooms]
    told = [(r, v) for r, v in told if v is not Vis.NONE]
    order = {r.key: i for i, r in enumerate(directory.rooms)}
    told.sort(key=lambda rv: (cascade_rank(rv[0].role, exp.principal_gisc), order[rv[0].key]))
    return told


class Settle(Protocol):
    """Stops the pages about a ref once it is answered (``PagingService.settle``)."""

    def __call__(self, session: Session, ref: str, reason: str, *,
                 kind: str | None = None) -> int: ...


@dataclass(frozen=True)
class Told:
    """The outcome of a change: the incident and the rooms told, with what they read."""

    incident: Incident
    rooms: tuple[tuple[Room, Vis], ...]
    asked_share: Share | None = None
    """The wider sharing the reporter asked for, recorded narrower (it needs the Member)."""


class IncidentService:
    def __init__(self, store: Store, directory: Directory, clock: Clock, *,
                 paging_threshold: int = 3, on_response: ResponseHook = no_paging,
                 settle: Settle | None = None, query_limit: int = 5,
                 query_window: timedelta = timedelta(hours=1)) -> None:
        self.query_limit = query_limit
        self.query_window = query_window
        self.store = store
        self.directory = directory
        self.clock = clock
        self.paging_threshold = paging_threshold
        self.on_response = on_response
        self.settle = settle

    # ----- helpers ----------------------------------------------------------------------
    def _get(self, session: Session, number: str) -> Incident:
        inc = session.exec(select(Incident).where(Incident.number == number)).first()
        if inc is None:
            raise NotFound(_hidden(number))
        return inc

    def _visible(self, session: Session, caller: Caller, number: str,
                 minimum: Vis = Vis.ANONYMOUS, *, lock: bool = False) -> tuple[Incident, Vis]:
        """The incident if the caller may see it here; the same refusal when it is
        hidden as when it does not exist, so a refusal reveals nothing. ``lock``: a
        change holds the incident row until commit, so two changes at once (two
        resolves, two confirms, two lessons) check what the other one wrote."""
        number = parse_number(number, self.clock().year)
        q = select(Incident).where(Incident.number == number)
        inc = session.exec(q.with_for_update() if lock else q).first()
        if inc is None:
            raise NotFound(_hidden(number))
        vis = caller.sees(exposure(inc))
        if vis.value < minimum.value:
            raise NotFound(_hidden(number))
        return inc, vis

    def _timeline(self, session: Session, inc: Incident, caller: Caller, kind: str,
                  text: str = "", data: dict[str, Any] | None = None) -> TimelineEntry:
        entry = TimelineEntry(incident_id=_id(inc), at=self.clock(), actor=caller.contact.id,
                              kind=kind, text=text, data=data or {})
        session.add(entry)
        return entry

    def _cascade(self, session: Session, inc: Incident, kind: str, headline: str,
                 note: str | None = None, note_by: str | None = None,
                 rooms: Sequence[tuple[Room, Vis]] | None = None) -> tuple[tuple[Room, Vis], ...]:
        told = list(rooms) if rooms is not None else audience(self.directory, exposure(inc))
        rendered: dict[tuple[Vis, str], Reply] = {}
        for room, vis in told:  # each room reads its own language
            lang = room_language(room)
            if (vis, lang) not in rendered:
                with i18n.use(lang):
                    rendered[vis, lang] = incident_reply(self.directory, inc, vis, headline,
                                                         note=note, note_by=note_by)
        deliveries = [(room, rendered[vis, room_language(room)]) for room, vis in told]
        notify(session, kind=kind, now=self.clock(), incident_id=inc.id, deliveries=deliveries)
        return tuple(told)

    def _page_if_severe(self, session: Session, inc: Incident, previous: int | None) -> None:
        if inc.severity < self.paging_threshold:
            return
        if previous is not None and previous >= self.paging_threshold:
            return
        exp = exposure(inc)
        targets: list[tuple[str, Reply]] = []
        for gisc in self.directory.giscs:
            role = f"gisc:{gisc.name}"
            vis = role_sees(role, exp)
            if vis is not Vis.NONE:
                targets.append((role, incident_reply(self.directory, inc, vis,
                                                     "needs your response")))
        targets.append(("secretariat", incident_reply(self.directory, inc, Vis.NAMED,
                                                      "needs your response")))
        self.on_response(session, ResponseRequest(kind="incident", ref=inc.number,
                                                  at=self.clock(), targets=tuple(targets)))

    def _review(self, session: Session, inc: Incident, entry: TimelineEntry) -> None:
        """Free text just added: the affected Member reviews it before anonymised rooms
        read it (they get the card without it meanwhile)."""
        if entry.text and has_anonymised_audience(self.directory, exposure(inc)):
            session.flush()
            request_review(session, self.directory, inc, subject="update", text=entry.text,
                           now=self.clock(), timeline_id=entry.id)

    def _may_change(self, caller: Caller, inc: Incident, what: str) -> None:
        if caller.is_secretariat or caller.is_member_focal(inc.member) \
                or caller.is_gisc_focal(inc.principal_gisc):
            return
        found = _MAY.get(what)
        raise NotAllowed(_t("only the affected Member's focal points, its principal GISC (GISC "
                            "{principal_gisc}) or the WMO Secretariat may {what} {number}",
                            principal_gisc=inc.principal_gisc,
                            what=str(found) if found is not None else what,
                            number=inc.number))

    # ----- commands ---------------------------------------------------------------------
    async def report(self, caller: Caller, centre_code: str, share: Share, level: int,
                     anonymous: bool, summary: str, *, rsit: RsitType | None = None,
                     model: IncidentModel | None = None) -> Told:
        centre = self.directory.centre(centre_code)
        if not (caller.is_secretariat or caller.is_member_focal(centre.member)):
            raise NotAllowed(
                _t("only the focal points of {member} (who operates {code}) or the WMO "
                   "Secretariat may report an incident at that centre; if you heard of a "
                   "possible incident there, use `incident query {code}`",
                   member=centre.member, code=centre.code)
            )
        severity(level)
        # Only the affected Member may name itself beyond the Secretariat (or let anyone
        # further know): the Secretariat's report of another's incident stays with the
        # Secretariat and the Member until a focal point widens it (`incident share`).
        asked = None
        if share.rank > Share.SECRETARIAT.rank and not caller.is_member_focal(centre.member):
            asked, share = share, Share.SECRETARIAT

        def work(session: Session) -> Told:
            now = self.clock()
            seq = _next_seq(session, now.year)
            inc = Incident(number=f"WIS-SEC-{now.year}-{seq}", year=now.year, seq=seq,
                           centre=centre.code, member=centre.member,
                           principal_gisc=centre.principal_gisc, share=share.value,
                           anonymous=anonymous, severity=level, highest_severity=level,
                           status="open", summary=summary,
                           reported_by=caller.contact.id, created_at=now, updated_at=now,
                           rsit=rsit.value if rsit else None)
            session.add(inc)
            session.flush()
            self._timeline(session, inc, caller, "reported", summary,
                           {"severity": level, "share": share.value, "anonymous": anonymous,
                            **({"rsit": rsit.value} if rsit else {}),
                            **({"asked_share": asked.value} if asked else {})})
            if model is not None:  # its checklist, as it was when reported
                self._timeline(session, inc, caller, "model", model.title,
                               {"model": model.key, "checklist": list(model.checklist),
                                "severity": model.severity,
                                **timeline_msg("model", title=model.title)})
            told = self._cascade(session, inc, "reported", "new incident reported")
            self._page_if_severe(session, inc, None)
            request_reviews(session, self.directory, inc, now)
            return Told(inc, told, asked)

        return await self.store.tx(work)

    async def update(self, caller: Caller, number: str, text: str, *,
                     kind: str = "update") -> Told:
        headline = {"update": "update", "resolved": "resolved", "reopened": "reopened",
                    "closed": "closed"}[kind]

        def work(session: Session) -> Told:
            inc, _ = self._visible(session, caller, number, Vis.NAMED, lock=True)
            self._may_change(caller, inc, {"update": "update", "resolved": "resolve",
                                           "reopened": "reopen", "closed": "close"}[kind])
            if kind == "closed" and not (caller.is_secretariat
                                         or caller.is_member_focal(inc.member)):
                raise NotAllowed(_t("only the affected Member's focal points or the WMO "
                                    "Secretariat may close {number}", number=inc.number))
            target = {"update": inc.status, "resolved": "resolved", "reopened": "open",
                      "closed": "closed"}[kind]
            if kind == "update" and inc.status == "closed":
                raise InvalidState(_t("{number} is closed: reopen it first (`incident reopen "
                                      "{number} <why>`)", number=inc.number))
            if kind == "resolved" and inc.status != "open":
                raise InvalidState(_t("{number} is {status}, not open; to work on it again: "
                                      "`incident reopen {number} <why>`",
                                      number=inc.number, status=inc.status))
            if kind == "reopened" and inc.status == "open":
                raise InvalidState(_t("{number} is already open", number=inc.number))
            if kind == "closed" and inc.status == "closed":
                raise InvalidState(_t("{number} is already closed", number=inc.number))
            inc.status = target
            inc.updated_at = self.clock()
            session.add(inc)
            entry = self._timeline(session, inc, caller, kind, text)
            told = self._cascade(session, inc, kind, headline, note=text or None,
                                 note_by=caller.contact.id)
            self._review(session, inc, entry)
            if kind in ("resolved", "closed") and self.settle is not None:
                self.settle(session, inc.number, f"incident {target}")
            if kind == "reopened":
                # Its pages stopped when it was resolved: a severe incident is paged again.
                self._page_if_severe(session, inc, None)
            return Told(inc, told)

        return await self.store.tx(work)

    async def set_severity(self, caller: Caller, number: str, level: int, reason: str) -> Told:
        severity(level)

        def work(session: Session) -> Told:
            inc, _ = self._visible(session, caller, number, Vis.NAMED, lock=True)
            self._may_change(caller, inc, "change the severity of")
            if inc.status != "open":
                # Nobody works on it: a change would be cascaded to every room for nothing.
                raise InvalidState(_t("{number} is {status}: reopen it first (`incident reopen "
                                      "{number} <why>`), then change its severity",
                                      number=inc.number, status=inc.status))
            previous = inc.severity
            inc.severity = level
            inc.highest_severity = max(previous if inc.highest_severity is None
                                       else inc.highest_severity, level)
            inc.updated_at = self.clock()
            session.add(inc)
            entry = self._timeline(session, inc, caller, "severity", reason,
                                   {"from": previous, "to": level})
            headline = f"severity {previous} → {level}"
            told = self._cascade(session, inc, "severity", headline, note=reason or None,
                                 note_by=caller.contact.id)
            self._review(session, inc, entry)
            if inc.status == "open":
                self._page_if_severe(session, inc, previous)
            if level < self.paging_threshold <= previous and self.settle is not None:
                # No longer severe (a false alarm): the pages its severity opened stop; a
                # deliberate `escalate` stays.
                self.settle(session, inc.number, "severity below the paging threshold",
                            kind="incident")
            return Told(inc, told)

        return await self.store.tx(work)

    async def classify(self, caller: Caller, number: str, rsit: RsitType) -> Told:
        """Classify with the RSIT (``fraud/phishing``); the timeline keeps who and when,
        and the incident's rooms are told."""
        def work(session: Session) -> Told:
            inc, _ = self._visible(session, caller, number, Vis.NAMED, lock=True)
            self._may_change(caller, inc, "classify")
            if inc.rsit == rsit.value:
                raise InvalidState(_t("{number} is already classified as {value}",
                                      number=inc.number, value=rsit.value))
            previous = inc.rsit
            inc.rsit = rsit.value
            inc.updated_at = self.clock()
            session.add(inc)
            # ``text``: the English as stored before (exports); ``msg``: what the
            # timeline renders in the reader's language.
            self._timeline(session, inc, caller, "classified",
                           f"{rsit.value} (was {previous or 'not classified'})",
                           {"from": previous, "to": rsit.value,
                            **timeline_msg("classified", to=rsit.value, **{"from": previous})})
            told = self._cascade(session, inc, "classified",
                                 f"classified {rsit_words(rsit.value)}")
            return Told(inc, told)

        return await self.store.tx(work)

    async def share(self, caller: Caller, number: str, level: Share,
                    anonymous: bool | None) -> Told:
        def work(session: Session) -> Told:
            inc, _ = self._visible(session, caller, number, Vis.NAMED, lock=True)
            old = exposure(inc)
            new_anon = old.anonymous if anonymous is None else anonymous
            new = Exposure(old.member, old.principal_gisc, level, new_anon)
            wider = level.rank > old.share.rank or (old.anonymous and not new_anon)
            narrower = level.rank < old.share.rank or (new_anon and not old.anonymous)
            if not wider and not narrower:
                raise InvalidState(_t("{number} is already shared as {share_words}",
                                      number=inc.number, share_words=share_words(inc)))
            if wider and not caller.is_member_focal(inc.member):
                raise NotAllowed(
                    _t("only the focal points of the affected Member ({member}) may widen who "
                       "is told about {number}: it needs their consent",
                       member=inc.member, number=inc.number)
                )
            if narrower and not (caller.is_secretariat or caller.is_member_focal(inc.member)):
                raise NotAllowed(_t("only the WMO Secretariat or the affected Member may "
                                    "narrow the sharing of {number}", number=inc.number))
            before = {r.key: v for r, v in audience(self.directory, old)}
            inc.share = level.value
            inc.anonymous = new_anon
            inc.updated_at = self.clock()
            session.add(inc)
            was = f"{old.share.value}{', anonymous' if old.anonymous else ''}"
            self._timeline(session, inc, caller, "share", share_words(inc),
                           {"from": old.share.value, "to": level.value,
                            "anonymous": new_anon,
                            **timeline_msg("share", share=share_words(inc), previous=was)})
            after = audience(self.directory, new)
            # What is still queued for a room that now may read less was written for the
            # old consent: withdraw it (the cascade below tells the room what it may read).
            after_vis = {r.key: v for r, v in after}
            lowered = [k for k, v in before.items()
                       if after_vis.get(k, Vis.NONE).value < v.value]
            session.flush()
            withdraw_for_consent(session, self.directory, inc, lowered)
            told = self._cascade(session, inc, "share", f"now shared as {share_words(inc)}",
                                 rooms=after)
            withdrawn = [self.directory.room(k) for k in before
                         if k not in {r.key for r, _ in after}]
            if withdrawn:
                by_member = caller.is_member_focal(inc.member)
                notify(session, kind="withdrawn", now=self.clock(), incident_id=inc.id,
                       deliveries=[(room, withdrawn_note(inc.number, by_member,
                                                         room_language(room),
                                                         tlp_for(old.share)))
                                   for room in withdrawn])
            request_reviews(session, self.directory, inc, self.clock())
            return Told(inc, told)

        return await self.store.tx(work)

    async def show(self, caller: Caller, number: str) -> Reply:
        def work(session: Session) -> Reply:
            inc, vis = self._visible(session, caller, number)
            entries = session.exec(select(TimelineEntry)
                                   .where(TimelineEntry.incident_id == inc.id)
                                   .order_by(col(TimelineEntry.id))).all()
            reply = incident_reply(self.directory, inc, vis, "details", full=True)
            sighted = sighting_lines(session, self.directory, caller, inc)
            if len(sighted) > 1:  # names a sighter: the strictest label wins
                reply = reply.with_tlp(SIGHTER_TLP)
            lines = [*reply.lines, *sighted,
                     (bold(_t("Timeline")),), *timeline_lines(self.directory, inc, vis, entries)]
            if vis is Vis.NAMED and caller.is_member_focal(inc.member):
                waiting = session.exec(select(ConsentReview).where(
                    ConsentReview.incident_id == inc.id, ConsentReview.status == "pending")
                    .order_by(col(ConsentReview.n))).all()
                if waiting:
                    lines.append((bold(_t("Waiting for your review (anonymised rooms read none "
                                          "of it until then)")),))
                    lines += [(Span(text=f"#{r.n} {word(r.subject)}: "), user(r.proposed))
                              for r in waiting]
            return reply.model_copy(update={"lines": tuple(lines), "reveals": (
                Reveal(incident=inc.number, named=vis is Vis.NAMED),)})

        return await self.store.tx(work)

    async def list(self, caller: Caller, which: str = "open", centre: str | None = None,
                   sev_min: int | None = None, rsit_class: str | None = None, *,
                   sort: str = "number") -> Reply:
        """``rsit_class``: an RSIT class (``fraud``) or ``class/type`` (``fraud/phishing``),
        already checked (:func:`wisbot.domain.rsit.parse_filter`)."""
        if which not in WHICH:
            raise UsageError(_t("list which incidents? one of {which}, not {which_b!r}",
                                which=', '.join(WHICH), which_b=which))
        if centre is not None:
            centre = self.directory.centre(centre).code

        def work(session: Session) -> Reply:
            q = select(Incident).order_by(col(Incident.id))
            q = q.where(col(Incident.status).in_(WHICH[which]))
            if sev_min is not None:
                q = q.where(col(Incident.severity) >= sev_min)
            if rsit_class is not None:
                q = q.where(col(Incident.rsit) == rsit_class) if "/" in rsit_class \
                    else q.where(col(Incident.rsit).startswith(rsit_class + "/"))
            rows: list[tuple[Incident, Vis]] = []
            for inc in session.exec(q).all():
                vis = caller.sees(exposure(inc))
                if vis is Vis.NONE:
                    continue
                # A centre filter must not match an incident shown anonymised here:
                # that would reveal where it is.
                if centre is not None and (vis is not Vis.NAMED or inc.centre != centre):
                    continue
                rows.append((inc, vis))
            seen = sighting_counts(session, [inc.id for inc, _ in rows if inc.id is not None])
            if sort == "sightings":
                rows.sort(key=lambda row: -seen.get(row[0].id or 0, 0))
            # A list spanning incidents carries the strictest of their labels.
            b = ReplyBuilder(list_title(which, centre, sev_min, rsit_class),
                             tlp=strictest(incident_tlp(i, v) for i, v in rows) if rows else None)
            if not rows:
                b.line(_t("None that you may see here. Resolved ones: `incident list resolved`.")
                       if which == "open" else _t("None that you may see here."))
            for inc, vis in rows:
                b.reveal(inc.number, named=vis is Vis.NAMED)
                sightings = seen.get(inc.id or 0, 0)
                b.line(bold(i18n.iso(f"{incident_tlp(inc, vis).label} {inc.number}")),
                       f" · {word(inc.status)} · "
                       + _t("severity {level}", level=inc.severity) + " · ",
                       Span(text=f"{inc.rsit}", style="code") if inc.rsit else "",
                       " · " if inc.rsit else "",
                       f"{centre_short(self.directory, inc, vis)} · ",
                       summary_span(self.directory, inc, vis),
                       _t(" · seen at {n} other centre(s)", n=sightings) if sightings else "")
            return b.build(private=True)

        return await self.store.tx(work)

    async def query(self, caller: Caller, subject: str) -> Reply:
        member, centre = self._subject(subject)

        def work(session: Session) -> Reply:
            now = self.clock()
            q = select(Incident).where(col(Incident.status) != "closed")
            q = q.where(Incident.member == member) if centre is None \
                else q.where(Incident.centre == centre)
            visible = [inc for inc in session.exec(q.order_by(col(Incident.id))).all()
                       if caller.sees(exposure(inc)) is Vis.NAMED]
            if visible:
                b = ReplyBuilder(_t("What you may see about {subject}", subject=subject),
                                 tlp=strictest(incident_tlp(i) for i in visible))
                for inc in visible:
                    b.reveal(inc.number)
                    b.line(bold(f"{incident_tlp(inc).label} {inc.number}"),
                           f" · {word(inc.status)} · {severity(inc.severity).words} · "
                           f"{centre_label(self.directory, inc, Vis.NAMED)}")
                b.line(_t("Check the lessons learned too: `lessons list <number>`."))
                return b.build()
            # The same answer whether or not a hidden incident exists.
            self._check_query_rate(session, caller, now)
            row = IncidentQuery(subject=centre or member, asker=caller.contact.id,
                                asker_room=caller.room.key if caller.room else None,
                                asker_platform=caller.platform, created_at=now)
            session.add(row)
            session.flush()
            qid = f"Q-{row.id}"

            def ask() -> Reply:
                return query_card(qid, centre or member, caller.contact.name, caller.where,
                                  subject)

            secretariat = self.directory.rooms_with_role("secretariat")
            # Each Secretariat room reads its own language (the page: the paged person's).
            notify(session, kind="query", now=now, incident_id=None,
                   deliveries=each_in_its_language(secretariat, ask))
            with i18n.use(None):
                card = ask()
            self.on_response(session, ResponseRequest(kind="query", ref=qid, at=now,
                                                      targets=(("secretariat", card),)))
            b = ReplyBuilder(_t("{qid} – query opened", qid=qid))
            b.line(_t("Nothing about {value} that you may see here. The WMO Secretariat focal "
                      "point has been asked ({qid}); the answer will be posted here.",
                      value=centre or member, qid=qid))
            return b.build()

        return await self.store.tx(work)

    async def confirm(self, caller: Caller, number: str, n: int | None) -> Reply:
        """The affected Member confirms the wording anonymised rooms will read (review
        ``n``, or every one waiting)."""
        def work(session: Session) -> Reply:
            inc = self._reviewer(session, caller, number)
            q = select(ConsentReview).where(ConsentReview.incident_id == inc.id,
                                            ConsentReview.status == "pending")
            if n is not None:
                q = q.where(ConsentReview.n == n)
            else:  # a release to the public (TLP:CLEAR) is confirmed one by one
                q = q.where(ConsentReview.subject != "public")
            reviews = session.exec(q.order_by(col(ConsentReview.n))).all()
            if not reviews:
                raise NotFound(_t("no review {value}of {number} is waiting for your "
                                  "confirmation",
                                  value='#' + str(n) + ' ' if n else '', number=inc.number))
            b = ReplyBuilder(_t("{number} – wording confirmed for anonymised rooms",
                                number=inc.number),
                             tlp=incident_tlp(inc))
            b.reveal(inc.number)
            for review in reviews:
                rooms = release(session, self.directory, inc, review, review.proposed,
                                caller.contact.id, self.clock(), replaced=False)
                self._released_line(b, review, review.proposed, rooms)
            return b.build(private=True)

        return await self.store.tx(work)

    async def anon_text(self, caller: Caller, number: str, n: int, text: str) -> Reply:
        """The affected Member's own wording for anonymised rooms, instead of review ``n``'s
        redacted text (the Redactor still runs over it)."""
        if not text.strip():
            raise UsageError(_t("give the wording anonymised rooms should read"))

        def work(session: Session) -> Reply:
            inc = self._reviewer(session, caller, number)
            review = session.exec(select(ConsentReview).where(
                ConsentReview.incident_id == inc.id, ConsentReview.n == n)).first()
            if review is None:
                raise NotFound(_t("no review #{n_text} of {number}", n_text=n, number=inc.number))
            rooms = release(session, self.directory, inc, review, text, caller.contact.id,
                            self.clock(), replaced=True)
            b = ReplyBuilder(_t("{number} – your wording for anonymised rooms", number=inc.number),
                             tlp=incident_tlp(inc))
            b.reveal(inc.number)
            self._released_line(b, review, redactor_for(self.directory, inc.member)(text),
                                rooms)
            return b.build(private=True)

        return await self.store.tx(work)

    def _reviewer(self, session: Session, caller: Caller, number: str) -> Incident:
        inc, _ = self._visible(session, caller, number, Vis.NAMED, lock=True)
        if not caller.is_member_focal(inc.member):
            raise NotAllowed(_t("only the focal points of the affected Member ({member}) "
                                "decide what anonymised rooms read of {number}",
                                member=inc.member, number=inc.number))
        return inc

    @staticmethod
    def _released_line(b: ReplyBuilder, review: ConsentReview, wording: str,
                       rooms: Sequence[Room]) -> None:
        where = ", ".join(r.key for r in rooms) or _t("no room reads it anonymised now")
        b.line(bold(f"#{review.n} ({word(review.subject)}): "), user(wording), f" → {where}")

    def _check_query_rate(self, session: Session, caller: Caller, now: datetime) -> None:
        """Each query pages the Secretariat: one person may open only so many per window.
        A per-person lock held until commit makes simultaneous queries count each other
        (SQLite's BEGIN IMMEDIATE already serialises them)."""
        if not self.store.sqlite:
            session.execute(sql("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                            {"k": f"wisbot.query.{caller.contact.id}"})
        since = now - self.query_window
        rows = session.exec(select(IncidentQuery.created_at).where(
            IncidentQuery.asker == caller.contact.id,
            col(IncidentQuery.created_at) > since)
            .order_by(col(IncidentQuery.created_at))).all()
        if len(rows) < self.query_limit:
            return
        free = rows[len(rows) - self.query_limit] + self.query_window
        raise NotAllowed(
            _t("you have opened {count} queries in the last {minutes} (the limit is "
               "{query_limit}, each one pages the WMO Secretariat); you may ask again after "
               "{strftime}. Urgent? Report the incident or call the Secretariat desk.",
               count=len(rows), minutes=_minutes(self.query_window), query_limit=self.query_limit,
               strftime=free.astimezone(UTC).strftime('%H:%M UTC')))

    def _subject(self, subject: str) -> tuple[str, str | None]:
        try:
            c = self.directory.centre(subject)
            return c.member, c.code
        except NotFound:
            pass
        member = self.directory.find_member(subject)  # a code, name or acronym
        if member is not None:
            return member.code, None
        raise NotFound(self.directory.unknown_centre(
            subject, "centre or Member",
            [x for m in self.directory.members for x in (m.code, m.name)]))

    async def answer(self, caller: Caller, query: str, text: str) -> Reply:
        if not caller.is_secretariat:
            raise NotAllowed(_t("only the WMO Secretariat focal point answers queries"))
        qid = parse_query_id(query)

        def work(session: Session) -> Reply:
            row = session.get(IncidentQuery, qid)
            if row is None:
                raise NotFound(_t("no query Q-{qid}", qid=qid))
            now = self.clock()
            row.status = "answered"
            if self.settle is not None:
                # The answer is the response the query's page asked for.
                self.settle(session, f"Q-{qid}", f"answered by {caller.contact.id}")
            row.answer = text
            row.answered_by = caller.contact.id
            row.answered_at = now
            session.add(row)
            def reply() -> Reply:
                b = ReplyBuilder(_t("Q-{qid} – answer from the WMO Secretariat", qid=qid),
                                 kind="query")
                b.ref = f"Q-{qid}"
                b.line(_t("You asked about "), user(row.subject), ".")
                b.line(bold(_t("Answer: ")), user(text))
                return b.build()

            # In the language of whoever asked: their room's, or their own.
            if row.asker_room:
                room = self.directory.room(row.asker_room)
                notify(session, kind="answer", now=now, incident_id=None,
                       deliveries=each_in_its_language([room], reply))
            else:
                with i18n.use(person_language(session, self.directory, row.asker)):
                    notify(session, kind="answer", now=now, incident_id=None, deliveries=[],
                           direct=[(row.asker, reply())])
            where = row.asker_room or f"@{row.asker}"
            return ReplyBuilder(_t("Q-{qid} answered", qid=qid)).line(
                _t("Posted to {where}.", where=where)).build()

        return await self.store.tx(work)


def query_card(qid: str, value: str, name: str, where: str, subject: str) -> Reply:
    """The Secretariat's card for a query, in the current language."""
    ask = ReplyBuilder(_t("{qid} – query about {value}", qid=qid, value=value), kind="query")
    ask.ref = qid
    ask.line(_t("{name} ({where}) asks whether there is an incident at ",
                name=name, where=where), user(subject), ".")
    ask.line(_t("Answer with `incident answer {qid} <text>`; the answer is posted "
                "where they asked.", qid=qid))
    return ask.build()


def query_page_card(directory: Directory, session: Session, ref: str) -> Reply | None:
    """A query's page, rendered again for the paged person (``PagingService.cards``)."""
    qid = parse_query_id(ref)
    row = session.get(IncidentQuery, qid)
    if row is None:
        return None
    try:
        name = directory.contact(row.asker).name
    except NotFound:
        name = row.asker
    where = row.asker_room or f"@{row.asker}"
    return query_card(f"Q-{qid}", row.subject, name, where, row.subject)


def withdrawn_note(number: str, by_member: bool, language: str, tlp: Tlp | None = None) -> Reply:
    """What a room that may no longer read an incident is told, in its language; labelled
    as what it was told until now."""
    with i18n.use(language):
        note = ReplyBuilder(_t("{number} – no longer shared with this room",
                               number=i18n.iso(number)), kind="incident", tlp=tlp)
        note.line(_t("The affected Member narrowed who is told; this room will receive no "
                     "further updates on it.") if by_member else
                  _t("The WMO Secretariat narrowed who is told; this room will receive no "
                     "further updates on it."))
        return note.build()


_MAY = {"update": N_("add an update to"), "resolve": N_("resolve"), "reopen": N_("reopen"),
        "close": N_("close"), "classify": N_("classify"),
        "change the severity of": N_("change the severity of"),
        "tick the checklist of": N_("tick the checklist of"),
        "add indicators to": N_("add indicators to")}
"""What a refusal says the caller may not do (``_may_change``), in the reader's language."""


def _minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return _t("hour") if minutes == 60 else ngettext("{n} minute", "{n} minutes", minutes)


def _hidden(number: str) -> str:
    return _t("no incident {number} that you may see here", number=number)


def _id(inc: Incident) -> int:
    assert inc.id is not None
    return inc.id


def _next_seq(session: Session, year: int) -> int:
    """The next number of ``year``. The counter row stays locked until commit, so
    concurrent reports queue on it and a rolled-back report leaves no gap."""
    value = session.execute(
        sql("INSERT INTO incident_counter (year, last_seq) VALUES (:y, 1) "
            "ON CONFLICT (year) DO UPDATE SET last_seq = incident_counter.last_seq + 1 "
            "RETURNING last_seq"),
        {"y": year},
    ).scalar_one()
    return int(value)


__all__ = ["SHARE_HELP", "STATUSES", "IncidentCounter", "IncidentService", "Told", "audience"]
