"""Near-real-time exchange: spotting records newly offered for global exchange, their
volume figures, and the three-stage dispute procedure (Guide §7.7, Manual Annex 6).

Spotting (:meth:`ExchangeService.spot`): per configured GISC, OAI-PMH ``ListRecords``
``from=`` the last run (WMO Core 1.3, ``iso19139``); per Global Discovery Catalogue, the
items updated since the last run (``wmo:dataPolicy``). Each record's state is kept in
``exchange_record``; a record first seen with scope GlobalExchange (WIS2: core), or whose
scope changes to it, is *offered* now. Volume figures (WIS Monitor JSON ``cache_24h``,
Global Monitor ``wmo_wis2_gb_messages_received_total`` by ``centre_id`` over 24 h) are kept
per centre and UTC day for the day-on-day change.

One slow source delays only itself: the sources are harvested concurrently (at most
``harvest_concurrency`` at once), each within ``harvest_deadline`` seconds as a whole (a
GISC dripping a byte a second is cut off there). A harvest cut short keeps the request of
the page it was on (``exchange_harvest.resume``), and the next run goes on from that page;
a page over the size cap is skipped past (see :mod:`wisbot.probes.harvest`). A daily run
in which a harvest hit its deadline says so in the Secretariat room.

The daily post's seam is :meth:`ExchangeService.daily_section`: the records offered to one
GISC's area, with figures, flagged above the thresholds; ``None`` when there is nothing.

Dispute cases (``WIS-NRT-<year>-<n>``) are owned by the provider's principal GISC. Their
contents go to the GISC rooms, the Secretariat room, the provider Member's own room and
focal points, and (once referred) the working group; never to the collaboration, area or
duty rooms, since they concern a named provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import text as sql
from sqlalchemy import update
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Centre, Directory, Room, fold
from wisbot.domain.audience import case_person_reads, case_seen_by, person_roles
from wisbot.domain.exchange import (
    GLOBAL,
    Figure,
    Stage,
    Tally,
    Thresholds,
    case_number,
    check_transition,
    offer_reason,
    parse_case_number,
    parse_scope,
    reminders_due,
    review_flags,
    tally,
)
from wisbot.errors import InvalidState, NotAllowed, NotFound, UsageError
from wisbot.i18n import N_, ngettext
from wisbot.i18n import _ as _t
from wisbot.probes.errors import ProbeError
from wisbot.probes.harvest import HarvestStats, harvest_core, iter_gdc_records
from wisbot.probes.http import describe_http_error, make_client
from wisbot.probes.model import ProbeLimits
from wisbot.probes.wis2 import GB_MESSAGES_RECEIVED, _get_json, _vector
from wisbot.probes.wismon import fetch_monitor
from wisbot.probes.wmocore import CoreRecord
from wisbot.reply import Reply, ReplyBuilder, bold, code, user
from wisbot.services.context import Caller
from wisbot.services.exchange_mail import Mailer, MailError
from wisbot.services.languages import person_language, room_language
from wisbot.services.notify import ResponseHook, ResponseRequest, no_paging, notify
from wisbot.settings import Settings
from wisbot.store.engine import Store
from wisbot.store.exchange_tables import (
    ExchangeCase,
    ExchangeCaseEvent,
    ExchangeHarvest,
    ExchangeMail,
    ExchangePosition,
    ExchangeRecord,
    ExchangeVolume,
)

log = logging.getLogger(__name__)
BATCH = 500
MAX_LISTED = 40
MESSAGES_QUERY = f"sum by (centre_id) (increase({GB_MESSAGES_RECEIVED}[24h]))"
MAIL_ATTEMPTS = 5
MAIL_STALE = timedelta(hours=1)
"""A mail still ``sending`` after this was cut off by a crash: it is sent again."""


@dataclass(frozen=True)
class ExchangeConfig:
    thresholds: Thresholds = field(default_factory=Thresholds)
    reminder_every: timedelta = timedelta(days=7)
    giscs: tuple[str, ...] = ()
    first_lookback: timedelta = timedelta(days=1)
    wismon_urls: tuple[str, ...] = ()
    limits: ProbeLimits = field(default_factory=ProbeLimits)
    spot_hour: int = 5
    post_daily: bool = True
    harvest_deadline: float = 900.0
    harvest_concurrency: int = 4

    @classmethod
    def from_settings(cls, s: Settings) -> ExchangeConfig:
        return cls(
            thresholds=Thresholds(messages_24h=s.exchange_max_messages_24h,
                                  products_24h=s.exchange_max_products_24h,
                                  bytes_24h=s.exchange_max_bytes_24h,
                                  change_pct=s.exchange_max_change_pct),
            reminder_every=timedelta(days=s.exchange_reminder_days),
            giscs=tuple(s.exchange_giscs),
            first_lookback=timedelta(days=s.exchange_first_lookback_days),
            wismon_urls=tuple(s.exchange_wismon_urls),
            spot_hour=s.exchange_spot_hour,
            post_daily=s.exchange_post_daily,
            harvest_deadline=s.exchange_harvest_deadline_s,
            harvest_concurrency=s.exchange_harvest_concurrency,
        )


@dataclass(frozen=True)
class Source:
    key: str
    kind: str  # "oai" | "gdc"
    url: str


@dataclass
class SpotReport:
    """What one spotting run did, per source, and which records it offered."""

    at: datetime
    harvests: list[tuple[Source, str, HarvestStats]] = field(default_factory=list)
    offered: int = 0
    unattributed: int = 0
    figures: int = 0
    figure_errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        # The operator's log and `wisbot exchange spot` output: English.
        out = []
        for src, status, st in self.harvests:
            skipped = ", ".join(f"{k} {v}" for k, v in sorted(st.skipped.items())) or "none"
            line = (f"{src.key}: {status}, {st.pages} pages, {st.records} records, "
                    f"{st.parsed} parsed, skipped: {skipped}")
            if st.stopped:
                line += f"; stopped: {st.stopped}"
            out.append(line)
        out.append(f"offered for global exchange: {self.offered}; from centres not in the "
                   f"directory: {self.unattributed}; volume figures: {self.figures}")
        out.extend(f"figures: {e}" for e in self.figure_errors)
        return out


@dataclass(frozen=True)
class ScheduledJob:
    """A daily job for the scheduler: ``run`` at ``hour``:``minute`` UTC."""

    name: str
    hour: int
    minute: int
    run: Callable[[], Awaitable[object]]


def _resume_point(previous: ExchangeHarvest | None,
                  now: datetime) -> tuple[dict[str, str] | None, datetime]:
    """Where a harvest cut short goes on, and when the list it continues began (the next
    ``from=`` once it is complete); else ``(None, now)``."""
    saved = previous.resume if previous is not None else None
    params = saved.get("params") if isinstance(saved, dict) else None
    if not isinstance(saved, dict) or not isinstance(params, dict):
        return None, now
    try:
        listed_at = datetime.fromisoformat(str(saved["listed_at"]))
    except (KeyError, ValueError):
        listed_at = now
    return {str(k): str(v) for k, v in params.items()}, listed_at


def _day(when: datetime) -> str:
    return when.strftime("%Y-%m-%d")


def _when(when: datetime | None) -> str:
    return i18n.when(when) if when else "—"


Render = Callable[[], Reply]
"""Builds a message in the current language; called once per reader's language."""


