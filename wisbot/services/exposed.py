"""A protected incident's details typed as a message in a room that may not read them:
the person is told, privately, how many people outside the incident's audience can read
their message there, and the message is removed where the bot may (Matrix: a redaction;
the bot holds the power to in the rooms it provisions). Slack's commands are slash
commands, which the channel never reads; a posted message there (or on any surface the
bot cannot delete a person's message on) gets the advice to delete it.

Who may read is the one audience predicate (``room_sees``, ``person_sees``)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from sqlmodel import select

from wisbot import i18n
from wisbot.adapters.base import Invocation, RoomRef
from wisbot.directory import Directory, Room
from wisbot.domain.audience import person_sees, room_sees
from wisbot.domain.confidentiality import Exposure, Share, Vis
from wisbot.errors import NotFound
from wisbot.i18n import N_, _, ngettext
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, Span
from wisbot.services.languages import room_language
from wisbot.services.render import exposure
from wisbot.store.engine import Store
from wisbot.store.tables import Incident

log = logging.getLogger(__name__)

TEXT_COMMANDS = {("incident", "report"), ("incident", "update"), ("incident", "resolve"),
                 ("incident", "close"), ("incident", "reopen"), ("incident", "anon-text"),
                 ("severity",), ("lessons", "add"), ("escalate",), ("incident", "ioc", "add"),
                 ("incident", "seen")}
"""Commands whose words carry an incident's free text (what a room must not read)."""
REDACT_REASON = N_("removed by wisbot: not for this room")
"""Shown to everyone in the room, in the room's language: says nothing of the incident."""


def _command(text: str) -> tuple[tuple[str, ...], list[str]] | None:
    """The text command ``text`` starts with, and the words after it."""
    words = text.strip().lstrip("!/").split()
    lowered = tuple(w.lower() for w in words[:3])
    for n in (3, 2, 1):
        if lowered[:n] in TEXT_COMMANDS:
            return lowered[:n], words[n:]
    return None


def _carries_text(text: str) -> bool:
    return _command(text) is not None


def _reported(directory: Directory, room: Room, words: list[str]) -> Exposure:
    """The sharing a refused ``incident report`` asked for. A missing or mistyped share=
    is the narrowest (fail closed); a mistyped centre is taken as the room's own (so a
    typo in one's own room is not flagged), which only a Secretariat-excluded share still
    keeps from the room."""
    share = Share.SECRETARIAT
    for w in words:
        if w.lower().startswith("share="):
            with contextlib.suppress(ValueError):
                share = Share.parse(w.partition("=")[2])
    anonymous = "anonymous" in (w.lower() for w in words)
    try:
        centre = directory.centre(words[0]) if words else None
    except NotFound:
        centre = None
    if centre is not None:
        return Exposure(member=centre.member, principal_gisc=centre.principal_gisc,
                        share=share, anonymous=anonymous)
    name = room.role.partition(":")[2] or "-"
    return Exposure(member=name, principal_gisc=name, share=share, anonymous=anonymous)


async def _refused(store: Store, directory: Directory, inv: Invocation,
                   room: Room) -> tuple[Exposure, str] | None:
    """What a refused text command was about: the sharing a report asked for, or the
    incident it named when its author may read that incident (else it is none of theirs,
    and saying more would tell them it exists)."""
    found = _command(inv.text)
    if found is None:
        return None
    command, words = found
    if command == ("incident", "report"):
        return _reported(directory, room, words), _("an incident report")
    if not words:
        return None
    number = words[0].upper()
    inc = await store.tx(lambda s: s.exec(select(Incident).where(
        Incident.number == number)).first())
    contact = directory.contact_by_chat(inv.sender.platform, inv.sender.address)
    if inc is None or contact is None \
            or person_sees(directory, contact, exposure(inc)) is not Vis.NAMED:
        return None
    return exposure(inc), inc.number


async def warn_exposed(store: Store | None, directory: Directory,
                       adapters: Mapping[str, Any], inv: Invocation, reply: Reply) -> Reply:
    """``reply`` with a warning on top when ``inv`` was a message in a room that may not
    read the incident it named, also when the command was refused (a typo); the message
    is redacted where the adapter can."""
    room_ref = inv.room
    if store is None or room_ref is None or inv.reply_to is None \
            or not _carries_text(inv.text):
        return reply
    room = directory.room_by_address(room_ref.platform, room_ref.address)
    if room is None:
        return reply
    numbers = [r.incident for r in reply.reveals if r.incident]
    about: tuple[Exposure, str] | None = None
    if numbers:
        incs = await store.tx(lambda s: list(s.exec(select(Incident).where(
            Incident.number.in_(numbers))).all()))  # type: ignore[attr-defined]
        exposed = [i for i in incs if room_sees(room.role, exposure(i)) is not Vis.NAMED]
        about = (exposure(exposed[0]), exposed[0].number) if exposed else None
    elif reply.kind == "error":
        about = await _refused(store, directory, inv, room)
    if about is None or room_sees(room.role, about[0]) is Vis.NAMED:
        return reply
    exp, subject = about
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
            if contact is None or person_sees(directory, contact, exp) is not Vis.NAMED:
                outside += 1
    removed = False
    redact = getattr(adapter, "redact", None)
    if redact is not None:
        try:
            with i18n.use(room_language(room)):
                reason = str(REDACT_REASON)
            removed = bool(await redact(inv.reply_to, reason))
        except Exception as exc:
            log.warning("exposed: could not remove a message in %s: %s", room.key, exc)
    where = room.name or room.key
    people = ngettext("{n} person", "{n} people", outside)
    if removed:
        text = _t("Warning: your message in {where} named {number}, which that room may not "
                  "read. {people} outside the incident's audience could read it there; "
                  "wisbot has removed it (redacted). Type such commands here, in your direct "
                  "chat with wisbot, or in a room of the incident's audience.", where=where,
                  number=subject, people=people)
    else:
        text = _t("Warning: your message in {where} named {number}, which that room may not "
                  "read: {people} outside the incident's audience can read it there. Delete "
                  "your message now (wisbot cannot delete a person's message there), and "
                  "type such commands in your direct chat with wisbot.", where=where,
                  number=subject, people=people)
    warning = (Span(text=text, style="bold"),)
    return reply.model_copy(update={"lines": (warning, *reply.lines), "private": True})
