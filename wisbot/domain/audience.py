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
- The same cap holds for lessons (:func:`lesson_seen_by`), known errors
  (:func:`known_error_seen_by`), exchange dispute cases (:func:`case_seen_by`), changes
  (:func:`change_seen_by`), pages (:func:`may_be_paged`) and statistics
  (:func:`sees_live_statistics`): each has one rule per audience role here, and a reader's
  view is always ``min(best over the person's roles, the room's)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from typing import Protocol

from wisbot.domain.confidentiality import (
    Exposure,
    Vis,
    best_visibility,
    role_visibility,
    vmax,
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
    ``secretariat``, ``collaboration``, ``duty`` for watch operators and
    ``working-group`` for the working group's members)."""
    principal = {g for m in person.members for g in directory.principal_giscs_of(m)}
    roles = set(_roles_of(person.roles, principal))
    if "watch" in person.roles or person.is_secretariat:
        roles.add("duty")
    if "working-group" in person.roles:
        # The working group's members (e.g. ICTT-WIS experts) sit in its room; it reads
        # referred exchange cases only (case_seen_by), no incident.
        roles.add("working-group")
    if "cab" in person.roles:
        # The change advisory board reads every change (change_seen_by), no incident.
        roles.add("cab")
    return frozenset(roles)


def holds_role(person: Person, role: str) -> bool:
    """Whether ``person`` holds the directory role ``role`` itself (``gisc:Tokyo``,
    ``member:DE``, ``secretariat``): who may act for it, e.g. be paged for it."""
    return person.is_secretariat or role.casefold() in {r.casefold() for r in person.roles}


def may_sit_in(directory: Principals, person: Person, room_role: str) -> bool:
    """Whether ``person`` may be a member of a room with ``room_role``."""
    if person.is_secretariat:
        return True
    return room_role.casefold() in {r.casefold() for r in person_roles(directory, person)}


def room_sees(room_role: str, exp: Exposure) -> Vis:
    """What everyone in a room with ``room_role`` may read of an incident (also what a
    page for the on-call role ``room_role`` may carry)."""
    return role_visibility(room_role, exp)


role_sees = room_sees
"""What an audience role (a page's role, a room's role) may read of an incident."""


def roles_see(roles: Iterable[str], exp: Exposure) -> Vis:
    """The best view any of ``roles`` gives of an incident."""
    return best_visibility(roles, exp)


def person_sees(directory: Principals, person: Person, exp: Exposure) -> Vis:
    """What ``person`` may read of an incident, alone (a checked direct chat, a page)."""
    return best_visibility(person_roles(directory, person), exp)


def reader_sees(directory: Principals, person: Person, room_role: str | None,
                exp: Exposure) -> Vis:
    """What ``person`` may be shown where they are: their view capped by the room's."""
    return roles_reader_sees(person_roles(directory, person), room_role, exp)


def roles_reader_sees(roles: Iterable[str], room_role: str | None, exp: Exposure) -> Vis:
    """:func:`reader_sees` for a person whose roles are already known (a ``Caller``)."""
    mine = roles_see(roles, exp)
    return mine if room_role is None else vmin(mine, room_sees(room_role, exp))


# ----- pages ---------------------------------------------------------------------------

def may_be_paged(directory: Principals, person: Person, role: str, exp: Exposure | None,
                 carried: Vis | None = None) -> bool:
    """Whether a page for ``role`` may reach ``person`` directly: they hold the role and,
    for an incident page, may read alone what it carries (``carried``, by default what the
    role reads)."""
    if not holds_role(person, role):
        return False
    if exp is None:
        return True
    need = role_sees(role, exp) if carried is None else carried
    return need is not Vis.NONE and person_sees(directory, person, exp).value >= need.value


# ----- lessons learned -----------------------------------------------------------------

LESSON_SHARES = ("anonymous", "named", "none", "public")
"""``public`` is asked for when recording; the lesson is stored ``none`` until the affected
Member releases it (:mod:`wisbot.services.public_lessons`), then ``public``."""


def lesson_seen_by(role: str, share: str, member: str, exp: Exposure | None = None) -> Vis:
    """What an audience role reads of a lesson recorded with ``share`` about ``member``.

    The Secretariat and the Member's own role read it named; the duty room (watch
    operators read probe posts) and unknown roles nothing; every other role what the
    Member consented to (``named``, ``anonymous``, ``none``), capped by what the role reads
    of the lesson's incident when ``exp`` is given (see :func:`lesson_cap`). A ``public``
    lesson (TLP:CLEAR, released by the affected Member) is read anonymised by every role.
    """
    kind, _, name = role.partition(":")
    own = kind == "secretariat" or (kind == "member" and name.casefold() == member.casefold())
    if own:
        return Vis.NAMED
    if share == "public":
        return Vis.ANONYMOUS
    if kind not in ("member", "gisc", "area", "collaboration"):
        return Vis.NONE
    if share == "named":
        vis = Vis.NAMED
    elif share == "anonymous":
        vis = Vis.ANONYMOUS
    else:
        return Vis.NONE
    return vis if exp is None else vmin(vis, room_sees(role, exp))


def lesson_cap(author: Person | None, exp: Exposure) -> Exposure | None:
    """The incident sharing that caps a lesson (pass it to :func:`lesson_seen_by`): none
    when a focal point of the affected Member recorded it (the Member may tell more of its
    own incident: its consent), the incident's sharing otherwise (the Secretariat's lesson
    tells no one of an incident kept from them)."""
    if author is not None and exp.member.casefold() in {m.casefold() for m in author.members}:
        return None
    return exp


def lesson_reader_sees(roles: Iterable[str], room_role: str | None, share: str,
                       member: str, exp: Exposure | None = None) -> Vis:
    """What a person with ``roles`` may be shown of a lesson where they are."""
    mine = Vis.NONE
    for role in roles:
        mine = vmax(mine, lesson_seen_by(role, share, member, exp))
    return mine if room_role is None else vmin(mine,
                                               lesson_seen_by(room_role, share, member, exp))


# ----- known errors (KEDB) -------------------------------------------------------------

KNOWN_ERROR_SHARES = ("none", "anonymous", "named")
"""The lessons' levels: ``none`` keeps a known error for the Member that met it and the
Secretariat; ``anonymous`` and ``named`` (the Member's consent) share it with the group."""


def known_error_seen_by(role: str, share: str, member: str) -> Vis:
    """What an audience role reads of a known error about ``member``: the lessons' rule
    (:func:`lesson_seen_by`), with no incident to cap it."""
    if share not in KNOWN_ERROR_SHARES:
        return Vis.NONE
    return lesson_seen_by(role, share, member)


def known_error_reader_sees(roles: Iterable[str], room_role: str | None, share: str,
                            member: str) -> Vis:
    """What a person with ``roles`` may be shown of a known error where they are."""
    mine = Vis.NONE
    for role in roles:
        mine = vmax(mine, known_error_seen_by(role, share, member))
    return mine if room_role is None else vmin(mine,
                                               known_error_seen_by(room_role, share, member))


# ----- exchange dispute cases ----------------------------------------------------------

def case_seen_by(role: str, member: str | None, referred: bool) -> bool:
    """Whether an audience role may read an exchange dispute case about the provider
    ``member`` (``None``: whether the role may read some case, e.g. a list).

    Cases concern a named provider: the Secretariat and every GISC read them, the
    provider's own Member room its own cases, the working group referred ones; never the
    collaboration, area or duty rooms.
    """
    kind, _, name = role.partition(":")
    if kind in ("secretariat", "gisc"):
        return True
    if kind == "member":
        return member is None or name.casefold() == member.casefold()
    if kind == "working-group":
        return member is None or referred
    return False


def case_person_reads(roles: Iterable[str], member: str) -> bool:
    """Whether a person with ``roles`` may read cases about ``member`` alone: the
    Secretariat, any GISC focal point, the provider's own focal points."""
    return any(case_seen_by(r, member, False) for r in roles)


def case_reader_reads(roles: Iterable[str], room_role: str | None, member: str,
                      referred: bool) -> bool:
    """Whether a person with ``roles`` may be shown a case where they are."""
    return case_person_reads(roles, member) and (
        room_role is None or case_seen_by(room_role, member, referred))


# ----- changes (Annex 1 §4) ------------------------------------------------------------

def change_seen_by(role: str, member: str | None, gisc: str | None = None) -> bool:
    """Whether an audience role may read a request for change from a centre of ``member``
    (a GISC centre: ``gisc``); ``member=None``: whether the role may read some change.

    A change's audience is the requesting centre (its Member's room; a GISC centre's own
    GISC room too), the Secretariat and the change advisory board; never another Member,
    GISC, area, duty or collaboration room.
    """
    kind, _, name = role.partition(":")
    if kind in ("secretariat", "cab"):
        return True
    if kind == "member":
        return member is None or name.casefold() == member.casefold()
    if kind == "gisc":
        return member is None or (gisc is not None and name.casefold() == gisc.casefold())
    return False


def change_person_reads(roles: Iterable[str], member: str, gisc: str | None = None) -> bool:
    """Whether a person with ``roles`` may read a change of ``member``'s centre alone."""
    return any(change_seen_by(r, member, gisc) for r in roles)


def change_reader_reads(roles: Iterable[str], room_role: str | None, member: str,
                        gisc: str | None = None) -> bool:
    """Whether a person with ``roles`` may be shown a change where they are."""
    return change_person_reads(roles, member, gisc) and (
        room_role is None or change_seen_by(room_role, member, gisc))


# ----- statistics ----------------------------------------------------------------------

def sees_live_statistics(roles: Iterable[str], room_role: str | None) -> bool:
    """Live counts include incidents most readers may not see (a hidden report moves
    them): they are the Secretariat's, in the Secretariat room or a direct chat only.
    Everyone else gets the figures of incidents they may see."""
    return "secretariat" in set(roles) and room_role in (None, "secretariat")


# ----- audits of WIS centres and continuity plans --------------------------------------

def audit_report_seen_by(role: str, member: str, responsible: str) -> bool:
    """Whether an audience role may read an audit's post-audit report (Annex 2 §2.26):
    the audited centre's Member, the Secretariat (WMO) and the responsible body
    (``responsible``: the role named when the audit was requested); nobody else, the
    auditors included once it is recorded."""
    kind, _, name = role.partition(":")
    if kind == "secretariat":
        return True
    if kind == "member" and name.casefold() == member.casefold():
        return True
    return role.casefold() == responsible.casefold()


def audit_report_reader_reads(roles: Iterable[str], room_role: str | None, member: str,
                              responsible: str) -> bool:
    """Whether a person with ``roles`` may be shown an audit report where they are."""
    return any(audit_report_seen_by(r, member, responsible) for r in roles) and (
        room_role is None or audit_report_seen_by(room_role, member, responsible))


def continuity_seen_by(role: str, member: str) -> bool:
    """Whether an audience role may read a centre's continuity plan and its drills' fine
    detail: the centre's own Member and the Secretariat."""
    kind, _, name = role.partition(":")
    return kind == "secretariat" or (kind == "member" and name.casefold() == member.casefold())


def continuity_reader_reads(roles: Iterable[str], room_role: str | None, member: str) -> bool:
    return any(continuity_seen_by(r, member) for r in roles) and (
        room_role is None or continuity_seen_by(room_role, member))
