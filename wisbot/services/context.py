"""Who is asking, from where, and what that lets them see."""

from __future__ import annotations

from dataclasses import dataclass

from wisbot.directory import Contact, Directory, Room
from wisbot.domain.confidentiality import (
    Exposure,
    Vis,
    best_visibility,
    person_roles,
    role_visibility,
    vmin,
)
from wisbot.errors import NotAllowed, UnknownIdentity


@dataclass(frozen=True)
class Caller:
    """A directory contact typing in ``room`` (``None``: a direct conversation)."""

    contact: Contact
    room: Room | None
    platform: str
    roles: frozenset[str]

    @property
    def is_secretariat(self) -> bool:
        return self.contact.is_secretariat

    def is_member_focal(self, member: str) -> bool:
        return any(m.casefold() == member.casefold() for m in self.contact.members)

    def is_gisc_focal(self, gisc: str) -> bool:
        return any(g.casefold() == gisc.casefold() for g in self.contact.giscs)

    def sees(self, exp: Exposure) -> Vis:
        """What this caller may be shown here: the person's view, capped by the room's."""
        person = best_visibility(self.roles, exp)
        if self.room is None:
            return person
        return vmin(person, role_visibility(self.room.role, exp))

    @property
    def label(self) -> str:
        return self.contact.name

    @property
    def where(self) -> str:
        return self.room.key if self.room else f"@{self.contact.id}"


def may_be_in_room(directory: Directory, contact: Contact, room_role: str) -> bool:
    """Whether ``contact`` may be a member of a room with ``room_role`` (room integrity):
    everyone in a room reads what it is told, so a directory contact outside the room's
    audience is a stranger there. The Secretariat may read every room; the duty room gets
    probe posts only. A GISC's room also admits the focal points of the Member that
    operates that GISC (its operations desk is that Member's staff)."""
    if contact.is_secretariat:
        return True
    kind, _, name = room_role.partition(":")
    if kind == "duty":
        return True
    principal = {g for m in contact.members for g in directory.principal_giscs_of(m)}
    if room_role.casefold() in {r.casefold() for r in person_roles(contact.roles, principal)}:
        return True
    if kind == "gisc":
        operator = next((g.member for g in directory.giscs
                         if g.name.casefold() == name.casefold()), None)
        return operator is not None and any(m.casefold() == operator.casefold()
                                            for m in contact.members)
    return False


def resolve_caller(directory: Directory, platform: str, sender: str,
                   room_address: str | None) -> Caller:
    contact = directory.contact_by_chat(platform, sender)
    if contact is None:
        raise UnknownIdentity(
            f"{sender} is not in the wisbot directory, so wisbot cannot act on your "
            "commands. Ask the WMO Secretariat focal point to add your chat identity."
        )
    room: Room | None = None
    if room_address is not None:
        room = directory.room_by_address(platform, room_address)
        if room is None:
            raise NotAllowed(
                "this room is not bound in the wisbot directory, so nothing protected can be "
                "shown here. Use your GISC's or Member's room, or a direct message."
            )
    principal = {g for m in contact.members for g in directory.principal_giscs_of(m)}
    return Caller(contact=contact, room=room, platform=platform,
                  roles=frozenset(person_roles(contact.roles, principal)))
