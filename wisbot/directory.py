"""The directory: who is who, which centre belongs to which Member and GISC, which rooms
exist on which platform, and who is on call. Loaded from YAML, validated by pydantic.

Every validation error names the file, the entry and the field, e.g.
``directory.yaml: centres[2] (code 'XX-NC') → principal_gisc: unknown GISC 'Ofenbach'
(did you mean 'Offenbach'?)``.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wisbot import i18n
from wisbot.domain.confidentiality import Redactor
from wisbot.domain.paging import (
    FollowTheSun,
    Override,
    Rotation,
    Weekly,
    parse_hhmm,
    parse_when,
)
from wisbot.errors import DirectoryError, NotFound
from wisbot.i18n import N_
from wisbot.i18n import _ as _t
from wisbot.ids import CentreCode, ContactId, GiscName, MemberCode, Platform, RoomKey, RoomRole

PLATFORMS: tuple[str, ...] = ("console", "matrix", "slack")
GISC_SERVICES: tuple[str, ...] = ("oaipmh", "sru", "portal", "wismon")
"""The WIS 1.0 services GISC Watch probes per GISC (``wismon``: its monitor.json)."""
WIS2_KINDS: tuple[str, ...] = ("gdc", "broker", "cache", "monitor")
_ROLE_RE = re.compile(
    r"^(secretariat|collaboration|duty|working-group|cab|(gisc|area|member):[^\s:][^:]*)$")
_CONTACT_ROLE_RE = re.compile(
    r"^(secretariat|watch|working-group|cab|(gisc|member):[^\s:][^:]*)$")
_ONCALL_ROLE_RE = re.compile(r"^(secretariat|(gisc|member):[^\s:][^:]*)$")


def fold(name: str) -> str:
    """Case- and accent-insensitive key: 'GISC-Brasília' and 'brasilia' meet."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _language_code(language: str | None) -> str | None:
    if language is None:
        return None
    code = i18n.check(language)  # ValueError with did-you-mean
    if code not in i18n.LANGUAGES:
        raise ValueError(f"unknown language {language!r}: use one of "
                         f"{' '.join(i18n.LANGUAGES)}")
    return code


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Member(_Model):
    """A WMO Member or cooperating organisation."""

    code: MemberCode = Field(description="Short code, e.g. 'DE' or 'ECMWF'.")
    name: str = Field(description="Full name, e.g. 'Germany'.")
    aliases: tuple[str, ...] = Field(
        default=(),
        description="Other names that identify the Member: its service's acronym ('DWD'), "
        "native names ('Deutschland'), demonyms, cities of its centres; withheld from "
        "anonymised text like the name itself (with plurals and possessives).",
    )
    region: Literal["I", "II", "III", "IV", "V", "VI"] | None = Field(
        default=None, description="WMO Regional Association (I Africa, II Asia, III South "
        "America, IV North and Central America, V South-West Pacific, VI Europe): no "
        "auditor audits a centre of their own region.")


class Centre(_Model):
    """A WIS centre (GISC, DCPC or NC), with its one principal GISC."""

    code: CentreCode = Field(description="Centre code, e.g. 'DE-OF-NC'.")
    name: str
    member: MemberCode
    principal_gisc: GiscName
    kind: Literal["GISC", "DCPC", "NC"] = "NC"
    identifiers: tuple[str, ...] = Field(
        default=(),
        description="Other names by which discovery metadata identifies this centre as the "
        "originator: GTS CCCC (e.g. 'EDZW'), WIS2 centre-id ('de-dwd'), metadata namespace "
        "('de.dwd'), organisation name ('Deutscher Wetterdienst'). Used to attribute new "
        "records to the centre's principal GISC, and withheld from anonymised text.",
    )


class Gisc(_Model):
    """One of the ~15 Global Information System Centres."""

    name: GiscName = Field(description="Short name, e.g. 'Offenbach'; rendered 'GISC Offenbach'.")
    member: MemberCode | None = None
    services: dict[str, str] = Field(
        default_factory=dict,
        description="Probe endpoints by service: oaipmh, sru, portal, wismon (URLs).",
    )
    jira_account: str | None = Field(
        default=None, description="The GISC's account in the WIS2 IMS JIRA project (its user "
        "name): assignee of the tickets about its area, watcher while it is on watch.")

    @property
    def label(self) -> str:
        return f"GISC {self.name}"


class ChatIds(_Model):
    matrix: str | None = Field(default=None,
                               description="Matrix user id, e.g. '@anna:example.org'.")
    slack: str | None = Field(default=None, description="Slack user id, e.g. 'U024BE7LH'.")
    console: str | None = Field(default=None, description="Console login; defaults to the id.")