class _PerLanguage:
    """One message rendered for each reader in their language: a room its own, a person
    theirs (each language rendered once)."""

    def __init__(self, session: Session, directory: Directory, render: Render) -> None:
        self.session, self.directory, self.render = session, directory, render
        self.done: dict[str, Reply] = {}

    def in_(self, language: str | None) -> Reply:
        lang = language or i18n.default()
        if lang not in self.done:
            with i18n.use(lang):
                self.done[lang] = self.render()
        return self.done[lang]

    def room(self, room: Room) -> Reply:
        return self.in_(room_language(room))

    def person(self, contact_id: str) -> Reply:
        return self.in_(person_language(self.session, self.directory, contact_id))


# The timeline's kinds, as people read them (the stored kind is the key).
EVENT_KINDS: dict[str, str] = {
    "opened": N_("case opened"), "consult": N_("consultation"), "answer": N_("answer"),
    "answer changed": N_("answer changed"), "agreed": N_("agreed"),
    "resolve": N_("resolved"), "refer": N_("referred"), "reminder": N_("reminder"),
    "mailed": N_("mailed"), "mail failed": N_("mail failed"),
}


def _giscs(names: Sequence[str]) -> str:
    """``GISC Beijing, GISC Tokyo`` in the reader's language."""
    shown = [_t("GISC {gisc}", gisc=name) for name in names]
    return ", ".join(shown)


def _kind_words(kind: str) -> str:
    return str(EVENT_KINDS[kind]) if kind in EVENT_KINDS else kind


def _position_words(position: str) -> str:
    """A GISC's answer is shown as its command word (accept, object): never translated."""
    return position


def _event_words(e: ExchangeCaseEvent) -> str:
    """wisbot's own wording of a timeline entry in the reader's language, from the key and
    values stored with it (``data["say"]``, ``data["with"]``); else the stored text (older
    entries, and what a person typed)."""
    say = e.data.get("say") if isinstance(e.data, dict) else None
    values = e.data.get("with") if isinstance(e.data, dict) else None
    values = values if isinstance(values, dict) else {}
    if not isinstance(say, str):
        return e.text
    v = {str(k): str(x) for k, x in values.items()}
    note = v.get("note", "")
    if say == "consulted":
        return _t("the provider maintains its position; the other GISCs are consulted")
    if say == "answer":
        text = _t("GISC {gisc}: {position}", gisc=v.get("gisc", ""),
                  position=_position_words(v.get("position", "")))
        if v.get("earlier"):
            text += _t(" (replaces its earlier '{position}')", position=v["earlier"])
        return text + (f" – {note}" if note else "")
    if say == "referred":
        where = ", ".join(x for x in (
            _t("room {room}", room=v["room"]) if v.get("room") else "", v.get("email", ""))
            if x)
        text = _t("referred to {name} ({where})", name=v.get("name", ""), where=where)
        return text + (f": {note}" if note else "")
    if say == "reminded":
        return _t("GISC {gisc} reminded", gisc=v.get("gisc", ""))
    if say == "mailed":
        return _t("case file to {to}", to=v.get("to", ""))
    if say == "mail failed":
        return _t("case file to {to}: {error}", to=v.get("to", ""), error=v.get("error", ""))
    return e.text


def _id(row: ExchangeCase) -> int:
    assert row.id is not None
    return row.id


def _next_seq(session: Session, year: int) -> int:
    value = session.execute(
        sql("INSERT INTO exchange_counter (year, last_seq) VALUES (:y, 1) "
            "ON CONFLICT (year) DO UPDATE SET last_seq = exchange_counter.last_seq + 1 "
            "RETURNING last_seq"),
        {"y": year},
    ).scalar_one()
    return int(value)


