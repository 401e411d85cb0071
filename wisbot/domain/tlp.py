"""TLP 2.0 (FIRST Traffic Light Protocol) labels derived from wisbot's share levels.

The mapping and why it fits FIRST's definitions are in docs/tlp.md. Labels are never
translated. ``CLEAR`` is only for what the affected Member explicitly releases as public.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from wisbot.domain.confidentiality import Exposure, Share, Vis, role_visibility


class Tlp(Enum):
    """Ordered strict → open; ``rank`` 0 is the strictest."""

    RED = "TLP:RED"
    AMBER_STRICT = "TLP:AMBER+STRICT"
    AMBER = "TLP:AMBER"
    GREEN = "TLP:GREEN"
    CLEAR = "TLP:CLEAR"

    @property
    def rank(self) -> int:
        return list(Tlp).index(self)

    @property
    def label(self) -> str:
        return self.value

    @property
    def misp_tag(self) -> str:
        """MISP taxonomy tag, e.g. 'tlp:amber+strict'."""
        return self.value.lower()


SHARE_TLP: dict[Share, Tlp] = {
    Share.SECRETARIAT: Tlp.RED,
    Share.PRINCIPAL_GISC: Tlp.AMBER_STRICT,
    Share.ALL_GISCS: Tlp.AMBER,
    Share.GROUP: Tlp.GREEN,
}


def tlp_for(share: Share, *, public: bool = False) -> Tlp:
    """The label for a share level; ``public`` only after the Member's explicit release."""
    return Tlp.CLEAR if public else SHARE_TLP[share]


def view_tlp(share: Share, anonymous: bool, vis: Vis = Vis.NAMED) -> Tlp:
    """The label of an incident as a reader with ``vis`` reads it: the widest share level
    whose readers all read it that way. Anonymous, the Member is named to the Secretariat,
    the Member and its principal GISC only: the named view is labelled for them (the
    anonymised one keeps the share's label)."""
    if anonymous and vis is not Vis.ANONYMOUS and share.rank > Share.PRINCIPAL_GISC.rank:
        share = Share.PRINCIPAL_GISC
    return SHARE_TLP[share]


SIGHTER_TLP = Tlp.RED
"""Who sighted an incident is the sighting Member's Secretariat-level information: what
names it is labelled for the Secretariat and that Member only."""


def strictest(labels: Iterable[Tlp]) -> Tlp:
    """When several labels apply, the strictest wins (RED if none given: fail closed)."""
    return min(labels, key=lambda t: t.rank, default=Tlp.RED)


def labelled(title: str | None, tlp: Tlp) -> str:
    """``title`` with the label first (any label it already carried replaced): every
    surface shows a message's title first, so the label is its first token."""
    rest = strip_label(title or "")
    return f"{tlp.label} {rest}" if rest else tlp.label


def strip_label(title: str) -> str:
    """``title`` without a leading TLP label."""
    head, _, rest = title.partition(" ")
    return rest if parse(head) is not None else title


def parse(text: str) -> Tlp | None:
    """The label written as ``TLP:AMBER+STRICT`` (any case), else None."""
    for t in Tlp:
        if t.value == text.strip().upper():
            return t
    return None


def lesson_tlp(share: str, incident: Tlp | None) -> Tlp:
    """A lesson's label: ``public`` (only ever stored once the affected Member released
    it) is CLEAR; otherwise the lesson's own reach (``named``/``anonymous``: the whole
    group; ``none``: the Secretariat and the Member), and when the lesson is capped by its
    incident's sharing (``incident``: recorded by anyone but the Member) the strictest."""
    if share == "public":
        return Tlp.CLEAR
    own = Tlp.GREEN if share in ("named", "anonymous") else Tlp.RED
    return own if incident is None else strictest((own, incident))


def highest_for_role(role: str) -> Tlp:
    """The strictest label a room of ``role`` may receive: the narrowest share level at
    which the one audience rule lets the role read an incident at all (a GISC room is
    the principal GISC of some centre; a Member room reads its own incidents). A role that
    reads no incident (the duty room) receives public lessons only: CLEAR."""
    _, _, name = role.partition(":")
    for share in Share:
        exp = Exposure(member=name or "-", principal_gisc=name or "-", share=share,
                       anonymous=False)
        if role_visibility(role, exp) is not Vis.NONE:
            return SHARE_TLP[share]
    return Tlp.CLEAR


def room_topic(role: str) -> str:
    """A room's topic: the strictest label it may receive first, then what it is for."""
    top = highest_for_role(role)
    limit = "at most" if top is not Tlp.CLEAR else "only"
    return f"{top.label} {limit} · wisbot: {role}"