class Contact(_Model):
    """A person (or 24/7 desk) with roles and chat identities."""

    id: ContactId
    name: str
    email: str | None = None
    phone: str | None = Field(default=None, description="e.g. '+49 69 8062 0'; withheld "
                              "from anonymised text (as is any phone number).")
    roles: tuple[str, ...] = Field(
        description="'secretariat', 'gisc:<GISC>', 'member:<Member>', 'watch', 'working-group', "
        "'cab' (a member of the change advisory board).",
    )
    lead: bool = Field(default=False, description="Lead WIS IT security focal point of its Member.")
    audit_experience: bool = Field(default=False, description="Has led audits (ISO 19011): "
                                   "may be the lead auditor of an audit team.")
    chat: ChatIds = ChatIds()
    language: str | None = Field(default=None, description="ar, zh, en, fr, ru or es: pages, "
                                 "e-mail and direct replies; unset: WISBOT_LANGUAGE.")

    @field_validator("language")
    @classmethod
    def _language(cls, language: str | None) -> str | None:
        return _language_code(language)

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        for role in roles:
            if not _CONTACT_ROLE_RE.match(role):
                raise ValueError(
                    f"unknown role {role!r}: use secretariat, gisc:<GISC>, member:<Member>, "
                    "watch, working-group or cab"
                )
        return roles

    def chat_id(self, platform: str) -> str | None:
        if platform == "console":
            return self.chat.console or self.id
        value = getattr(self.chat, platform, None)
        return value if isinstance(value, str) else None

    @property
    def members(self) -> tuple[MemberCode, ...]:
        return tuple(MemberCode(r.split(":", 1)[1]) for r in self.roles if r.startswith("member:"))

    @property
    def giscs(self) -> tuple[GiscName, ...]:
        return tuple(GiscName(r.split(":", 1)[1]) for r in self.roles if r.startswith("gisc:"))

    @property
    def is_secretariat(self) -> bool:
        return "secretariat" in self.roles


class Room(_Model):
    """A room the bot posts to, with the audience its role implies."""

    key: RoomKey = Field(description="Stable key used in the outbox, e.g. 'gisc-offenbach'.")
    role: RoomRole = Field(
        description="secretariat, collaboration, duty, working-group, cab, gisc:<GISC>, "
        "area:<GISC>, member:<Member>.",
    )
    platform: Platform = Field(description="console, matrix or slack.")
    address: str | None = Field(
        default=None,
        description="Matrix room id, Slack channel id; console rooms may omit it.",
    )
    name: str | None = None
    closed: bool = True
    encrypted: bool = False
    language: str | None = Field(default=None, description="ar, zh, en, fr, ru or es: what "
                                 "the room reads; unset: WISBOT_LANGUAGE.")

    @field_validator("language")
    @classmethod
    def _language(cls, language: str | None) -> str | None:
        return _language_code(language)

    @field_validator("role")
    @classmethod
    def _role(cls, role: str) -> str:
        if not _ROLE_RE.match(role):
            raise ValueError(
                f"unknown room role {role!r}: use secretariat, collaboration, duty, "
                "working-group, cab, gisc:<GISC>, area:<GISC> or member:<Member>"
            )
        return role

    @field_validator("platform")
    @classmethod
    def _platform(cls, platform: str) -> str:
        if platform not in PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}: use one of {', '.join(PLATFORMS)}")
        return platform

    @property
    def target(self) -> str:
        return self.address or self.key


class WorkingGroup(_Model):
    """The working group designated to resolve WIS matters (near-real-time exchange
    disputes are referred to it), e.g. the Inter-Commission Task Team on WIS in 2018."""

    name: str = Field(description="e.g. 'Inter-Commission Task Team on WIS (ICTT-WIS)'.")
    email: str | None = Field(default=None, description="Where referred case files are mailed.")
    room: RoomKey | None = Field(
        default=None, description="Key of the room (role 'working-group') that receives "
        "referred case files.")


class OnCallOverride(_Model):
    role: str
    contact: ContactId
    start: str = Field(description="ISO date-time, UTC unless an offset is given.")
    end: str

    def rule(self) -> Override:
        return Override(self.contact, parse_when(self.start), parse_when(self.end))


class Shift(_Model):
    """One follow-the-sun shift: from ``start`` (UTC, HH:MM) until the next shift starts."""

    start: str = Field(description="UTC time of day the shift begins, e.g. '22:00'.")
    contact: ContactId


