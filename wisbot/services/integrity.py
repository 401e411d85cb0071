"""Room integrity: who may be in a bound room, and the alert when someone else is.

The rule is :func:`wisbot.domain.audience.may_sit_in`, the one predicate; in words: the
Secretariat may be anywhere; ``gisc:X`` holds GISC X's focal points; ``area:X`` those and
the focal points of the Members whose centres have X as principal GISC; ``member:M`` the
Member's own focal points; ``collaboration`` the whole closed user group; ``duty`` the watch
operators. Anyone else present or invited in a closed room is a stranger.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session

from wisbot.directory import Contact, Directory, Room
from wisbot.domain.audience import may_sit_in
from wisbot.reply import Reply
from wisbot.services.notify import notify


def may_be_in(directory: Directory, contact: Contact, room: Room) -> bool:
    """Whether ``contact`` belongs to ``room``'s audience (the one rule)."""
    return may_sit_in(directory, contact, room.role)


def invitees(directory: Directory, room: Room) -> list[Contact]:
    """Who provisioning invites: the room's audience; Secretariat contacts only to the
    Secretariat and collaboration rooms (they may join the others, they are not asked)."""
    out: list[Contact] = []
    for contact in directory.contacts:
        if not may_be_in(directory, contact, room):
            continue
        if contact.is_secretariat and room.role not in ("secretariat", "collaboration") \
                and not (set(contact.roles) - {"secretariat"}):
            continue
        out.append(contact)
    return out


def strangers(directory: Directory, room: Room, platform: str,
              present: Iterable[str]) -> list[str]:
    """The chat identities in ``present`` that are not in ``room``'s audience."""
    out: list[str] = []
    for address in sorted(set(present)):
        contact = directory.contact_by_chat(platform, address)
        if contact is None or not may_be_in(directory, contact, room):
            out.append(address)
    return out


def alert_secretariat(session: Session, directory: Directory, *, kind: str,
                      reply: Reply, held: set[str], now: datetime) -> None:
    """Tell the Secretariat room(s) that are not held; when every Secretariat room is
    held (the stranger is there), message each Secretariat contact directly."""
    rooms = [r for r in directory.rooms_with_role("secretariat") if r.key not in held]
    direct: list[tuple[str, Reply]] = []
    if not rooms:
        direct = [(c.id, reply) for c in directory.contacts if c.is_secretariat]
    notify(session, kind=kind, now=now, incident_id=None,
           deliveries=[(r, reply) for r in rooms], direct=direct)
