"""Room integrity: who may be in a bound room, and the alert when someone else is.

The rule is :func:`wisbot.domain.audience.may_sit_in`, the one predicate; in words: the
Secretariat may be anywhere; ``gisc:X`` holds GISC X's focal points; ``area:X`` those and
the focal points of the Members whose centres have X as principal GISC; ``member:M`` the
Member's own focal points; ``collaboration`` the whole closed user group; ``duty`` the watch
operators. Anyone else present or invited in a closed room is a stranger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from wisbot import i18n
from wisbot.directory import Contact, Directory, Room
from wisbot.domain.audience import may_sit_in
from wisbot.i18n import N_, said
from wisbot.reply import Reply
from wisbot.services.languages import person_language, room_language
from wisbot.services.notify import notify

Render = Reply | Callable[[], Reply]
"""A notice for several readers: a function that builds it in the current language (called
once per language of its readers), or a Reply already built (read as it is)."""


def may_be_in(directory: Directory, contact: Contact, room: Room) -> bool:
    """Whether ``contact`` belongs to ``room``'s audience (the one rule)."""
    return may_sit_in(directory, contact, room.role)


def invitees(directory: Directory, room: Room) -> list[Contact]:
    """Who provisioning invites: the room's audience; Secretariat contacts only to the
    Secretariat and collaboration rooms (they may join the others, they are not asked)."""
    out: list[Contact] = []
    for contact in directory.contacts:
        if not may_be_in(directory, contact, room):
            continue
        if contact.is_secretariat and room.role not in ("secretariat", "collaboration") \
                and not (set(contact.roles) - {"secretariat"}):
            continue
        out.append(contact)
    return out


def strangers(directory: Directory, room: Room, platform: str,
              present: Iterable[str]) -> list[str]:
    """The chat identities in ``present`` that are not in ``room``'s audience."""
    out: list[str] = []
    for address in sorted(set(present)):
        contact = directory.contact_by_chat(platform, address)
        if contact is None or not may_be_in(directory, contact, room):
            out.append(address)
    return out


def rendered(render: Render, language: str | None) -> Reply:
    """``render`` in ``language`` (a Reply already built stays as it is)."""
    if isinstance(render, Reply):
        return render
    with i18n.use(language):
        return render()


def in_room_languages(rooms: Sequence[Room], render: Render) -> list[tuple[Room, Reply]]:
    """Each room with the notice in its own language (rendered once per language)."""
    done: dict[str, Reply] = {}
    out = []
    for room in rooms:
        lang = room_language(room)
        if lang not in done:
            done[lang] = rendered(render, lang)
        out.append((room, done[lang]))
    return out


def alert_secretariat(session: Session, directory: Directory, *, kind: str,
                      reply: Render, held: set[str], now: datetime) -> None:
    """Tell the Secretariat room(s) that are not held, each in its language; when every
    Secretariat room is held (the stranger is there), message each Secretariat contact
    directly, in their language."""
    rooms = [r for r in directory.rooms_with_role("secretariat") if r.key not in held]
    direct: list[tuple[str, Reply]] = []
    if not rooms:
        direct = [(c.id, rendered(reply, person_language(session, directory, c.id)))
                  for c in directory.contacts if c.is_secretariat]
    notify(session, kind=kind, now=now, incident_id=None,
           deliveries=in_room_languages(rooms, reply), direct=direct)


# ----- closed Matrix rooms: who holds power, who may join, who reads history ------------

BOT_LEVEL = 100
MODERATOR_LEVEL = 50
"""The Secretariat's level in provisioned rooms: it may remove (kick, ban, redact) a
stranger, but neither invite anyone nor change a setting; only the bot may."""
SETTINGS_EVENTS = ("m.room.power_levels", "m.room.join_rules", "m.room.history_visibility",
                   "m.room.guest_access", "m.room.encryption", "m.room.server_acl",
                   "m.room.tombstone", "m.room.canonical_alias", "m.room.name",
                   "m.room.topic", "m.room.avatar", "m.room.pinned_events")