class OnCallRotation(_Model):
    """A rotation put in front of a role's static chain.

    ``weekly``: ``contacts`` take a week each, in order, the first from ``start`` (a date)
    at ``handover`` local time in ``timezone`` (so the hand-over stays at 09:00 local
    across daylight-saving changes). ``follow-the-sun``: ``shifts`` by UTC hour.
    """

    role: str
    kind: Literal["weekly", "follow-the-sun"]
    contacts: tuple[ContactId, ...] = ()
    start: str | None = Field(default=None, description="weekly: first hand-over date, "
                              "e.g. '2026-01-05' (its weekday is the hand-over day).")
    handover: str = Field(default="09:00", description="weekly: local hand-over time HH:MM.")
    timezone: str = Field(default="UTC", description="weekly: IANA zone, e.g. Europe/Zurich.")
    shifts: tuple[Shift, ...] = ()

    def rule(self) -> Rotation:
        if self.kind == "weekly":
            if self.start is None:
                raise ValueError("a weekly rotation needs start: <date>")
            return Weekly(tuple(self.contacts), date.fromisoformat(self.start),
                          parse_hhmm(self.handover), self.timezone)
        return FollowTheSun(tuple((parse_hhmm(s.start), s.contact) for s in self.shifts))

    @property
    def members(self) -> tuple[ContactId, ...]:
        return self.contacts if self.kind == "weekly" else tuple(s.contact for s in self.shifts)


