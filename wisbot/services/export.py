"""Exports a CSIRT ingests: an incident or a lesson as a MISP event (pymisp) or a STIX 2.1
bundle (stix2), rendered for the person asking exactly as they may see it where they ask.

- What goes in is decided by the one audience predicate: the caller's view of the incident
  (``Caller.sees``: named, anonymised, or refused with the same words as a missing one),
  of each sighting's reporter (:func:`sighter_exposure`) and of a lesson
  (``lesson_visibility``). Anonymised exports carry only the wording the affected Member
  confirmed and the indicators it released.
- Markings come only from :func:`wisbot.domain.tlp.tlp_for`; ids are uuid5 of the
  incident number (or lesson id), so a re-export updates the same objects.
- STIX 2.1 has TLP 1.0 markings built in only: the TLP 2.0 marking definitions are written
  here with the ids and content OASIS publishes (cti-stix-common-objects,
  extension-definition-specifications/tlp-2.0).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stix2
from pymisp import MISPEvent
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.directory import Directory
from wisbot.domain.audience import lesson_cap
from wisbot.domain.confidentiality import Share, Vis
from wisbot.domain.severity import severity
from wisbot.domain.tlp import SIGHTER_TLP, Tlp, strictest, tlp_for, view_tlp
from wisbot.errors import NotFound
from wisbot.i18n import _ as _t
from wisbot.i18n import ngettext
from wisbot.reply import Attachment, Reply, ReplyBuilder, Span, bold
from wisbot.services.context import Caller
from wisbot.services.incidents import IncidentService
from wisbot.services.indicators import sighter_exposure, visible_indicators
from wisbot.services.lessons import author_of, lesson_visibility
from wisbot.services.notify import notify
from wisbot.services.render import centre_label, exposure, text_for
from wisbot.store.engine import Store
from wisbot.store.tables import Incident, IncidentIndicator, Lesson, Sighting

FORMATS = ("misp", "stix")
NAMESPACE = uuid.UUID("5b0d5f5e-7a43-5b4e-9d0c-1e57a1b0c014")
"""wisbot's uuid5 namespace for exported objects (fixed: ids must not change)."""

TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_IDS = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
"""The TLP 2.0 marking definitions' ids as OASIS publishes them."""

MISP_DISTRIBUTION = {Tlp.RED: 0, Tlp.AMBER_STRICT: 0, Tlp.AMBER: 1, Tlp.GREEN: 1,
                     Tlp.CLEAR: 3}
"""MISP distribution by TLP: your organisation only (0), this community only (1), all
communities (3). TLP:GREEN is the community, never connected ones."""

# (MISP type, category, to_ids) per indicator kind.
MISP_TYPES = {
    "domain": ("domain", "Network activity", True),
    "url": ("url", "Network activity", True),
    "ipv4": ("ip-dst", "Network activity", True),
    "ipv6": ("ip-dst", "Network activity", True),
    "email": ("email-src", "Payload delivery", True),
    "md5": ("md5", "Payload delivery", True),
    "sha1": ("sha1", "Payload delivery", True),
    "sha256": ("sha256", "Payload delivery", True),
    "sha512": ("sha512", "Payload delivery", True),
    "cve": ("vulnerability", "External analysis", False),
}
STIX_HASHES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512"}
_LESSON = re.compile(r"^L-?(\d{1,9})$", re.IGNORECASE)


def incident_tlp(inc: Incident, vis: Vis = Vis.NAMED) -> Tlp:
    return view_tlp(Share.parse(inc.share), inc.anonymous, vis)


def lesson_tlp(lesson: Lesson) -> Tlp:
    """A lesson's label: ``none`` stays with the Member and the Secretariat (RED); shared
    ones reach the group (GREEN); CLEAR only once the Member released it as public."""
    share = Share.SECRETARIAT if lesson.share == "none" else Share.GROUP
    return tlp_for(share, public=getattr(lesson, "public", False))