class ExchangeService:
    def __init__(self, store: Store, directory: Directory, clock: Clock, *,
                 config: ExchangeConfig | None = None, mailer: Mailer | None = None,
                 on_response: ResponseHook = no_paging) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.config = config or ExchangeConfig()
        self.mailer = mailer
        self.on_response = on_response

    # ===== spotting ==========================================================================

    def sources(self, giscs: Sequence[str] | None = None) -> list[Source]:
        wanted = {fold(g).removeprefix("gisc ").removeprefix("gisc-")
                  for g in (giscs or self.config.giscs)}
        out: list[Source] = []
        for g in self.directory.giscs:
            url = g.services.get("oaipmh")
            if url and (not wanted or fold(g.name) in wanted):
                out.append(Source(f"oai:{g.name}", "oai", url))
        if not giscs:
            for ident, svc in sorted(self.directory.wis2.items()):
                if svc.get("kind") == "gdc" and svc.get("url"):
                    out.append(Source(f"gdc:{ident}", "gdc", svc["url"]))
        return out

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        async with make_client(self.config.limits) as client:
            yield client

    async def spot(self, giscs: Sequence[str] | None = None) -> SpotReport:
        """Harvest every source since its last run, update the record states, read the
        volume figures. Never raises for a source's failure: it is in the report."""
        now = self.clock()
        report = SpotReport(at=now)
        gate = asyncio.Semaphore(max(1, self.config.harvest_concurrency))
        sources = self.sources(giscs)

        async def one(client: httpx.AsyncClient,
                      src: Source) -> tuple[Source, str, HarvestStats]:
            async with gate:
                try:
                    return await self._harvest(client, src, now, report)
                except Exception as exc:  # one source's bug or database error stays its own
                    log.exception("exchange harvest of %s failed", src.key)
                    stats = HarvestStats(source=src.key)
                    stats.stopped = f"error: {type(exc).__name__}: {exc}"
                    return src, "fail", stats

        async with self._client() as client:
            report.harvests.extend(await asyncio.gather(*(one(client, s) for s in sources)))
            await self._collect_figures(client, now, report)
        for line in report.lines():
            log.info("exchange spot: %s", line)
        return report

    async def _harvest(self, client: httpx.AsyncClient, src: Source, now: datetime,
                       report: SpotReport) -> tuple[Source, str, HarvestStats]:
        def state(session: Session) -> ExchangeHarvest | None:
            return session.get(ExchangeHarvest, src.key)

        previous = await self.store.tx(state)
        since: datetime | None
        if previous is not None and previous.next_from is not None:
            since = previous.next_from
        else:
            lookback = self.config.first_lookback
            since = None if lookback <= timedelta(0) else now - lookback
        resume, listed_at = _resume_point(previous, now)
        stats = HarvestStats(source=src.key)
        status = "ok"
        batch: list[CoreRecord] = []
        limits = self.config.limits
        deadline = self.config.harvest_deadline
        records = (harvest_core(client, src.url, limits, from_=since, stats=stats,
                                resume=resume)
                   if src.kind == "oai" else
                   iter_gdc_records(client, src.url, limits, since=since, stats=stats,
                                    resume=resume))
        # The deadline bounds the network side only: a batch being written is never cut.
        stop_at = asyncio.get_running_loop().time() + deadline
        try:
            while True:
                bound = asyncio.timeout_at(stop_at)
                try:
                    async with bound:
                        rec = await anext(records)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    if not bound.expired():
                        raise
                    status = "timeout"
                    where = (f"page {stats.pages + 1}" if stats.resume
                             else "the first page")
                    stats.stopped = (f"no end within {deadline:g} s (overall deadline); the "
                                     f"next run goes on from {where}")
                    break
                batch.append(rec)
                if len(batch) >= BATCH:
                    await self._apply(batch, src, now, report)
                    batch = []
        except ProbeError as exc:
            status, stats.stopped = "fail", exc.reason
        except httpx.HTTPError as exc:
            status, stats.stopped = "fail", describe_http_error(exc, limits)
        except TimeoutError:
            status, stats.stopped = "fail", "timed out"
        finally:
            await records.aclose()
        if batch:
            await self._apply(batch, src, now, report)
        if status == "ok" and stats.stopped:
            status = "partial"
        if status == "timeout":
            log.warning("exchange harvest of %s: %s", src.key, stats.stopped)
        complete = status == "ok"

        def save(session: Session) -> None:
            row = session.get(ExchangeHarvest, src.key)
            if row is None:
                row = ExchangeHarvest(source=src.key, last_run_at=now, status=status)
                session.add(row)
            row.last_run_at = now
            row.status = status
            row.stats = stats.as_json()
            row.resume = None
            if complete:  # else the next run starts where this one did
                row.next_from = listed_at
                return
            if row.next_from is None:
                row.next_from = since
            if stats.resume:
                row.resume = {"params": dict(stats.resume), "listed_at": listed_at.isoformat()}

        await self.store.tx(save)
        return src, status, stats

    async def _apply(self, records: list[CoreRecord], src: Source, now: datetime,
                     report: SpotReport) -> None:
        unique = {r.identifier: r for r in records}

        def work(session: Session) -> tuple[int, int]:
            rows = session.exec(select(ExchangeRecord).where(
                col(ExchangeRecord.identifier).in_(list(unique)))).all()
            known = {r.identifier: r for r in rows}
            offered = unattributed = 0
            for rec in unique.values():
                centre = self.directory.centre_by_identifier(*rec.centre_keys)
                row = known.get(rec.identifier)
                reason = offer_reason(row.scope if row else None, rec.scope,
                                      known=row is not None)
                if row is None:
                    row = ExchangeRecord(identifier=rec.identifier, source=rec.source,
                                         title=rec.title, scope=rec.scope,
                                         harvested_from=src.key, first_seen_at=now,
                                         updated_at=now)
                    session.add(row)
                elif row.scope != rec.scope:
                    row.previous_scope = row.scope
                row.title = rec.title
                row.scope = rec.scope
                row.licence = rec.licence
                row.gts_category = rec.gts_category
                row.data_policy = rec.data_policy
                row.originator = (rec.originator or "")[:255] or None
                row.centre = centre.code if centre else None
                row.principal_gisc = centre.principal_gisc if centre else None
                row.datestamp = (rec.datestamp or "")[:40] or None
                row.harvested_from = src.key
                row.updated_at = now
                if reason is not None:
                    row.offered_at = now
                    offered += 1
                    if centre is None:
                        unattributed += 1
            return offered, unattributed

        offered, unattributed = await self.store.tx(work)
        report.offered += offered
        report.unattributed += unattributed

    async def _collect_figures(self, client: httpx.AsyncClient, now: datetime,
                               report: SpotReport) -> None:
        limits = self.config.limits
        found: list[tuple[str, str, float, str]] = []
        urls = list(self.config.wismon_urls)
        urls += [g.services["wismon"] for g in self.directory.giscs if g.services.get("wismon")]
        late = (f"no complete answer within {limits.total_timeout:g} s (overall deadline)")
        for url in dict.fromkeys(urls):
            try:
                async with asyncio.timeout(limits.total_timeout):
                    doc = await fetch_monitor(client, url, limits)
            except TimeoutError:
                report.figure_errors.append(f"{url}: {late}")
                continue
            except (ProbeError, httpx.HTTPError) as exc:
                why = exc.reason if isinstance(exc, ProbeError) else describe_http_error(
                    exc, limits)
                report.figure_errors.append(f"{url}: {why}")
                continue
            centre = self.directory.centre_by_identifier(str(doc["centre"]))
            cache = doc["metrics"].get("cache_24h")
            if centre is None or not isinstance(cache, dict):
                continue
            for key, metric in (("number_of_products_all", "products_24h"),
                                ("bytes_of_cache_all", "bytes_24h")):
                value = cache.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool) \
                        and value >= 0:
                    found.append((centre.code, metric, float(value), url))
        for ident, svc in sorted(self.directory.wis2.items()):
            if svc.get("kind") != "monitor" or not svc.get("url"):
                continue
            api = f"{svc['url'].rstrip('/')}/api/v1/query"
            try:
                async with asyncio.timeout(limits.total_timeout):
                    doc = await _get_json(client, api, limits, params={"query": MESSAGES_QUERY})
                samples = _vector(doc, MESSAGES_QUERY)
            except TimeoutError:
                report.figure_errors.append(f"{ident}: {late}")
                continue
            except (ProbeError, httpx.HTTPError) as exc:
                why = exc.reason if isinstance(exc, ProbeError) else describe_http_error(
                    exc, limits)
                report.figure_errors.append(f"{ident}: {why}")
                continue
            for labels, value in samples:
                centre = self.directory.centre_by_identifier(labels.get("centre_id", ""))
                if centre is not None:
                    found.append((centre.code, "messages_24h", value, f"monitor:{ident}"))

        def work(session: Session) -> None:
            day = _day(now)
            for centre_code, metric, value, source in found:
                row = session.exec(select(ExchangeVolume).where(
                    ExchangeVolume.centre == centre_code, ExchangeVolume.metric == metric,
                    ExchangeVolume.day == day)).first()
                if row is None:
                    session.add(ExchangeVolume(centre=centre_code, metric=metric, day=day,
                                               value=value, source=source[:255], at=now))
                else:
                    row.value, row.source, row.at = value, source[:255], now

        await self.store.tx(work)
        report.figures += len(found)

    def _figures(self, session: Session, centre: str, now: datetime) -> list[Figure]:
        today, yesterday = _day(now), _day(now - timedelta(days=1))
        rows = session.exec(select(ExchangeVolume).where(
            ExchangeVolume.centre == centre,
            col(ExchangeVolume.day).in_([today, yesterday]))).all()
        by = {(r.metric, r.day): r for r in rows}
        out: list[Figure] = []
        for metric in ("messages_24h", "products_24h", "bytes_24h"):
            cur = by.get((metric, today))
            if cur is None:
                continue
            prev = by.get((metric, yesterday))
            out.append(Figure(metric, cur.value, prev.value if prev else None, cur.source))
        return out

    async def daily_section(self, gisc: str, since: datetime | None = None) -> Reply | None:
        """The records offered for global exchange (WIS2: core) from centres in ``gisc``'s
        area since ``since`` (default: the last 24 h), with their centre's figures; those
        above the thresholds are flagged as needing review. None when there are none.
        Rendered in the current language."""
        section = await self._daily_section(gisc, since)
        return section() if section is not None else None

    async def _daily_section(self, gisc: str, since: datetime | None = None) -> Render | None:
        """:meth:`daily_section` as a renderer, for each reader's language."""
        name = self.directory.gisc(gisc).name
        now = self.clock()
        start = since or now - timedelta(days=1)

        def work(session: Session) -> Render | None:
            rows = session.exec(select(ExchangeRecord).where(
                ExchangeRecord.principal_gisc == name, ExchangeRecord.scope == GLOBAL,
                col(ExchangeRecord.offered_at) > start,
            ).order_by(col(ExchangeRecord.centre), col(ExchangeRecord.identifier))).all()
            if not rows:
                return None
            by_centre: dict[str, list[ExchangeRecord]] = {}
            for r in rows:
                by_centre.setdefault(r.centre or "?", []).append(r)
            figures_of = {c: self._figures(session, c, now) for c in by_centre}
            return functools.partial(self._render_section, name, start, rows, by_centre,
                                     figures_of)

        return await self.store.tx(work)

    def _render_section(self, name: str, start: datetime, rows: Sequence[ExchangeRecord],
                        by_centre: dict[str, list[ExchangeRecord]],
                        figures_of: dict[str, list[Figure]]) -> Reply:
        review = 0
        b = ReplyBuilder(ngettext("GISC {name} – {n} new record offered for global "
                                  "exchange", "GISC {name} – {n} new records offered for "
                                  "global exchange", len(rows), name=name),
                         kind="exchange")
        b.line(_t("Offered since {when} by centres in the area of GISC {name} "
                  "(WMO_DistributionScopeCode GlobalExchange; WIS2: wmo:dataPolicy core).",
                  when=_when(start), name=name))
        listed = 0
        for centre_code, recs in by_centre.items():
            figures = figures_of[centre_code]
            flags = review_flags(figures, self.config.thresholds)
            b.line(bold(self._centre_label(centre_code)))
            if figures:
                for fig in figures:
                    b.line(f"  {fig.words()}")
            else:
                b.line(_t("  no volume figures for this centre yet"))
            if flags:
                review += len(recs)
                b.line(bold(_t("  ⚠ needs review: ")), "; ".join(flags))
            for r in recs:
                if listed >= MAX_LISTED:
                    break
                listed += 1
                b.line("  • ", code(r.identifier), " – ", user(r.title), f" ({_facts(r)})")
        if listed < len(rows):
            b.line(_t('… and {value} more: `wisbot exchange spot --gisc "{name}"` lists '
                      "them all.", value=len(rows) - listed, name=name))
        b.field(_t("Need review"), str(review))
        b.line(_t("To discuss a record with its provider: "),
               code("escalate exchange <metadata-id> <centre> <concern>"))
        return b.build()

    async def offered(self, gisc: str | None = None,
                      since: datetime | None = None) -> list[ExchangeRecord]:
        start = since or self.clock() - timedelta(days=1)

        def work(session: Session) -> list[ExchangeRecord]:
            q = select(ExchangeRecord).where(ExchangeRecord.scope == GLOBAL,
                                             col(ExchangeRecord.offered_at) > start)
            if gisc is not None:
                q = q.where(ExchangeRecord.principal_gisc == self.directory.gisc(gisc).name)
            return list(session.exec(q.order_by(col(ExchangeRecord.identifier))).all())

        return await self.store.tx(work)

    async def post_daily_sections(self, since: datetime | None = None) -> list[str]:
        """Post each GISC's section to its ``gisc:<G>`` rooms (until the watch daily post
        includes :meth:`daily_section`); the GISCs posted to."""
        sections: list[tuple[str, Render]] = []
        for g in self.directory.giscs:
            section = await self._daily_section(g.name, since)
            if section is not None:
                sections.append((g.name, section))
        if not sections:
            return []

        def work(session: Session) -> None:
            deliveries = []
            for name, render in sections:  # each room reads its own language
                each = _PerLanguage(session, self.directory, render)
                deliveries += [(room, each.room(room))
                               for room in self.directory.rooms_with_role(f"gisc:{name}")]
            notify(session, kind="exchange-daily", now=self.clock(), incident_id=None,
                   deliveries=deliveries)

        await self.store.tx(work)
        return [name for name, _ in sections]

    async def run_daily(self) -> SpotReport:
        """The scheduled job: spot, post the sections (unless the watch post does), remind,
        send pending mail."""
        report = await self.spot()
        await self._report_overrun(report)
        if self.config.post_daily:
            await self.post_daily_sections()
        await self.remind_due()
        await self.deliver_mail()
        return report

    async def _report_overrun(self, report: SpotReport) -> None:
        """Tell the Secretariat room which harvests hit their deadline (and where they go
        on); the rest of the run went ahead without them."""
        cut = [(src, st) for src, status, st in report.harvests if status == "timeout"]
        if not cut:
            return
        deadline = f"{self.config.harvest_deadline:g}"

        def render() -> Reply:
            b = ReplyBuilder(_t("Exchange daily run: harvest cut at its deadline"),
                             kind="alert")
            b.line(ngettext("{cut} of {n} catalogue harvest did not finish within {deadline} "
                            "s; the other sources were harvested, and the next run goes on "
                            "where these stopped.",
                            "{cut} of {n} catalogue harvests did not finish within {deadline} "
                            "s; the other sources were harvested, and the next run goes on "
                            "where these stopped.", len(report.harvests),
                            cut=i18n.number(len(cut)), deadline=deadline))
            for src, st in cut:
                where = (_t("page {n}", n=i18n.number(st.pages + 1)) if st.resume
                         else _t("the first page"))
                stopped = _t("no end within {deadline} s (overall deadline); the next run "
                             "goes on from {where}", deadline=deadline, where=where)
                b.line("  • ", code(src.key),
                       _t(": {pages} pages, {records} records; {stopped}",
                          pages=i18n.number(st.pages), records=i18n.number(st.records),
                          stopped=stopped))
            return b.build()

        def work(session: Session) -> None:
            rooms = self.directory.rooms_with_role("secretariat")
            each = _PerLanguage(session, self.directory, render)
            notify(session, kind="exchange-overrun", now=self.clock(), incident_id=None,
                   deliveries=[(room, each.room(room)) for room in rooms])

        await self.store.tx(work)

    def scheduled_jobs(self) -> list[ScheduledJob]:
        return [ScheduledJob("exchange-daily", self.config.spot_hour, 0, self.run_daily)]

    def _centre_label(self, code_: str) -> str:
        try:
            c = self.directory.centre(code_)
            member = self.directory.member(c.member)
        except NotFound:
            return code_
        return f"{c.name} ({c.code}, {member.name})"

    # ===== dispute cases =====================================================================

    def _centre(self, text: str) -> Centre:
        found = self.directory.centre_by_identifier(text)
        return found if found is not None else self.directory.centre(text)

    def _room_check(self, caller: Caller, case: ExchangeCase | None) -> None:
        room = caller.room
        if room is None:
            return
        if case_seen_by(room.role, case.member if case else None,
                        case is not None and case.referred_at is not None):
            return
        raise NotAllowed(
            _t("exchange dispute cases concern a named provider, so they are not shown in "
               "{key} (a {role} room). Use your GISC's room, the Secretariat room or a direct "
               "message with wisbot.", key=room.key, role=room.role)
        )

    def _may_see(self, caller: Caller, case: ExchangeCase) -> bool:
        """Whether the caller may be shown ``case`` where they are (the one predicate)."""
        return caller.sees_case(case.member, case.referred_at is not None)

    def _opened_card(self, session: Session, case: ExchangeCase) -> Reply:
        return self._case_reply(
            session, case, _t("exchange dispute opened (stage 1)"),
            note=_t("GISC {owner} discusses with {member} whether routine exchange of "
                    "all of it is needed. Outcome: `escalate exchange {number} agreed "
                    "<text>` or `escalate exchange {number} consult`.",
                    owner=case.owner_gisc, member=case.member, number=case.number))

    def _consulted_card(self, session: Session, case: ExchangeCase) -> Reply:
        return self._case_reply(
            session, case, _t("your GISC is consulted (stage 2)"),
            note=_t("The provider maintains that this exchange is appropriate. Does your "
                    "GISC accept it for near-real-time exchange? Answer once with "
                    "`escalate exchange {number} accept [reason]` or "
                    "`escalate exchange {number} object <reason>`; a later answer "
                    "replaces the earlier one.", number=case.number))

    def page_card(self, session: Session, ref: str) -> Reply | None:
        """A case's page, rendered again for the paged person (``PagingService.cards``):
        stage 1 pages the provider's Member, stage 2 the consulted GISCs."""
        try:
            case = self._get(session, None, ref)
        except (NotFound, UsageError):
            return None
        if case.stage == Stage.DISCUSSION.value:
            return self._opened_card(session, case)
        if case.stage == Stage.CONSULTATION.value:
            return self._consulted_card(session, case)
        return None

    def _get(self, session: Session, caller: Caller | None, number: str) -> ExchangeCase:
        number = parse_case_number(number)
        case = session.exec(select(ExchangeCase).where(ExchangeCase.number == number)).first()
        if case is None or (caller is not None
                            and not case_person_reads(caller.roles, case.member)):
            raise NotFound(_t("no exchange dispute case {number} that you may see (`escalate "
                              "exchange list` shows them)", number=number))
        if caller is not None:
            self._room_check(caller, case)  # says why the room may not, not whether it exists
        return case

    def _may_run(self, caller: Caller, case: ExchangeCase, what: str) -> None:
        if caller.is_secretariat or caller.is_gisc_focal(case.owner_gisc):
            return
        raise NotAllowed(_t("only GISC {owner_gisc}'s focal points (the provider's principal "
                            "GISC, which owns {number}) or the WMO Secretariat may {what}",
                            owner_gisc=case.owner_gisc, number=case.number, what=what))

    def _event(self, session: Session, case: ExchangeCase, actor: str, kind: str,
               text: str = "", gisc: str | None = None,
               data: dict[str, object] | None = None) -> None:
        session.add(ExchangeCaseEvent(case_id=_id(case), at=self.clock(), actor=actor,
                                      kind=kind, gisc=gisc, text=text, data=data or {}))

    def _case_rooms(self, case: ExchangeCase, *, all_giscs: bool) -> list[Room]:
        roles = ["secretariat", f"member:{case.member}"]
        rooms: list[Room] = []
        for room in self.directory.rooms:
            kind, _, name = room.role.partition(":")
            if room.role in roles or (kind == "member"
                                      and name.casefold() == case.member.casefold()):
                rooms.append(room)
            elif kind == "gisc" and (all_giscs or fold(name) == fold(case.owner_gisc)):
                rooms.append(room)
        # Whom a stage tells is the procedure's choice; who may read it is the predicate's.
        rooms = [r for r in rooms if case_seen_by(r.role, case.member,
                                                  case.referred_at is not None)]
        order = {"secretariat": 0, "gisc": 1, "member": 2}
        rooms.sort(key=lambda r: (order.get(r.role.partition(":")[0], 3),
                                  0 if fold(r.role.partition(":")[2]) == fold(case.owner_gisc)
                                  else 1))
        return rooms

    def _member_contacts(self, case: ExchangeCase) -> list[str]:
        people = [c for c in self.directory.contacts_of_member(case.member)
                  if case_person_reads(person_roles(self.directory, c), case.member)]
        people.sort(key=lambda c: not c.lead)
        return [c.id for c in people]

    def _consulted(self, case: ExchangeCase) -> list[str]:
        return [g.name for g in self.directory.giscs if fold(g.name) != fold(case.owner_gisc)]

    def _positions(self, session: Session, case: ExchangeCase) -> list[ExchangePosition]:
        return list(session.exec(select(ExchangePosition).where(
            ExchangePosition.case_id == _id(case)).order_by(col(ExchangePosition.id))).all())

    def _tally(self, session: Session, case: ExchangeCase) -> Tally:
        current = {p.gisc: p.position for p in self._positions(session, case) if p.current}
        return tally(self._consulted(case), current)

    def _case_reply(self, session: Session, case: ExchangeCase, headline: str, *,
                    note: str | None = None, full: bool = False) -> Reply:
        """The case card in the current language (``headline`` and ``note`` already in it)."""
        b = ReplyBuilder(f"{i18n.iso(case.number)} – {headline}", kind="exchange")
        b.ref = case.number
        b.field(_t("Record"), case.metadata_id)
        b.field(_t("Title"), case.title)
        b.field(_t("Provider"), self._centre_label(case.provider_centre))
        b.field(_t("Owner"), _t("GISC {gisc} (principal GISC of the provider)",
                                gisc=case.owner_gisc))
        b.field(_t("Scope"), case.scope)
        b.field(_t("Stage"), Stage(case.stage).words)
        b.line(bold(_t("Concern: ")), user(case.concern))
        if note:
            b.line(bold(_t("Note: ")), user(note))
        figures = self._opened_figures(case)
        if figures:
            b.line(bold(_t("Figures when opened: ")), "; ".join(figures))
        if case.stage != Stage.DISCUSSION.value and case.consulted_at is not None:
            t = self._tally(session, case)
            b.line(bold(_t("Tally: ")), t.words())
            if full:
                for p in self._positions(session, case):
                    was = "" if p.current else _t(" (replaced by a later answer)")
                    b.line(_t("  {when} · GISC {gisc} · {position}{was}",
                              when=_when(p.at), gisc=p.gisc,
                              position=_position_words(p.position), was=was),
                           *((": ", user(p.reason)) if p.reason else ()))
                if t.awaiting:
                    b.line(_t("  not answered: {giscs}", giscs=_giscs(t.awaiting)))
        if case.outcome:
            b.line(bold(_t("Outcome ({outcome_kind}): ",
                           outcome_kind=_outcome_words(case.outcome_kind))),
                   user(case.outcome))
        if full:
            b.line(bold(_t("Timeline:")))
            for e in self._events(session, case):
                who = self._actor(e.actor)
                text = _event_words(e)
                b.line(f"  {_when(e.at)} · {who} · {_kind_words(e.kind)}",
                       *((": ", user(text)) if text else ()))
        return b.build()

    def _opened_figures(self, case: ExchangeCase) -> list[str]:
        """The figures stored when the case was opened, in the current language (from their
        values; else the stored words)."""
        values = case.figures.get("values")
        if isinstance(values, list) and values and all(isinstance(v, dict) for v in values):
            try:
                return [Figure(str(v["metric"]), float(v["value"]),
                               None if v.get("previous") is None else float(v["previous"]),
                               str(v.get("source") or "")).words() for v in values]
            except (KeyError, TypeError, ValueError):
                pass
        figures = case.figures.get("figures")
        return [str(f) for f in figures] if isinstance(figures, list) else []

    def _opened_flags(self, case: ExchangeCase) -> list[str]:
        """Why the figures needed review when opened, in the current language (from the
        values and the thresholds then; else the stored words)."""
        values = case.figures.get("values")
        limits = case.figures.get("thresholds")
        if isinstance(values, list) and isinstance(limits, dict):
            try:
                figures = [Figure(str(v["metric"]), float(v["value"]),
                                  None if v.get("previous") is None else float(v["previous"]),
                                  str(v.get("source") or "")) for v in values]
                return review_flags(figures, Thresholds(**{
                    k: (None if x is None else float(x)) for k, x in limits.items()}))
            except (KeyError, TypeError, ValueError):
                pass
        flags = case.figures.get("flags")
        return [str(f) for f in flags] if isinstance(flags, list) else []

    def _events(self, session: Session, case: ExchangeCase) -> list[ExchangeCaseEvent]:
        return list(session.exec(select(ExchangeCaseEvent).where(
            ExchangeCaseEvent.case_id == _id(case)).order_by(col(ExchangeCaseEvent.id))).all())

    def _actor(self, actor: str) -> str:
        if actor == "wisbot":
            return "wisbot"
        try:
            return self.directory.contact(actor).name
        except NotFound:
            return _t("a former contact")

    def _tell(self, session: Session, case: ExchangeCase, kind: str, each: _PerLanguage, *,
              all_giscs: bool, member_direct: bool = False,
              extra: Sequence[Room] = ()) -> None:
        """The case's rooms (and ``extra`` ones) and, if asked, the provider Member's focal
        points, each in its own language."""
        rooms = [*self._case_rooms(case, all_giscs=all_giscs), *extra]
        deliveries = [(room, each.room(room)) for room in rooms]
        direct = ([(cid, each.person(cid)) for cid in self._member_contacts(case)]
                  if member_direct else [])
        notify(session, kind=kind, now=self.clock(), incident_id=None, deliveries=deliveries,
               direct=direct)

    async def open_case(self, caller: Caller, metadata_id: str, provider: str,
                        scope: str | None, concern: str) -> Reply:
        centre = self._centre(provider)
        owner = centre.principal_gisc
        if not (caller.is_secretariat or caller.is_gisc_focal(owner)):
            raise NotAllowed(
                _t("only GISC {owner}'s focal points (the principal GISC of {code}) or the WMO "
                   "Secretariat may open an exchange dispute about its records",
                   owner=owner, code=centre.code)
            )
        self._room_check(caller, None)
        if not concern.strip():
            raise UsageError(_t("say what the concern is (volume, frequency, load on WIS)"))
        metadata_id = metadata_id.strip()
        if not metadata_id or len(metadata_id) > 255:
            raise UsageError(_t("give the record's metadata identifier (at most 255 characters)"))

        def work(session: Session) -> Reply:
            now = self.clock()
            rec = session.exec(select(ExchangeRecord).where(
                ExchangeRecord.identifier == metadata_id)).first()
            case_scope = parse_scope(scope) if scope else (rec.scope if rec else GLOBAL)
            figures = self._figures(session, centre.code, now)
            # The record's facts as data (JSON keys); shown as they are.
            record_json: dict[str, object] = {"identifier": metadata_id, "seen": rec is not None}
            if rec is not None:
                record_json.update(title=rec.title, scope=rec.scope, licence=rec.licence,
                                   gts_category=rec.gts_category, data_policy=rec.data_policy,
                                   originator=rec.originator, centre=rec.centre,
                                   first_seen_at=_stamp(rec.first_seen_at),
                                   offered_at=_stamp(rec.offered_at),
                                   harvested_from=rec.harvested_from)
            seq = _next_seq(session, now.year)
            limits = self.config.thresholds
            with i18n.use("en"):  # the stored words: the fallback, in the source language
                words = [f.words() for f in figures]
                flags = review_flags(figures, limits)
            case = ExchangeCase(
                number=case_number(now.year, seq), year=now.year, seq=seq,
                metadata_id=metadata_id, title=rec.title if rec else metadata_id,
                provider_centre=centre.code, member=centre.member, owner_gisc=owner,
                scope=case_scope, concern=concern.strip(), stage=Stage.DISCUSSION.value,
                record=record_json,
                figures={"figures": words, "flags": flags,
                         "values": [{"metric": f.metric, "value": f.value,
                                     "previous": f.previous, "source": f.source}
                                    for f in figures],
                         "thresholds": {"messages_24h": limits.messages_24h,
                                        "products_24h": limits.products_24h,
                                        "bytes_24h": limits.bytes_24h,
                                        "change_pct": limits.change_pct}},
                opened_by=caller.contact.id, opened_at=now, updated_at=now)
            session.add(case)
            session.flush()
            self._event(session, case, caller.contact.id, "opened", case.concern,
                        data={"scope": case_scope})

            each = _PerLanguage(session, self.directory,
                                lambda: self._opened_card(session, case))
            self._tell(session, case, "exchange-opened", each, all_giscs=False,
                       member_direct=True)
            self.on_response(session, ResponseRequest(
                kind="exchange", ref=case.number, at=now,
                targets=((f"member:{case.member}", each.in_(None)),)))
            return each.in_(i18n.current()).model_copy(update={"private": True})

        return await self.store.tx(work)

    async def consult(self, caller: Caller, number: str) -> Reply:
        def work(session: Session) -> Reply:
            case = self._get(session, caller, number)
            self._may_run(caller, case, _t("start the consultation"))
            case.stage = check_transition(case.number, Stage(case.stage), "consult").value
            now = self.clock()
            case.consulted_at = case.updated_at = now
            self._event(session, case, caller.contact.id, "consult",
                        "the provider maintains its position; the other GISCs are consulted",
                        data={"say": "consulted"})
            asked = self._consulted(case)
            ask = _PerLanguage(session, self.directory,
                               lambda: self._consulted_card(session, case))
            status = _PerLanguage(session, self.directory, lambda: self._case_reply(
                session, case, _t("consultation started (stage 2)"),
                note=ngettext("{n} GISC asked.", "{n} GISCs asked.", len(asked))))
            asked_rooms = [(room, ask.room(room)) for g in asked
                           for room in self.directory.rooms_with_role(f"gisc:{g}")]
            own = self._case_rooms(case, all_giscs=False)
            notify(session, kind="exchange-consult", now=now, incident_id=None,
                   deliveries=[(room, status.room(room)) for room in own] + asked_rooms,
                   direct=[(cid, status.person(cid)) for cid in self._member_contacts(case)])
            self.on_response(session, ResponseRequest(
                kind="exchange", ref=case.number, at=now,
                targets=tuple((f"gisc:{g}", ask.in_(None)) for g in asked)))
            return status.in_(i18n.current()).model_copy(update={"private": True})

        return await self.store.tx(work)

    def _voting_gisc(self, caller: Caller) -> str:
        giscs = list(caller.contact.giscs)
        if not giscs:
            member = ", ".join(caller.contact.members)
            who = _t("a focal point of Member {member}", member=member) if member else (
                _t("the WMO Secretariat") if caller.is_secretariat
                else _t("not a GISC focal point"))
            raise NotAllowed(_t("only GISCs answer a consultation; you are {who}, not a GISC's "
                                "focal point", who=who))
        room = caller.room
        if room is not None and room.role.startswith("gisc:"):
            name = room.role.split(":", 1)[1]
            if caller.is_gisc_focal(name):
                return self.directory.gisc(name).name
        if len(giscs) == 1:
            return self.directory.gisc(giscs[0]).name
        raise UsageError(_t("you are a focal point of several GISCs ({giscs}): answer in that "
                            "GISC's room", giscs=', '.join(giscs)))

    async def answer(self, caller: Caller, number: str, position: str, reason: str) -> Reply:
        if position not in ("accept", "object"):
            raise UsageError(_t("answer accept or object"))
        gisc = self._voting_gisc(caller)

        def work(session: Session) -> Reply:
            case = self._get(session, caller, number)
            if fold(gisc) == fold(case.owner_gisc):
                raise NotAllowed(_t("GISC {gisc} owns {number}; the other GISCs answer the "
                                    "consultation", gisc=gisc, number=case.number))
            check_transition(case.number, Stage(case.stage), position)
            now = self.clock()
            earlier = [p for p in self._positions(session, case) if p.gisc == gisc and p.current]
            for p in earlier:
                p.current = False
            session.add(ExchangePosition(case_id=_id(case), gisc=gisc, position=position,
                                         reason=reason.strip(), by=caller.contact.id, at=now))
            session.flush()
            case.updated_at = now
            before = earlier[-1].position if earlier else ""
            was = f" (replaces its earlier '{before}')" if earlier else ""
            self._event(session, case, caller.contact.id,
                        "answer changed" if earlier else "answer",
                        f"GISC {gisc}: {position}{was}" + (f" – {reason.strip()}"
                                                           if reason.strip() else ""),
                        gisc=gisc, data={"position": position, "say": "answer",
                                         "with": {"gisc": gisc, "position": position,
                                                  "earlier": before,
                                                  "note": reason.strip()}})
            t = self._tally(session, case)

            def said() -> str:
                text = (_t("GISC {gisc} accepts", gisc=gisc) if position == "accept"
                        else _t("GISC {gisc} objects", gisc=gisc))
                if earlier:
                    text += _t(" (replaces its earlier '{position}')", position=before)
                return text

            each = _PerLanguage(session, self.directory, lambda: self._case_reply(
                session, case, said(), note=reason.strip() or None))
            self._tell(session, case, "exchange-answer", each, all_giscs=False)
            return ReplyBuilder(f"{i18n.iso(case.number)} – {said()}").line(
                bold(_t("Tally: ")), t.words()).build(private=True)

        return await self.store.tx(work)

    async def agreed(self, caller: Caller, number: str, text: str) -> Reply:
        if not text.strip():
            raise UsageError(_t("say what was agreed, e.g. `agreed hourly subset only`"))
        return await self._close(caller, number, "agreed", text,
                                 N_("closed: agreed with the provider"))

    async def resolve(self, caller: Caller, number: str, outcome: str) -> Reply:
        if not outcome.strip():
            raise UsageError(_t("give the working group's conclusion, as reported to the "
                                "constituent body"))
        return await self._close(caller, number, "resolve", outcome, N_("closed: resolved"))

    async def _close(self, caller: Caller, number: str, action: str, text: str,
                     headline: str) -> Reply:
        def work(session: Session) -> Reply:
            case = self._get(session, caller, number)
            self._may_run(caller, case, _t("record the outcome ({action})", action=action))
            case.stage = check_transition(case.number, Stage(case.stage), action).value
            now = self.clock()
            case.closed_at = case.updated_at = now
            case.outcome_kind = "agreed" if action == "agreed" else "resolved"
            case.outcome = text.strip()
            self._event(session, case, caller.contact.id, action, text.strip())
            each = _PerLanguage(session, self.directory,
                                lambda: self._case_reply(session, case, str(headline)))
            extra: list[Room] = []
            if case.referred_at is not None:
                extra = list(self.directory.rooms_with_role("working-group"))
            self._tell(session, case, f"exchange-{action}", each,
                       all_giscs=case.consulted_at is not None, member_direct=True, extra=extra)
            return each.in_(i18n.current()).model_copy(update={"private": True})

        return await self.store.tx(work)

    def _mail_language(self, session: Session, address: str) -> str:
        """An address's reader: the directory contact with that e-mail reads their own
        language; an address of no contact, the deployment default."""
        for contact in self.directory.contacts:
            if contact.email and contact.email.strip().casefold() == address.strip().casefold():
                return person_language(session, self.directory, contact.id)
        return i18n.default()

    async def refer(self, caller: Caller, number: str, note: str = "") -> Reply:
        wg = self.directory.working_group
        if wg is None:
            raise InvalidState(_t("no working group is configured in the directory "
                                  "(working_group: name, room, email): nowhere to refer to"))

        def work(session: Session) -> Reply:
            case = self._get(session, caller, number)
            self._may_run(caller, case, _t("refer the case to the working group"))
            case.stage = check_transition(case.number, Stage(case.stage), "refer").value
            now = self.clock()
            case.referred_at = case.updated_at = now
            where = ", ".join(x for x in (wg.room and f"room {wg.room}", wg.email) if x)
            self._event(session, case, caller.contact.id, "refer",
                        f"referred to {wg.name} ({where})" + (f": {note}" if note else ""),
                        data={"say": "referred", "with": {"name": wg.name, "room": wg.room or "",
                                                          "email": wg.email or "",
                                                          "note": note}})
            session.flush()
            each = _PerLanguage(session, self.directory, lambda: self._case_reply(
                session, case, _t("referred to {name} (stage 3)", name=wg.name),
                note=note or None, full=True))
            extra = [self.directory.room(wg.room)] if wg.room else []
            self._tell(session, case, "exchange-refer", each, all_giscs=True,
                       member_direct=True, extra=extra)
            if wg.email:
                with i18n.use(self._mail_language(session, wg.email)):  # the reader's
                    subject = _t("[WIS] {number}: near-real-time exchange of {metadata_id} "
                                 "referred to {name}", number=case.number,
                                 metadata_id=case.metadata_id, name=wg.name)
                    body = self._markdown(session, case)
                session.add(ExchangeMail(case_id=_id(case), to=wg.email, subject=subject[:255],
                                         body=body, created_at=now))
            return each.in_(i18n.current()).model_copy(update={"private": True})

        reply = await self.store.tx(work)
        await self.deliver_mail()
        return reply

    async def deliver_mail(self) -> tuple[int, int]:
        """Send pending mails (and retry failed ones, up to a limit): (sent, failed).

        Each mail is claimed (``sending``) in its own transaction before it is sent, so two
        callers at once (a ``refer`` and the daily job, or two replicas) send it once. A
        mail left ``sending`` by a process that died mid-send is taken again after
        :data:`MAIL_STALE`."""
        def pending(session: Session) -> list[int]:
            stale = self.clock() - MAIL_STALE
            return [i for i in session.exec(select(ExchangeMail.id).where(
                (col(ExchangeMail.status).in_(["pending", "failed"])
                 | ((col(ExchangeMail.status) == "sending")
                    & (col(ExchangeMail.sent_at) < stale))),
                ExchangeMail.attempts < MAIL_ATTEMPTS).order_by(col(ExchangeMail.id))).all()
                    if i is not None]

        def claim(session: Session, mail_id: int) -> ExchangeMail | None:
            now = self.clock()
            got = session.execute(update(ExchangeMail).where(
                col(ExchangeMail.id) == mail_id, col(ExchangeMail.attempts) < MAIL_ATTEMPTS,
                col(ExchangeMail.status).in_(["pending", "failed"])
                | ((col(ExchangeMail.status) == "sending")
                   & (col(ExchangeMail.sent_at) < now - MAIL_STALE)))
                .values(status="sending", sent_at=now)).rowcount  # type: ignore[attr-defined]
            return session.get(ExchangeMail, mail_id) if got == 1 else None

        sent = failed = 0
        for mail_id in await self.store.tx(pending):
            mail = await self.store.tx(functools.partial(claim, mail_id=mail_id))
            if mail is None:
                continue  # another caller has it
            error: str | None = None
            if self.mailer is None:
                error = "no mailer configured"  # the operator's words (log, timeline)
            else:
                try:
                    await self.mailer.send(mail.to, mail.subject, mail.body)
                except MailError as exc:
                    error = str(exc)
            if error:
                failed += 1
                log.warning("exchange mail %s to %s not sent: %s", mail.id, mail.to, error)
            else:
                sent += 1

            def done(session: Session, mail_id: int | None = mail.id,
                     error: str | None = error) -> None:
                row = session.get(ExchangeMail, mail_id)
                if row is None:
                    return
                row.attempts += 1
                row.status = "failed" if error else "sent"
                row.last_error = error
                if not error:
                    row.sent_at = self.clock()
                case = session.get(ExchangeCase, row.case_id)
                if case is not None:
                    self._event(session, case, "wisbot", "mail failed" if error else "mailed",
                                f"case file to {row.to}" + (f": {error}" if error else ""),
                                data={"say": "mail failed" if error else "mailed",
                                      "with": {"to": row.to, "error": error or ""}})

            await self.store.tx(done)
        return sent, failed

    async def remind_due(self) -> int:
        """Remind GISCs that have not answered a consultation after the set days."""
        every = self.config.reminder_every

        def work(session: Session) -> int:
            now = self.clock()
            sent = 0
            cases = session.exec(select(ExchangeCase).where(
                ExchangeCase.stage == Stage.CONSULTATION.value)).all()
            for case in cases:
                if case.consulted_at is None:
                    continue
                t = self._tally(session, case)
                last: dict[str, datetime] = {}
                for e in self._events(session, case):
                    if e.kind == "reminder" and e.gisc:
                        last[e.gisc] = e.at
                due = reminders_due(t.awaiting, case.consulted_at, last, now, every)
                if not due:
                    continue
                deliveries: list[tuple[Room, Reply]] = []
                for gisc in due:
                    each = _PerLanguage(session, self.directory, functools.partial(
                        self._reminder, session, case, gisc))
                    deliveries += [(room, each.room(room)) for room in
                                   self.directory.rooms_with_role(f"gisc:{gisc}")]
                    self._event(session, case, "wisbot", "reminder",
                                f"GISC {gisc} reminded", gisc=gisc,
                                data={"say": "reminded", "with": {"gisc": gisc}})
                    sent += 1
                notify(session, kind="exchange-reminder", now=now, incident_id=None,
                       deliveries=deliveries)
            return sent

        return await self.store.tx(work)

    def _reminder(self, session: Session, case: ExchangeCase, gisc: str) -> Reply:
        assert case.consulted_at is not None
        return self._case_reply(
            session, case, _t("reminder: GISC {gisc} has not answered", gisc=gisc),
            note=_t("Consulted {when}. Answer with `escalate exchange {number} accept|object "
                    "[reason]`.", when=_when(case.consulted_at), number=case.number))

    async def show(self, caller: Caller, number: str) -> Reply:
        def work(session: Session) -> Reply:
            case = self._get(session, caller, number)
            return self._case_reply(session, case, _t("case file"), full=True).model_copy(
                update={"private": True})

        return await self.store.tx(work)

    async def list(self, caller: Caller, which: str = "open") -> Reply:
        self._room_check(caller, None)
        if not (caller.is_secretariat or caller.contact.giscs or caller.contact.members):
            raise NotAllowed(_t("exchange dispute cases are for GISC and Member focal points "
                                "and the WMO Secretariat"))

        def work(session: Session) -> Reply:
            q = select(ExchangeCase).order_by(col(ExchangeCase.id))
            if which == "open":
                q = q.where(ExchangeCase.stage != Stage.CLOSED.value)
            rows = [c for c in session.exec(q).all() if self._may_see(caller, c)]
            b = ReplyBuilder(_t("Exchange dispute cases ({which}): {count}",
                                which=which, count=len(rows)))
            for c in rows:
                line = (f"{c.number} · {Stage(c.stage).words} · {c.provider_centre} · "
                        f"GISC {c.owner_gisc} · ")
                extra = ""
                if c.stage == Stage.CONSULTATION.value:
                    extra = f" · {self._tally(session, c).words()}"
                b.line(line, code(c.metadata_id), extra)
            if not rows:
                b.line(_t("none"))
            return b.build(private=True)

        return await self.store.tx(work)

    async def report_markdown(self, number: str) -> str:
        """The case file as Markdown (CLI; the operator's view, not a chat audience's), in
        the current language (the deployment default unless set)."""
        def work(session: Session) -> str:
            return self._markdown(session, self._get(session, None, number))

        return await self.store.tx(work)

    def _markdown(self, session: Session, case: ExchangeCase) -> str:
        def esc(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        def row(label: str, value: str) -> str:
            return f"| {label} | {value} |"

        by = esc(self._actor(case.opened_by))
        out = [_t("# {number}: near-real-time exchange of `{metadata_id}`",
                  number=case.number, metadata_id=case.metadata_id), ""]
        out += [
            "| | |", "|---|---|",
            row(_t("Record"), f"`{esc(case.metadata_id)}`"),
            row(_t("Title"), esc(case.title)),
            row(_t("Provider"), esc(self._centre_label(case.provider_centre))),
            row(_t("Owner"), _t("GISC {gisc} (principal GISC)", gisc=case.owner_gisc)),
            row(_t("Scope"), case.scope),
            row(_t("Stage"), Stage(case.stage).words),
            row(_t("Opened"), _t("{when} by {who}", when=_when(case.opened_at), who=by)),
            row(_t("Consultation"), _when(case.consulted_at)),
            row(_t("Referred"), _when(case.referred_at)),
            row(_t("Closed"), _when(case.closed_at)),
            "", _t("## Concern"), "", case.concern, "",
        ]
        if case.outcome:
            out += [_t("## Outcome ({outcome_kind})",
                       outcome_kind=_outcome_words(case.outcome_kind)), "", case.outcome, ""]
        # The record's facts: their keys are data (as stored), their values as harvested.
        out += [_t("## Record"), ""]
        for key, value in case.record.items():
            shown = ("—" if value is None or value == ""
                     else _t("yes") if value is True else _t("no") if value is False
                     else value)
            out.append(f"- {key}: {esc(str(shown))}")
        out += ["", _t("## Figures when opened"), ""]
        figures = self._opened_figures(case)
        flags = self._opened_flags(case)
        if figures:
            out += [f"- {f}" for f in figures]
        else:
            out.append(_t("- none available"))
        out += [_t("- needs review: {flag}", flag=f) for f in flags]
        out += ["", _t("## Positions of the GISCs"), ""]
        if case.consulted_at is None:
            out.append(_t("Not consulted."))
        else:
            t = self._tally(session, case)
            out += [_t("Tally: {tally}.", tally=t.words()), "",
                    "| GISC | {} | {} | {} | {} |".format(_t("answer"), _t("reason"), _t("when"),
                                                         _t("current")),
                    "|---|---|---|---|---|"]
            for p in self._positions(session, case):
                out.append(f"| {p.gisc} | {_position_words(p.position)} | {esc(p.reason)} | "
                           f"{_when(p.at)} | {_t('yes') if p.current else _t('replaced')} |")
            if t.awaiting:
                out += ["", _t("Not answered: {giscs}", giscs=_giscs(t.awaiting))]
        out += ["", _t("## Timeline"), "",
                "| {} | {} | {} | {} |".format(_t("when"), _t("who"), _t("what"), _t("note")),
                "|---|---|---|---|"]
        for e in self._events(session, case):
            out.append(f"| {_when(e.at)} | {esc(self._actor(e.actor))} | "
                       f"{_kind_words(e.kind)} | {esc(_event_words(e))} |")
        return "\n".join(out) + "\n"


def _stamp(when: datetime | None) -> str:
    """A moment as stored in the record's facts (data: one format for every reader)."""
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "—"


OUTCOMES: dict[str, str] = {"agreed": N_("agreed"), "resolved": N_("resolved")}


def _outcome_words(kind: str | None) -> str:
    return str(OUTCOMES[kind]) if kind in OUTCOMES else (kind or "")


def _facts(r: ExchangeRecord) -> str:
    parts = [r.scope if r.data_policy is None else f"wmo:dataPolicy {r.data_policy}"]
    if r.licence:
        parts.append(r.licence)
    if r.gts_category:
        parts.append(r.gts_category)
    if r.previous_scope and r.previous_scope != r.scope:
        parts.append(_t("was {scope}", scope=r.previous_scope))
    else:
        parts.append(_t("new"))
    return "; ".join(parts)


__all__ = ["ExchangeConfig", "ExchangeService", "ScheduledJob", "Source", "SpotReport"]