class Directory(_Model):
    """The whole closed user group."""

    members: tuple[Member, ...]
    centres: tuple[Centre, ...]
    giscs: tuple[Gisc, ...]
    contacts: tuple[Contact, ...]
    rooms: tuple[Room, ...]
    oncall: dict[str, tuple[ContactId, ...]] = Field(
        default_factory=dict,
        description="Ordered on-call chain per role: 'secretariat', 'gisc:<GISC>', "
        "'member:<Member>'.",
    )
    oncall_overrides: tuple[OnCallOverride, ...] = ()
    oncall_rotations: tuple[OnCallRotation, ...] = Field(
        default=(),
        description="Rotations in front of a role's chain: weekly (local hand-over time) or "
        "follow-the-sun (UTC shifts).",
    )
    wis2: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="WIS 2.0 global services by id, e.g. {'gb-example': {'kind': 'broker', "
        "'url': 'mqtts://...'}}.",
    )
    working_group: WorkingGroup | None = Field(
        default=None, description="Where near-real-time exchange disputes are referred.")

    def model_post_init(self, context: Any, /) -> None:
        # Build the indexes now, once: lookups in a cascade never scan the directory, and
        # a reload has them ready before the new directory is put in place.
        for name in ("_members", "_centres", "_giscs", "_contacts", "_by_chat", "_rooms",
                     "_rooms_by_address", "_rooms_by_role", "_centres_by_member",
                     "_contacts_by_member", "_contacts_by_role", "_centre_keys"):
            getattr(self, name)

    # ----- lookups -------------------------------------------------------------------
    @cached_property
    def redactors(self) -> dict[str, Redactor]:
        """Per-Member Redactors, filled on first use (``services.render.redactor_for``):
        built once per loaded directory."""
        return {}

    @cached_property
    def _members(self) -> dict[str, Member]:
        return {m.code.casefold(): m for m in self.members}

    @cached_property
    def _centres(self) -> dict[str, Centre]:
        return {c.code.casefold(): c for c in self.centres}

    @cached_property
    def _giscs(self) -> dict[str, Gisc]:
        return {fold(g.name): g for g in self.giscs}

    @cached_property
    def _contacts(self) -> dict[str, Contact]:
        return {c.id: c for c in self.contacts}

    @cached_property
    def _by_chat(self) -> dict[tuple[str, str], Contact]:
        out: dict[tuple[str, str], Contact] = {}
        for contact in self.contacts:
            for platform in PLATFORMS:
                address = contact.chat_id(platform)
                if address:
                    out[(platform, address)] = contact
        return out

    @cached_property
    def _rooms(self) -> dict[str, Room]:
        return {r.key: r for r in self.rooms}

    @cached_property
    def _rooms_by_address(self) -> dict[tuple[str, str], Room]:
        return {(r.platform, r.target): r for r in self.rooms}

    def member(self, code: str) -> Member:
        found = self._members.get(code.casefold())
        if found is None:
            raise NotFound(_unknown("Member", code, [m.code for m in self.members]))
        return found

    def centre(self, code: str) -> Centre:
        found = self._centres.get(code.casefold())
        if found is None:
            raise NotFound(self.unknown_centre(code))
        return found

    def find_member(self, text: str) -> Member | None:
        """A Member by code, name or alias (any case), else None."""
        key = fold(text).strip()
        for m in self.members:
            if key in (fold(m.code), fold(m.name), *(fold(a) for a in m.aliases)):
                return m
        return None

    def unknown_centre(self, code: str, what: str = "centre",
                       also: Sequence[str] = ()) -> str:
        """Why ``code`` is no centre (nor one of ``also``), and the nearest candidates: a
        Member's own centres when the code names a Member (``DE``, ``DE-OF``), else the
        closest codes."""
        known = [c.code for c in self.centres] + list(also)
        message = _unknown(what, code, known)
        member = self.find_member(code) or self.find_member(code.split("-")[0])
        folded = {k.casefold(): k for k in known}
        if difflib.get_close_matches(code.casefold(), list(folded), n=1, cutoff=0.6):
            pass  # the message already says "did you mean"
        elif member is not None and self.centres_of(member.code):
            codes = ", ".join(c.code for c in self.centres_of(member.code))
            message += _t(" ({name}'s centres: {codes})", name=member.name, codes=codes)
        else:
            near = difflib.get_close_matches(code.casefold(), list(folded), n=3, cutoff=0.3)
            if near:
                message += _t(" (nearest: {codes})", codes=", ".join(folded[n] for n in near))
        return message + _t("; `incident centres <Member>` lists a Member's centres")

    def gisc(self, name: str) -> Gisc:
        key = fold(name).strip().removeprefix("gisc-").removeprefix("gisc ").strip()
        found = self._giscs.get(key)
        if found is None:
            raise NotFound(_unknown("GISC", name, [g.name for g in self.giscs]))
        return found

    def contact(self, contact_id: str) -> Contact:
        found = self._contacts.get(contact_id)
        if found is None:
            raise NotFound(_unknown("contact", contact_id, list(self._contacts)))
        return found

    def contact_by_chat(self, platform: str, address: str) -> Contact | None:
        return self._by_chat.get((platform, address))

    def room(self, key: str) -> Room:
        found = self._rooms.get(key)
        if found is None:
            raise NotFound(_unknown("room", key, list(self._rooms)))
        return found

    @cached_property
    def _centre_keys(self) -> dict[str, Centre]:
        out: dict[str, Centre] = {}
        for c in self.centres:
            for key in (c.code, *c.identifiers):
                out.setdefault(fold(key).strip(), c)
        return out

    def centre_by_identifier(self, *keys: str) -> Centre | None:
        """The centre that one of ``keys`` (CCCC, WIS2 centre-id, organisation name, code)
        names, trying them in order; None when none is known."""
        for key in keys:
            found = self._centre_keys.get(fold(key).strip())
            if found is not None:
                return found
        return None

    def room_by_address(self, platform: str, address: str) -> Room | None:
        return self._rooms_by_address.get((platform, address))

    # Indexes by role and by Member, built once per Directory (a reload builds a new
    # one): at 193 Members a scan per room made a cascade quadratic in the directory.
    @cached_property
    def _rooms_by_role(self) -> dict[str, tuple[Room, ...]]:
        out: dict[str, list[Room]] = {}
        for r in self.rooms:
            out.setdefault(r.role, []).append(r)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def _centres_by_member(self) -> dict[str, tuple[Centre, ...]]:
        out: dict[str, list[Centre]] = {}
        for c in self.centres:
            out.setdefault(c.member.casefold(), []).append(c)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def _contacts_by_member(self) -> dict[str, tuple[Contact, ...]]:
        out: dict[str, list[Contact]] = {}
        for c in self.contacts:
            for m in dict.fromkeys(m.casefold() for m in c.members):
                out.setdefault(m, []).append(c)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def _contacts_by_role(self) -> dict[str, tuple[Contact, ...]]:
        out: dict[str, list[Contact]] = {}
        for c in self.contacts:
            for role in dict.fromkeys(c.roles):
                out.setdefault(role, []).append(c)
        return {k: tuple(v) for k, v in out.items()}

    def rooms_with_role(self, role: str) -> list[Room]:
        return list(self._rooms_by_role.get(role, ()))

    def centres_of(self, member: str) -> list[Centre]:
        return list(self._centres_by_member.get(member.casefold(), ()))

    def contacts_of_member(self, member: str) -> list[Contact]:
        return list(self._contacts_by_member.get(member.casefold(), ()))

    def contacts_with_role(self, role: str) -> list[Contact]:
        return list(self._contacts_by_role.get(role, ()))

    def principal_giscs_of(self, member: str) -> set[GiscName]:
        return {c.principal_gisc for c in self._centres_by_member.get(member.casefold(), ())}

    # ----- on call --------------------------------------------------------------------
    def oncall_role(self, role: str) -> str:
        """The canonical spelling of an on-call role: 'Tokyo' and 'gisc:tokyo' give
        'gisc:Tokyo', 'DE' gives 'member:DE'."""
        text = role.strip()
        if text.casefold() == "secretariat":
            return "secretariat"
        kind, sep, name = text.partition(":")
        if not sep:
            kind, name = "", text
        kind = kind.casefold()
        if kind in ("", "gisc"):
            try:
                return f"gisc:{self.gisc(name).name}"
            except NotFound:
                if kind == "gisc":
                    raise
        if kind in ("", "member"):
            try:
                return f"member:{self.member(name).code}"
            except NotFound:
                if kind == "member":
                    raise
        known = ["secretariat", *(g.name for g in self.giscs), *(m.code for m in self.members)]
        raise NotFound(_unknown("on-call role", name if sep else text, known)
                       + _t("; roles are secretariat, gisc:<GISC> or member:<Member>"))

    @cached_property
    def _oncall_by_role(self) -> dict[str, tuple[tuple[ContactId, ...], list[Rotation],
                                                 list[Override]]]:
        out: dict[str, tuple[tuple[ContactId, ...], list[Rotation], list[Override]]] = {}
        for r, c in self.oncall.items():
            out[r.casefold()] = (c, [], [])  # the last spelling wins, as before
        for rot in self.oncall_rotations:
            out.setdefault(rot.role.casefold(), ((), [], []))[1].append(rot.rule())
        for o in self.oncall_overrides:
            out.setdefault(o.role.casefold(), ((), [], []))[2].append(o.rule())
        return out

    def oncall_rules(self, role: str) -> tuple[tuple[ContactId, ...], list[Rotation],
                                                list[Override]]:
        """The static chain, rotations and directory overrides of ``role``."""
        chain, rotations, overrides = self._oncall_by_role.get(role.casefold(), ((), [], []))
        return chain, list(rotations), list(overrides)

    def oncall_roles(self) -> list[str]:
        roles = [*self.oncall, *(r.role for r in self.oncall_rotations)]
        out: list[str] = []
        for r in roles:
            if r not in out:
                out.append(r)
        return out


