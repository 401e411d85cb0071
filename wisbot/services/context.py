"""Who is asking, from where, and what that lets them see."""

from __future__ import annotations

from dataclasses import dataclass

from wisbot.directory import Contact, Directory, Room
from wisbot.domain.audience import (
    case_reader_reads,
    known_error_reader_sees,
    lesson_reader_sees,
    may_sit_in,
    person_roles,
    roles_reader_sees,
    sees_live_statistics,
)
from wisbot.domain.confidentiality import Exposure, Vis
from wisbot.errors import NotAllowed, UnknownIdentity
from wisbot.i18n import _ as _t


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

    @property
    def room_role(self) -> str | None:
        return self.room.role if self.room is not None else None

    def sees(self, exp: Exposure) -> Vis:
        """What this caller may be shown here: the person's view, capped by the room's."""
        return roles_reader_sees(self.roles, self.room_role, exp)

    def sees_lesson(self, share: str, member: str, exp: Exposure | None = None) -> Vis:
        """What this caller may be shown here of a lesson about ``member`` (of the
        incident ``exp``: the lesson is capped by its sharing)."""
        return lesson_reader_sees(self.roles, self.room_role, share, member, exp)

    def sees_known_error(self, share: str, member: str) -> Vis:
        """What this caller may be shown here of a known error about ``member``."""
        return known_error_reader_sees(self.roles, self.room_role, share, member)

    def sees_case(self, member: str, referred: bool) -> bool:
        """Whether this caller may be shown here an exchange case about ``member``."""
        return case_reader_reads(self.roles, self.room_role, member, referred)

    @property
    def sees_live_statistics(self) -> bool:
        """Whether counts over every incident (hidden ones too) may be shown here."""
        return sees_live_statistics(self.roles, self.room_role)

    @property
    def label(self) -> str:
        return self.contact.name

    @property
    def where(self) -> str:
        return self.room.key if self.room else f"@{self.contact.id}"


def may_be_in_room(directory: Directory, contact: Contact, room_role: str) -> bool:
    """Whether ``contact`` may be a member of a room with ``room_role``: the one rule."""
    return may_sit_in(directory, contact, room_role)


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
                _t("this room is not bound in the wisbot directory, so nothing protected can "
                   "be shown here. Use your GISC's or Member's room, or a direct message.")
            )
    return Caller(contact=contact, room=room, platform=platform,
                  roles=person_roles(directory, contact))