def rsit_of(inc: Incident) -> str | None:
    value = getattr(inc, "rsit", None)
    return value if isinstance(value, str) and value else None


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class IndicatorView:
    n: int
    type: str
    kind: str
    value: str
    comment: str
    added_at: datetime


@dataclass(frozen=True)
class SightingView:
    key: int
    indicator: int | None
    at: datetime
    member: str | None
    """The sighting Member's name, only where the reader may know it."""
    member_code: str | None


@dataclass
class IncidentView:
    """An incident exactly as one reader may see it."""

    number: str
    vis: Vis
    tlp: Tlp
    centre: str
    severity: int
    severity_words: str
    status: str
    summary: str
    created: datetime
    updated: datetime
    rsit: str | None
    indicators: list[IndicatorView] = field(default_factory=list)
    sightings: list[SightingView] = field(default_factory=list)


def incident_view(session: Session, directory: Directory, incidents: IncidentService,
                  caller: Caller, number: str) -> IncidentView:
    """The caller's view here; a hidden incident is refused as a missing one."""
    inc, vis = incidents._visible(session, caller, number)
    seen = visible_indicators(session, directory, inc, vis)
    indicators = [IndicatorView(
        n=s.row.n, type=s.row.type, kind=_kind(s.row), value=s.row.value,
        comment=s.wording, added_at=_utc(s.row.added_at)) for s in seen]
    shown = {s.row.id: s.row.n for s in seen}
    sightings: list[SightingView] = []
    for s in session.exec(select(Sighting).where(Sighting.incident_id == inc.id)
                          .order_by(col(Sighting.id))).all():
        named = caller.sees(sighter_exposure(directory, s.member)) is Vis.NAMED
        name = None
        if named:
            try:
                name = directory.member(s.member).name
            except NotFound:
                name = s.member
        sightings.append(SightingView(
            key=s.id or 0, indicator=shown.get(s.indicator_id), at=_utc(s.created_at),
            member=name, member_code=s.member if named else None))
    sev = severity(inc.severity)
    label = incident_tlp(inc, vis)
    if any(s.member_code for s in sightings):  # names a sighter: the strictest label wins
        label = strictest((label, SIGHTER_TLP))
    return IncidentView(
        number=inc.number, vis=vis, tlp=label,
        centre=centre_label(directory, inc, vis), severity=inc.severity,
        severity_words=sev.words, status=inc.status,
        summary=text_for(directory, inc, vis, inc.summary, inc.anon_summary),
        created=_utc(inc.created_at), updated=_utc(inc.updated_at), rsit=rsit_of(inc),
        indicators=indicators, sightings=sightings)


def _kind(ind: IncidentIndicator) -> str:
    return {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}[len(ind.value)] \
        if ind.type == "hash" else ind.type


# ----- STIX 2.1 ---------------------------------------------------------------------------

def tlp_marking(tlp: Tlp) -> stix2.v21.MarkingDefinition:
    return stix2.v21.MarkingDefinition(
        id=TLP2_IDS[tlp], created="2022-10-01T00:00:00.000Z", name=tlp.label,
        extensions={TLP2_EXTENSION: {"extension_type": "property-extension",
                                     "tlp_2_0": tlp.label.split(":", 1)[1].lower()}})


def _wisbot_identity() -> stix2.v21.Identity:
    return stix2.v21.Identity(id=f"identity--{_uuid('wisbot')}", name="wisbot",
                              identity_class="system",
                              created="2026-01-01T00:00:00.000Z",
                              modified="2026-01-01T00:00:00.000Z",
                              description="The WIS IT-security incident process bot")


def _pattern(ind: IndicatorView) -> str:
    value = ind.value.replace("\\", "\\\\").replace("'", "\\'")
    if ind.kind in STIX_HASHES:
        return f"[file:hashes.'{STIX_HASHES[ind.kind]}' = '{value}']"
    path = {"domain": "domain-name:value", "url": "url:value", "ipv4": "ipv4-addr:value",
            "ipv6": "ipv6-addr:value", "email": "email-addr:value"}[ind.kind]
    return f"[{path} = '{value}']"


