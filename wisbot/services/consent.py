"""Consent at the moment of reading: the one reply rule, and what a pending delivery may
still carry now.

- :func:`room_may_read` decides whether a command's reply may be posted for everyone in the
  room it was typed in: only if the room may read everything the reply declares it shows
  (:class:`~wisbot.reply.Reveal`). The audience rule itself is
  :func:`wisbot.domain.audience.room_sees`.
- :func:`withdraw_for_consent` withdraws, when an incident is narrowed or anonymised, every
  undelivered message of it that the new consent no longer allows: room and direct-message
  outbox rows, page e-mails and webhooks, lessons.
- :func:`may_deliver` is the last check the delivery loops make just before sending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.directory import Contact, Directory, Room
from wisbot.domain.audience import (
    lesson_cap,
    lesson_seen_by,
    person_roles,
    person_sees,
    room_sees,
)
from wisbot.domain.confidentiality import Exposure, Vis, vmin
from wisbot.domain.numbers import whole_number
from wisbot.domain.tlp import parse as parse_tlp
from wisbot.domain.tlp import strip_label
from wisbot.errors import NotFound
from wisbot.i18n import _
from wisbot.reply import Reply, ReplyBuilder, Span, user
from wisbot.services import public_lessons
from wisbot.services.languages import person_language, room_language
from wisbot.services.notify import notify
from wisbot.services.render import (
    FREE_TEXT_KINDS,
    anon_of,
    exposure,
    incident_reply,
    incident_tlp,
    lesson_label,
    lesson_spans,
    redactor_for,
    word,
)
from wisbot.store.engine import Store
from wisbot.store.paging_tables import Page, PageDelivery
from wisbot.store.tables import (
    ConsentReview,
    Incident,
    Lesson,
    Notification,
    OutboxRow,
    TimelineEntry,
)

log = logging.getLogger(__name__)


def room_may_read(session: Session, room: Room, reply: Reply) -> bool:
    """Whether everyone ``room`` admits may read every part ``reply`` declares it shows.
    An incident that cannot be found counts as unreadable (fail closed)."""
    return role_may_read(session, room.role, reply)


def _readable(session: Session, reply: Reply, sees: Callable[[Exposure], Vis],
              may_read_role: Callable[[tuple[str, ...]], bool]) -> bool:
    for reveal in reply.reveals:
        if reveal.incident is None:
            if not may_read_role(reveal.roles):
                return False
            continue
        inc = session.exec(select(Incident).where(Incident.number == reveal.incident)).first()
        if inc is None:
            return False
        need = Vis.NAMED if reveal.named else Vis.ANONYMOUS
        if sees(exposure(inc)).value < need.value:
            return False
    return True


def role_may_read(session: Session, role: str, reply: Reply) -> bool:
    """Whether an audience with ``role`` (a room's, a page's) may read all of ``reply``."""
    def of_role(roles: tuple[str, ...]) -> bool:
        return role.casefold() == "secretariat" or role.casefold() in {r.casefold()
                                                                       for r in roles}
    return _readable(session, reply, lambda exp: room_sees(role, exp), of_role)


def person_may_read(session: Session, directory: Directory, contact: Contact,
                    reply: Reply) -> bool:
    """Whether ``contact`` alone (a direct message, an e-mail) may read all of ``reply``."""
    mine = {r.casefold() for r in person_roles(directory, contact)}

    def of_role(roles: tuple[str, ...]) -> bool:
        return contact.is_secretariat or any(r.casefold() in mine for r in roles)
    return _readable(session, reply, lambda exp: person_sees(directory, contact, exp),
                     of_role)


def reader_may_read(session: Session, directory: Directory, room_key: str,
                    reply: Reply) -> bool:
    """The check for an outbox row: ``room_key`` is a room, or ``@<contact>``."""
    if not reply.reveals:
        return True
    try:
        if room_key.startswith("@"):
            return person_may_read(session, directory, directory.contact(room_key[1:]), reply)
        return room_may_read(session, directory.room(room_key), reply)
    except NotFound:
        return False  # a reader no longer in the directory reads nothing protected


WITHDRAWN_NOTE = "withdrawn: the incident's sharing no longer allows it"


class ConsentGate:
    """The last check before a message leaves, made against the incident's sharing *now*
    (the delivery loops call it just before sending). A row it refuses is marked withdrawn,
    never sent and never retried."""

    def __init__(self, store: Store, directory: Directory) -> None:
        self.store = store
        self.directory = directory
        self._queue: list[tuple[tuple[int, str, Reply], asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def outbox_row(self, row_id: int, room_key: str, reply: Reply) -> bool:
        """The check just before one outbox row is sent: False when it was withdrawn.

        Rooms served in parallel ask at once: their rows are checked together in one
        transaction, and the answers come back in the order asked, so the sends still
        start in cascade order."""
        if not reply.reveals:
            return True
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bool] = loop.create_future()
        self._queue.append(((row_id, room_key, reply), answer))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush(), name="wisbot-consent-gate")
        return await answer

    async def _flush(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # the other rooms of this pass ask meanwhile
            batch, self._queue = self._queue, []
            try:
                refused = await self.outbox_rows([row for row, _ in batch])
            except Exception as exc:
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            for (row_id, _, _), answer in batch:
                if not answer.done():
                    answer.set_result(row_id not in refused)

    async def outbox_rows(self, rows: Sequence[tuple[int, str, Reply]]) -> set[int]:
        """Of outbox rows (id, room key, reply) about to be sent, withdraw those the
        incident's sharing no longer allows; their ids."""
        checked = [r for r in rows if r[2].reveals]
        if not checked:
            return set()

        def work(session: Session) -> set[int]:
            refused = {row_id for row_id, room_key, reply in checked
                       if not reader_may_read(session, self.directory, room_key, reply)}
            if refused:
                session.execute(update(OutboxRow).where(col(OutboxRow.id).in_(refused),
                                                        col(OutboxRow.status) == "pending")
                                .values(status="withdrawn", last_error=WITHDRAWN_NOTE))
                log.info("%d outbox row(s) withdrawn at send: consent narrowed", len(refused))
            return refused

        return await self.store.tx(work)

    async def page_delivery(self, row: PageDelivery) -> bool:
        reply = _delivery_reply(row)
        if reply is None or not reply.reveals:
            return True
        row_id, contact_id, page_id = row.id, row.contact_id, row.page_id

        def work(session: Session) -> bool:
            page = session.get(Page, page_id)
            ok = page is not None and role_may_read(session, page.role, reply)
            if ok and contact_id is not None:
                try:
                    contact = self.directory.contact(contact_id)
                except NotFound:
                    ok = False
                else:
                    ok = person_may_read(session, self.directory, contact, reply)
            if ok:
                return True
            session.execute(update(PageDelivery).where(col(PageDelivery.id) == row_id,
                                                       col(PageDelivery.status) == "pending")
                            .values(status="withdrawn", last_error=WITHDRAWN_NOTE,
                                    claimed_by=None, claimed_until=None))
            log.info("page delivery %s withdrawn at send: consent narrowed", row_id)
            return False

        return await self.store.tx(work)


