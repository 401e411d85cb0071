"""The incident register: the incidents a person may see, filtered and paged.

Who sees what is ``Caller.sees`` — the one audience predicate, as ``incident list`` in
chat asks it; a row is shown in the same words the chat list uses (centre and summary as
the person reads them). Incidents with the same facts (Member, principal GISC, share,
anonymity) have the same audience, so the rule is asked once per group of them; the
database counts and pages the visible groups, so 10,000 incidents stay fast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, func, tuple_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from wisbot.directory import Directory
from wisbot.domain.confidentiality import Exposure, Share, Vis
from wisbot.reply import Span
from wisbot.services.context import Caller
from wisbot.services.lists import WHICH, centre_short, summary_span
from wisbot.services.render import incident_tlp
from wisbot.store.tables import Incident

PER_PAGE = 50


@dataclass(frozen=True)
class Row:
    number: str
    tlp: str
    status: str
    severity: int
    rsit: str | None
    centre: str
    summary: Span
    reported: date
    named: bool


@dataclass(frozen=True)
class Register:
    rows: tuple[Row, ...]
    total: int
    page: int
    pages: int


def register(session: Session, directory: Directory, caller: Caller, *, which: str = "all",
             sev_min: int | None = None, rsit_class: str | None = None,
             year: int | None = None, page: int = 1, per_page: int = PER_PAGE) -> Register:
    """Newest first. ``rsit_class`` is already checked (``rsit.parse_filter``)."""
    filters: list[ColumnElement[bool]] = [col(Incident.status).in_(WHICH[which])]
    if sev_min is not None:
        filters.append(col(Incident.severity) >= sev_min)
    if rsit_class is not None:
        filters.append(col(Incident.rsit) == rsit_class if "/" in rsit_class
                       else col(Incident.rsit).startswith(rsit_class + "/"))
    if year is not None:
        filters.append(col(Incident.year) == year)
    facts = (col(Incident.member), col(Incident.principal_gisc), col(Incident.share),
             col(Incident.anonymous))
    # Incidents with the same facts have the same audience: ask the rule once per group.
    vis_of: dict[tuple[str, str, str, bool], Vis] = {}
    total = 0
    for member, gisc, share, anonymous, n in session.execute(
            sa_select(*facts, func.count()).where(*filters).group_by(*facts)):
        # The same exposure as services.render.exposure(inc), from the columns alone.
        vis = caller.sees(Exposure(member=member, principal_gisc=gisc,
                                   share=Share.parse(share), anonymous=anonymous))
        if vis is not Vis.NONE:
            vis_of[(member, gisc, share, bool(anonymous))] = vis
            total += n
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    window: list[Incident] = []
    if vis_of:
        window = list(session.exec(select(Incident).where(
            *filters, tuple_(*facts).in_(list(vis_of))).order_by(col(Incident.id).desc())
            .offset((page - 1) * per_page).limit(per_page)))
    rows = []
    for inc in window:
        vis = vis_of[(inc.member, inc.principal_gisc, inc.share, bool(inc.anonymous))]
        rows.append(Row(inc.number, incident_tlp(inc).label, inc.status, inc.severity, inc.rsit,
                        centre_short(directory, inc, vis), summary_span(directory, inc, vis),
                        inc.created_at.date(), vis is Vis.NAMED))
    return Register(tuple(rows), total, page, pages)
