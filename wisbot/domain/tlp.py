"""TLP 2.0 (FIRST Traffic Light Protocol) labels derived from wisbot's share levels.

The mapping and why it fits FIRST's definitions are in docs/tlp.md. Labels are never
translated. ``CLEAR`` is only for what the affected Member explicitly releases as public.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from wisbot.domain.confidentiality import Share


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


def strictest(labels: Iterable[Tlp]) -> Tlp:
    """When several labels apply, the strictest wins (RED if none given: fail closed)."""
    return min(labels, key=lambda t: t.rank, default=Tlp.RED)
