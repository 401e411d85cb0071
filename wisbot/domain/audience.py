"""The one audience predicate: who may read what, and who may sit in which room.

Every surface asks here: chat rooms, direct chats, pages, lessons, exchange cases, exports,
statistics and both adapters' room-integrity checks. The rules of what a room role reads of
an incident are :mod:`wisbot.domain.confidentiality`; this module applies them to people.

- A person's roles follow from their directory roles (:func:`person_roles`).
- A person may sit in a room only when the room's role is one of the person's roles; the
  Secretariat may sit anywhere; the duty room holds the watch operators (and the
  Secretariat). There is no other rule (no "operator Member" exception).
- What a person reads where they are is their own view capped by the room's: everyone in
  the room reads it too. A direct chat (``room_role=None``) is the person's own view.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from typing import Protocol

from wisbot.domain.confidentiality import (
    Exposure,
    Vis,
    best_visibility,
    role_visibility,
    vmin,
)
from wisbot.domain.confidentiality import person_roles as _roles_of


class Person(Protocol):
    """What the predicate needs of a directory contact."""

    @property
    def roles(self) -> tuple[str, ...]: ...

    @property
    def members(self) -> tuple[str, ...]: ...

    @property
    def is_secretariat(self) -> bool: ...


class Principals(Protocol):
    """What the predicate needs of the directory: a Member's principal GISCs."""

    def principal_giscs_of(self, member: str) -> Set[str]: ...


def person_roles(directory: Principals, person: Person) -> frozenset[str]:
    """The audience roles a person belongs to (``gisc:X``, ``area:X``, ``member:M``,
    ``secretariat``, ``collaboration``, and ``duty`` for watch operators)."""
    principal = {g for m in person.members for g in directory.principal_giscs_of(m)}
    roles = set(_roles_of(person.roles, principal))
    if "watch" in person.roles or person.is_secretariat:
        roles.add("duty")
    return frozenset(roles)


def may_sit_in(directory: Principals, person: Person, room_role: str) -> bool:
    """Whether ``person`` may be a member of a room with ``room_role``."""
    if person.is_secretariat:
        return True
    return room_role.casefold() in {r.casefold() for r in person_roles(directory, person)}


def room_sees(room_role: str, exp: Exposure) -> Vis:
    """What everyone in a room with ``room_role`` may read of an incident."""
    return role_visibility(room_role, exp)


def roles_see(roles: Iterable[str], exp: Exposure) -> Vis:
    """The best view any of ``roles`` gives of an incident."""
    return best_visibility(roles, exp)


def person_sees(directory: Principals, person: Person, exp: Exposure) -> Vis:
    """What ``person`` may read of an incident, alone (a checked direct chat, a page)."""
    return best_visibility(person_roles(directory, person), exp)


def reader_sees(directory: Principals, person: Person, room_role: str | None,
                exp: Exposure) -> Vis:
    """What ``person`` may be shown where they are: their view capped by the room's."""
    mine = person_sees(directory, person, exp)
    return mine if room_role is None else vmin(mine, room_sees(room_role, exp))
