"""``incident evidence``: the 1-hour target's evidence for one incident.

By default one line per event (a report, an update, a page step): how many rooms or people
it went to, and whether all were delivered and how fast; failures and messages still
pending are named. ``details`` lists every message, one short line each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from wisbot.directory import Directory
from wisbot.domain.paging import TARGET, format_duration
from wisbot.errors import NotFound
from wisbot.i18n import N_, ngettext
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, bold
from wisbot.services.render import incident_tlp
from wisbot.store.paging_tables import Page, PageDelivery, PageStep
from wisbot.store.tables import Incident, Notification, OutboxRow


class _Clock:
    """Times as HH:MM on the day of the report (said once in the heading), with the date
    otherwise: the lines stay short enough not to wrap."""

    def __init__(self, day: datetime) -> None:
        self.day = day.astimezone(UTC).date()

    def __call__(self, at: datetime | None) -> str:
        if at is None:
            return "–"
        at = at.astimezone(UTC)
        return at.strftime("%H:%M") if at.date() == self.day else at.strftime("%m-%d %H:%M")


def _lag(delivered_at: datetime | None, sent: datetime | None) -> float:
    if delivered_at is None or sent is None:
        return 0.0
    return max((delivered_at - sent).total_seconds(), 0.0)


_STATES = {"dead": N_("FAILED (dead letter)"), "pending": N_("not yet delivered"),
           "withdrawn": N_("withdrawn (sharing narrowed)")}

# The events of an incident's notifications and page steps, as the evidence names them.
_EVENTS = {"reported": N_("reported"), "update": N_("update"), "severity": N_("severity"),
           "classified": N_("classified"), "share": N_("share"), "review": N_("review"),
           "resolved": N_("resolved"), "closed": N_("closed"), "reopened": N_("reopened"),
           "lesson": N_("lesson"), "released": N_("released"), "query": N_("query"),
           "answer": N_("answer"), "page": N_("page"), "page-acked": N_("page acknowledged"),
           "page-alert": N_("alert to the Secretariat"), "sighting": N_("sighting"),
           "withdrawn": N_("withdrawn"), "escalated": N_("escalated"), "repeat": N_("repeat"),
           "next": N_("next on the chain"), "secretariat": N_("Secretariat step"),
           "missed": N_("target missed"), "confirmed": N_("confirmed"),
           "summary": N_("summary")}


def _event(kind: str) -> str:
    found = _EVENTS.get(kind)
    return str(found) if found is not None else kind


_VERDICTS = {"met": N_("met"), "missed": N_("missed"), "pending": N_("pending"),
             "stopped": N_("stopped")}


def _row_words(status: str, delivered_at: datetime | None, sent: datetime | None,
               at: _Clock) -> str:
    if delivered_at is not None:
        return _t("delivered {at} (+{lag})", at=at(delivered_at),
                  lag=format_duration(_lag(delivered_at, sent)))
    return str(_STATES.get(status, status))


def _where(directory: Directory, room_key: str) -> str:
    if room_key.startswith("@"):
        return _t("{room} (direct)", room=room_key)
    try:
        return f"{room_key} ({directory.room(room_key).platform})"
    except NotFound:
        return room_key


def _name(directory: Directory, contact_id: str | None) -> str:
    if contact_id is None:
        return _t("someone")
    try:
        return directory.contact(contact_id).name
    except NotFound:
        return contact_id


def group_words(targets: Sequence[tuple[str, str, datetime | None]],
                sent: datetime | None) -> str:
    """``(where, status, delivered_at)`` of one event's messages in a few words:
    "20 rooms, all delivered within 0 s"; failures and pending ones by name."""
    n = len(targets)
    rooms = sum(1 for where, _, _ in targets if not where.startswith("@"))
    noun = ngettext("{n} room", "{n} rooms", n) if rooms == n else (
        ngettext("{n} person", "{n} people", n) if rooms == 0 else
        _t("{n} rooms and people", n=n))
    if n == 1:
        where, status, delivered_at = targets[0]
        return f"{where.split(' (')[0]}, " + (
            _t("delivered within {lag}", lag=format_duration(_lag(delivered_at, sent)))
            if delivered_at is not None else str(_STATES.get(status, status)))
    delivered = [d for _, _, d in targets if d is not None]
    slowest = format_duration(max((_lag(d, sent) for d in delivered), default=0.0))
    if len(delivered) == n:
        return _t("{noun}, all delivered within {slowest}", noun=noun, slowest=slowest)
    parts = [_t("{noun}: {count} delivered within {slowest}", noun=noun, count=len(delivered),
                slowest=slowest) if delivered else
             _t("{noun}: {count} delivered", noun=noun, count=len(delivered))]
    for status, label in _STATES.items():
        names = [where.split(" (")[0] for where, s, d in targets if s == status and d is None]
        if names:
            shown = ", ".join(names[:5]) + (_t(" and {count} more", count=len(names) - 5)
                                            if len(names) > 5 else "")
            parts.append(f"{label}: {shown}")
    return "; ".join(parts)


def evidence_reply(session: Session, directory: Directory, inc: Incident, now: datetime,
                   *, details: bool = False) -> Reply:
    from wisbot.services.paging import page_verdict, time_to_notify
    from wisbot.services.render import missing_words, role_words

    at = _Clock(inc.created_at)
    b = ReplyBuilder(_t("{number} – service evidence", number=inc.number), kind="report",
                     tlp=incident_tlp(inc))
    b.ref = inc.number
    b.field(_t("Reported"), inc.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            + _t(" (times below UTC, that day unless dated)"))
    notes = session.exec(select(Notification).where(Notification.incident_id == inc.id)
                         .order_by(col(Notification.id))).all()
    by_note: dict[int, list[OutboxRow]] = {}
    ids = [n.id for n in notes if n.id is not None]
    if ids:
        for row in session.exec(select(OutboxRow).where(col(OutboxRow.notification_id)
                                                        .in_(ids)).order_by(col(OutboxRow.id))):
            by_note.setdefault(row.notification_id or 0, []).append(row)
    ttn = time_to_notify(session, inc)
    b.line(bold(_t("Notifications")),
           _t(" (every message)") if details else _t(" (one line per event)"))
    # A page step's messages are shown with its page, below.
    paged = set(session.exec(select(PageStep.notification_id).join(
        Page, col(Page.id) == PageStep.page_id).where(Page.incident_id == inc.id)).all())
    for n in notes:
        rows = by_note.get(n.id or 0, [])
        if not rows or n.id in paged:
            continue
        if details:
            for row in rows:
                b.line(f"  {at(n.created_at)} ", _event(n.kind),
                       f" → {_where(directory, row.room_key)}: "
                       f"{_row_words(row.status, row.delivered_at, n.created_at, at)}")
        else:
            b.line(f"  {at(n.created_at)} ", _event(n.kind), " → " + group_words(
                [(r.room_key, r.status, r.delivered_at) for r in rows], n.created_at))
    pages = session.exec(select(Page).where(Page.incident_id == inc.id)
                         .order_by(col(Page.id))).all()
    b.line(bold(_t("Pages")))
    if not pages:
        b.line(_t("  none (severity below the paging threshold and no escalation)"))
    verdicts: list[str] = []
    for p in pages:
        verdict = page_verdict(p, now)
        verdicts.append(verdict)
        b.line(bold(f"  P-{p.id}"), " · " + _t(
            "{role} · created {at} · target {verdict}", role=role_words(p.role),
            at=at(p.created_at), verdict=_VERDICTS.get(verdict, verdict))
            + (_t(" · reached the Secretariat step") if p.secretariat_alerted_at else ""))
        b.line("    " + (
            _t("acknowledged by {name} at {at} (after {took})",
               name=_name(directory, p.acked_by), at=at(p.acked_at),
               took=format_duration((p.acked_at - p.created_at).total_seconds()))
            if p.acked_at else _t("{status}, not acknowledged", status=p.status)))
        steps = session.exec(select(PageStep).where(PageStep.page_id == p.id)
                             .order_by(col(PageStep.seq))).all()
        deliveries = session.exec(select(PageDelivery).where(PageDelivery.page_id == p.id)
                                  .order_by(col(PageDelivery.id))).all()
        for s in steps:
            if s.status != "fired":
                continue
            targets = [(_where(directory, r.room_key), r.status, r.delivered_at)
                       for r in by_note.get(s.notification_id or -1, [])]
            targets += [(f"{d.channel}{' ' + d.contact_id if d.contact_id else ''}", d.status,
                         d.delivered_at) for d in deliveries if d.step_id == s.id]
            when = f"    {at(s.fired_at or s.due_at)} "
            head = (_t(" (escalated by {name})", name=_name(directory, s.escalated_by))
                    if s.escalated_by else "")
            head += "".join(_t(" · skipped {contact} ({missing})", contact=g.get("contact"),
                               missing=missing_words(str(g.get("missing") or "")))
                        for g in s.skipped or [])
            if details:
                b.line(when, _event(s.action), head)
                for where, status, delivered_at in targets:
                    b.line(f"      {where}: "
                           f"{_row_words(status, delivered_at, s.fired_at, at)}")
            elif targets:
                b.line(when, _event(s.action), f"{head} → {group_words(targets, s.fired_at)}")
            else:
                b.line(when, _event(s.action), head)
    if any(v == "missed" for v in verdicts) or (ttn is not None and ttn > TARGET.total_seconds()):
        overall = "missed"
    elif any(v == "pending" for v in verdicts) or (ttn is None and notes):
        overall = "pending"
    else:
        overall = "met"
    b.line(bold(_t("1-hour target: ")), str(_VERDICTS[overall])
           + (_t(" (notified in {took})", took=format_duration(ttn)) if ttn is not None
              else ""))
    if not details:
        b.line(_t("Every message: `incident evidence {number} details`.", number=inc.number))
    return b.build(private=True)
