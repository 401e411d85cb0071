"""Whether an on-call contact can be reached at all, and what to add to the directory if not.

One rule for the outbox (where a contact's direct messages go), the pager (skip a contact
nobody can reach instead of waiting for the next step) and the start-up / `directory
check` warnings, so the three never disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from wisbot.directory import Contact, Directory
from wisbot.domain.paging import Weekly
from wisbot.errors import NotFound

log = logging.getLogger("wisbot.paging")
CHAT_PLATFORMS = ("matrix", "slack")
_EXAMPLE_ID = {"matrix": "'@name:example.org'", "slack": "'U024BE7LH'"}


def direct_platform(contact: Contact, running: Iterable[str]) -> str:
    """Where a contact's direct messages go: a chat platform the directory gives them
    an identity on (a running one first); the console only for a contact with none
    (everyone has a console identity by default: an operator's shell must not take
    the pages of people on Matrix or Slack)."""
    up = set(running)
    real = [p for p in CHAT_PLATFORMS if contact.chat_id(p)]
    served = [p for p in real if p in up]
    return (served or real or ["console"])[0]


def chat_reachable(contact: Contact, running: Iterable[str]) -> bool:
    """A direct message to ``contact`` has a running adapter and an address."""
    up = set(running)
    platform = direct_platform(contact, up)
    return platform in up and bool(contact.chat_id(platform))


@dataclass(frozen=True)
class Unreachable:
    contact: Contact
    role: str
    missing: str
    """What is missing, in words: "no Matrix user id"."""
    fix: str
    """Which directory key to add: "add chat: {matrix: '@name:example.org'} to contact…"."""

    def line(self) -> str:
        return (f"on-call {self.role}: {self.contact.name} ({self.contact.id}) has "
                f"{self.missing}, so its pages skip to the next contact; fix: {self.fix}")


def unreachable(contact: Contact, role: str, running: Iterable[str], *,
                email: bool) -> Unreachable | None:
    """``None`` when a page reaches ``contact`` by direct chat on a running platform, or by
    e-mail when page e-mail is on and the contact has an address."""
    up = set(running)
    if chat_reachable(contact, up) or (email and contact.email):
        return None
    chats = [p for p in CHAT_PLATFORMS if p in up] or [p for p in sorted(up) if p != "console"]
    names = " or ".join({"matrix": "Matrix user id", "slack": "Slack user id"}.get(p, f"{p} id")
                        for p in chats) or "chat id"
    missing = f"no {names}"
    keys = ", ".join(f"{p}: {_EXAMPLE_ID.get(p, '<id>')}" for p in chats)
    fix = (f"add `chat: {{{keys}}}` to contact {contact.id} in the directory"
           if keys else f"give contact {contact.id} a chat id in the directory")
    if email:
        fix += " (or an `email:` for page e-mail)"
    return Unreachable(contact, role, missing, fix)


def unreachable_oncall(directory: Directory, running: Iterable[str], *,
                       email: bool) -> list[Unreachable]:
    """One entry per on-call contact (per role) that no page can reach."""
    up = set(running)
    out: list[Unreachable] = []
    for role in directory.oncall_roles():
        chain, rotations, overrides = directory.oncall_rules(role)
        ids: list[str] = list(chain)
        for rot in rotations:
            ids += list(rot.contacts) if isinstance(rot, Weekly) else [c for _, c in rot.shifts]
        ids += [o.contact for o in overrides]
        for cid in dict.fromkeys(ids):
            try:
                contact = directory.contact(cid)
            except NotFound:
                continue  # `directory check` already refuses an unknown contact
            gap = unreachable(contact, role, up, email=email)
            if gap is not None:
                out.append(gap)
    return out


def deployment_platforms(directory: Directory) -> set[str]:
    """The chat platforms a directory's rooms are on: what `directory check` assumes runs."""
    return {room.platform for room in directory.rooms}


def warn_unreachable_oncall(directory: Directory, running: Iterable[str], *,
                            email: bool) -> list[Unreachable]:
    """At start (and reload): one warning line per on-call contact no page can reach."""
    gaps = unreachable_oncall(directory, running, email=email)
    for gap in gaps:
        log.warning("%s", gap.line())
    return gaps


def check_warnings(directory: Directory) -> list[str]:
    """`directory check`: on-call contacts no page can reach on the platforms of the
    directory's rooms (page e-mail counts when WISBOT_SMTP_HOST is set)."""
    from wisbot.settings import Settings

    try:
        email = bool(Settings().smtp_host)
    except Exception:  # settings are checked elsewhere; here only whether e-mail pages
        email = False
    return [gap.line() for gap in unreachable_oncall(directory, deployment_platforms(directory),
                                                     email=email)]