def stix_incident(view: IncidentView) -> str:
    marking = tlp_marking(view.tlp)
    me = _wisbot_identity()
    common: dict[str, Any] = {"object_marking_refs": [marking.id], "created_by_ref": me.id}
    incident_id = f"incident--{_uuid(view.number, 'incident')}"
    labels = [f"severity-{view.severity}"] + ([f"rsit:{view.rsit}"] if view.rsit else [])
    objects: list[Any] = [marking, me, stix2.v21.Incident(
        id=incident_id, name=f"{view.number}: {view.centre}",
        description=f"{view.severity_words}. Status: {view.status}.", labels=labels,
        created=view.created, modified=max(view.updated, view.created),
        external_references=[{"source_name": "wisbot", "external_id": view.number}],
        **common)]
    objects.append(stix2.v21.Note(
        id=f"note--{_uuid(view.number, 'summary')}", abstract=f"{view.number} summary",
        content=view.summary, object_refs=[incident_id], created=view.created,
        modified=max(view.updated, view.created), **common))
    refs: dict[int, str] = {}
    for ind in view.indicators:
        key = _uuid(view.number, ind.type, ind.value)
        if ind.kind == "cve":
            obj: Any = stix2.v21.Vulnerability(
                id=f"vulnerability--{key}", name=ind.value, description=ind.comment,
                external_references=[{"source_name": "cve", "external_id": ind.value}],
                created=ind.added_at, modified=ind.added_at, **common)
        else:
            obj = stix2.v21.Indicator(
                id=f"indicator--{key}", name=f"I-{ind.n} {ind.kind}", description=ind.comment,
                pattern=_pattern(ind), pattern_type="stix", valid_from=ind.added_at,
                indicator_types=["malicious-activity"], created=ind.added_at,
                modified=ind.added_at, **common)
        refs[ind.n] = obj.id
        objects.append(obj)
        objects.append(stix2.v21.Relationship(
            id=f"relationship--{_uuid(view.number, 'rel', ind.type, ind.value)}",
            relationship_type="related-to", source_ref=obj.id, target_ref=incident_id,
            created=ind.added_at, modified=ind.added_at, **common))
    sighters: dict[str, Any] = {}
    for s in view.sightings:
        where: list[str] = []
        if s.member_code is not None:
            ident = sighters.get(s.member_code)
            if ident is None:
                ident = sighters[s.member_code] = stix2.v21.Identity(
                    id=f"identity--{_uuid('member', s.member_code)}", name=s.member,
                    identity_class="organization", created="2026-01-01T00:00:00.000Z",
                    modified="2026-01-01T00:00:00.000Z", **common)
                objects.append(ident)
            where = [ident.id]
        target = refs.get(s.indicator) if s.indicator is not None else None
        objects.append(stix2.v21.Sighting(
            id=f"sighting--{_uuid(view.number, 'sighting', s.key)}",
            sighting_of_ref=target or incident_id, count=1, first_seen=s.at, last_seen=s.at,
            created=s.at, modified=s.at,
            **({"where_sighted_refs": where} if where else {}), **common))
    bundle = stix2.v21.Bundle(id=f"bundle--{_uuid(view.number, 'bundle', view.vis.name)}",
                              objects=objects)
    return str(bundle.serialize(pretty=True))


# ----- MISP -------------------------------------------------------------------------------

def _threat_level(level: int) -> int:
    return 1 if level >= 4 else 2 if level == 3 else 3 if level >= 1 else 4


def _misp_event(uid: str, info: str, tlp: Tlp, created: datetime,
                updated: datetime) -> MISPEvent:
    ev = MISPEvent()
    ev.uuid = uid
    ev.info = info
    ev.date = created.date()
    ev.timestamp = updated
    ev.distribution = MISP_DISTRIBUTION[tlp]
    ev.add_tag(tlp.misp_tag)
    return ev


