"""A protected incident's details typed as a message in a room that may not read them:
the person is told, privately, how many people outside the incident's audience can read
their message there, and the message is removed where the bot may (Matrix: a redaction;
the bot holds the power to in the rooms it provisions). Slack's commands are slash
commands, which the channel never reads; a posted message there (or on any surface the
bot cannot delete a person's message on) gets the advice to delete it.

Who may read is the one audience predicate (``room_sees``, ``person_sees``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlmodel import select

from wisbot.adapters.base import Invocation, RoomRef
from wisbot.directory import Directory
from wisbot.domain.audience import person_sees, room_sees
from wisbot.domain.confidentiality import Vis
from wisbot.i18n import _ as _t
from wisbot.i18n import ngettext
from wisbot.reply import Reply, Span
from wisbot.services.render import exposure
from wisbot.store.engine import Store
from wisbot.store.tables import Incident

log = logging.getLogger(__name__)

TEXT_COMMANDS = {("incident", "report"), ("incident", "update"), ("incident", "resolve"),
                 ("incident", "close"), ("incident", "reopen"), ("incident", "anon-text"),
                 ("severity",), ("lessons", "add"), ("escalate",)}
"""Commands whose words carry an incident's free text (what a room must not read)."""
REDACT_REASON = "removed by wisbot: not for this room"
"""Shown to everyone in the room: says nothing of the incident."""


def _carries_text(text: str) -> bool:
    words = text.strip().lstrip("!/").split()
    lowered = [w.lower() for w in words[:2]]
    return tuple(lowered[:1]) in TEXT_COMMANDS or tuple(lowered[:2]) in TEXT_COMMANDS


async def warn_exposed(store: Store | None, directory: Directory,
                       adapters: Mapping[str, Any], inv: Invocation, reply: Reply) -> Reply:
    """``reply`` with a warning on top when ``inv`` was a message in a room that may not
    read the incident it named; the message is redacted where the adapter can."""
    room_ref = inv.room
    if store is None or room_ref is None or inv.reply_to is None \
            or not _carries_text(inv.text):
        return reply
    room = directory.room_by_address(room_ref.platform, room_ref.address)
    numbers = [r.incident for r in reply.reveals if r.incident]
    if room is None or not numbers:
        return reply
    incs = await store.tx(lambda s: list(s.exec(select(Incident).where(
        Incident.number.in_(numbers))).all()))  # type: ignore[attr-defined]
    exposed = [i for i in incs if room_sees(room.role, exposure(i)) is not Vis.NAMED]
    if not exposed:
        return reply
    inc = exposed[0]
    adapter = adapters.get(room_ref.platform)
    outside = 0
    if adapter is not None:
        try:
            members = await adapter.room_members(RoomRef(room_ref.platform, room_ref.address,
                                                         room.key))
        except Exception as exc:  # the warning must not fail the command
            log.warning("exposed: members of %s unknown: %s", room.key, exc)
            members = set()
        for member in members:
            if member.address == inv.sender.address:
                continue
            contact = directory.contact_by_chat(room_ref.platform, member.address)
            if contact is None or person_sees(directory, contact, exposure(inc)) \
                    is not Vis.NAMED:
                outside += 1
    removed = False
    redact = getattr(adapter, "redact", None)
    if redact is not None:
        try:
            removed = bool(await redact(inv.reply_to, REDACT_REASON))
        except Exception as exc:
            log.warning("exposed: could not remove a message in %s: %s", room.key, exc)
    where = room.name or room.key
    people = ngettext("{n} person", "{n} people", outside)
    if removed:
        text = _t("Warning: your message in {where} named {number}, which that room may not "
                  "read. {people} outside the incident's audience could read it there; "
                  "wisbot has removed it (redacted). Type such commands here, in your direct "
                  "chat with wisbot, or in a room of the incident's audience.", where=where,
                  number=inc.number, people=people)
    else:
        text = _t("Warning: your message in {where} named {number}, which that room may not "
                  "read: {people} outside the incident's audience can read it there. Delete "
                  "your message now (wisbot cannot delete a person's message there), and "
                  "type such commands in your direct chat with wisbot.", where=where,
                  number=inc.number, people=people)
    warning = (Span(text=text, style="bold"),)
    return reply.model_copy(update={"lines": (warning, *reply.lines), "private": True})
