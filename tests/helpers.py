"""Helpers for reading what rooms received."""

from __future__ import annotations

import re
from typing import Any

from wisbot.adapters.console import render_text
from wisbot.directory import Directory
from wisbot.services.render import redactor_for


def room_text(app: Any, room_key: str) -> str:
    room = app.directory.room(room_key)
    return "\n\n".join(render_text(r) for r in app.console.rooms.get(room.target, []))


def identifying_terms(directory: Directory, member: str) -> list[str]:
    """The words an anonymised room must never contain for ``member``."""
    redactor = redactor_for(directory, member)
    return [t for t in redactor._terms]


def leaks(text: str, terms: list[str]) -> list[str]:
    found = []
    for term in terms:
        if re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text, re.IGNORECASE):
            found.append(term)
    return found


async def confirmed(console: Any, who: str, text: str, room: str | None = None) -> Any:
    """Type ``text``; a widening or a named lesson first asks for confirmation, which is
    given at once (as its author would)."""
    reply = await console.type(who, text, room)
    title = reply.title or ""
    if title.endswith("confirm the wider sharing"):
        reply = await console.type(who, f"{text} confirm", room)
    elif title.endswith("confirm the named lesson"):
        reply = await console.type(who, f"lessons confirm {title.split(' – ')[0]}", room)
    return reply
