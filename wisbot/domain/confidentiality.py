"""Who may see an incident, and how: named, anonymised, or not at all.

The audience of every message is decided here, once, from the incident's confidentiality
and the room's role. Adapters never choose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class Share(Enum):
    """How widely the affected Member lets an incident be told (ordered, narrow → wide)."""

    SECRETARIAT = "secretariat"
    PRINCIPAL_GISC = "principal-gisc"
    ALL_GISCS = "all-giscs"
    GROUP = "group"

    @property
    def rank(self) -> int:
        return list(Share).index(self)

    @classmethod
    def parse(cls, text: str) -> Share:
        for s in cls:
            if s.value == text.strip().lower():
                return s
        raise ValueError(f"unknown share level {text!r}")


SHARE_HELP: dict[Share, str] = {
    Share.SECRETARIAT: "the WMO Secretariat only (and the Member's own room)",
    Share.PRINCIPAL_GISC: "+ the centre's principal GISC",
    Share.ALL_GISCS: "+ every other GISC",
    Share.GROUP: "+ every GISC's area room and the collaboration room (the whole group)",
}


class Vis(Enum):
    """What one audience sees of one incident."""

    NONE = 0
    ANONYMOUS = 1
    NAMED = 2


def vmin(a: Vis, b: Vis) -> Vis:
    return a if a.value <= b.value else b


def vmax(a: Vis, b: Vis) -> Vis:
    return a if a.value >= b.value else b


@dataclass(frozen=True)
class Exposure:
    """The facts about an incident that decide its audience."""

    member: str
    principal_gisc: str
    share: Share
    anonymous: bool


def role_visibility(role: str, exp: Exposure) -> Vis:
    """What an audience with ``role`` (a room role, e.g. ``gisc:Tokyo``) sees."""
    kind, _, name = role.partition(":")
    anon = Vis.ANONYMOUS if exp.anonymous else Vis.NAMED
    if kind == "secretariat":
        return Vis.NAMED
    if kind == "member":
        return Vis.NAMED if name.casefold() == exp.member.casefold() else Vis.NONE
    if kind == "gisc":
        if name.casefold() == exp.principal_gisc.casefold():
            return Vis.NAMED if exp.share.rank >= Share.PRINCIPAL_GISC.rank else Vis.NONE
        return anon if exp.share.rank >= Share.ALL_GISCS.rank else Vis.NONE
    if kind in ("area", "collaboration"):
        return anon if exp.share is Share.GROUP else Vis.NONE
    return Vis.NONE


def cascade_rank(role: str, principal_gisc: str) -> int:
    """Cascade order: Secretariat → Member → principal GISC → other GISCs → areas →
    collaboration."""
    kind, _, name = role.partition(":")
    if kind == "secretariat":
        return 0
    if kind == "member":
        return 1
    if kind == "gisc":
        return 2 if name.casefold() == principal_gisc.casefold() else 3
    if kind == "area":
        return 4 if name.casefold() == principal_gisc.casefold() else 5
    if kind == "collaboration":
        return 6
    return 7


def person_roles(contact_roles: Iterable[str], principal_giscs: Iterable[str]) -> set[str]:
    """The audience roles a person belongs to, from their directory roles.

    ``principal_giscs`` are the principal GISCs of the person's Members' centres: a Member's
    focal point is in those GISCs' area rooms. Everyone is in the collaboration room.
    """
    roles = {"collaboration"}
    for role in contact_roles:
        kind, _, name = role.partition(":")
        if kind == "secretariat":
            roles.add("secretariat")
        elif kind == "gisc":
            roles.update({f"gisc:{name}", f"area:{name}"})
        elif kind == "member":
            roles.add(f"member:{name}")
    roles.update(f"area:{g}" for g in principal_giscs)
    return roles


def best_visibility(roles: Iterable[str], exp: Exposure) -> Vis:
    best = Vis.NONE
    for role in roles:
        best = vmax(best, role_visibility(role, exp))
    return best


def anonymous_label(principal_gisc: str) -> str:
    return f"a WIS centre in the area of GISC {principal_gisc}"


class Redactor:
    """Removes the names and codes that identify a Member from text shown anonymised."""

    def __init__(self, identifying: Iterable[str], replacement: str = "[withheld]") -> None:
        terms = sorted({t.strip() for t in identifying if t and len(t.strip()) >= 2},
                       key=len, reverse=True)
        self.replacement = replacement
        self._pattern = (
            re.compile("|".join(rf"(?<!\w){re.escape(t)}(?!\w)" for t in terms), re.IGNORECASE)
            if terms else None
        )
        self._terms = tuple(t.casefold() for t in terms)

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(self.replacement, text)

    def leaks(self, text: str) -> list[str]:
        """The identifying terms still present in ``text`` as whole words."""
        if self._pattern is None:
            return []
        return [m.group(0) for m in self._pattern.finditer(text)]
