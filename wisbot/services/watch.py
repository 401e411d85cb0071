"""GISC Watch: probe runs and history, the daily post, the dead-man's switch, watch tickets,
the roster, handover, escalation, reports and WIS Monitor JSON.

Rules live in :mod:`wisbot.domain.watch`; probes in :mod:`wisbot.probes`. Every change and
the notifications it causes are written in one transaction (``notify``); e-mail and files
are written after the commit.

Who is told: watch posts go to the ``duty`` room when the directory has one, else to the
room of each GISC on watch (the roster's duty GISC, and the outgoing GISC until the
handover is accepted). A ticket is told to its GISC's own room and the duty rooms, never
to other GISCs' rooms.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import io
import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Directory, Room
from wisbot.domain import watch as rules
from wisbot.domain.aor import responsible_giscs
from wisbot.domain.watch import (
    IMPACTS,
    STATE_WORDS,
    HandoverStep,
    Impact,
    Period,
    ProbeVerdict,
    RosterImport,
    TicketState,
    fmt_day,
    utc_day,
)
from wisbot.domain.wmem import is_centre_id
from wisbot.errors import InvalidState, NotAllowed, NotFound, UsageError
from wisbot.i18n import N_
from wisbot.i18n import _ as _t
from wisbot.i18n_stored import REASONS
from wisbot.probes import reasons
from wisbot.probes.anomalies import Anomaly, broker_collapse, day_on_day, record_count_outliers
from wisbot.probes.base import ProbeLimits, ProbeResult, ProbeStatus, ProbeTarget, Service, sweep
from wisbot.probes.wismon import GiscProperties, build_centres, build_events, build_monitor, dumps
from wisbot.reply import Attachment, Reply, ReplyBuilder, Span, bold, code, user
from wisbot.services.chart import Point, chart_png
from wisbot.services.context import Caller
from wisbot.services.languages import each_in_its_language, person_language, room_language
from wisbot.services.mail import Mailer
from wisbot.services.notify import ResponseHook, ResponseRequest, no_paging, notify
from wisbot.services.ticket_words import Words, finding_words, theirs
from wisbot.settings import Settings
from wisbot.store.engine import Store
from wisbot.store.watch_tables import (
    Handover,
    ProbeRecord,
    ProbeRun,
    RosterEntry,
    WatchMark,
    WatchTicket,
    WatchTicketEvent,
)

log = logging.getLogger(__name__)

GLOBAL = "WIS2"
"""The subject of tickets about the WIS 2.0 global services."""
BOT = "wisbot"
BOT_REPORTER = "wisbot (GISC Watch probes)"
WIS1 = (Service.OAIPMH, Service.SRU, Service.PORTAL, Service.WISMON)
SERVICE_WORDS = {
    "oaipmh": N_("OAI-PMH provider"), "sru": N_("SRU search"), "portal": N_("HTTP portal"),
    "wismon": N_("WIS Monitor JSON"), "gdc": N_("Global Discovery Catalogue"),
    "broker": N_("Global Broker"), "cache": N_("Global Cache"), "monitor": N_("Global Monitor"),
}
for _words in SERVICE_WORDS.values():
    REASONS.add(_words)  # a stored finding names the service in English
Sweep = Callable[..., Any]
Settle = Callable[[Session, str, str], object]
"""Stops the pages about a ref once it is answered (``PagingService.settle``)."""
TicketHook = Callable[[Session, WatchTicket, str, str, str], None]
"""(session, ticket, event kind, actor, text): a ticket changed, in the same transaction."""
Section = tuple[str, tuple[str, ...]]
Headline = str | Callable[[], str]
"""A ticket message's headline: English words :func:`ticket_headline` knows, or a
function that says it in the current language (called once per reader language)."""
"""A titled block of lines another service adds to the daily post and reports."""


def _now_utc(clock: Clock) -> datetime:
    return clock().astimezone(UTC)


def subject_label(subject: str) -> str:
    """A ticket's subject in the current language (GISC names and centre-ids stay)."""
    if subject == GLOBAL:
        return _t("WIS 2.0 Global Services")
    # tickets from WIS2 monitoring events are about a centre-id (lower case, hyphens)
    return _t("WIS2 centre {centre}", centre=subject) if is_centre_id(subject) \
        else f"GISC {subject}"


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    results: tuple[ProbeResult, ...]
    anomalies: tuple[Anomaly, ...] = ()
    opened: tuple[int, ...] = ()
    updated: tuple[int, ...] = ()
    reply: Reply | None = None


@dataclass(frozen=True)
class ReportRow:
    id: int
    day: date
    subject: str
    """The ticket's subject (a GISC, ``WIS2`` or a centre-id): :attr:`gisc` says it in
    the current language."""
    result: str
    status: str
    reporter: str

    @property
    def gisc(self) -> str:
        return subject_label(self.subject)

    @property
    def reporter_words(self) -> str:
        return _t("wisbot (GISC Watch probes)") if self.reporter == BOT_REPORTER \
            else self.reporter


@dataclass(frozen=True)
class FigureAt:
    """One probe of a global service as the report shows it (status, figure, when)."""

    status: str
    figure: float | None
    at: datetime

    @property
    def words(self) -> str:
        when = self.at.strftime("%d/%m %H:%M")
        if self.status == "fail":
            return _t("unreachable ({when})", when=when)
        fig = i18n.number(round(self.figure)) if self.figure is not None else _t("reachable")
        return f"{fig} ({self.status}, {when})"


@dataclass(frozen=True)
class GlobalFigure:
    kind: str
    centre: str
    first: FigureAt
    last: FigureAt

    @property
    def service(self) -> str:
        """The service in the current language, then its id (``Global Broker gb-one``)."""
        words = SERVICE_WORDS.get(self.kind)
        return f"{words if words is not None else self.kind} {self.centre}"

    @property
    def start(self) -> str:
        return self.first.words

    @property
    def end(self) -> str:
        return self.last.words


@dataclass(frozen=True)
class WatchReport:
    start: date
    end: date
    duty: tuple[str, ...]
    rows: tuple[ReportRow, ...]
    figures: tuple[GlobalFigure, ...]
    activity: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    """Tickets of the period by WIS2 IMS status (TRIAGE ... DONE), as they stand now."""
    in_triage: tuple[int, ...] = ()

    @property
    def triage_check(self) -> str:
        """The Guide's "TRIAGE should be zero" check, in words."""
        if not self.in_triage:
            return _t("TRIAGE zero: met (no ticket waits in TRIAGE)")
        return _t("TRIAGE zero: NOT met – {count} in TRIAGE ({tickets}): assign them and move "
                  "them to TO DO", count=len(self.in_triage),
                  tickets=", ".join(f"#{n}" for n in self.in_triage[:20]))
    sections: tuple[Section, ...] = ()

    @property
    def footer(self) -> str:
        duty = ", ".join(f"GISC {g}" for g in self.duty) or _t("none on the roster")
        return _t("Duty GISC: {duty}; watch period from {start} to {end}", duty=duty,
                  start=fmt_day(self.start), end=fmt_day(self.end))

    def markdown(self) -> str:
        """The report in the current language (the handover e-mail); the copy kept with
        a handover is rendered in English."""
        # (the words are translated outside the f-strings: the extractor reads no f-string)
        title, header = _t("GISC Watch report"), _t("ID | date | GISC | result | status | reporter")
        out = [f"# {title} {fmt_day(self.start)} – {fmt_day(self.end)}", "", f"| {header} |",
               "|---|---|---|---|---|---|"]
        for r in self.rows:
            cells = [str(r.id), fmt_day(r.day), r.gisc, r.result, _report_status(r.status),
                     r.reporter_words]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        if not self.rows:
            out.append("| – | – | – | " + _t("no tickets in the period") + " | – | – |")
        out += ["", self.footer, "", "## " + _t("Global Services (start → end of period)"), ""]
        if self.figures:
            out += ["| " + _t("service | start | end") + " |", "|---|---|---|"]
            out += [f"| {f.service} | {f.start} | {f.end} |" for f in self.figures]
        else:
            out.append(_t("No WIS 2.0 global service was probed in the period."))
        out += ["", "## " + _t("Ticket activity"), ""]
        out += [f"- {_activity_words(k)}: {v}" for k, v in self.activity.items()]
        out += ["", "## " + _t("Tickets by status"), ""]
        out += [f"- {k}: {v}" for k, v in self.by_status.items()]  # WIS2 IMS states: kept
        out += ["", self.triage_check]
        for title, lines in self.sections:
            out += ["", f"## {title}", "", *(f"- {line}" for line in lines or (_t("none"),))]
        return "\n".join(out) + "\n"

    def csv(self) -> str:
        """CSV for other tools: its keys and words stay English in every language."""
        with i18n.use("en"):
            return self._csv()

    def _csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["ID", "date", "GISC", "result", "status", "reporter"])
        for r in self.rows:
            w.writerow([r.id, fmt_day(r.day), r.gisc, r.result, r.status, r.reporter])
        w.writerow([])
        w.writerow(["duty GISC", "; ".join(f"GISC {g}" for g in self.duty)])
        w.writerow(["watch period", fmt_day(self.start), fmt_day(self.end)])
        for f in self.figures:
            w.writerow(["global service", f.service, f.start, f.end])
        for k, v in self.activity.items():
            w.writerow(["ticket activity", k, v])
        for k, v in self.by_status.items():
            w.writerow(["tickets by status", k, v])
        w.writerow(["triage zero", "met" if not self.in_triage else "not met",
                    len(self.in_triage)])
        for title, lines in self.sections:
            for line in lines:
                w.writerow([title, line])
        return buf.getvalue()