def _delivery_reply(row: PageDelivery) -> Reply | None:
    body = row.payload.get("message") if row.channel == "webhook" else row.payload
    if not isinstance(body, dict):
        return None
    try:
        return Reply.model_validate(body)
    except ValueError:
        return None


# ----- narrowing ----------------------------------------------------------------------


def withdraw_for_consent(session: Session, directory: Directory, inc: Incident,
                         lowered_rooms: Sequence[str]) -> None:
    """After ``inc``'s sharing was narrowed or anonymised (already changed in ``session``),
    withdraw or re-render every undelivered message of it the new consent does not allow:

    - room rows of ``lowered_rooms`` (rooms that may now read less): withdrawn; the share
      cascade tells them what they may read now;
    - direct messages and page e-mails/webhooks: a page still readable by its role is
      re-rendered for what the role (and the person) may read now; otherwise withdrawn;
    - queued lessons lose the incident number where the room may no longer read it named.
    """
    iid = inc.id
    assert iid is not None
    notes = select(Notification.id).where(Notification.incident_id == iid,
                                          col(Notification.kind) != "lesson")
    if lowered_rooms:
        session.execute(update(OutboxRow)
                        .where(col(OutboxRow.status) == "pending",
                               col(OutboxRow.room_key).in_(lowered_rooms),
                               col(OutboxRow.notification_id).in_(notes))
                        .values(status="withdrawn", last_error=WITHDRAWN_NOTE))
    exp = exposure(inc)
    pending = session.exec(select(OutboxRow).where(
        col(OutboxRow.status) == "pending", col(OutboxRow.notification_id).in_(
            select(Notification.id).where(Notification.incident_id == iid)))).all()
    for row in pending:
        reply = Reply.model_validate(row.payload)
        if row.room_key.startswith("@"):
            if reader_may_read(session, directory, row.room_key, reply):
                continue
            fresh = _rerender_page(session, directory, inc, reply, row.room_key[1:])
            if fresh is None:
                row.status, row.last_error = "withdrawn", WITHDRAWN_NOTE
            else:
                row.payload = fresh.model_dump(mode="json")
            session.add(row)
        elif reply.kind == "lesson":
            try:
                room = directory.room(row.room_key)
            except NotFound:
                continue
            if room_sees(room.role, exp) is not Vis.NAMED:
                row.payload = _without_number(reply, inc.number).model_dump(mode="json")
                session.add(row)
    pages = select(Page.id).where(Page.incident_id == iid)
    for d in session.exec(select(PageDelivery).where(
            col(PageDelivery.status) == "pending", col(PageDelivery.page_id).in_(pages))).all():
        body = _delivery_reply(d)
        if body is None:
            continue
        page = session.get(Page, d.page_id)
        allowed = page is not None and role_may_read(session, page.role, body) and (
            d.contact_id is None or _contact_reads(session, directory, d.contact_id, body))
        if allowed:
            continue
        fresh = _rerender_page(session, directory, inc, body, d.contact_id)
        if fresh is None:
            d.status, d.last_error = "withdrawn", WITHDRAWN_NOTE
        elif d.channel == "webhook":
            d.payload = {**d.payload, "message": fresh.model_dump(mode="json"),
                         "text": fresh.plain(), "tlp": fresh.tlp}
        else:
            d.payload = fresh.model_dump(mode="json")
        session.add(d)
    _relabel_pending(session, inc)