CLOSED_JOIN_RULES = frozenset({"invite", "knock"})


def closed_power_levels(bot: str, moderators: Iterable[str] = (), *,
                        creator_privileged: bool = False) -> dict[str, Any]:
    """The ``m.room.power_levels`` content of a closed room: the bot alone invites and
    changes settings; ``moderators`` (the Secretariat) may also kick, ban and redact;
    everyone else (and every newcomer) is at 0. ``creator_privileged``: the bot created
    the room in a version where creators stand above every level (room version 12) and
    must not be listed."""
    users: dict[str, int] = {m: MODERATOR_LEVEL for m in moderators if m and m != bot}
    if not creator_privileged:
        users[bot] = BOT_LEVEL
    return {"users": users, "users_default": 0, "events_default": 0,
            "state_default": BOT_LEVEL, "invite": BOT_LEVEL, "kick": MODERATOR_LEVEL,
            "ban": MODERATOR_LEVEL, "redact": MODERATOR_LEVEL,
            "events": dict.fromkeys(SETTINGS_EVENTS, BOT_LEVEL),
            "notifications": {"room": BOT_LEVEL}}


def weak_settings(*, bot: str, moderators: Iterable[str], join_rule: str | None,
                  history_visibility: str | None, guest_access: str | None,
                  power: dict[str, object],
                  histories: Iterable[str] = ("joined",)) -> list[str]:
    """What makes a bound closed room weaker than :func:`closed_power_levels` and
    invite-only, members-since-join history (``histories``: the settings allowed), no
    guests (one line each; empty: closed). Each line is English (stored as a hold's
    detail, compared, logged) and is shown to a reader in their language
    (:func:`wisbot.i18n.shown`)."""
    out: list[str] = []
    if join_rule not in CLOSED_JOIN_RULES:
        out.append(said(N_("join rule {rule} (must be 'invite')"), rule=repr(join_rule)))
    allowed = tuple(histories)
    if history_visibility not in allowed:
        if len(allowed) == 1:
            out.append(said(N_("history visibility {setting} (must be {allowed})"),
                            setting=repr(history_visibility), allowed=repr(allowed[0])))
        else:
            out.append(said(N_("history visibility {setting} (must be {allowed} or {last})"),
                            setting=repr(history_visibility),
                            allowed=", ".join(repr(h) for h in allowed[:-1]),
                            last=repr(allowed[-1])))
    if guest_access == "can_join":
        out.append(said(N_("guest access 'can_join' (must be 'forbidden')")))
    mods = set(moderators) - {bot}

    def level(name: str, default: int) -> int:
        value = power.get(name, default)
        return value if isinstance(value, int) else default

    raw_users = power.get("users")
    users = {str(u): int(v) for u, v in raw_users.items()
             if isinstance(v, int)} if isinstance(raw_users, dict) else {}
    raw_events = power.get("events")
    events = raw_events if isinstance(raw_events, dict) else {}
    state_default = level("state_default", 50)
    invite, kick, ban, redact = (level("invite", 0), level("kick", 50), level("ban", 50),
                                 level("redact", 50))
    settings = min([state_default] + [int(events.get(e, state_default))
                                      for e in SETTINGS_EVENTS
                                      if isinstance(events.get(e, state_default), int)])
    who = {u: p for u, p in users.items() if u != bot}
    who["everyone"] = level("users_default", 0)
    for user, p in sorted(who.items()):
        can: list[str] = []
        if p >= invite:
            can.append(said(N_("invite")))
        if p >= settings:
            can.append(said(N_("change settings")))
        if user not in mods and (p >= kick or p >= ban or p >= redact):
            can.append(said(N_("kick, ban or redact")))
        if can:
            out.append(said(N_("{user} (power {power}) can {abilities}"), user=user, power=p,
                            abilities=can))
    return out


def creators_privileged(room_version: str) -> bool:
    """Whether rooms of this version give their creators unlimited power (v12 on)."""
    try:
        return int(room_version) >= 12
    except ValueError:
        return "hydra" in room_version
