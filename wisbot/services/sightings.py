"""Sightings: another centre's "seen here too" on an incident. Who reported one is the
sighting Member's own information (:func:`sighter_exposure`); the count is read by
everyone who sees the incident."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.directory import Directory
from wisbot.domain.confidentiality import Exposure, Share, Vis
from wisbot.domain.indicators import defang_text
from wisbot.errors import NotFound
from wisbot.i18n import _ as _t
from wisbot.i18n import ngettext
from wisbot.reply import Span, bold, user
from wisbot.services.context import Caller
from wisbot.services.render import actor_label
from wisbot.store.tables import Incident, Sighting


def sighter_exposure(directory: Directory, member: str) -> Exposure:
    """Who reported a sighting is that Member's own information, kept as its
    secretariat-level sharing: the Secretariat and the Member's own rooms read it."""
    giscs = sorted(directory.principal_giscs_of(member)) if _known(directory, member) else []
    return Exposure(member=member, principal_gisc=giscs[0] if giscs else "",
                    share=Share.SECRETARIAT, anonymous=False)


def _known(directory: Directory, member: str) -> bool:
    try:
        directory.member(member)
    except NotFound:
        return False
    return True


def sighting_counts(session: Session, incident_ids: Iterable[int]) -> dict[int, int]:
    ids = [i for i in incident_ids if i is not None]
    if not ids:
        return {}
    # Centres, not records: a Member sighting the incident and two of its indicators is one.
    rows = session.exec(select(Sighting.incident_id, func.count(func.distinct(Sighting.member)))
                        .where(col(Sighting.incident_id).in_(ids))
                        .group_by(col(Sighting.incident_id))).all()
    return {int(i): int(n) for i, n in rows}


def sighting_lines(session: Session, directory: Directory, caller: Caller,
                   inc: Incident) -> list[tuple[Span, ...]]:
    """For ``incident show``: the count, and who saw it where the caller may know it."""
    rows = session.exec(select(Sighting).where(Sighting.incident_id == inc.id)
                        .order_by(col(Sighting.id))).all()
    if not rows:
        return []
    n = len({s.member for s in rows})
    lines: list[tuple[Span, ...]] = [(bold(_t("Sightings: ")), Span(
        text=_t("{count} (seen at {centres_phrase} besides the affected one)",
                count=i18n.number(n), centres_phrase=centres_phrase(n))),)]
    for s in rows:
        if caller.sees(sighter_exposure(directory, s.member)) is Vis.NAMED:
            lines.append(_sighting_line(directory, s))
    return lines


def centres_phrase(n: int) -> str:
    return ngettext("{n} other centre", "{n} other centres", n)


def _sighting_line(directory: Directory, s: Sighting) -> tuple[Span, ...]:
    when = i18n.when(s.created_at)
    who = actor_label(directory, s.reported_by, None, Vis.NAMED)
    spans: list[Span] = [Span(text=f"  {when} · {member_name(directory, s.member)} · {who}")]
    if s.note:
        spans += [Span(text=": "), user(defang_text(s.note))]
    return tuple(spans)


def member_name(directory: Directory, member: str) -> str:
    try:
        return f"{directory.member(member).name} ({member})"
    except NotFound:
        return member
