"""The WIS incident severity scale (Annex E §4). A severity is never shown as a bare number."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Severity:
    level: int
    description: str
    action: str

    @property
    def words(self) -> str:
        return f"Security incident severity {self.level} – {self.description}"


SCALE: tuple[Severity, ...] = (
    Severity(0, "No current issues", "For information only. No unusual action."),
    Severity(1, "Known local problem", "Unlikely to have impact outside the affected Member."),
    Severity(2, "Under investigation", "Severity, impact and scope unknown – stay alert."),
    Severity(
        3,
        "Systems in the same security domain as a WIS centre are affected to some degree",
        "Increase vigilance.",
    ),
    Severity(
        4,
        "Systems with some connection to a WIS centre are compromised",
        "Increase vigilance; consider risk-avoidance mechanisms.",
    ),
    Severity(
        5,
        "A WIS centre is compromised",
        "Consult your GISC operator; apply the corresponding operational risk-avoidance "
        "mechanisms.",
    ),
)

DEFAULT_LEVEL = 2


def severity(level: int) -> Severity:
    if not 0 <= level <= 5:
        raise ValueError(f"severity must be 0 to 5, not {level}")
    return SCALE[level]


def parse_level(text: str) -> int:
    """``"4"`` → 4; anything else raises ValueError with a message for a person."""
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()) or not 0 <= int(stripped) <= 5:
        raise ValueError(f"invalid severity {text!r}: use a whole number from 0 to 5")
    return int(stripped)