class WatchService:
    def __init__(self, store: Store, directory: Directory, settings: Settings, clock: Clock,
                 *, on_response: ResponseHook = no_paging, mailer: Mailer | None = None,
                 sweeper: Sweep = sweep, settle: Settle | None = None) -> None:
        self.store = store
        self.directory = directory
        self.settings = settings
        self.clock = clock
        self.on_response = on_response
        self.mailer = mailer
        self.sweeper = sweeper
        self.settle = settle
        self.wismon_url: str | None = None
        """Set by the App when the monitor JSON server runs (its base URL)."""
        self.on_ticket_change: list[TicketHook] = []
        """Called with every ticket event in its transaction (the JIRA mirror's queue)."""
        self.quiet: Callable[[Session, datetime], set[str]] = lambda _s, _t: set()
        """Probe targets in a planned outage at a time: no tickets, no anomaly flags."""
        self.on_results: list[Callable[[Session, Sequence[ProbeResult]], None]] = []
        """Called in the transaction that stores a sweep's results."""
        self.sections: list[Callable[[Session, datetime, datetime, str], Section | None]] = []
        """Extra blocks for the daily post (``daily``) and reports (``report``) over a
        time range."""
        self.check_config()

    def check_config(self) -> None:
        """Cross-check the watch settings against the directory; clear errors at start."""
        s = self.settings
        if s.watch_escalation_contact:
            self.directory.contact(s.watch_escalation_contact)
        if s.watch_escalation_room:
            self.directory.room(s.watch_escalation_room)
        if s.wismon_centre:
            self.directory.gisc(s.wismon_centre)
        for ident, entry in self.directory.wis2.items():
            kind = entry.get("kind", "")
            if kind not in ("gdc", "broker", "cache", "monitor"):
                raise NotFound(_t("wis2.{ident}.kind must be gdc, broker, cache or monitor, "
                                  "not {kind!r}", ident=ident, kind=kind))
            if not entry.get("url"):
                raise NotFound(_t("wis2.{ident}.url is missing", ident=ident))

    # ----- targets -------------------------------------------------------------------------
    def targets(self, scope: str | None = None) -> list[ProbeTarget]:
        """All probe targets, or those of one GISC, one service kind or one WIS2 id."""
        out: list[ProbeTarget] = []
        for g in self.directory.giscs:
            for key, url in g.services.items():
                try:
                    service = Service(key)
                except ValueError:
                    continue
                if service in WIS1:
                    out.append(ProbeTarget(g.name, service, url))
        for ident, entry in self.directory.wis2.items():
            options = {k: _option(v) for k, v in entry.items() if k not in ("kind", "url")}
            out.append(ProbeTarget(ident, Service(entry["kind"]), entry["url"], options))
        if scope is None or not scope.strip():
            return out
        word = scope.strip()
        if word.lower() in {s.value for s in Service}:
            return [t for t in out if t.service.value == word.lower()]
        if word in self.directory.wis2:
            return [t for t in out if t.centre == word]
        if word.casefold() in ("wis2", "global"):
            return [t for t in out if t.service not in WIS1]
        gisc = self.directory.gisc(word)
        return [t for t in out if t.centre == gisc.name]

    async def probe_only(self, scope: str | None = None) -> tuple[ProbeResult, ...]:
        """Probe and return the results; nothing is stored, no ticket, no post."""
        return tuple(await self.sweeper(self.targets(scope),
                                        concurrency=self.settings.watch_concurrency,
                                        limits=self._limits(), now=self.clock))

    def _is_global(self, t: ProbeTarget | ProbeResult) -> bool:
        return t.service not in WIS1

    # ----- rooms ---------------------------------------------------------------------------
    def _gisc_room(self, gisc: str) -> Room | None:
        rooms = self.directory.rooms_with_role(f"gisc:{gisc}")
        return rooms[0] if rooms else None

    def _duty_rooms(self, session: Session, now: datetime) -> list[Room]:
        duty = self.directory.rooms_with_role("duty")
        if duty:
            return duty
        rooms: list[Room] = []
        for gisc in self.on_watch(session, now):
            room = self._gisc_room(gisc)
            if room is not None and room not in rooms:
                rooms.append(room)
        return rooms or self.directory.rooms_with_role("secretariat")

    def _ticket_rooms(self, session: Session, ticket: WatchTicket, now: datetime) -> list[Room]:
        rooms: list[Room] = []
        if ticket.subject != GLOBAL:
            giscs = responsible_giscs(ticket.subject) if is_centre_id(ticket.subject) \
                else (ticket.subject,)
            for gisc in giscs:
                room = self._gisc_room(gisc)
                if room is not None and room not in rooms:
                    rooms.append(room)
        for room in self._duty_rooms(session, now):
            if room not in rooms:
                rooms.append(room)
        return rooms

    # ----- roster --------------------------------------------------------------------------
    def _periods(self, session: Session) -> list[Period]:
        rows = session.exec(select(RosterEntry).order_by(col(RosterEntry.start_date))).all()
        return [Period(r.start_date, r.end_date, r.gisc) for r in rows]

    def _resolve_gisc(self, name: str) -> str:
        try:
            return self.directory.gisc(name).name
        except NotFound as exc:
            raise LookupError(str(exc)) from None

    async def import_roster(self, text: str, source: str = "import") -> RosterImport:
        """Import the official roster CSV: its periods replace those they overlap."""
        try:
            parsed = rules.parse_roster_csv(text, self._resolve_gisc)
        except rules.RosterError as exc:
            raise UsageError("the roster file cannot be imported: "
                             + "; ".join(exc.problems)) from None

        def work(session: Session) -> RosterImport:
            if parsed.periods:
                first = parsed.periods[0].start
                last = parsed.periods[-1].end
                session.execute(delete(RosterEntry).where(
                    col(RosterEntry.start_date) <= last, col(RosterEntry.end_date) >= first))
            for p in parsed.periods:
                session.add(RosterEntry(gisc=p.gisc, start_date=p.start, end_date=p.end,
                                        source=source[:64]))
            return parsed

        return await self.store.tx(work)

    async def set_roster(self, caller: Caller, start: date, end: date, gisc: str) -> Reply:
        if not caller.is_secretariat:
            raise NotAllowed(_t("only the WMO Secretariat may change the GISC Watch roster"))
        name = self.directory.gisc(gisc).name
        if end < start:
            raise UsageError(_t("the period ends ({end}) before it starts ({start})",
                                end=end, start=start))
        new = Period(start, end, name)

        def work(session: Session) -> Reply:
            periods = rules.with_override(self._periods(session), new)
            session.execute(delete(RosterEntry))
            for p in periods:
                session.add(RosterEntry(gisc=p.gisc, start_date=p.start, end_date=p.end,
                                        source=f"set by {caller.contact.id}"[:64]))
            def text() -> str:
                return _t("GISC Watch roster: GISC {gisc} is on duty from {start} to {end} "
                          "(00:00–23:59 UTC), set by {name}.", gisc=name, start=fmt_day(start),
                          end=fmt_day(end), name=caller.contact.name)

            rooms = list(self.directory.rooms_with_role("secretariat"))
            room = self._gisc_room(name)
            if room is not None:
                rooms.append(room)
            notify(session, kind="watch-roster", now=_now_utc(self.clock), incident_id=None,
                   deliveries=each_in_its_language(rooms, lambda: ReplyBuilder(
                       _t("GISC Watch roster changed")).line(text()).build()))
            return ReplyBuilder(_t("Roster set")).line(text()).build(private=True)

        return await self.store.tx(work)

    async def periods(self) -> list[Period]:
        return await self.store.tx(self._periods)

    async def roster(self, year: int | None) -> Reply:
        now = _now_utc(self.clock)
        year = year or now.year
        periods = await self.periods()
        shown = [p for p in periods if p.start.year == year or p.end.year == year]
        b = ReplyBuilder(_t("GISC Watch roster {year}", year=year))
        current = rules.period_at(periods, now)
        if not shown:
            b.line(_t("No roster periods in {year}. Import the official file with `wisbot "
                      "roster import <file.csv>`.", year=year))
        for p in shown:
            mark = _t("  ◀ now") if p == current else ""
            b.line(code(f"{fmt_day(p.start)} – {fmt_day(p.end)}"),
                   Span(text=_t("  GISC {gisc}{mark}", gisc=p.gisc, mark=mark)))
        for a, z in rules.gaps(shown):
            b.line(bold(_t("Gap: ")), Span(text=_t("no duty GISC from {fmt_day} to {fmt_day_b}",
                                                   fmt_day=fmt_day(a), fmt_day_b=fmt_day(z))))
        return b.build(private=True)

    def on_watch(self, session: Session, now: datetime) -> list[str]:
        """The roster's duty GISC, then the outgoing GISC while its handover to it is not
        accepted (the 2025 practice: the outgoing GISC keeps the watch until then)."""
        periods = self._periods(session)
        current = rules.period_at(periods, now)
        if current is None:
            return []
        out = [current.gisc]
        earlier = [p for p in periods if p.end < current.start]
        if earlier:
            prev = max(earlier)
            if prev.end + timedelta(days=1) == current.start and prev.gisc != current.gisc:
                accepted = session.exec(select(Handover).where(
                    Handover.incoming == current.gisc,
                    Handover.period_start == current.start,
                    col(Handover.accepted_at).is_not(None))).first()
                if accepted is None:
                    out.append(prev.gisc)
        return out

    # ----- probes and the daily run --------------------------------------------------------
    def _limits(self) -> ProbeLimits:
        total = self.settings.watch_probe_timeout_s
        return ProbeLimits(connect_timeout=min(5.0, total), read_timeout=min(10.0, total),
                           total_timeout=total)

    async def run(self, trigger: str = "manual", scope: str | None = None,
                  *, post: bool | None = None) -> RunOutcome:
        """Probe, store, update tickets; the daily run also posts, charts and publishes."""
        targets = self.targets(scope)
        daily = trigger == "daily"
        post = daily if post is None else post
        started = _now_utc(self.clock)

        def begin(session: Session) -> int:
            run = ProbeRun(day=utc_day(started), trigger=trigger, scope=scope or "",
                           started_at=started)
            session.add(run)
            session.flush()
            assert run.id is not None
            return run.id

        run_id = await self.store.tx(begin)
        results = tuple(await self.sweeper(targets, concurrency=self.settings.watch_concurrency,
                                           limits=self._limits(), now=self.clock))

        def record(session: Session) -> tuple[list[int], list[int], dict[tuple[str, str], float],
                                              set[str]]:
            for r in results:
                session.add(ProbeRecord(run_id=run_id, centre=r.centre, service=r.service.value,
                                        url=r.url, status=r.status.value, latency_ms=r.latency_ms,
                                        figure=r.figure, reason=r.reason, checked_at=r.checked_at,
                                        details=_jsonable(r.details)))
            quiet = self.quiet(session, started)
            for hook in self.on_results:
                hook(session, results)
            opened, updated = self._tickets_from_probes(
                session, [r for r in results if r.centre not in quiet])
            previous = self._previous_figures(session, run_id, started)
            return opened, updated, previous, quiet

        opened, updated, previous, quiet = await self.store.tx(record)
        anomalies = tuple(self._anomalies([r for r in results if r.centre not in quiet],
                                          previous))
        reply: Reply | None = None
        pngs: dict[str, bytes | None] = {}
        if post:
            points = await self.store.tx(lambda s: self._history(s, started - timedelta(days=30)))
            # the chart's words in each duty room's language (and the caller's)
            langs = await self.store.tx(lambda s: [room_language(r) for r in
                                                   self._duty_rooms(s, started)])
            for lang in dict.fromkeys([i18n.current(), *langs]):
                with i18n.use(lang):  # the worker thread keeps the language (a copied context)
                    pngs[lang] = await asyncio.to_thread(
                        chart_png, points, title=_t("GISC Watch, 30 days to {day}",
                                                    day=i18n.day(utc_day(started))))
            extra = await self.store.tx(
                lambda s: self._sections(s, started - timedelta(days=1), started, "daily"))
            reply = self._daily_reply(started, results, previous, anomalies, opened,
                                      pngs[i18n.current()], extra)
        finished = _now_utc(self.clock)
        retention = timedelta(days=self.settings.watch_retention_days)

        def finish(session: Session) -> None:
            run = session.get(ProbeRun, run_id)
            assert run is not None
            run.finished_at = finished
            run.results = len(results)
            run.failures = sum(1 for r in results if r.status is ProbeStatus.FAIL)
            if reply is not None:
                rooms = self._duty_rooms(session, finished)
                posts: dict[str, Reply] = {}
                for room in rooms:  # each room in its language
                    lang = room_language(room)
                    if lang not in posts:
                        png = pngs[lang] if lang in pngs else next(iter(pngs.values()))
                        with i18n.use(lang):
                            posts[lang] = self._daily_reply(
                                started, results, previous, anomalies, opened, png,
                                self._sections(session, started - timedelta(days=1),
                                               started, "daily"))
                notify(session, kind="watch-daily", now=finished, incident_id=None,
                       deliveries=[(room, posts[room_language(room)]) for room in rooms])
            if daily:
                self._purge(session, finished - retention)

        await self.store.tx(finish)
        if daily and self.settings.wismon_dir is not None:
            try:
                await self.write_wismon(self.settings.wismon_dir)
            except OSError:
                log.exception("writing WIS Monitor JSON to %s failed", self.settings.wismon_dir)
        return RunOutcome(run_id, results, anomalies, tuple(opened), tuple(updated), reply)

    async def daily(self) -> RunOutcome | None:
        """The scheduled job: one daily run per UTC day (a second call the same day is a
        no-op, so a restart or two processes never post twice)."""
        today = utc_day(_now_utc(self.clock))

        def claim(session: Session) -> bool:
            key = f"daily:{today.isoformat()}"
            if session.get(WatchMark, key) is not None:
                return False
            session.add(WatchMark(key=key, at=_now_utc(self.clock)))
            return True

        if not await self.store.tx(claim):
            return None
        return await self.run("daily")

    def _purge(self, session: Session, before: datetime) -> None:
        old = select(ProbeRun.id).where(col(ProbeRun.started_at) < before)
        session.execute(delete(ProbeRecord).where(col(ProbeRecord.run_id).in_(old)))
        session.execute(delete(ProbeRecord).where(col(ProbeRecord.checked_at) < before))
        session.execute(delete(ProbeRun).where(col(ProbeRun.started_at) < before))

    def _previous_figures(self, session: Session, run_id: int,
                          started: datetime) -> dict[tuple[str, str], float]:
        """Figures of the last daily run of an earlier UTC day (for the day-on-day change)."""
        prev = session.exec(select(ProbeRun).where(
            ProbeRun.trigger == "daily", col(ProbeRun.day) < utc_day(started),
            col(ProbeRun.id) != run_id).order_by(col(ProbeRun.day).desc(),
                                                 col(ProbeRun.id).desc())).first()
        if prev is None:
            return {}
        rows = session.exec(select(ProbeRecord).where(ProbeRecord.run_id == prev.id)).all()
        return {(r.centre, r.service): r.figure for r in rows if r.figure is not None}

    def _history(self, session: Session, since: datetime) -> list[Point]:
        rows = session.exec(select(ProbeRecord).where(
            col(ProbeRecord.checked_at) >= since).order_by(col(ProbeRecord.checked_at))).all()
        return [Point(r.checked_at.date(), r.centre, r.service, r.status == "ok", r.figure)
                for r in rows]

    def _anomalies(self, results: Sequence[ProbeResult],
                   previous: dict[tuple[str, str], float]) -> list[Anomaly]:
        s = self.settings
        out: list[Anomaly] = []
        for service in (Service.OAIPMH, Service.SRU):
            now = {r.centre: r.figure for r in results
                   if r.service is service and r.figure is not None}
            before = {c: v for (c, svc), v in previous.items() if svc == service.value}
            out += record_count_outliers(now, s.watch_outlier_ratio, service=service)
            out += day_on_day(before, now, s.watch_change_pct, service=service)
        now_b = {r.centre: r.figure for r in results
                 if r.service is Service.BROKER and r.figure is not None}
        before_b = {c: v for (c, svc), v in previous.items() if svc == Service.BROKER.value}
        out += broker_collapse(before_b, now_b, s.watch_collapse_pct)
        return out

    def _daily_reply(self, when: datetime, results: Sequence[ProbeResult],
                     previous: dict[tuple[str, str], float], anomalies: Sequence[Anomaly],
                     opened: Sequence[int], png: bytes | None,
                     extra: Sequence[Section] = ()) -> Reply:
        ok = sum(1 for r in results if r.status is ProbeStatus.OK)
        b = ReplyBuilder(_t("GISC Watch daily report – {when:%Y-%m-%d} ({ok}/{count} OK)",
                            when=when, ok=ok, count=len(results)),
                         kind="watch")
        head = (_t("GISC / service"), _t("status"), _t("latency"), _t("count"), _t("change"))
        b.line(code(f"{head[0]:<34} {head[1]:<9} {head[2]:>9} {head[3]:>10} {head[4]:>8}"))
        for r in sorted(results, key=lambda x: (self._is_global(x), x.centre, x.service.value)):
            who = r.centre if self._is_global(r) else f"GISC {r.centre}"
            latency = f"{r.latency_ms:.0f} ms" if r.latency_ms is not None else "–"
            count = i18n.number(round(r.figure)) if r.figure is not None else "–"
            before = previous.get((r.centre, r.service.value))
            if r.figure is None or before is None:
                change = "–"
            elif before == 0:
                change = _t("new") if r.figure else "0%"
            else:
                change = f"{(r.figure - before) / before * 100:+.0f}%"
            label = f"{who} / {r.service.value}"
            b.line(code(f"{label[:34]:<34} {r.status.value:<9} {latency:>9} {count:>10} "
                        f"{change:>8}"))
            if r.reason and r.status is not ProbeStatus.OK:
                b.line(Span(text="    ↳ "), user(REASONS.words(r.reason)[:300]))
        if anomalies:
            b.line(bold(_t("Anomalies ({count}):", count=len(anomalies))))
            for a in anomalies:
                kind = _ANOMALY.get(a.kind.value)
                b.line(Span(text=f"  • [{kind if kind is not None else a.kind.value}] "),
                       Span(text=REASONS.words(a.message)))  # wisbot's words, stored English
        else:
            b.line(bold(_t("Anomalies: ")), Span(text=_t("none")))
        if opened:
            b.line(bold(_t("Tickets opened: ")), Span(text=", ".join(f"#{n}" for n in opened)))
        for title, lines in extra:
            b.line(bold(f"{title}:"))
            for line in lines or (_t("none"),):
                b.line(Span(text="  • "), user(line))
        if png is not None:
            b.attach(Attachment.from_bytes("chart.png", "image/png", png))
        else:
            b.line(_t("(no chart: matplotlib is not installed – install wisbot[watch])"))
        return b.build()

    # ----- tickets from probes -------------------------------------------------------------
    def _tickets_from_probes(self, session: Session, results: Sequence[ProbeResult],
                             ) -> tuple[list[int], list[int]]:
        now = _now_utc(self.clock)
        by_subject: dict[str, dict[str, ProbeResult]] = {}
        kinds: dict[str, str] = {}
        for r in results:
            subject = GLOBAL if self._is_global(r) else r.centre
            key = f"{r.centre}:{r.service.value}" if subject == GLOBAL else r.service.value
            kinds[key] = r.service.value
            by_subject.setdefault(subject, {})[key] = r
        opened: list[int] = []
        updated: list[int] = []
        for subject, found in by_subject.items():
            failing = {k for k, r in found.items() if r.status is ProbeStatus.FAIL}
            ticket = session.exec(select(WatchTicket).where(
                WatchTicket.subject == subject, col(WatchTicket.auto).is_(True),
                WatchTicket.state != TicketState.DONE.value)
                .order_by(col(WatchTicket.id).desc())).first()
            if ticket is None:
                if failing:
                    verdict = ProbeVerdict(frozenset(failing), frozenset(found))
                    impact = rules.impact_for(subject == GLOBAL, verdict, kinds)
                    finding = self._finding(subject, found, failing)
                    t = self._open_ticket(session, subject, finding, impact, BOT, auto=True,
                                          services=dict.fromkeys(sorted(failing), True))
                    opened.append(_id(t))
                continue
            before = dict(ticket.services)
            change = rules.recovery(before, failing, found)
            if change.closed:
                ticket.state = TicketState.DONE.value
                ticket.closed_at = now
                ticket.partial = False
                ticket.services = {k: False for k in before}
                self._event(session, ticket, BOT, "closed", "every service answers again")
                self._tell(session, ticket, "closed: every service answers again")
            else:
                after = {k: k in change.still_failing for k in (set(before) | change.more)}
                if after == before:
                    continue
                ticket.services = after
                ticket.partial = change.partial
                again = sorted(k for k in before if before[k] and not after[k])
                relapse = sorted(k for k in before if not before[k] and after[k])
                with i18n.use("en"):  # the ticket's event, stored as written: English
                    text = _change_words(sorted(change.more), again, relapse, False)
                self._event(session, ticket, BOT, "partial" if change.partial else "note", text)
                self._tell(session, ticket, functools.partial(
                    _change_words, sorted(change.more), again, relapse, ticket.partial))
            ticket.last_activity_at = now
            session.add(ticket)
            updated.append(_id(ticket))
        return opened, updated

    @staticmethod
    def _svc_words(key: str) -> str:
        return _svc_words(key, english=True)  # stored: English

    def _finding(self, subject: str, found: dict[str, ProbeResult], failing: set[str]) -> str:
        # Stored in English; shown in each reader's language (ticket_words.finding_words).
        if subject != GLOBAL and failing == set(found):
            return reasons.FINDING_UNREACHABLE.en(gisc=subject)
        parts = []
        for key in sorted(failing):
            reason = found[key].reason or reasons.FAILED.en()
            parts.append(reasons.FINDING_NOT_ACTIVE.en(service=self._svc_words(key),
                                                       reason=reason[:160]))
        return "; ".join(parts)

    def _sections(self, session: Session, lo: datetime, hi: datetime,
                  kind: str) -> tuple[Section, ...]:
        out = []
        for make in self.sections:
            section = make(session, lo, hi, kind)
            if section is not None:
                out.append(section)
        return tuple(out)

    # ----- tickets -------------------------------------------------------------------------
    def note_ticket(self, session: Session, ticket: WatchTicket, actor: str, kind: str,
                    text: str, headline: str, *, impact: Impact | None = None) -> None:
        """Record a change to a ticket made outside the commands (WIS2 monitoring events)
        and tell its rooms; ``impact`` raises the ticket's impact."""
        if impact is not None and ticket.impact != impact.value:
            ticket.impact = impact.value
        ticket.last_activity_at = _now_utc(self.clock)
        session.add(ticket)
        self._event(session, ticket, actor, kind, text)
        self._tell(session, ticket, headline)

    def _event(self, session: Session, ticket: WatchTicket, actor: str, kind: str,
               text: str = "") -> None:
        session.add(WatchTicketEvent(ticket_id=_id(ticket), at=_now_utc(self.clock),
                                     actor=actor, kind=kind, text=text))
        for hook in self.on_ticket_change:
            hook(session, ticket, kind, actor, text)

    def _ticket_reply(self, ticket: WatchTicket, headline: Headline) -> Reply:
        impact = Impact(ticket.impact)
        state = TicketState(ticket.state)
        words = headline() if callable(headline) else ticket_headline(headline)
        b = ReplyBuilder(_t("Watch ticket #{id} – {headline}",
                            id=ticket.id, headline=words), kind="watch")
        b.ref = f"W-{ticket.id}"
        b.field(_t("GISC"), subject_label(ticket.subject))
        b.field(_t("Impact"), rules.target_words(impact))
        b.field(_t("Status"),
                f"{STATE_WORDS[state]} "
                f"({_report_status(rules.report_status(state, ticket.partial))})")
        if ticket.assignee:
            b.field(_t("Assigned to"), ticket.assignee)
        info = IMPACTS[impact]
        b.field(_t("Respond by"), (ticket.created_at + info.respond).strftime("%Y-%m-%d %H:%M UTC"))
        if info.resolve:
            b.field(_t("Resolve by"),
                    (ticket.created_at + info.resolve).strftime("%Y-%m-%d %H:%M UTC"))
        b.line(bold(_t("Finding: ")), user(finding_words(ticket.reporter, ticket.finding)))
        return b.build()

    def _tell(self, session: Session, ticket: WatchTicket, headline: Headline) -> None:
        now = _now_utc(self.clock)
        replies: dict[str, Reply] = {}
        deliveries = []
        for room in self._ticket_rooms(session, ticket, now):  # each room in its language
            lang = room_language(room)
            if lang not in replies:
                with i18n.use(lang):
                    replies[lang] = self._ticket_reply(ticket, headline)
            deliveries.append((room, replies[lang]))
        notify(session, kind="watch-ticket", now=now, incident_id=None, deliveries=deliveries)

    def _open_ticket(self, session: Session, subject: str, finding: str, impact: Impact,
                     reporter: str, *, auto: bool, services: dict[str, bool]) -> WatchTicket:
        now = _now_utc(self.clock)
        t = WatchTicket(subject=subject, finding=finding, impact=impact.value,
                        state=TicketState.TRIAGE.value, services=services, auto=auto,
                        reporter=reporter, created_at=now, last_activity_at=now)
        session.add(t)
        session.flush()
        self._event(session, t, reporter, "opened", finding)
        self._tell(session, t, "new ticket")
        return t

    def _may_work_tickets(self, caller: Caller) -> None:
        if caller.is_secretariat or "watch" in caller.contact.roles or caller.contact.giscs:
            return
        raise NotAllowed(_t("watch tickets are kept by GISC focal points, watch operators and "
                            "the WMO Secretariat"))

    def _get_ticket(self, session: Session, number: int) -> WatchTicket:
        t = session.get(WatchTicket, number)
        if t is None:
            raise NotFound(_t("no watch ticket #{number}; `watch` lists the open ones",
                              number=number))
        return t

    async def add_ticket(self, caller: Caller, gisc: str, finding: str,
                         impact: Impact = Impact.MEDIUM) -> Reply:
        self._may_work_tickets(caller)
        subject = GLOBAL if gisc.casefold() in ("wis2", "global") else \
            self.directory.gisc(gisc).name

        def work(session: Session) -> Reply:
            t = self._open_ticket(session, subject, finding, impact, caller.contact.id,
                                  auto=False, services={})
            return self._ticket_reply(t, "opened").model_copy(update={"private": True})

        return await self.store.tx(work)

    async def move_ticket(self, caller: Caller, number: int, to: TicketState,
                          note: str = "") -> Reply:
        self._may_work_tickets(caller)

        def work(session: Session) -> Reply:
            t = self._get_ticket(session, number)
            now = _now_utc(self.clock)
            try:
                rules.move(TicketState(t.state), to)
            except rules.WorkflowError as exc:
                raise InvalidState(_t("ticket #{number}: {exc}", number=number, exc=exc)) from None
            reopened = t.state == TicketState.DONE.value
            t.state = to.value
            t.last_activity_at = now
            if t.responded_at is None and to is not TicketState.TRIAGE:
                t.responded_at = now
            t.closed_at = now if to is TicketState.DONE else None
            if reopened:
                t.partial = False
            words = f"moved to {STATE_WORDS[to]}"
            self._event(session, t, caller.contact.id,
                        "closed" if to is TicketState.DONE else
                        "reopened" if reopened else "moved", note or words)
            session.add(t)
            state, name = STATE_WORDS[to], caller.contact.name
            # Built here, not parsed back from English: a note cannot pass for wisbot's words.
            self._tell(session, t, Words(
                (lambda: _t("moved to {state} by {who}: {note}", state=state,
                            who=theirs(name), note=theirs(note))) if note else
                (lambda: _t("moved to {state} by {who}", state=state, who=theirs(name)))))
            return self._ticket_reply(t, words).model_copy(update={"private": True})

        return await self.store.tx(work)

    async def assign_ticket(self, caller: Caller, number: int, who: str) -> Reply:
        self._may_work_tickets(caller)
        try:
            assignee = f"GISC {self.directory.gisc(who).name}"
        except NotFound:
            try:
                assignee = self.directory.contact(who).name
            except NotFound:
                raise NotFound(_t("{who!r} is neither a GISC nor a directory contact",
                                  who=who)) from None

        def work(session: Session) -> Reply:
            t = self._get_ticket(session, number)
            now = _now_utc(self.clock)
            t.assignee = assignee
            t.last_activity_at = now
            if t.state == TicketState.TRIAGE.value:
                t.state = TicketState.TODO.value
            if t.responded_at is None:
                t.responded_at = now
            self._event(session, t, caller.contact.id, "assigned", assignee)
            session.add(t)
            self._tell(session, t, Words(lambda: _t("assigned to {who}", who=theirs(assignee))))
            return self._ticket_reply(t, f"assigned to {assignee}").model_copy(
                update={"private": True})

        return await self.store.tx(work)

    async def show_ticket(self, number: int) -> Reply:
        def work(session: Session) -> Reply:
            t = self._get_ticket(session, number)
            events = session.exec(select(WatchTicketEvent).where(
                WatchTicketEvent.ticket_id == number).order_by(col(WatchTicketEvent.id))).all()
            base = self._ticket_reply(t, "details")
            lines = list(base.lines)
            for e in events:  # the event's text is stored as written
                kind = _EVENTS.get(e.kind)
                lines.append((Span(text=f"{e.at:%Y-%m-%d %H:%M} · {e.actor} · "
                                        f"{kind if kind is not None else e.kind}: "),
                              user(e.text)))
            return base.model_copy(update={"lines": tuple(lines), "private": True})

        return await self.store.tx(work)

    async def remind_stalled(self) -> list[int]:
        """Remind the GISC concerned of every ticket quiet for more than the set days."""
        after = timedelta(days=self.settings.watch_stalled_days)

        def work(session: Session) -> list[int]:
            now = _now_utc(self.clock)
            reminded: list[int] = []
            for t in session.exec(select(WatchTicket).where(
                    WatchTicket.state != TicketState.DONE.value)).all():
                if not rules.stalled(t.last_activity_at, now, t.last_reminder_at, after):
                    continue
                quiet = (now - t.last_activity_at).days
                t.last_reminder_at = now
                session.add(t)
                self._event(session, t, BOT, "reminder", f"no activity for {quiet} days")
                self._tell(session, t, Words(functools.partial(_stalled_words, quiet)))
                reminded.append(_id(t))
            return reminded

        return await self.store.tx(work)

    # ----- dead-man's switch ---------------------------------------------------------------
    def _daily_at(self, day: date) -> datetime:
        hh, mm = (int(x) for x in self.settings.watch_daily_time.split(":"))
        return datetime.combine(day, time(hh, mm), tzinfo=UTC)

    async def mark_installed(self) -> None:
        def work(session: Session) -> None:
            if session.get(WatchMark, "installed") is None:
                session.add(WatchMark(key="installed", at=_now_utc(self.clock)))

        await self.store.tx(work)

    async def deadman_check(self) -> list[str]:
        """If the last day's run (due ``watch_deadman_minutes`` after the daily time) did not
        happen or did not finish, tell the Secretariat and duty rooms, once per day."""
        now = _now_utc(self.clock)
        grace = timedelta(minutes=self.settings.watch_deadman_minutes)
        day = utc_day(now)
        if now < self._daily_at(day) + grace:
            day -= timedelta(days=1)

        def work(session: Session) -> list[str]:
            installed = session.get(WatchMark, "installed")
            if installed is not None and self._daily_at(day) < installed.at:
                return []
            key = f"deadman:{day.isoformat()}"
            if session.get(WatchMark, key) is not None:
                return []
            runs = session.exec(select(ProbeRun).where(ProbeRun.trigger == "daily",
                                                       ProbeRun.day == day)).all()
            if any(r.finished_at is not None for r in runs):
                return []
            first = runs[0] if runs else None

            def alert() -> Reply:
                if first is not None:
                    what = _t("the daily GISC Watch run of {day} started at {at} UTC and did "
                              "not finish", day=day, at=first.started_at.strftime("%H:%M"))
                else:
                    what = _t("the daily GISC Watch run of {day} (due {at} UTC) did not "
                              "happen", day=day, at=self.settings.watch_daily_time)
                b = ReplyBuilder(_t("GISC Watch dead-man's switch"), kind="alert")
                b.line(_t("Alert: {what}. Check that wisbot and its scheduler are running, "
                          "then run `watch probe` by hand.", what=what))
                return b.build()

            rooms = list(self.directory.rooms_with_role("secretariat"))
            for room in self._duty_rooms(session, now):
                if room not in rooms:
                    rooms.append(room)
            notify(session, kind="watch-deadman", now=now, incident_id=None,
                   deliveries=each_in_its_language(rooms, alert))
            session.add(WatchMark(key=key, at=now))
            return [r.key for r in rooms]

        return await self.store.tx(work)

    # ----- summary -------------------------------------------------------------------------
    async def summary(self) -> Reply:
        now = _now_utc(self.clock)

        def work(session: Session) -> Reply:
            periods = self._periods(session)
            current = rules.period_at(periods, now)
            watching = self.on_watch(session, now)
            b = ReplyBuilder(_t("GISC Watch"), kind="watch")
            if current is None:
                nxt = rules.next_period(periods, utc_day(now))
                b.field(_t("Duty GISC"), _t("none: the roster has no period for {day}",
                                            day=utc_day(now))
                        + (_t(" (next: GISC {gisc} from {day})", gisc=nxt.gisc,
                              day=fmt_day(nxt.start)) if nxt else ""))
            else:
                b.field(_t("Duty GISC"), f"GISC {current.gisc}")
                b.field(_t("Watch period"), f"{fmt_day(current.start)} – {fmt_day(current.end)}"
                        " (00:00–23:59 UTC)")
                if len(watching) > 1:
                    b.field(_t("Also on watch"), _t("GISC {gisc} until GISC {duty} accepts the "
                                                    "handover", gisc=watching[1],
                                                    duty=current.gisc))
            run = session.exec(select(ProbeRun).where(col(ProbeRun.finished_at).is_not(None))
                               .order_by(col(ProbeRun.id).desc())).first()
            if run is None:
                b.line(_t("No probe run yet: `watch probe`."))
            else:
                rows = session.exec(select(ProbeRecord).where(
                    ProbeRecord.run_id == run.id)).all()
                counts = {s.value: sum(1 for r in rows if r.status == s.value)
                          for s in ProbeStatus}
                b.line(bold(_t("Last probe run: ")), Span(
                    text=_t("{finished_at:%Y-%m-%d %H:%M} UTC ({trigger}): {ok} ok, {degraded} "
                            "degraded, {fail} failing",
                            finished_at=run.finished_at, trigger=run.trigger, ok=counts['ok'],
                            degraded=counts['degraded'], fail=counts['fail'])))
                for r in rows:
                    if r.status != "ok":
                        b.line(Span(text=f"  • {r.centre} / {r.service}: {r.status} – "),
                               user(REASONS.words(r.reason or "")[:200]))
            tickets = session.exec(select(WatchTicket).where(
                WatchTicket.state != TicketState.DONE.value)
                .order_by(col(WatchTicket.id))).all()
            b.line(bold(_t("Open tickets: {count}", count=len(tickets))))
            for t in tickets[:20]:
                st = TicketState(t.state)
                b.line(Span(text=f"  #{t.id} {subject_label(t.subject)} · "
                                 f"{IMPACTS[Impact(t.impact)].words} · {STATE_WORDS[st]} · "),
                       user(t.finding[:160]))
            return b.build(private=True)

        return await self.store.tx(work)

    # ----- reports -------------------------------------------------------------------------
    async def report(self, start: date | None = None, end: date | None = None) -> WatchReport:
        now = _now_utc(self.clock)
        return await self.store.tx(lambda session: self._report(session, now, start, end))

    def _report(self, session: Session, now: datetime, start: date | None = None,
                end: date | None = None) -> WatchReport:
        periods = self._periods(session)
        s, e = start, end
        if s is None:
            current = rules.period_at(periods, now)
            s = current.start if current else utc_day(now) - timedelta(days=14)
        if e is None:
            current = rules.period_at(periods, datetime.combine(s, time(), tzinfo=UTC))
            e = min(current.end, utc_day(now)) if current else utc_day(now)
        if e < s:
            raise UsageError(_t("the report ends ({e}) before it starts ({s})", e=e, s=s))
        lo = datetime.combine(s, time(), tzinfo=UTC)
        hi = datetime.combine(e + timedelta(days=1), time(), tzinfo=UTC)
        duty = tuple(dict.fromkeys(p.gisc for p in periods if p.start <= e and p.end >= s))
        tickets = session.exec(select(WatchTicket).where(
            col(WatchTicket.created_at) < hi).order_by(col(WatchTicket.id))).all()
        rows = []
        for t in tickets:
            if t.closed_at is not None and t.closed_at < lo:
                continue
            reporter = BOT_REPORTER if t.reporter == BOT else self._contact_name(t.reporter)
            rows.append(ReportRow(_id(t), t.created_at.date(), t.subject, t.finding,
                                  rules.report_status(TicketState(t.state), t.partial),
                                  reporter))
        figures = self._global_figures(session, lo, hi)
        sections = self._sections(session, lo, hi, "report")
        events = session.exec(select(WatchTicketEvent).where(
            col(WatchTicketEvent.at) >= lo, col(WatchTicketEvent.at) < hi)).all()
        activity = {
            "opened": sum(1 for ev in events if ev.kind == "opened"),
            "assigned": sum(1 for ev in events if ev.kind == "assigned"),
            "closed": sum(1 for ev in events if ev.kind == "closed"),
            "reminders sent": sum(1 for ev in events if ev.kind == "reminder"),
            "still open": sum(1 for r in rows if r.status != "closed"),
        }
        kept = [t for t in tickets if t.closed_at is None or t.closed_at >= lo]
        by_status = {STATE_WORDS[st].upper(): sum(1 for t in kept if t.state == st.value)
                     for st in TicketState}
        in_triage = tuple(_id(t) for t in kept if t.state == TicketState.TRIAGE.value)
        return WatchReport(s, e, duty, tuple(rows), figures, activity, by_status,
                           in_triage, sections)

    def _contact_name(self, contact_id: str) -> str:
        try:
            return self.directory.contact(contact_id).name
        except NotFound:
            return contact_id

    def _global_figures(self, session: Session, lo: datetime,
                        hi: datetime) -> tuple[GlobalFigure, ...]:
        rows = session.exec(select(ProbeRecord).where(
            col(ProbeRecord.checked_at) >= lo, col(ProbeRecord.checked_at) < hi,
            col(ProbeRecord.service).in_([s.value for s in Service if s not in WIS1]))
            .order_by(col(ProbeRecord.checked_at), col(ProbeRecord.id))).all()
        first: dict[tuple[str, str], ProbeRecord] = {}
        last: dict[tuple[str, str], ProbeRecord] = {}
        for r in rows:
            first.setdefault((r.centre, r.service), r)
            last[(r.centre, r.service)] = r
        out = []
        for key in sorted(first):
            out.append(GlobalFigure(key[1], key[0], _figure_at(first[key]),
                                    _figure_at(last[key])))
        return tuple(out)

    def report_reply(self, rep: WatchReport, title: str | None = None) -> Reply:
        title = title or _t("GISC Watch report")
        b = ReplyBuilder(f"{title} {fmt_day(rep.start)} – {fmt_day(rep.end)}", kind="watch")
        b.line(Span(text=_t("ID | date | GISC | result | status | reporter")))
        for r in rep.rows:
            b.line(Span(text=f"{r.id} | {fmt_day(r.day)} | {r.gisc} | "), user(r.result),
                   Span(text=f" | {_report_status(r.status)} | {r.reporter_words}"))
        if not rep.rows:
            b.line(_t("(no tickets in the period)"))
        b.line(bold(rep.footer))
        b.line(bold(_t("Global Services (start → end): ")))
        for f in rep.figures:
            b.line(Span(text=f"  {f.service}: {f.start} → {f.end}"))
        if not rep.figures:
            b.line(_t("  none probed in the period"))
        b.line(bold(_t("Ticket activity: ")), Span(text=", ".join(
            f"{_activity_words(k)} {v}" for k, v in rep.activity.items())))
        b.line(bold(_t("Tickets by status: ")), Span(text=", ".join(
            f"{k} {v}" for k, v in rep.by_status.items())))
        b.line(bold(rep.triage_check))
        for title, lines in rep.sections:
            b.line(bold(f"{title}:"))
            for line in lines or (_t("none"),):
                b.line(Span(text="  "), user(line))
        return b.build()

    # ----- handover ------------------------------------------------------------------------
    async def handover(self, caller: Caller, note: str = "") -> tuple[Reply, str | None]:
        """The outgoing duty GISC hands over: report to the next GISC's room and the
        collaboration room, a page (or reminder) to the next GISC, e-mail when configured.
        Returns the reply and, if e-mail failed, why.

        Each room reads the report in its language, each paged person theirs (the page is
        rendered again for them: :meth:`page_card`), each e-mail recipient theirs; the copy
        kept with the handover is English."""
        now = _now_utc(self.clock)
        periods = await self.periods()
        current = rules.period_at(periods, now)
        if current is None:
            raise InvalidState(_t("no duty GISC on the roster today: nothing to hand over"))
        earlier = [p for p in periods if p.end < current.start]
        prev = max(earlier) if earlier else None
        mine = {g.casefold() for g in caller.contact.giscs}
        if current.gisc.casefold() in mine or (caller.is_secretariat and
                                               not (prev and prev.gisc.casefold() in mine)):
            outgoing, nxt = current, rules.next_period(periods, current.end)
        elif prev is not None and prev.gisc.casefold() in mine:
            outgoing, nxt = prev, current  # late: the incoming period has begun
        else:
            raise NotAllowed(_t("only the duty GISC (GISC {gisc}) hands over the watch",
                                gisc=current.gisc))
        if nxt is None:
            raise InvalidState(_t("the roster has no next period: ask the Secretariat to set "
                                  "one (`watch roster set <from> <to> <GISC>`)"))
        start, end = outgoing.start, min(outgoing.end, utc_day(now))
        await self.report(start, end)  # a wrong period is refused before anything is sent

        def work(session: Session) -> int:
            with i18n.use("en"):  # the record kept with the handover: English
                text = self._report(session, now, start, end).markdown()
            h = Handover(outgoing=outgoing.gisc, incoming=nxt.gisc, period_start=nxt.start,
                         sent_at=now, sent_by=caller.contact.id, note=note, report=text)
            session.add(h)
            session.flush()
            rooms = [r for r in (self._gisc_room(nxt.gisc),) if r is not None]
            rooms += self.directory.rooms_with_role("collaboration")
            notify(session, kind="watch-handover", now=now, incident_id=None,
                   deliveries=each_in_its_language(rooms, lambda: self._handover_reply(
                       h, self._report(session, now, start, end))))
            self.on_response(session, ResponseRequest(
                kind="handover", ref=f"HO-{h.id}", at=now,
                targets=((f"gisc:{nxt.gisc}", self._handover_page(
                    h, self._report(session, now, start, end), rooms)),)))
            return _id(h)

        hid = await self.store.tx(work)
        mail_problem = await self._mail_handover(hid, outgoing, nxt, start, end, note)
        b = ReplyBuilder(_t("Handover HO-{hid} sent to GISC {gisc}", hid=hid, gisc=nxt.gisc))
        b.line(_t("The report went to GISC {gisc}'s room and the collaboration room. GISC "
                  "{gisc_b} stays on watch until GISC {gisc} types `watch accept`.",
                  gisc=nxt.gisc, gisc_b=outgoing.gisc))
        b.line(mail_problem or _t("E-mailed to the next GISC, copied to the GISC operations "
                                  "list and the WMO Secretariat."))
        return b.build(private=True), mail_problem

    def _handover_reply(self, h: Handover, rep: WatchReport) -> Reply:
        base = self.report_reply(rep, _t("GISC Watch handover HO-{id}: GISC {outgoing} → "
                                         "GISC {incoming}, report", id=h.id,
                                         outgoing=h.outgoing, incoming=h.incoming))
        lines = list(base.lines)
        if h.note:
            lines.insert(0, (bold(_t("Note: ")), user(h.note)))
        lines.append((bold(_t("GISC {incoming}: ", incoming=h.incoming)),
                      Span(text=_t("your watch starts {fmt_day} 00:00 UTC. Please confirm with "
                                   "`watch accept` and review the open tickets.",
                                   fmt_day=fmt_day(h.period_start)))))
        return base.model_copy(update={"lines": tuple(lines), "ref": f"HO-{h.id}",
                                       "actions": ()})

    def _handover_page(self, h: Handover, rep: WatchReport, rooms: Sequence[Room]) -> Reply:
        """The page of a handover: counts and where the report is, not its ticket table
        (a page is read on a phone; the table is in the rooms and `watch report`)."""
        b = ReplyBuilder(_t("GISC Watch handover HO-{id}: GISC {outgoing} → GISC {incoming}",
                            id=h.id, outgoing=h.outgoing, incoming=h.incoming), kind="watch")
        if h.note:
            b.line(bold(_t("Note: ")), user(h.note))
        by_status: dict[str, int] = {}
        for r in rep.rows:
            by_status[r.status] = by_status.get(r.status, 0) + 1
        counts = ", ".join(f"{n} {_report_status(status)}"
                           for status, n in sorted(by_status.items()))
        b.line(bold(_t("Tickets: ")), Span(text=_t("{count} in the period", count=len(rep.rows))
                                            + (f" ({counts})" if counts else "")))
        where = ", ".join(r.key for r in rooms) or _t("the rooms")
        b.line(Span(text=_t("The full report is in {where}; or type ", where=where)),
               Span(text=f"watch report {rep.start.isoformat()} {rep.end.isoformat()}",
                    style="code"), Span(text="."))
        b.line(bold(_t("GISC {incoming}: ", incoming=h.incoming)),
               Span(text=_t("your watch starts {fmt_day} 00:00 UTC. Please confirm with `watch "
                            "accept`.", fmt_day=fmt_day(h.period_start))))
        return b.build()

    def _handover_span(self, session: Session, h: Handover) -> tuple[date, date]:
        """The period a handover reported on: the outgoing GISC's period before the incoming
        one, up to the day it was sent."""
        before = [p for p in self._periods(session)
                  if p.gisc == h.outgoing and p.end < h.period_start]
        sent = utc_day(h.sent_at if h.sent_at.tzinfo else h.sent_at.replace(tzinfo=UTC))
        start = max(before).start if before else h.period_start - timedelta(days=14)
        end = min(max(before).end, sent) if before else sent
        return start, max(start, end)

    def page_card(self, session: Session, ref: str) -> Reply | None:
        """A handover page (``HO-3``) or its escalation (``HO-3-next``) rendered again in
        the current language, for the person paged (PagingService.cards)."""
        m = re.fullmatch(r"HO-(\d+)(-next)?", ref)
        h = session.get(Handover, int(m[1])) if m else None
        if m is None or h is None:
            return None
        if m[2]:
            periods = self._periods(session)
            incoming = next((p for p in periods if p.start == h.period_start), None)
            after = rules.next_period(periods, incoming.end) if incoming else None
            return self._escalation_reply(h, after.gisc if after else None)
        start, end = self._handover_span(session, h)
        rooms = [r for r in (self._gisc_room(h.incoming),) if r is not None]
        rooms += self.directory.rooms_with_role("collaboration")
        return self._handover_page(h, self._report(session, _now_utc(self.clock), start, end),
                                   rooms)

    def _emails(self, role: str) -> list[str]:
        return [c.email for c in self.directory.contacts_with_role(role) if c.email]

    def _handover_mail(self, hid: int, outgoing: Period, nxt: Period, rep: WatchReport,
                       note: str) -> tuple[str, str]:
        """The handover e-mail's subject and body in the current language."""
        subject = _t("GISC Watch handover HO-{id}: GISC {outgoing} to GISC {incoming}",
                     id=hid, outgoing=outgoing.gisc, incoming=nxt.gisc)
        body = (_t("GISC {outgoing} hands the GISC Watch over to GISC {incoming} (period "
                   "starting {start}).", outgoing=outgoing.gisc, incoming=nxt.gisc,
                   start=fmt_day(nxt.start)) + "\n\n"
                + (_t("Note: ") + note + "\n\n" if note else "") + rep.markdown() + "\n"
                + _t("Please confirm by typing `watch accept` in GISC {incoming}'s room.",
                     incoming=nxt.gisc) + "\n")
        return subject, body

    async def _mail_handover(self, hid: int, outgoing: Period, nxt: Period, start: date,
                             end: date, note: str) -> str | None:
        """One e-mail per language of the next GISC's contacts (each reads theirs); the
        copies (GISC operations list, Secretariat) go with the first one that leaves."""
        if self.mailer is None:
            return _t("Not e-mailed: no SMTP server is configured (smtp_host).")
        contacts = [c for c in self.directory.contacts_with_role(f"gisc:{nxt.gisc}")
                    if c.email]
        if not contacts:
            return _t("Not e-mailed: GISC {gisc} has no contact e-mail in the directory.",
                      gisc=nxt.gisc)
        cc = [e for e in [self.settings.watch_ops_email, *self._emails("secretariat")] if e]
        now = _now_utc(self.clock)

        def render(session: Session) -> list[tuple[list[str], str, str]]:
            groups: dict[str, list[str]] = {}
            for c in contacts:
                lang = person_language(session, self.directory, c.id)
                groups.setdefault(lang, []).append(str(c.email))
            out = []
            for lang, to in groups.items():
                with i18n.use(lang):
                    subject, body = self._handover_mail(
                        hid, outgoing, nxt, self._report(session, now, start, end), note)
                out.append((to, subject, body))
            return out

        failed: Exception | None = None
        missed: list[str] = []
        copied = False  # the copies go with the first e-mail that leaves
        for to, subject, body in await self.store.tx(render):
            try:
                await self.mailer.send(to=to, cc=[] if copied else cc, subject=subject,
                                       body=body)
                copied = True
            except Exception as exc:  # SMTP errors of every kind: the handover itself stands
                log.warning("handover e-mail HO-%s to %s failed: %s", hid, to, exc)
                failed = failed or exc
                missed += to
        if failed is not None and not copied:
            return _t("Not e-mailed: the SMTP server refused or failed ({error}).",
                      error=type(failed).__name__)
        if failed is not None:
            return _t("E-mailed in part: not to {addresses} (the SMTP server refused or "
                      "failed: {error}); tell them in the chat.",
                      addresses=", ".join(missed), error=type(failed).__name__)

        def done(session: Session) -> None:
            h = session.get(Handover, hid)
            if h is not None:
                h.emailed = True
                session.add(h)

        await self.store.tx(done)
        return None

    async def accept(self, caller: Caller) -> Reply:
        now = _now_utc(self.clock)
        mine = {g.casefold() for g in caller.contact.giscs}

        def work(session: Session) -> Reply:
            pending = [h for h in session.exec(select(Handover).where(
                col(Handover.accepted_at).is_(None)).order_by(col(Handover.id).desc())).all()
                if h.incoming.casefold() in mine]
            if not pending:
                current = rules.period_at(self._periods(session), now)
                if current is not None and current.gisc.casefold() in mine:
                    return ReplyBuilder(_t("No handover report to accept")).line(
                        _t("No handover report has arrived for GISC {gisc}; your watch started "
                           "{fmt_day} 00:00 UTC anyway. Review the open tickets with `watch`.",
                           gisc=current.gisc, fmt_day=fmt_day(current.start))).build(private=True)
                raise InvalidState(_t("there is no handover waiting for your GISC to accept"))
            h = pending[0]
            h.accepted_at = now
            h.accepted_by = caller.contact.id
            session.add(h)
            if self.settle is not None:
                for ref in (f"HO-{h.id}", f"HO-{h.id}-next"):
                    self.settle(session, ref, f"handover accepted by {caller.contact.id}")

            def accepted() -> ReplyBuilder:
                b = ReplyBuilder(_t("Handover HO-{id} accepted", id=h.id), kind="watch")
                b.line(_t("GISC {incoming} accepted the GISC Watch from GISC {outgoing} "
                          "({name}, {now:%Y-%m-%d %H:%M} UTC). GISC {outgoing}'s watch ends.",
                          incoming=h.incoming, outgoing=h.outgoing, name=caller.contact.name,
                          now=now))
                return b

            rooms = [r for r in (self._gisc_room(h.outgoing),) if r is not None]
            rooms += self.directory.rooms_with_role("collaboration")
            notify(session, kind="watch-accept", now=now, incident_id=None,
                   deliveries=each_in_its_language(rooms, lambda: accepted().build()))
            opened = session.exec(select(WatchTicket).where(
                WatchTicket.state != TicketState.DONE.value)).all()
            b = accepted()
            b.line(_t("Open tickets to review: {count}", count=len(opened)) + (
                " (" + ", ".join(f"#{t.id}" for t in opened[:20]) + ")" if opened else ""))
            return b.build(private=True)

        return await self.store.tx(work)

    async def handover_tick(self) -> list[str]:
        """Reminders, escalation past the deadline, and the period-start notice. Returns
        what it did (for logs and tests)."""
        now = _now_utc(self.clock)
        s = self.settings
        remind = timedelta(hours=s.watch_handover_remind_hours)
        deadline = timedelta(hours=s.watch_handover_deadline_hours)

        def work(session: Session) -> list[str]:
            done: list[str] = []
            periods = self._periods(session)
            current = rules.period_at(periods, now)
            if current is not None:
                key = f"period-start:{current.start.isoformat()}:{current.gisc}"
                if session.get(WatchMark, key) is None:
                    session.add(WatchMark(key=key, at=now))
                    got = session.exec(select(Handover).where(
                        Handover.incoming == current.gisc,
                        Handover.period_start == current.start)).first()
                    period = current

                    def started() -> Reply:
                        b = ReplyBuilder(_t("GISC Watch: GISC {gisc} is on duty",
                                            gisc=period.gisc), kind="watch")
                        words = {"gisc": period.gisc, "start": fmt_day(period.start),
                                 "end": fmt_day(period.end)}
                        b.line(_t("The watch period of GISC {gisc} runs {start} – {end} "
                                  "(00:00–23:59 UTC) and has started, handover report "
                                  "received.", **words) if got else
                               _t("The watch period of GISC {gisc} runs {start} – {end} "
                                  "(00:00–23:59 UTC) and has started, although no handover "
                                  "report has arrived yet.", **words))
                        return b.build()

                    room = self._gisc_room(current.gisc)
                    if room is not None:
                        notify(session, kind="watch-period", now=now, incident_id=None,
                               deliveries=each_in_its_language([room], started))
                    done.append(f"period-start {current.gisc}")
            for h in session.exec(select(Handover).where(
                    col(Handover.accepted_at).is_(None))).all():
                step = rules.handover_step(
                    now=now, sent_at=h.sent_at,
                    period_start=datetime.combine(h.period_start, time(), tzinfo=UTC),
                    accepted=False, last_reminder=h.last_reminder_at,
                    escalated=h.escalated_at is not None, remind_after=remind,
                    deadline_after=deadline)
                if step is HandoverStep.ESCALATE:
                    self._escalate_handover(session, h, periods, now)
                    done.append(f"escalate HO-{h.id} to {h.escalated_to}")
                elif step is HandoverStep.REMIND:
                    h.reminders += 1
                    h.last_reminder_at = now
                    session.add(h)
                    room = self._gisc_room(h.incoming)
                    if room is not None:
                        notify(session, kind="watch-reminder", now=now, incident_id=None,
                               deliveries=each_in_its_language(
                                   [room], functools.partial(self._reminder_reply, h)))
                    done.append(f"remind HO-{h.id}")
            return done

        return await self.store.tx(work)

    @staticmethod
    def _reminder_reply(h: Handover) -> Reply:
        b = ReplyBuilder(_t("Reminder: GISC Watch handover HO-{id}", id=h.id), kind="watch")
        b.line(_t("GISC {outgoing} sent the handover report on {sent_at:%Y-%m-%d "
                  "%H:%M} UTC. GISC {incoming}, please confirm with `watch "
                  "accept`; GISC {outgoing} stays on watch until you do.",
                  outgoing=h.outgoing, sent_at=h.sent_at, incoming=h.incoming))
        return b.build()

    @staticmethod
    def _escalation_reply(h: Handover, after: str | None) -> Reply:
        """The alert that a handover was not accepted, in the current language (``after``:
        the GISC next on the roster after the incoming one)."""
        b = ReplyBuilder(_t("GISC Watch handover HO-{id} not accepted", id=h.id), kind="alert")
        b.ref = f"HO-{h.id}"
        if after is not None:
            b.line(_t("GISC {incoming} has not accepted the watch from GISC {outgoing} (report "
                      "sent {sent_at:%Y-%m-%d %H:%M} UTC). GISC {gisc}, next on the roster "
                      "after GISC {incoming}: please agree a revised handover date with GISC "
                      "{outgoing}; the remaining period can be split (the Secretariat sets it "
                      "with `watch roster set <from> <to> <GISC>`).",
                      incoming=h.incoming, outgoing=h.outgoing, sent_at=h.sent_at, gisc=after))
        else:
            b.line(_t("GISC {incoming} has not accepted the watch from GISC {outgoing} and the "
                      "roster has no later GISC: the Secretariat should arrange the watch.",
                      incoming=h.incoming, outgoing=h.outgoing))
        return b.build()

    def _escalate_handover(self, session: Session, h: Handover, periods: Sequence[Period],
                           now: datetime) -> None:
        incoming = next((p for p in periods if p.start == h.period_start), None)
        after = rules.next_period(periods, incoming.end) if incoming else None
        h.escalated_at = now
        h.last_reminder_at = now  # the incoming GISC reads this alert too
        h.escalated_to = after.gisc if after else "secretariat"
        session.add(h)
        gisc = after.gisc if after else None
        rooms = [r for r in ((self._gisc_room(after.gisc) if after else None),
                             self._gisc_room(h.incoming), self._gisc_room(h.outgoing))
                 if r is not None]
        rooms += self.directory.rooms_with_role("secretariat")
        notify(session, kind="watch-escalate", now=now, incident_id=None,
               deliveries=each_in_its_language(rooms, lambda: self._escalation_reply(h, gisc)))
        if after is not None:  # the page is rendered again for each person paged
            self.on_response(session, ResponseRequest(
                kind="handover", ref=f"HO-{h.id}-next", at=now,
                targets=((f"gisc:{after.gisc}", self._escalation_reply(h, gisc)),)))

    # ----- escalation ----------------------------------------------------------------------
    async def escalate(self, caller: Caller, text: str) -> Reply:
        s = self.settings
        if not (caller.is_secretariat or caller.contact.giscs
                or "watch" in caller.contact.roles):
            raise NotAllowed(_t("GISC Watch escalation is for GISC focal points, watch "
                                "operators and the WMO Secretariat"))
        if not s.watch_escalation_contact and not s.watch_escalation_room:
            raise InvalidState(_t("no ET-WISOP chair is configured (settings "
                                  "watch_escalation_contact / watch_escalation_room)"))
        now = _now_utc(self.clock)

        def escalation() -> Reply:
            b = ReplyBuilder(_t("GISC Watch escalation to the ET-WISOP chair"), kind="alert")
            b.field(_t("From"), f"{caller.contact.name}" + (f" (GISC {caller.contact.giscs[0]})"
                                                         if caller.contact.giscs else ""))
            b.line(user(text))
            return b.build()

        def work(session: Session) -> list[str]:
            rooms = [self.directory.room(s.watch_escalation_room)] \
                if s.watch_escalation_room else []
            direct = []
            if s.watch_escalation_contact:  # the chair reads it in their language
                with i18n.use(person_language(session, self.directory,
                                              s.watch_escalation_contact)):
                    direct.append((s.watch_escalation_contact, escalation()))
            notify(session, kind="watch-escalation", now=now, incident_id=None,
                   deliveries=each_in_its_language(rooms, escalation), direct=direct)
            return [r.key for r in rooms] + [f"@{c}" for c, _ in direct]

        told = await self.store.tx(work)
        return ReplyBuilder(_t("Escalated")).line(
            _t("Sent to the ET-WISOP chair: {where}", where=", ".join(told))).build(private=True)

    # ----- WIS Monitor JSON ----------------------------------------------------------------
    async def wismon_documents(self) -> dict[str, dict[str, Any]]:
        now = _now_utc(self.clock)
        centre = self.directory.gisc(self.settings.wismon_centre).name \
            if self.settings.wismon_centre else None

        def work(session: Session) -> tuple[list[ProbeResult], list[ProbeResult]]:
            since = now - timedelta(days=31)
            rows = session.exec(select(ProbeRecord).where(
                col(ProbeRecord.checked_at) >= since)
                .order_by(col(ProbeRecord.checked_at))).all()
            hist = [_result(r) for r in rows]
            latest: dict[tuple[str, str], ProbeResult] = {}
            for r in hist:
                latest[(r.centre, r.service.value)] = r
            return hist, list(latest.values())

        hist, latest = await self.store.tx(work)
        name = centre or (self.directory.giscs[0].name if self.directory.giscs else "wisbot")
        gisc = self.directory.gisc(name)
        base = self.wismon_url or ""
        props = GiscProperties(
            catalogue_url=gisc.services.get("portal", ""),
            oai_url=gisc.services.get("oaipmh", ""),
            monitor_url=f"{base}/monitor.json" if base else None,
            events_url=f"{base}/events.json" if base else None,
            centres_inAoR_url=f"{base}/centres.json" if base else None,
        )
        return {
            "monitor.json": build_monitor(gisc.name, latest, props, timestamp=now),
            "events.json": build_events(gisc.name, [r for r in hist if r.centre == gisc.name],
                                        timestamp=now),
            "centres.json": build_centres(gisc.name, latest, timestamp=now),
        }

    async def write_wismon(self, folder: Path) -> list[Path]:
        docs = await self.wismon_documents()
        return await asyncio.to_thread(_write_docs, folder, docs)