def _relabel_pending(session: Session, inc: Incident) -> None:
    """A narrower share is a stricter label: what is still queued about ``inc`` under a
    looser one (a room or page whose view did not change) is sent with the new label.
    Lessons keep theirs (a Member's own lesson is not capped by its incident)."""
    def relabel(body: dict[str, object]) -> Reply | None:
        try:
            reply = Reply.model_validate(body)
        except ValueError:
            return None
        # Each message keeps its view's label: named or anonymised as it reveals the incident.
        named = any(r.incident == inc.number and r.named for r in reply.reveals)
        label = incident_tlp(inc, Vis.NAMED if named else Vis.ANONYMOUS)
        old = parse_tlp(reply.tlp or "")
        if old is None or reply.kind == "lesson" or old.rank <= label.rank:
            return None
        return reply.with_tlp(label)

    notes = select(Notification.id).where(Notification.incident_id == inc.id)
    for row in session.exec(select(OutboxRow).where(
            col(OutboxRow.status) == "pending", col(OutboxRow.notification_id).in_(notes))):
        fresh = relabel(row.payload)
        if fresh is not None:
            row.payload = fresh.model_dump(mode="json")
            session.add(row)
    pages = select(Page.id).where(Page.incident_id == inc.id)
    for d in session.exec(select(PageDelivery).where(
            col(PageDelivery.status) == "pending", col(PageDelivery.page_id).in_(pages))):
        body = d.payload.get("message") if d.channel == "webhook" else d.payload
        fresh = relabel(body) if isinstance(body, dict) else None
        if fresh is None:
            continue
        d.payload = ({**d.payload, "message": fresh.model_dump(mode="json"),
                      "text": fresh.plain(), "tlp": fresh.tlp}
                     if d.channel == "webhook" else fresh.model_dump(mode="json"))
        session.add(d)


def _contact_reads(session: Session, directory: Directory, contact_id: str,
                   reply: Reply) -> bool:
    try:
        return person_may_read(session, directory, directory.contact(contact_id), reply)
    except NotFound:
        return False


