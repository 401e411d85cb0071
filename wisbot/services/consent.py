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

from sqlmodel import Session, select

from wisbot.directory import Room
from wisbot.domain.audience import room_sees
from wisbot.domain.confidentiality import Vis
from wisbot.reply import Reply
from wisbot.services.render import exposure
from wisbot.store.tables import Incident


def room_may_read(session: Session, room: Room, reply: Reply) -> bool:
    """Whether everyone ``room`` admits may read every part of ``reply`` declares it shows.
    An incident that cannot be found counts as unreadable (fail closed)."""
    for reveal in reply.reveals:
        if reveal.incident is None:
            if room.role.casefold() == "secretariat":
                continue
            if room.role.casefold() not in {r.casefold() for r in reveal.roles}:
                return False
            continue
        inc = session.exec(select(Incident).where(Incident.number == reveal.incident)).first()
        if inc is None:
            return False
        need = Vis.NAMED if reveal.named else Vis.ANONYMOUS
        if room_sees(room.role, exposure(inc)).value < need.value:
            return False
    return True