def _write_docs(folder: Path, docs: dict[str, dict[str, Any]]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, doc in docs.items():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(dumps(doc))
            os.replace(tmp, folder / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        out.append(folder / name)
    return out


def _option(value: str) -> str | bool | int | float:
    """Directory option strings as the probes want them: true/false, numbers, else text."""
    low = value.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    try:
        return int(low)
    except ValueError:
        pass
    try:
        return float(low)
    except ValueError:
        return value


def _result(r: ProbeRecord) -> ProbeResult:
    return ProbeResult(r.centre, Service(r.service), r.url, ProbeStatus(r.status), r.latency_ms,
                       r.figure, r.reason, r.checked_at, dict(r.details))


def _figure_at(r: ProbeRecord) -> FigureAt:
    return FigureAt(r.status, r.figure, r.checked_at)


def _svc_words(key: str, *, english: bool = False) -> str:
    """A ticket's service key (``oaipmh``, ``gb-one:broker``) in words: the current
    language's, or English for stored text."""
    centre, _, svc = key.rpartition(":")
    found = SERVICE_WORDS.get(svc)
    words = svc if found is None else str.__str__(found) if english else str(found)
    return f"{words} {centre}" if centre else words


def _change_words(more: Sequence[str], again: Sequence[str], relapse: Sequence[str],
                  partial: bool) -> str:
    """What a probe run changed on an automatic ticket, in the current language."""
    parts = []
    for keys, words in ((more, N_("now also failing: {services}")),
                        (again, N_("answering again: {services}")),
                        (relapse, N_("failing again: {services}"))):
        if keys:
            parts.append(words.text(services=", ".join(_svc_words(k) for k in keys)))
    text = "; ".join(parts)
    return _t("partially open – {changes}", changes=text) if partial else text


_ACTIVITY = {"opened": N_("opened"), "assigned": N_("assigned"), "closed": N_("closed"),
             "reminders sent": N_("reminders sent"), "still open": N_("still open")}
_EVENTS = {"opened": N_("opened"), "assigned": N_("assigned"), "closed": N_("closed"),
           "moved": N_("moved"), "reopened": N_("reopened"), "reminder": N_("reminder"),
           "partial": N_("partly recovered"), "note": N_("note")}
"""A ticket event's kind as the ticket's history shows it."""
_ANOMALY = {"outlier": N_("outlier"), "change": N_("change"), "collapse": N_("collapse")}


def _activity_words(key: str) -> str:
    found = _ACTIVITY.get(key)
    return str(found) if found is not None else key
_REPORT_STATUS = {"open": N_("open"), "closed": N_("closed"),
                  "partially open": N_("partially open")}


def _report_status(status: str) -> str:
    found = _REPORT_STATUS.get(status)
    return str(found) if found is not None else status


def _jsonable(details: Any) -> dict[str, object]:
    import json

    out: dict[str, object] = {}
    for k, v in dict(details).items():
        if k == "document":
            continue  # an ingested monitor.json is summarised, not stored whole
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            v = str(v)
        out[str(k)] = v
    return out


def _id(obj: Any) -> int:
    value = obj.id
    assert isinstance(value, int)
    return value


def parse_day(text: str) -> date:
    """A date as typed: 2026-03-01 or 01/03/2026 (the report template's DD/MM/YYYY)."""
    raw = text.strip()
    try:
        if "/" in raw:
            d, m, y = (int(x) for x in raw.split("/"))
            return date(y, m, d)
        return date.fromisoformat(raw)
    except ValueError:
        raise UsageError(_t("{text!r} is not a date: use 2026-03-01 or 01/03/2026",
                            text=text)) from None


# A ticket message's headline: the services pass English, the reader reads their language.
_TICKET_HEADLINES = {str.__str__(h): h for h in (
    N_("new ticket"), N_("opened"), N_("details"), N_("alert resolved – close proposed"),
    N_("reopened: the alert fires again"), N_("the alert fires again"),
    N_("closed: every service answers again"))}
_MOVED_IMS = re.compile(r"^moved to (.+?) in WIS2 IMS \((.+)\)$")
_MOVED_BY_NOTE = re.compile(r"^moved to (.+?) by ([^:]+): (.*)$", re.S)
_MOVED_BY = re.compile(r"^moved to (.+?) by (.+)$")
_MOVED = re.compile(r"^moved to (.+)$")
_ASSIGNED = re.compile(r"^assigned to (.+)$")


def ticket_headline(headline: str) -> str:
    """A ticket headline in the reader's language (WIS2 IMS state names stay English)."""
    if isinstance(headline, Words):  # made by a service for every reader
        return headline.text()
    if headline in _TICKET_HEADLINES:
        return str(_TICKET_HEADLINES[headline])
    if m := _MOVED_IMS.match(headline):
        return _t("moved to {state} in WIS2 IMS ({key})", state=m[1], key=m[2])
    if m := _MOVED_BY_NOTE.match(headline):
        return _t("moved to {state} by {who}: {note}", state=m[1], who=m[2], note=m[3])
    if m := _MOVED_BY.match(headline):
        return _t("moved to {state} by {who}", state=m[1], who=m[2])
    if m := _MOVED.match(headline):
        return _t("moved to {state}", state=m[1])
    if m := _ASSIGNED.match(headline):
        return _t("assigned to {who}", who=m[1])
    return headline


def _stalled_words(days: int) -> str:
    """The 14-day (``watch_stalled_days``) reminder told to a ticket's rooms."""
    return i18n.ngettext("reminder: no activity for {n} day – please update it "
                         "(`watch ticket <n> progress|review|done`)",
                         "reminder: no activity for {n} days – please update it "
                         "(`watch ticket <n> progress|review|done`)", days)