def describe_change(old: Directory, new: Directory) -> list[str]:
    """What a reload changes, in words: entries added and removed by key, and how many
    kept entries changed."""
    def keyed(d: Directory) -> list[dict[str, _Model]]:
        return [{str(m.code): m for m in d.members}, {str(c.code): c for c in d.centres},
                {str(g.name): g for g in d.giscs}, {str(c.id): c for c in d.contacts},
                {str(r.key): r for r in d.rooms}]

    lines: list[str] = []
    for what, before, after in zip(("Members", "centres", "GISCs", "contacts", "rooms"),
                                   keyed(old), keyed(new), strict=True):
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
        parts = []
        if added:
            parts.append("added " + ", ".join(added))
        if removed:
            parts.append("removed " + ", ".join(removed))
        if changed:
            parts.append(f"{len(changed)} changed ({', '.join(changed[:10])}"
                         f"{', …' if len(changed) > 10 else ''})")
        if parts:
            lines.append(f"{what}: {'; '.join(parts)}")
    if (old.oncall, old.oncall_rotations, old.oncall_overrides) != (
            new.oncall, new.oncall_rotations, new.oncall_overrides):
        lines.append("on-call chains, rotations or overrides changed")
    return lines


_WHAT = {"Member": N_("Member"), "centre": N_("centre"), "centre or Member": N_("centre or Member"),
         "GISC": N_("GISC"), "contact": N_("contact"), "room": N_("room"),
         "on-call role": N_("on-call role")}
"""What a name was meant to be, in the reader's language."""


def _unknown(what: str, given: str, known: Iterable[str]) -> str:
    known = list(known)
    folded = {k.casefold(): k for k in known}
    close = difflib.get_close_matches(given.casefold(), list(folded), n=3, cutoff=0.6)
    names = ", ".join(repr(folded[c]) for c in close)
    hint = _t(" (did you mean {names}?)", names=names) if close else ""
    shown = _WHAT.get(what)
    return _t("unknown {what} {given}{hint}", what=str(shown) if shown is not None else what,
             given=repr(given), hint=hint)


# ----- loading and cross-checks ---------------------------------------------------------

def _entry_label(data: Any, loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    node = data
    for i, step in enumerate(loc):
        if isinstance(step, int):
            parts[-1] = f"{parts[-1]}[{step}]"
            if isinstance(node, list) and 0 <= step < len(node):
                node = node[step]
                if isinstance(node, dict) and i == 1:
                    for ident in ("id", "key", "code", "name"):
                        if ident in node:
                            # a YAML alias can make the value huge: name scalars only
                            value = node[ident]
                            shown = (repr(value)[:60] if isinstance(value, (str, int))
                                     else type(value).__name__)
                            parts[-1] += f" ({ident} {shown})"
                            break
                continue
            node = None
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts) if parts else "(top level)"