def _rerender_page(session: Session, directory: Directory, inc: Incident, old: Reply,
                   contact_id: str | None) -> Reply | None:
    """A page message rendered again for what its role (and the person) may read now;
    ``None`` when it is not a page or they may read nothing of the incident now."""
    page_id = old.ref[2:] if old.kind == "page" and old.ref and old.ref.startswith("P-") \
        else ""
    number = whole_number(page_id)
    page = session.get(Page, number) if number is not None else None
    if page is None or page.incident_id != inc.id:
        return None
    exp = exposure(inc)
    vis = room_sees(page.role, exp)
    if contact_id is not None:
        try:
            vis = vmin(vis, person_sees(directory, directory.contact(contact_id), exp))
        except NotFound:
            return None
    if vis is Vis.NONE:
        return None
    with i18n.use(old.lang):  # the language the person read it in
        base = incident_reply(directory, inc, vis, "needs your response")
    page.payload = base.model_dump(mode="json")
    session.add(page)
    header = old.lines[:1]  # the page's own line: its number, role and target time
    return base.model_copy(update={
        "title": f"{base.tlp} {old.ref} · {strip_label(base.title or '')}",
        "lines": (*header, *base.lines),
        "kind": "page", "ref": old.ref, "actions": old.actions, "private": False})


def _without_number(reply: Reply, number: str) -> Reply:
    with i18n.use(reply.lang):  # the words the message was rendered in
        instead = _("an incident")
    lines = tuple(tuple(span.model_copy(update={"text": span.text.replace(f"{number} · ", "")
                                                 .replace(number, instead)})
                        for span in line) for line in reply.lines)
    return reply.model_copy(update={"lines": lines})


# ----- free-text review for anonymised audiences ------------------------------------------


def has_anonymised_audience(directory: Directory, exp: Exposure) -> bool:
    """Whether any room, or any GISC's on-call role, reads the incident anonymised."""
    roles = [r.role for r in directory.rooms] + [f"gisc:{g.name}" for g in directory.giscs]
    return any(room_sees(role, exp) is Vis.ANONYMOUS for role in roles)


def request_review(session: Session, directory: Directory, inc: Incident, *, subject: str,
                   text: str, now: datetime, timeline_id: int | None = None,
                   lesson_id: int | None = None) -> ConsentReview | None:
    """Ask the affected Member to review ``text`` before anonymised rooms read it: they are
    shown exactly the redacted wording those rooms would read. Once per item."""
    iid = inc.id
    assert iid is not None
    if not text.strip():
        return None
    q = select(ConsentReview).where(ConsentReview.incident_id == iid,
                                    ConsentReview.subject == subject)
    if timeline_id is not None:
        q = q.where(ConsentReview.timeline_id == timeline_id)
    if lesson_id is not None:
        q = q.where(ConsentReview.lesson_id == lesson_id)
    if session.exec(q).first() is not None:
        return None
    last = session.exec(select(func.max(ConsentReview.n)).where(
        ConsentReview.incident_id == iid)).one()
    review = ConsentReview(incident_id=iid, n=(last or 0) + 1, subject=subject,
                           timeline_id=timeline_id, lesson_id=lesson_id,
                           proposed=redactor_for(directory, inc.member)(text),
                           created_at=now)
    session.add(review)
    session.flush()
    def message(language: str) -> Reply:
        with i18n.use(language):
            number = i18n.iso(inc.number)
            b = ReplyBuilder(_("{number} – review #{n}: the wording for anonymised rooms",
                               number=number, n=review.n), kind="review",
                             tlp=incident_tlp(inc))
            b.ref = inc.number
            b.reveal(inc.number)
            b.line(_("Rooms that read {number} anonymised will read this {subject} as:",
                     number=number, subject=word(subject)))
            b.line(user(review.proposed))
            b.line(_("They read nothing of it until you confirm: "),
                   Span(text=f"incident confirm {inc.number} {review.n}", style="code"),
                   _("; or give them your own wording: "),
                   Span(text=f"incident anon-text {inc.number} {review.n} <text>",
                        style="code"),
                   _(". Named rooms are not delayed."))
            return b.build()

    rooms = directory.rooms_with_role(f"member:{inc.member}")
    direct = [] if rooms else [(c.id, message(person_language(session, directory, c.id)))
                               for c in directory.contacts_of_member(inc.member)]
    notify(session, kind="review", now=now, incident_id=iid,
           deliveries=[(room, message(room_language(room))) for room in rooms],
           direct=direct)
    return review


