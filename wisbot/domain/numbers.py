"""Whole numbers typed by people: ASCII digits only, within a database integer."""

from __future__ import annotations

MAX_ID = 2**31 - 1
"""The largest row number (a PostgreSQL ``integer``)."""


def whole_number(text: str, high: int = MAX_ID) -> int | None:
    """``"42"`` → 42; ``None`` for anything else: ``str.isdigit`` accepts "²" (which
    ``int`` refuses) and a long number overflows the database's integer."""
    t = text.strip()
    if not t.isascii() or not t.isdigit() or len(t) > len(str(high)):
        return None
    n = int(t)
    return n if n <= high else None