Lines = dict[tuple[int | str, ...], int]
"""Path in the YAML document (``("contacts", 3, "lead")``) → its line, 1-based."""

_MORE_MAY_FOLLOW = ("references between entries (unknown names, duplicates) are checked "
                    "once these are fixed: more problems may follow")


def yaml_lines(text: str) -> Lines:
    """Where each mapping key and list item of a YAML document starts."""
    out: Lines = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return out

    def walk(node: Any, path: tuple[int | str, ...], seen: set[int]) -> None:
        if id(node) in seen:  # an alias shares its anchor's node
            return
        seen = seen | {id(node)}
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                step = (*path, str(key.value))
                out[step] = key.start_mark.line + 1
                walk(value, step, seen)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                out[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i), seen)

    if root is not None:
        walk(root, (), set())
    return out


def _line_of(lines: Lines, loc: Sequence[int | str]) -> int | None:
    for end in range(len(loc), 0, -1):
        line = lines.get(tuple(loc[:end]))
        if line is not None:
            return line
    return None


_LABEL = re.compile(r"^([a-z_]+)(?:\[(\d+)\])?(?: \([^)]*\))?(?:\.([A-Za-z0-9_:-]+))?")


def _line_of_label(lines: Lines, problem: str) -> int | None:
    """``contacts[3] (id 'x').member: …`` → the line of contacts[3]."""
    m = _LABEL.match(problem)
    if m is None:
        return None
    loc: list[int | str] = [m.group(1)]
    if m.group(2) is not None:
        loc.append(int(m.group(2)))
    if m.group(3):
        loc.append(m.group(3).rstrip(":"))
    return _line_of(lines, loc)


def _at(problem: str, line: int | None) -> str:
    return f"{problem} (line {line})" if line is not None else problem


def _message(err: Any) -> str:
    return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


def parse_directory(data: Any, source: str = "<directory>", *,
                    text: str | None = None) -> Directory:
    """``text``: the YAML the data came from; each problem then names its line (the
    lines are looked up only when there is a problem)."""
    if not isinstance(data, dict):
        raise DirectoryError(source, ["the file must be a mapping with members, centres, giscs, "
                                      "contacts and rooms"])
    try:
        directory = Directory.model_validate(data)
    except ValidationError as exc:
        lines = yaml_lines(text) if text is not None else {}
        problems = []
        for err in exc.errors():
            label = _entry_label(data, err["loc"])
            problems.append(_at(f"{label}: {_message(err)}", _line_of(lines, err["loc"])))
        problems.append(_MORE_MAY_FOLLOW)
        raise DirectoryError(source, problems) from None
    found = cross_check(directory)
    lines = yaml_lines(text) if found and text is not None else {}
    problems = [_at(p, _line_of_label(lines, p)).replace("<this file>", source)
                for p in found]
    if problems:
        raise DirectoryError(source, problems)
    return directory


