"""Global Monitor alerts: Prometheus Alertmanager's webhook notifications (``version`` "4")
turned into watch tickets, duty-room posts and the daily digest.

- ``critical`` firing: the watch ticket of ``alertname:centre_id`` (one per alert and
  centre), opened, or reopened when it fires again after Done;
- ``error``: a post to the duty rooms (firing and resolved);
- ``warning``: kept for the daily digest (:meth:`AlertService.digest`);
- resolved ``critical``: a note on the ticket and a close proposal (closing stays a human
  decision made with evidence, the GISC Watch practice).

Every alert state is received once: its receipt key (fingerprint, status, startsAt) is a
primary key, so Alertmanager's repeats, the same alert in another group's notification and
two replicas behind a load balancer receiving the same notification never act twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Directory
from wisbot.domain import aor
from wisbot.domain.watch import Impact, TicketState, utc_day
from wisbot.errors import NotFound
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, Span, bold, user
from wisbot.services.languages import each_in_its_language
from wisbot.services.notify import notify
from wisbot.services.watch import GLOBAL, WatchService
from wisbot.store.alerts_jira_tables import AlertReceipt, AlertTicket
from wisbot.store.engine import Store
from wisbot.store.watch_tables import WatchMark, WatchTicket

log = logging.getLogger(__name__)

REPORTER = "alertmanager"
"""The reporter of tickets opened by Global Monitor alerts."""
SEVERITIES = ("critical", "error", "warning")
CRITICAL_IMPACT = Impact.HIGH
"""A critical Global Monitor alert is about one centre: High ("essential services are
unavailable"); Very High is kept for a total failure of the Global Services."""
MAX_ALERTS = 1000
KEEP_RECEIPTS = timedelta(days=30)
MAX_KINDS = 10
MAX_CENTRES = 60
"""Limits of one grouped duty post (alert kinds, centres per kind)."""


class BadNotification(ValueError):
    """The body is not an Alertmanager webhook notification (answered 400). Its words are
    read by Alertmanager's operators in its logs, not by a chat reader: English."""


@dataclass(frozen=True)
class Alert:
    status: str
    alertname: str
    centre_id: str
    severity: str
    summary: str
    description: str
    starts_at: str
    ends_at: str
    fingerprint: str

    @property
    def key(self) -> str:
        return f"{self.alertname}:{self.centre_id or 'global'}"[:200]

    @property
    def receipt(self) -> str:
        return f"{self.fingerprint}:{self.status}:{self.starts_at}"[:200]


@dataclass
class Outcome:
    """What one notification did (the HTTP answer, logs and tests): JSON keys for
    Alertmanager and its operators, never translated."""

    received: int = 0
    repeats: int = 0
    opened: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    noted: list[int] = field(default_factory=list)
    posted: int = 0
    digest: int = 0
    skipped: list[str] = field(default_factory=list)
    late: int = 0
    """Firing alerts whose own resolved notification came first: not acted on."""

    def as_json(self) -> dict[str, Any]:
        return {"received": self.received, "repeats": self.repeats, "opened": self.opened,
                "reopened": self.reopened, "noted": self.noted, "posted": self.posted,
                "digest": self.digest, "skipped": self.skipped, "late": self.late}


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def parse_notification(body: bytes | str | Any) -> tuple[list[Alert], list[str]]:
    """The alerts of a webhook notification, and why any single alert was skipped. Raises
    :class:`BadNotification` when the body as a whole is unusable."""
    if isinstance(body, bytes | str):
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadNotification(f"the body is not JSON ({exc})") from None
        except RecursionError:  # a 5xx would make Alertmanager retry it for ever
            raise BadNotification("the body is JSON nested too deeply") from None
    else:
        doc = body
    if not isinstance(doc, dict):
        raise BadNotification("expected a JSON object (Alertmanager's webhook notification)")
    version = doc.get("version")
    if version is not None and str(version) != "4":
        raise BadNotification(f"webhook version {version!r} is not supported (expected \"4\")")
    raw = doc.get("alerts")
    if not isinstance(raw, list):
        raise BadNotification("the notification has no \"alerts\" list")
    if len(raw) > MAX_ALERTS:
        raise BadNotification(f"{len(raw)} alerts in one notification (at most {MAX_ALERTS}); "
                              "set max_alerts in the webhook_config")
    alerts: list[Alert] = []
    skipped: list[str] = []
    for i, a in enumerate(raw):
        where = f"alerts[{i}]"
        if not isinstance(a, dict) or not isinstance(a.get("labels"), dict):
            skipped.append(f"{where}: not an alert with labels")
            continue
        labels: dict[str, Any] = a["labels"]
        notes: dict[str, Any] = a["annotations"] if isinstance(a.get("annotations"), dict) \
            else {}
        name = _text(labels.get("alertname"), 128).strip()
        status = a.get("status")
        if not name:
            skipped.append(f"{where}: no alertname label")
            continue
        if status not in ("firing", "resolved"):
            skipped.append(f"{where} ({name}): status {status!r} is neither firing nor resolved")
            continue
        severity = _text(labels.get("severity"), 16).strip().lower()
        centre = _text(labels.get("centre_id") or labels.get("centre-id"), 128).strip()
        fingerprint = _text(a.get("fingerprint"), 64).strip() or hashlib.sha256(
            json.dumps(labels, sort_keys=True, default=str).encode()).hexdigest()[:16]
        alerts.append(Alert(
            status=status, alertname=name, centre_id=centre, severity=severity,
            summary=_text(notes.get("summary"), 300).strip() or name,
            description=_text(notes.get("description"), 1000).strip(),
            starts_at=_text(a.get("startsAt"), 40), ends_at=_text(a.get("endsAt"), 40),
            fingerprint=fingerprint))
    return alerts, skipped


class _Raced(Exception):
    """Another process mapped the same alert key first: run the notification again."""


class AlertService:
    def __init__(self, store: Store, directory: Directory, watch: WatchService,
                 clock: Clock) -> None:
        self.store = store
        self.directory = directory
        self.watch = watch
        self.clock = clock

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)

    # ----- where an alert belongs ---------------------------------------------------------
    def subject_for(self, centre_id: str) -> str:
        """The directory GISC responsible for a WIS2 centre (area table), else the WIS 2.0
        global services (a Global Service, or a centre the table does not know)."""
        if not centre_id or centre_id in self.directory.wis2:
            return GLOBAL
        for name in aor.responsible_giscs(centre_id):
            try:
                return self.directory.gisc(name).name
            except NotFound:
                continue
        return GLOBAL

    # ----- receiving ---------------------------------------------------------------------
    async def receive(self, body: bytes | str | Any) -> Outcome:
        alerts, skipped = parse_notification(body)
        for attempt in range(3):
            try:
                out = await self.store.tx(lambda s: self._receive(s, alerts))
            except (_Raced, IntegrityError):
                if attempt == 2:
                    raise
                continue
            out.skipped = skipped
            for why in skipped:
                log.warning("alert notification: %s", why)
            return out
        raise AssertionError("unreachable")

    def _insert(self, session: Session) -> Any:
        pg = session.get_bind().dialect.name == "postgresql"
        return pg_insert if pg else sqlite_insert

    def _first_time(self, session: Session, a: Alert, now: datetime) -> bool:
        stmt = self._insert(session)(AlertReceipt).values(
            key=a.receipt, alertname=a.alertname, centre_id=a.centre_id, severity=a.severity,
            status=a.status, summary=a.summary, received_at=now, digested=False,
        ).on_conflict_do_nothing(index_elements=["key"]).returning(
            AlertReceipt.key)
        return session.execute(stmt).first() is not None

    def _receive(self, session: Session, alerts: list[Alert]) -> Outcome:
        now = self._now()
        out = Outcome()
        seen: set[str] = set()
        errors: list[Alert] = []
        for a in alerts:
            if a.receipt in seen or not self._first_time(session, a, now):
                out.repeats += 1
                # still being sent: keep its receipt past the purge
                session.execute(update(AlertReceipt).where(
                    col(AlertReceipt.key) == a.receipt).values(received_at=now))
                continue
            seen.add(a.receipt)
            out.received += 1
            if a.status == "firing" and session.get(
                    AlertReceipt, f"{a.fingerprint}:resolved:{a.starts_at}"[:200]) is not None:
                # this very alert instance already resolved (HA pair, retried POST): stale
                out.late += 1
                continue
            if a.severity == "critical":
                self._critical(session, a, out)
            elif a.severity == "error":
                errors.append(a)
            else:
                out.digest += 1  # warning (or no severity): the daily digest
        for status in ("firing", "resolved"):  # one duty post per notification and state
            batch = [a for a in errors if a.status == status]
            if batch:
                self._error(session, batch, now)
                out.posted += 1
        return out

    def _critical(self, session: Session, a: Alert, out: Outcome) -> None:
        w = self.watch
        link = session.get(AlertTicket, a.key)
        ticket = session.get(WatchTicket, link.ticket_id) if link else None
        receipt = session.get(AlertReceipt, a.receipt)
        what = f"{a.centre_id or 'WIS2'} : {a.summary}"
        if a.status == "resolved":
            if ticket is None or ticket.state == TicketState.DONE.value:
                return
            # ticket timeline entries are stored and mirrored to WIS2 IMS in English; the
            # rooms read the headline in their language (watch.ticket_headline)
            text = (f"Global Monitor: {a.alertname} resolved"
                    + (f" at {a.ends_at}" if a.ends_at else "")
                    + f". Proposal: close it with `watch ticket {ticket.id} done <evidence>` "
                    "once the centre confirms.")
            ticket.last_activity_at = self._now()
            session.add(ticket)
            w._event(session, ticket, REPORTER, "note", text)
            w._tell(session, ticket, "alert resolved – close proposed")
            out.noted.append(_id(ticket))
        elif ticket is None:
            finding = what + (f" – {a.description}" if a.description else "")
            ticket = w._open_ticket(session, self.subject_for(a.centre_id), finding,
                                    CRITICAL_IMPACT, REPORTER, auto=False, services={})
            stmt = self._insert(session)(AlertTicket).values(
                key=a.key, ticket_id=_id(ticket), alertname=a.alertname,
                centre_id=a.centre_id, summary=a.summary,
            ).on_conflict_do_nothing(index_elements=["key"]).returning(
                AlertTicket.key)
            if session.execute(stmt).first() is None:
                raise _Raced(a.key)
            out.opened.append(_id(ticket))
        elif ticket.state == TicketState.DONE.value:
            now = self._now()
            ticket.state = TicketState.TRIAGE.value
            ticket.closed_at = None
            ticket.partial = False
            ticket.last_activity_at = now
            session.add(ticket)
            w._event(session, ticket, REPORTER, "reopened",
                     f"Global Monitor: {a.alertname} fires again (since {a.starts_at})")
            w._tell(session, ticket, "reopened: the alert fires again")
            out.reopened.append(_id(ticket))
        else:
            ticket.last_activity_at = self._now()
            session.add(ticket)
            w._event(session, ticket, REPORTER, "note",
                     f"Global Monitor: {a.alertname} fires again (since {a.starts_at})")
            w._tell(session, ticket, "the alert fires again")
            out.noted.append(_id(ticket))
        if receipt is not None and ticket is not None:
            receipt.ticket_id = ticket.id
            session.add(receipt)

    def _error(self, session: Session, batch: list[Alert], now: datetime) -> None:
        a = batch[0]
        firing = a.status == "firing"

        def render() -> Reply:
            if len(batch) == 1:
                b = ReplyBuilder(_t("Global Monitor error alert firing") if firing else
                                 _t("Global Monitor error alert resolved"),
                                 kind="alert" if firing else "watch")
                # label values come from the monitor's rules: quoted text, never markup
                b.line(bold(_t("Alert: ")), user(a.alertname))
                b.line(bold(_t("Centre: ")), user(a.centre_id or _t("WIS 2.0 global services")))
                b.line(bold(_t("Summary: ")), user(a.summary))
                if a.description:
                    b.line(user(a.description))
            else:  # Alertmanager grouped them: one post listing the centres
                title = i18n.ngettext("Global Monitor error alert firing ({n})",
                                      "Global Monitor error alerts firing ({n})", len(batch)) \
                    if firing else \
                    i18n.ngettext("Global Monitor error alert resolved ({n})",
                                  "Global Monitor error alerts resolved ({n})", len(batch))
                b = ReplyBuilder(title, kind="alert" if firing else "watch")
                kinds: dict[tuple[str, str], list[str]] = {}
                for x in batch:
                    kinds.setdefault((x.alertname, x.summary), []).append(
                        x.centre_id or _t("WIS 2.0 global services"))
                for i, ((name, summary), centres) in enumerate(sorted(kinds.items())):
                    if i == MAX_KINDS:
                        b.line(Span(text=i18n.ngettext("… and {n} more alert",
                                                       "… and {n} more alerts",
                                                       len(kinds) - MAX_KINDS)))
                        break
                    b.line(bold(_t("Alert: ")), user(name), Span(text=" – "), user(summary))
                    more = len(centres) - MAX_CENTRES
                    b.line(bold(i18n.ngettext("Centre ({n}): ", "Centres ({n}): ",
                                              len(centres))),
                           user(", ".join(sorted(centres)[:MAX_CENTRES])),
                           Span(text=i18n.ngettext(" … and {n} more", " … and {n} more", more)
                                if more > 0 else ""))
            b.line(Span(text=_t("Since {at}", at=a.starts_at) if firing else
                        _t("Ended {at}", at=a.ends_at or _t("now"))))
            return b.build()

        notify(session, kind="watch-alert", now=now, incident_id=None,
               deliveries=each_in_its_language(self.watch._duty_rooms(session, now), render))

    # ----- the daily digest of warnings --------------------------------------------------
    async def digest(self) -> int:
        """Post the warnings received since the last digest to the duty rooms, once per UTC
        day (a restart or a second process does not post twice). Returns how many."""
        now = self._now()

        def work(session: Session) -> int:
            mark = f"alerts-digest:{utc_day(now).isoformat()}"
            if session.get(WatchMark, mark) is not None:
                return 0
            session.add(WatchMark(key=mark, at=now))
            # receipts only matter while Alertmanager may resend them
            session.execute(delete(AlertReceipt).where(
                col(AlertReceipt.received_at) < now - KEEP_RECEIPTS,
                col(AlertReceipt.digested).is_(True) | (AlertReceipt.severity != "warning")))
            rows = session.exec(select(AlertReceipt).where(
                col(AlertReceipt.digested).is_(False),
                col(AlertReceipt.severity).not_in(["critical", "error"]))
                .order_by(col(AlertReceipt.received_at))).all()
            if not rows:
                return 0
            firing: dict[tuple[str, str], int] = {}
            resolved: dict[tuple[str, str], int] = {}
            summaries: dict[tuple[str, str], str] = {}
            for r in rows:
                k = (r.alertname, r.centre_id)
                (firing if r.status == "firing" else resolved)[k] = \
                    (firing if r.status == "firing" else resolved).get(k, 0) + 1
                summaries.setdefault(k, r.summary)
                r.digested = True
                session.add(r)
            since = min(r.received_at for r in rows)

            def render() -> Reply:
                b = ReplyBuilder(_t("Global Monitor warnings since {since:%Y-%m-%d %H:%M} UTC "
                                    "({count} firing)", since=since, count=len(firing)),
                                 kind="watch")
                for k in sorted(set(firing) | set(resolved)):
                    state = _t("resolved") if k in resolved and k not in firing else (
                        _t("fired and resolved") if k in resolved else _t("firing"))
                    b.line(Span(text="  • "), user(f"{k[1] or 'WIS2'} · {k[0]}"),
                           Span(text=f" · {state} · "), user(summaries[k]))
                return b.build()

            notify(session, kind="watch-alert-digest", now=now, incident_id=None,
                   deliveries=each_in_its_language(self.watch._duty_rooms(session, now),
                                                    render))
            return len(rows)

        return await self.store.tx(work)


def _id(ticket: WatchTicket) -> int:
    assert ticket.id is not None
    return ticket.id


