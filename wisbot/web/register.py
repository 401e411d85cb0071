"""The incident register: the incidents a person may see, filtered and paged.

Who sees what is ``Caller.sees`` — the one audience predicate, as ``incident list`` in
chat asks it; a row is shown in the same words the chat list uses (centre and summary as
the person reads them). Only the few columns the predicate needs are read for every
incident; whole rows are loaded for the page shown, so 10,000 incidents stay fast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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
    q = sa_select(col(Incident.id), col(Incident.member), col(Incident.principal_gisc),
                  col(Incident.share), col(Incident.anonymous)) \
        .where(col(Incident.status).in_(WHICH[which]))
    if sev_min is not None:
        q = q.where(col(Incident.severity) >= sev_min)
    if rsit_class is not None:
        q = q.where(col(Incident.rsit) == rsit_class) if "/" in rsit_class \
            else q.where(col(Incident.rsit).startswith(rsit_class + "/"))
    if year is not None:
        q = q.where(col(Incident.year) == year)
    seen: dict[tuple[str, str, str, bool], Vis] = {}
    shown: list[tuple[int, Vis]] = []
    for iid, member, gisc, share, anonymous in session.execute(q.order_by(col(Incident.id).desc())):
        key = (member, gisc, share, anonymous)
        vis = seen.get(key)
        if vis is None:
            # The same exposure as services.render.exposure(inc), from the columns alone.
            vis = seen[key] = caller.sees(Exposure(member=member, principal_gisc=gisc,
                                                   share=Share.parse(share),
                                                   anonymous=anonymous))
        if vis is not Vis.NONE:
            shown.append((iid, vis))
    pages = max(1, -(-len(shown) // per_page))
    page = min(max(page, 1), pages)
    window = shown[(page - 1) * per_page:page * per_page]
    loaded = {inc.id: inc for inc in session.exec(select(Incident).where(
        col(Incident.id).in_([iid for iid, _ in window])))}
    rows = []
    for iid, vis in window:
        inc = loaded[iid]
        rows.append(Row(inc.number, incident_tlp(inc).label, inc.status, inc.severity, inc.rsit,
                        centre_short(directory, inc, vis), summary_span(directory, inc, vis),
                        inc.created_at.date(), vis is Vis.NAMED))
    return Register(tuple(rows), len(shown), page, pages)