def load_directory(path: str | Path) -> Directory:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DirectoryError(str(path), [
            f"cannot read: {exc.strerror} (name the directory file with WISBOT_DIRECTORY "
            "or --directory; deploy/directory.example.yaml is a complete example)"]) from None
    except OSError as exc:
        raise DirectoryError(str(path), [f"cannot read: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DirectoryError(str(path), [_yaml_problem(exc)]) from None
    return parse_directory(data, str(path), text=text)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's message without its ``in "<unicode string>"`` marks: line and column."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    ctx_mark = getattr(exc, "context_mark", None)
    if context and ctx_mark is not None:
        context = f"{context} (line {ctx_mark.line + 1})"
    return f"not valid YAML{where}: {problem}" + (f", {context}" if context else "")


def cross_check(d: Directory) -> list[str]:
    """References between entries: every name used must exist, every key be unique."""
    problems: list[str] = []

    def dupes(kind: str, values: list[str]) -> None:
        seen: set[str] = set()
        for i, v in enumerate(values):
            if v.casefold() in seen:
                problems.append(f"{kind}[{i}]: duplicate {v!r}")
            seen.add(v.casefold())

    dupes("members", [m.code for m in d.members])
    dupes("centres", [c.code for c in d.centres])
    dupes("giscs", [g.name for g in d.giscs])
    dupes("contacts", [c.id for c in d.contacts])
    dupes("rooms", [r.key for r in d.rooms])
    members = {m.code.casefold() for m in d.members}
    giscs = {g.name.casefold() for g in d.giscs}
    member_names = [m.code for m in d.members]
    gisc_names = [g.name for g in d.giscs]
    for i, c in enumerate(d.centres):
        label = f"centres[{i}] (code {c.code!r})"
        if c.member.casefold() not in members:
            problems.append(f"{label}.member: {_unknown('Member', c.member, member_names)}")
        if c.principal_gisc.casefold() not in giscs:
            problems.append(
                f"{label}.principal_gisc: {_unknown('GISC', c.principal_gisc, gisc_names)}"
            )
    for i, g in enumerate(d.giscs):
        if g.member and g.member.casefold() not in members:
            problems.append(f"giscs[{i}] (name {g.name!r}).member: "
                            f"{_unknown('Member', g.member, member_names)}")
    chat_seen: dict[tuple[str, str], str] = {}
    for i, person in enumerate(d.contacts):
        label = f"contacts[{i}] (id {person.id!r})"
        for role in person.roles:
            kind, _, name = role.partition(":")
            if kind == "gisc" and name.casefold() not in giscs:
                problems.append(f"{label}.roles: {_unknown('GISC', name, gisc_names)}")
            if kind == "member" and name.casefold() not in members:
                problems.append(f"{label}.roles: {_unknown('Member', name, member_names)}")
        for platform in PLATFORMS:
            address = person.chat_id(platform)
            if address is None:
                continue
            other = chat_seen.get((platform, address))
            if other is not None:
                problems.append(f"{label}.chat.{platform}: {address!r} is also contact {other!r}")
            chat_seen[(platform, address)] = person.id
    address_seen: dict[tuple[str, str], str] = {}
    unprovisioned: list[str] = []
    for i, r in enumerate(d.rooms):
        label = f"rooms[{i}] (key {r.key!r})"
        kind, _, name = r.role.partition(":")
        if kind in ("gisc", "area") and name.casefold() not in giscs:
            problems.append(f"{label}.role: {_unknown('GISC', name, gisc_names)}")
        if kind == "member" and name.casefold() not in members:
            problems.append(f"{label}.role: {_unknown('Member', name, member_names)}")
        if r.platform == "matrix" and not r.address:
            unprovisioned.append(r.key)
        elif r.platform != "console" and not r.address:
            problems.append(f"{label}.address: a {r.platform} room needs its address "
                            "(the channel id: open the channel's details in Slack)")
        other = address_seen.get((r.platform, r.target))
        if other is not None:
            problems.append(f"{label}.address: {r.target!r} is also room {other!r}")
        address_seen[(r.platform, r.target)] = r.key
    contact_ids = {c.id for c in d.contacts}
    for role, chain in d.oncall.items():
        if not _ONCALL_ROLE_RE.match(role):
            problems.append(f"oncall.{role}: unknown role; use secretariat, gisc:<GISC> "
                            "or member:<Member>")
        for j, cid in enumerate(chain):
            if cid not in contact_ids:
                problems.append(f"oncall.{role}[{j}]: "
                                f"{_unknown('contact', cid, sorted(contact_ids))}")
    for i, o in enumerate(d.oncall_overrides):
        if o.contact not in contact_ids:
            problems.append(f"oncall_overrides[{i}].contact: "
                            f"{_unknown('contact', o.contact, sorted(contact_ids))}")
        try:
            rule = o.rule()
            if rule.end <= rule.start:
                problems.append(f"oncall_overrides[{i}]: end {o.end!r} must be after "
                                f"start {o.start!r}")
        except ValueError as exc:
            problems.append(f"oncall_overrides[{i}]: {exc}")
    for i, rot in enumerate(d.oncall_rotations):
        label = f"oncall_rotations[{i}] (role {rot.role!r})"
        if not _ONCALL_ROLE_RE.match(rot.role):
            problems.append(f"{label}.role: unknown role; use secretariat, gisc:<GISC> "
                            "or member:<Member>")
        for j, cid in enumerate(rot.members):
            if cid not in contact_ids:
                where = f"contacts[{j}]" if rot.kind == "weekly" else f"shifts[{j}].contact"
                problems.append(f"{label}.{where}: "
                                f"{_unknown('contact', cid, sorted(contact_ids))}")
        if rot.kind == "weekly":
            if not rot.contacts:
                problems.append(f"{label}.contacts: a weekly rotation needs contacts")
            if rot.shifts:
                problems.append(f"{label}.shifts: only follow-the-sun rotations have shifts")
            if rot.start is None:
                problems.append(f"{label}.start: a weekly rotation needs the date of its "
                                "first hand-over, e.g. 2026-01-05")
            else:
                try:
                    date.fromisoformat(rot.start)
                except ValueError:
                    problems.append(f"{label}.start: {rot.start!r} is not a date (YYYY-MM-DD)")
            try:
                parse_hhmm(rot.handover)
            except ValueError as exc:
                problems.append(f"{label}.handover: {exc}")
            try:
                ZoneInfo(rot.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(f"{label}.timezone: unknown time zone {rot.timezone!r} "
                                "(use an IANA name such as Europe/Zurich or UTC)")
        else:
            if not rot.shifts:
                problems.append(f"{label}.shifts: a follow-the-sun rotation needs shifts")
            if rot.contacts:
                problems.append(f"{label}.contacts: follow-the-sun rotations list "
                                "shifts, not contacts")
            starts: set[str] = set()
            for j, shift in enumerate(rot.shifts):
                try:
                    parse_hhmm(shift.start)
                except ValueError as exc:
                    problems.append(f"{label}.shifts[{j}].start: {exc}")
                if shift.start in starts:
                    problems.append(f"{label}.shifts[{j}].start: two shifts start at "
                                    f"{shift.start}")
                starts.add(shift.start)
    # A page carries what its role may read: whoever is on call for a role must hold it
    # (or be Secretariat, who may read everything).
    holders = {c.id: c for c in d.contacts}
    on_call: list[tuple[str, str, str]] = []
    for role, chain in d.oncall.items():
        on_call += [(f"oncall.{role}[{j}]", role, cid) for j, cid in enumerate(chain)]
    for i, rot in enumerate(d.oncall_rotations):
        on_call += [(f"oncall_rotations[{i}]", rot.role, cid) for cid in rot.members]
    for i, o in enumerate(d.oncall_overrides):
        on_call += [(f"oncall_overrides[{i}]", o.role, o.contact)]
    for label, role, member_id in on_call:
        contact = holders.get(ContactId(member_id))
        if contact is None or contact.is_secretariat:
            continue
        if role.casefold() not in {r.casefold() for r in contact.roles}:
            problems.append(f"{label}: contact {member_id!r} is on call for {role} but does not "
                            f"hold that role; add {role!r} to its roles (a page carries "
                            "what the role may read)")
    claimed: dict[str, str] = {}
    for i, c in enumerate(d.centres):
        for key in (c.code, *c.identifiers):
            other = claimed.get(fold(key).strip())
            if other is not None and other != c.code:
                problems.append(f"centres[{i}] (code {c.code!r}).identifiers: {key!r} also "
                                f"names centre {other!r}")
            claimed.setdefault(fold(key).strip(), c.code)
    wg = d.working_group
    if wg is not None and wg.room is not None:
        room_keys = {r.key: r for r in d.rooms}
        if wg.room not in room_keys:
            problems.append(f"working_group.room: {_unknown('room', wg.room, list(room_keys))}")
        elif room_keys[wg.room].role != "working-group":
            problems.append(f"working_group.room: room {wg.room!r} has role "
                            f"{room_keys[wg.room].role!r}, not 'working-group' (its audience "
                            "would be wrong for case files)")
    if wg is not None and wg.room is None and not wg.email:
        problems.append("working_group: give a room, an email, or both (referrals go there)")
    if d.rooms_with_role("working-group") and wg is None:
        problems.append("rooms: a 'working-group' room is bound but working_group is not "
                        "configured (name, room, email)")
    for i, g in enumerate(d.giscs):
        for key, url in g.services.items():
            if key not in GISC_SERVICES:
                problems.append(f"giscs[{i}] (name {g.name!r}).services.{key}: unknown service; "
                                f"use {', '.join(GISC_SERVICES)}")
            elif not re.match(r"^https?://", url):
                problems.append(f"giscs[{i}] (name {g.name!r}).services.{key}: {url!r} is not "
                                "an http(s) URL")
    for ident, entry in d.wis2.items():
        wis2_kind = entry.get("kind")
        if wis2_kind not in WIS2_KINDS:
            problems.append(f"wis2.{ident}.kind: {wis2_kind!r} is not one of "
                            f"{', '.join(WIS2_KINDS)}")
        if not entry.get("url"):
            problems.append(f"wis2.{ident}.url: missing")
    if not d.rooms_with_role("secretariat"):
        problems.append("rooms: no room has role 'secretariat' (every incident is told there)")
    if unprovisioned:
        shown = ", ".join(unprovisioned[:8]) + (", …" if len(unprovisioned) > 8 else "")
        problems.append(f"rooms: {len(unprovisioned)} matrix room(s) have no address yet "
                        f"({shown}): a matrix room needs its address; run `wisbot matrix "
                        "provision --directory <this file>` to create the rooms and write "
                        "their ids here")
    return problems


def directory_schema() -> dict[str, Any]:
    schema = Directory.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "wisbot directory"
    return schema


def directory_schema_json() -> str:
    return json.dumps(directory_schema(), indent=2, sort_keys=True)
