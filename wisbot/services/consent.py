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

import logging
from collections.abc import Callable, Sequence

from sqlalchemy import update
from sqlmodel import Session, col, select

from wisbot.directory import Contact, Directory, Room
from wisbot.domain.audience import person_roles, person_sees, room_sees
from wisbot.domain.confidentiality import Exposure, Vis, vmin
from wisbot.errors import NotFound
from wisbot.reply import Reply
from wisbot.services.render import exposure, incident_reply
from wisbot.store.engine import Store
from wisbot.store.paging_tables import Page, PageDelivery
from wisbot.store.tables import Incident, Notification, OutboxRow

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

    async def outbox_row(self, row_id: int, room_key: str, reply: Reply) -> bool:
        if not reply.reveals:
            return True

        def work(session: Session) -> bool:
            if reader_may_read(session, self.directory, room_key, reply):
                return True
            session.execute(update(OutboxRow).where(col(OutboxRow.id) == row_id,
                                                    col(OutboxRow.status) == "pending")
                            .values(status="withdrawn", last_error=WITHDRAWN_NOTE))
            log.info("outbox row %s to %s withdrawn at send: consent narrowed", row_id,
                     room_key)
            return False

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
                         "text": fresh.plain()}
        else:
            d.payload = fresh.model_dump(mode="json")
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
    page = session.get(Page, int(page_id)) if page_id.isdigit() else None
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
    base = incident_reply(directory, inc, vis, "needs your response")
    page.payload = base.model_dump(mode="json")
    session.add(page)
    header = old.lines[:1]  # the page's own line: its number, role and target time
    return base.model_copy(update={
        "title": f"{old.ref} · {base.title}", "lines": (*header, *base.lines),
        "kind": "page", "ref": old.ref, "actions": old.actions, "private": False})


def _without_number(reply: Reply, number: str) -> Reply:
    lines = tuple(tuple(span.model_copy(update={"text": span.text.replace(f"{number} · ", "")
                                                 .replace(number, "an incident")})
                        for span in line) for line in reply.lines)
    return reply.model_copy(update={"lines": lines})