def request_reviews(session: Session, directory: Directory, inc: Incident,
                    now: datetime) -> None:
    """Reviews for every free text of ``inc`` not yet reviewed (its sharing just came to
    include anonymised rooms)."""
    if not has_anonymised_audience(directory, exposure(inc)):
        return
    if inc.anon_summary is None:
        request_review(session, directory, inc, subject="summary", text=inc.summary, now=now)
    for entry in session.exec(select(TimelineEntry).where(
            TimelineEntry.incident_id == inc.id).order_by(col(TimelineEntry.id))).all():
        if entry.kind in FREE_TEXT_KINDS and entry.kind != "reported" and entry.text \
                and anon_of(entry) is None:
            request_review(session, directory, inc, subject="update", text=entry.text,
                           now=now, timeline_id=entry.id)


def release(session: Session, directory: Directory, inc: Incident, review: ConsentReview,
            text: str, by: str, now: datetime, *, replaced: bool) -> list[Room]:
    """The Member's wording (reviewed or their own) becomes what anonymised readers read,
    and the rooms reading ``inc`` anonymised now are sent it. Returns those rooms."""
    wording = redactor_for(directory, inc.member)(text)
    review.status = "replaced" if replaced else "confirmed"
    review.decided_at, review.decided_by = now, by
    session.add(review)
    exp = exposure(inc)
    deliveries: list[tuple[Room, Reply]] = []
    if review.subject == public_lessons.SUBJECT and review.lesson_id is not None:
        public = session.get(Lesson, review.lesson_id)
        if public is None:
            return []
        deliveries = public_lessons.release(session, directory, inc, public, wording)
    elif review.subject == "lesson" and review.lesson_id is not None:
        lesson = session.get(Lesson, review.lesson_id)
        if lesson is None:
            return []
        lesson.anon_text = wording
        session.add(lesson)
        try:
            author: Contact | None = directory.contact(lesson.author)
        except NotFound:
            author = None
        cap = lesson_cap(author, exp)
        for room in directory.rooms:
            if lesson_seen_by(room.role, lesson.share, inc.member, cap) is Vis.ANONYMOUS \
                    and not room.role.startswith(("gisc:", "area:")):
                with i18n.use(room_language(room)):
                    b = ReplyBuilder(_("Lesson learned"), kind="lesson",
                                     tlp=lesson_label(directory, lesson, inc))
                    b.line(*lesson_spans(directory, lesson, inc, Vis.ANONYMOUS,
                                         room_sees(room.role, exp)))
                    deliveries.append((room, b.build()))
    else:
        rooms = [room for room in directory.rooms
                 if room_sees(room.role, exp) is Vis.ANONYMOUS]
        cards: dict[str, Reply] = {}
        if review.subject == "summary":
            inc.anon_summary = wording
            session.add(inc)

            def card(language: str) -> Reply:
                if language not in cards:
                    with i18n.use(language):
                        cards[language] = incident_reply(
                            directory, inc, Vis.ANONYMOUS,
                            "summary released by the affected Member")
                return cards[language]
        else:
            found = session.get(TimelineEntry, review.timeline_id)
            if found is None:
                return []
            entry = found
            entry.data = {**(entry.data or {}), "anon": wording}
            session.add(entry)

            def card(language: str) -> Reply:
                if language not in cards:
                    with i18n.use(language):
                        cards[language] = incident_reply(
                            directory, inc, Vis.ANONYMOUS,
                            f"{entry.kind} released by the affected Member",
                            note=entry.text, note_by=entry.actor, note_reviewed=wording)
                return cards[language]
        deliveries = [(room, card(room_language(room))) for room in rooms]
    notify(session, kind="released", now=now, incident_id=inc.id, deliveries=deliveries)
    return [room for room, _ in deliveries]