def rsit_tag(rsit: str) -> str:
    """``fraud/phishing`` as the MISP taxonomy's machine tag ``rsit:fraud="phishing"``."""
    cls, _, kind = rsit.partition("/")
    return f'rsit:{cls}="{kind}"' if kind else f"rsit:{cls}"


def misp_incident(view: IncidentView) -> str:
    ev = _misp_event(_uuid(view.number, "incident"), f"{view.number}: {view.centre}",
                     view.tlp, view.created, view.updated)
    ev.threat_level_id = _threat_level(view.severity)
    ev.analysis = 1 if view.status == "open" else 2
    if view.rsit:
        ev.add_tag(rsit_tag(view.rsit))
    summary: Any = ev.add_attribute("text", view.summary, category="Other", to_ids=False,
                               comment=f"summary; {view.severity_words}",
                               uuid=_uuid(view.number, "summary"))
    attrs: dict[int, Any] = {}
    for ind in view.indicators:
        mtype, category, to_ids = MISP_TYPES[ind.kind]
        attrs[ind.n] = ev.add_attribute(
            mtype, ind.value, category=category, to_ids=to_ids, comment=ind.comment,
            uuid=_uuid(view.number, ind.type, ind.value), timestamp=ind.added_at)
    for s in view.sightings:
        # A sighting of no indicator in particular is one of the incident: its summary.
        attr = attrs.get(s.indicator) if s.indicator is not None else None
        (attr or summary).add_sighting({
            "uuid": _uuid(view.number, "sighting", s.key), "type": "0",
            "date_sighting": int(s.at.timestamp()),
            "source": s.member or "a WIS centre"})
    return str(ev.to_json(indent=2, sort_keys=True))


# ----- lessons ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LessonView:
    key: int
    tlp: Tlp
    text: str
    centre: str
    number: str | None
    """Its incident's number, only where the reader may see the incident named."""
    created: datetime


def lesson_view(session: Session, directory: Directory, caller: Caller,
                ref: str) -> LessonView:
    m = _LESSON.match(ref.strip())
    if not m:
        raise NotFound(_t("{ref!r} is not a lesson number: they look like L-3", ref=ref))
    lid = int(m.group(1))
    lesson = session.get(Lesson, lid)
    inc = session.get(Incident, lesson.incident_id) if lesson is not None else None
    if lesson is None or inc is None:
        raise NotFound(_t("no lesson L-{lid} that you may see here", lid=lid))
    vis = lesson_visibility(directory, caller, lesson, inc)
    if vis is Vis.NONE:
        raise NotFound(_t("no lesson L-{lid} that you may see here", lid=lid))
    labels = [lesson_tlp(lesson)]
    if lesson_cap(author_of(directory, lesson), exposure(inc)) is not None:
        labels.append(incident_tlp(inc, Vis.ANONYMOUS))  # the incident's sharing caps it
    incident_vis = caller.sees(exposure(inc))
    number = inc.number if vis is Vis.NAMED and incident_vis is Vis.NAMED else None
    text = lesson.text if vis is Vis.NAMED else text_for(directory, inc, vis, lesson.text,
                                                          lesson.anon_text)
    return LessonView(key=lid, tlp=strictest(labels), text=text,
                      centre=centre_label(directory, inc, vis), number=number,
                      created=_utc(lesson.created_at))


def stix_lesson(view: LessonView) -> str:
    marking = tlp_marking(view.tlp)
    me = _wisbot_identity()
    about = f"incident--{_uuid(view.number, 'incident')}" if view.number else me.id
    note = stix2.v21.Note(
        id=f"note--{_uuid('lesson', view.key)}", abstract=f"Lesson learned L-{view.key} "
        f"({view.centre})", content=view.text, object_refs=[about], labels=["best-practice"],
        created=view.created, modified=view.created, created_by_ref=me.id,
        object_marking_refs=[marking.id],
        **({"external_references": [{"source_name": "wisbot", "external_id": view.number}]}
           if view.number else {}))
    bundle = stix2.v21.Bundle(id=f"bundle--{_uuid('lesson', view.key, view.number or '')}",
                              objects=[marking, me, note])
    return str(bundle.serialize(pretty=True))


def misp_lesson(view: LessonView) -> str:
    ev = _misp_event(_uuid("lesson", view.key), f"Lesson learned L-{view.key}: best practice"
                     f" ({view.centre})", view.tlp, view.created, view.created)
    ev.analysis = 2
    ev.threat_level_id = 4
    ev.add_attribute("text", view.text, category="Other", to_ids=False,
                     comment="lesson learned" + (f" of {view.number}" if view.number else ""),
                     uuid=_uuid("lesson", view.key, "text"))
    return str(ev.to_json(indent=2, sort_keys=True))


# ----- the service ------------------------------------------------------------------------

class ExportService:
    def __init__(self, store: Store, directory: Directory, incidents: IncidentService) -> None:
        self.store = store
        self.directory = directory
        self.incidents = incidents

    def incident_document(self, session: Session, caller: Caller, number: str,
                          fmt: str) -> tuple[IncidentView, str]:
        # MISP and STIX are machine formats a CSIRT tool ingests: written in English
        # whatever the asker reads (the chat reply around the file is in their language).
        self.incidents._visible(session, caller, number)  # refusals in the asker's language
        with i18n.use("en"):
            view = incident_view(session, self.directory, self.incidents, caller, number)
            return view, (stix_incident(view) if fmt == "stix" else misp_incident(view))

    def lesson_document(self, session: Session, caller: Caller, ref: str,
                        fmt: str) -> tuple[LessonView, str]:
        lesson_view(session, self.directory, caller, ref)  # refusals in the asker's language
        with i18n.use("en"):  # a machine format: English (see incident_document)
            view = lesson_view(session, self.directory, caller, ref)
            return view, (stix_lesson(view) if fmt == "stix" else misp_lesson(view))

    async def incident_file(self, caller: Caller, number: str, fmt: str) -> Reply:
        view, text = await self.store.tx(
            lambda s: self.incident_document(s, caller, number, fmt))
        b = ReplyBuilder(_t("{number} – {format_name} export",
                            number=view.number, format_name=_format_name(fmt)))
        b.reveal(view.number, named=view.vis is Vis.NAMED)
        b.line(bold(view.tlp.label), Span(text=_t(" – pass it on only as the label allows.")))
        b.line(_t("As you may see it here ({value}): {indicators}, {sightings}.",
                  value=_t("named") if view.vis is Vis.NAMED else _t("anonymised"),
                  indicators=ngettext("{n} indicator", "{n} indicators",
                                      len(view.indicators)),
                  sightings=ngettext("{n} sighting", "{n} sightings", len(view.sightings))))
        b.attach(Attachment.from_bytes(f"{view.number}.{fmt}.json", "application/json",
                                       text.encode("utf-8")))
        return b.build(private=True)

    async def lesson_file(self, caller: Caller, ref: str, fmt: str) -> Reply:
        view, text = await self.store.tx(lambda s: self.lesson_document(s, caller, ref, fmt))
        b = ReplyBuilder(_t("Lesson L-{key} – {format_name} export",
                            key=view.key, format_name=_format_name(fmt)))
        b.line(bold(view.tlp.label), Span(text=_t(" – pass it on only as the label allows.")))
        b.attach(Attachment.from_bytes(f"L-{view.key}.{fmt}.json", "application/json",
                                       text.encode("utf-8")))
        return b.build(private=True)

    async def send_direct(self, contact_id: str, reply: Reply) -> None:
        """The file to the person's direct chat, through the outbox."""
        now = self.incidents.clock()
        await self.store.tx(lambda s: notify(s, kind="export", now=now, incident_id=None,
                                             deliveries=[], direct=[(contact_id, reply)]))


def _format_name(fmt: str) -> str:
    return "MISP" if fmt == "misp" else "STIX 2.1"
