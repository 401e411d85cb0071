"""WIS2 monitoring events in and out: the subscriber on the Global Brokers, catch-up from
the Global Replay, tickets from events, the operations calendar of planned outages, the
durable queue of WMEMs wisbot publishes, and Global Service levels.

Every event is inserted by its WMEM id in the transaction that acts on it, so a second
broker, a replay, a restart or another process never handles it twice. Only the leader
subscribes and publishes; a new leader catches up from the replay since the last event
heard (``wmem:heard``), and the dedupe drops what the old one already handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import functools
import json
import logging
import ssl
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from sqlalchemy import delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from wisbot import i18n
from wisbot.clock import Clock
from wisbot.directory import Directory
from wisbot.domain import watch as rules
from wisbot.domain import wmem
from wisbot.domain.watch import Impact, TicketState
from wisbot.domain.wmem import Event, Level, Refused
from wisbot.errors import NotAllowed, UsageError
from wisbot.i18n import N_
from wisbot.i18n import _ as _t
from wisbot.probes.base import ProbeResult, ProbeStatus
from wisbot.reply import Reply, ReplyBuilder, Span, bold, user
from wisbot.services.context import Caller
from wisbot.services.languages import room_language
from wisbot.services.notify import notify
from wisbot.services.ticket_words import Words, theirs
from wisbot.services.watch import SERVICE_WORDS, WIS1, Section, WatchService
from wisbot.settings import Settings
from wisbot.store.engine import Store
from wisbot.store.watch_tables import ProbeRecord, WatchMark, WatchTicket
from wisbot.store.wmem_tables import WmemEvent, WmemOutage, WmemOutgoing, WmemProbeState

log = logging.getLogger(__name__)

COLLECTION = "wis2-monitoring-event-messages"
HEARD = "wmem:heard"
RANK = {Impact.MEDIUM: 0, Impact.HIGH: 1, Impact.VERY_HIGH: 2}
BATCH = 200
MAX_OUTAGE = timedelta(days=7)
"""A longer `watch outage` window is asked about first (a mistyped year)."""


def _now(clock: Clock) -> datetime:
    return clock().astimezone(UTC)


@dataclass(frozen=True)
class Broker:
    url: str
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @property
    def label(self) -> str:
        p = urlsplit(self.url)
        return f"{p.scheme}://{p.hostname}:{p.port or ''}".rstrip(":")

    def client_args(self, role: str) -> dict[str, Any]:
        import aiomqtt

        p = urlsplit(self.url)
        scheme = p.scheme.lower()
        if scheme not in ("mqtt", "mqtts", "tcp", "ssl", "ws", "wss"):
            raise UsageError(_t("broker URL {label!r}: use mqtt://, mqtts://, ws:// or wss://",
                                label=self.label))
        tls = scheme in ("mqtts", "ssl", "wss")
        transport: Literal["tcp", "websockets"] = "websockets" if scheme.startswith("ws") \
            else "tcp"
        ports = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883, "ws": 80, "wss": 443}
        args: dict[str, Any] = {
            "hostname": p.hostname or "localhost", "port": p.port or ports[scheme],
            "transport": transport, "protocol": aiomqtt.ProtocolVersion.V5,
            "identifier": f"wisbot-wmem-{role}-{uuid.uuid4().hex[:10]}",
            "username": unquote(p.username) if p.username else self.username,
            "password": unquote(p.password) if p.password else self.password,
            "keepalive": 30,
        }
        if transport == "websockets":
            args["websocket_path"] = p.path or "/mqtt"
        if tls:
            args["tls_context"] = ssl.create_default_context(cafile=self.ca_file)
        return args


def brokers(urls: Sequence[str], settings: Settings) -> list[Broker]:
    password = settings.wmem_password.get_secret_value() if settings.wmem_password else None
    ca = str(settings.wmem_ca_file) if settings.wmem_ca_file else None
    return [Broker(u, settings.wmem_username, password, ca) for u in urls]


def _insert(sqlite: bool) -> Any:
    return sqlite_insert if sqlite else pg_insert


@contextlib.asynccontextmanager
async def mqtt_client(args: dict[str, Any]) -> AsyncIterator[Any]:
    """An aiomqtt client whose socket is closed however the connection ends (aiomqtt leaves
    a refused connection's socket open, a leak per retry against a broker refusing us)."""
    import aiomqtt

    client = aiomqtt.Client(**args)
    try:
        await client.__aenter__()
    except BaseException:
        _close_socket(client)
        raise
    try:
        yield client
    finally:
        with contextlib.suppress(aiomqtt.MqttError):
            await client.__aexit__(None, None, None)
        _close_socket(client)


def _close_socket(client: Any) -> None:
    close = getattr(getattr(client, "_client", None), "_sock_close", None)
    if close is not None:
        with contextlib.suppress(Exception):
            close()


class WmemService:
    def __init__(self, store: Store, directory: Directory, settings: Settings, clock: Clock,
                 watch: WatchService) -> None:
        self.store = store
        self.directory = directory
        self.settings = settings
        self.clock = clock
        self.watch = watch
        self.refused: Counter[str] = Counter()
        """Messages refused since start, by reason (also logged)."""
        self.outcomes: Counter[str] = Counter()
        self.on_queued: list[Any] = []
        """Called (no arguments) after a transaction queued WMEMs to publish."""
        s = settings
        if s.wmem_publish:
            if not s.wmem_centre_id or not wmem.is_centre_id(s.wmem_centre_id):
                raise UsageError(_t("wmem_publish needs wmem_centre_id: the deploying GISC's "
                                    "centre-id (e.g. de-dwd), the source of its WMEMs"))
            if not s.wmem_publish_brokers:
                raise UsageError(_t("wmem_publish needs wmem_publish_brokers (where to publish)"))
        watch.quiet = self.quiet
        watch.on_results.append(self._probe_results)
        watch.sections += [self._events_section, self._outages_section, self._levels_section]

    # ----- names ---------------------------------------------------------------------------
    def centre_of(self, ident: str) -> str | None:
        """The centre-id of a directory wis2 entry (its ``centre_id`` option)."""
        entry = self.directory.wis2.get(ident) or {}
        value = entry.get("centre_id")
        return value if value else None

    def _idents_of(self, service: str) -> set[str]:
        """Probe target names a calendar or event name stands for."""
        out = {service}
        for ident in self.directory.wis2:
            if self.centre_of(ident) == service:
                out.add(ident)
        return out

    def _key(self, subject: str) -> str:
        """The directory wis2 id for a centre-id, when one is configured."""
        for ident in self.directory.wis2:
            if self.centre_of(ident) == subject:
                return ident
        return subject

    # ----- receiving -----------------------------------------------------------------------
    def accept(self, payload: bytes, topic: str, via: str) -> Event | None:
        """Parse one received message; a refused one is counted and logged, never raised."""
        try:
            ev = wmem.parse(payload, topic)
        except Refused as exc:
            self.refused[exc.reason] += 1
            n = self.refused[exc.reason]
            if n <= 10 or n % 1000 == 0:
                log.warning("WMEM refused from %s on %s (%s, %d so far): %s", via, topic[:120],
                            exc.reason, n, exc.detail)
            return None
        if wmem.topic_subject(topic) not in (None, ev.subject) and topic:
            log.info("WMEM %s about %s arrived on topic %s", ev.id, ev.subject, topic[:120])
        if ev.schema_errors:
            self.refused["schema-drift"] += 1  # handled all the same: read tolerantly
            if self.refused["schema-drift"] <= 10:
                log.info("WMEM %s from %s departs from the schema: %s", ev.id, ev.source,
                         "; ".join(ev.schema_errors[:3]))
        return ev

    async def receive(self, items: Sequence[tuple[Event, str]]) -> list[str]:
        """Handle events in one transaction (one by one if the batch fails); returns each
        outcome (``duplicate`` for an id already handled)."""
        if not items:
            return []
        try:
            out = await self.store.tx(lambda s: self._handle_all(s, items))
        except OperationalError:
            raise  # the database is away: the caller keeps the batch and tries again
        except Exception:
            log.exception("WMEM batch of %d failed; handling them one by one", len(items))
            out = []
            for item in items:
                try:
                    out += await self.store.tx(functools.partial(self._handle_all,
                                                                 items=[item]))
                except OperationalError:
                    raise
                except Exception:  # this one message: logged and skipped, never a crash
                    log.exception("WMEM %s could not be handled", item[0].id)
                    out.append("error")
        self.outcomes.update(out)
        return out

    async def receive_bytes(self, payload: bytes, topic: str, via: str) -> str:
        ev = self.accept(payload, topic, via)
        if ev is None:
            return "refused"
        return (await self.receive([(ev, via)]))[0]

    def _handle_all(self, session: Session, items: Sequence[tuple[Event, str]]) -> list[str]:
        now = _now(self.clock)
        out = [self._handle(session, ev, via, now) for ev, via in items]
        mark = session.get(WatchMark, HEARD)
        if mark is None:
            session.add(WatchMark(key=HEARD, at=now))
        elif mark.at < now:
            mark.at = now
            session.add(mark)
        return out

    def _handle(self, session: Session, ev: Event, via: str, now: datetime) -> str:
        t = WmemEvent.__table__  # type: ignore[attr-defined]
        res = session.execute(_insert(self.store.sqlite)(t).values(
            id=ev.id, received_at=now, event_time=ev.time, via=via[:160], source=ev.source,
            subject=ev.subject, severity=ev.severity, subtype=ev.subtype, title=ev.title,
            ref=ev.ref, outcome="", ticket_id=None, schema_ok=not ev.schema_errors,
            doc=ev.doc).on_conflict_do_nothing(index_elements=["source", "id"])
            .returning(t.c.id))
        if res.first() is None:
            return "duplicate"
        outcome, ticket_id = self._decide(session, ev, now)
        session.execute(update(t).where(t.c.source == ev.source, t.c.id == ev.id)
                        .values(outcome=outcome, ticket_id=ticket_id))
        return outcome

    @staticmethod
    def _referred(session: Session, ev: Event) -> WmemEvent | None:
        """The event ``data.ref`` names: ids are unique per source only, so the follow-up's
        own source first, then one about the same subject."""
        rows = session.exec(select(WmemEvent).where(WmemEvent.id == ev.ref).limit(20)).all()
        return next((r for r in rows if r.source == ev.source), None) or next(
            (r for r in rows if r.subject == ev.subject), None)

    def _decide(self, session: Session, ev: Event, now: datetime) -> tuple[str, int | None]:
        actor = f"WMEM {ev.source}"[:128]
        if ev.is_outage:
            self._calendar(session, ev, now)
            return "outage", None
        ticket: WatchTicket | None = None
        if ev.ref:
            prev = self._referred(session, ev)
            if prev is not None and prev.ticket_id is not None:
                ticket = session.get(WatchTicket, prev.ticket_id)
        # stored on the ticket (and mirrored to WIS2 IMS) in English; the chat renders
        # "from" in the reader's language (ticket_words.finding_words)
        words = f"{ev.severity} from {ev.source}: {ev.title}" + (
            f" – {ev.description}" if ev.description else "")
        if ev.failing:
            if self._in_outage(session, ev.subject, ev.time or now):
                return "suppressed", None
            impact = wmem.impact_for(ev.severity, wmem.service_kind(ev.subject) is not None)
            assert impact is not None
            if ticket is None:
                ticket = session.exec(select(WatchTicket).where(
                    WatchTicket.subject == ev.subject,
                    WatchTicket.state != TicketState.DONE.value)
                    .order_by(col(WatchTicket.id).desc())).first()
            if ticket is None or ticket.state == TicketState.DONE.value:
                t = self.watch._open_ticket(session, ev.subject, words[:1000], impact, actor,
                                            auto=False, services={})
                self._recovered_before(session, ev, t)
                return "ticket", t.id
            higher = impact if RANK[impact] > RANK[Impact(ticket.impact)] else None
            self.watch.note_ticket(session, ticket, actor, "note", words[:1000],
                                   _reported(ev.severity, ev.source, ev.title), impact=higher)
            return "update", ticket.id
        if ticket is not None and ticket.state != TicketState.DONE.value:
            if ev.severity in ("DEBUG", "INFO"):
                self.watch.note_ticket(
                    session, ticket, actor, "note", f"recovery: {words}"[:1000],
                    _recovery(ev.source, ev.title, _id(ticket), before=False))
                return "recovery", ticket.id
            self.watch.note_ticket(session, ticket, actor, "note", words[:1000],
                                   _follow_up(ev.source, ev.title))
            return "update", ticket.id
        return ("summary" if ev.severity in ("WARNING", "INFO") else "ignored"), None

    def _recovered_before(self, session: Session, ev: Event, ticket: WatchTicket) -> None:
        """A failure handled after its own recovery (the live stream ahead of a catch-up):
        the recovery already heard is noted on the new ticket at once."""
        later = session.exec(select(WmemEvent).where(
            WmemEvent.ref == ev.id, WmemEvent.subject == ev.subject,
            col(WmemEvent.severity).in_(["DEBUG", "INFO"]),
            col(WmemEvent.ticket_id).is_(None))
            .order_by(col(WmemEvent.received_at))).first()
        if later is None:
            return
        self.watch.note_ticket(
            session, ticket, f"WMEM {later.source}"[:128], "note",
            f"recovery: {later.severity} from {later.source}: {later.title}"[:1000],
            _recovery(later.source, later.title, _id(ticket), before=True))
        later.outcome, later.ticket_id = "recovery", ticket.id
        session.add(later)

    async def catch_up(self, fetch: Any | None = None) -> int:
        """Fetch from the Global Replay what was published since the last event heard
        (at most ``wmem_replay_max_hours`` back) and handle it; returns new events."""
        base = self.settings.wmem_replay_url
        if not base:
            return 0
        now = _now(self.clock)
        floor = now - timedelta(hours=self.settings.wmem_replay_max_hours)

        def since(session: Session) -> datetime:
            mark = session.get(WatchMark, HEARD)
            return max(floor, mark.at - timedelta(minutes=10)) if mark else floor

        start = await self.store.tx(since)
        handled = 0
        batch: list[tuple[Event, str]] = []
        async for item in (fetch or replay_items)(base, start):
            try:
                body = json.dumps(item, ensure_ascii=False).encode("utf-8")
            except (ValueError, TypeError, RecursionError) as exc:
                # one unreadable item is skipped; the ones after it are still handled
                self.refused["broken-json"] += 1
                log.warning("WMEM refused from the replay: %s", str(exc)[:120] or
                            type(exc).__name__)
                continue
            ev = self.accept(body, "", "replay")
            if ev is not None:
                batch.append((ev, "replay"))
            if len(batch) >= BATCH:
                handled += sum(o != "duplicate" for o in await self.receive(batch))
                batch = []
        handled += sum(o != "duplicate" for o in await self.receive(batch))
        log.info("WMEM catch-up from %s since %s: %d new", base, start.isoformat(), handled)
        return handled

    # ----- the operations calendar ---------------------------------------------------------
    @staticmethod
    def may_plan(source: str, subject: str) -> bool:
        """Only a service itself or its operating centre (``de-dwd`` for
        ``de-dwd-global-broker``) plans its outage; anyone else's notice is not binding."""
        return source == subject or subject.startswith(source + "-")

    def _calendar(self, session: Session, ev: Event, now: datetime) -> None:
        assert ev.interval is not None
        a, z = ev.interval
        text = ev.title + (f": {ev.description}" if ev.description else "")
        binding = self.may_plan(ev.source, ev.subject)
        prev = session.exec(select(WmemOutage).where(WmemOutage.event_id == ev.ref)).first() \
            if ev.ref else None
        if prev is not None and binding and ev.subject in (
                prev.service, self.centre_of(prev.service)):
            prev.starts_at, prev.ends_at, prev.text = a, z, text[:2000]  # a follow-up
            session.add(prev)
            return
        if not binding:
            log.warning("WMEM %s: outage of %s announced by %s, not its own: kept in the "
                        "calendar, suppresses nothing", ev.id, ev.subject, ev.source)
        taken = session.exec(select(WmemOutage.id).where(
            WmemOutage.event_id == ev.id)).first() is not None  # the same id, another source
        session.add(WmemOutage(service=ev.subject, starts_at=a, ends_at=z, text=text[:2000],
                               announced_by=f"WMEM {ev.source}"[:128],
                               event_id=None if taken else ev.id, created_at=now,
                               binding=binding))

    @staticmethod
    def _active(at: datetime) -> Any:
        return (col(WmemOutage.binding),
                or_(col(WmemOutage.starts_at).is_(None), col(WmemOutage.starts_at) <= at),
                or_(col(WmemOutage.ends_at).is_(None), col(WmemOutage.ends_at) > at))

    def _in_outage(self, session: Session, subject: str, at: datetime) -> bool:
        names = self._idents_of(subject) | {self.centre_of(subject) or subject}
        return session.exec(select(WmemOutage.id).where(
            col(WmemOutage.service).in_(names), *self._active(at))).first() is not None

    def quiet(self, session: Session, at: datetime) -> set[str]:
        """Probe targets (and centre-ids) in a planned outage at ``at``."""
        out: set[str] = set()
        for service in session.exec(select(WmemOutage.service).where(*self._active(at))).all():
            out |= self._idents_of(service)
        return out

    def _resolve_service(self, word: str, session: Session | None = None,
                         confirm: bool = False) -> tuple[str, str | None]:
        """(calendar name, centre-id to publish about) for what the user typed; an unknown
        centre-id close to a known one is refused (a typo) unless confirmed."""
        if word in self.directory.wis2:
            centre = self.centre_of(word)
            return centre or word, centre
        if wmem.is_centre_id(word):
            names = set(self.directory.wis2) | {c for c in map(
                self.centre_of, self.directory.wis2) if c}
            if session is not None:
                names |= set(session.exec(select(WmemEvent.subject).distinct()
                                          .limit(5000)).all())
            near = difflib.get_close_matches(word, sorted(names), n=1, cutoff=0.85)
            if word not in names and near and not confirm:
                raise UsageError(_t("{word!r} is no service wisbot knows: did you mean "
                                    "{near!r}? If {word!r} is right, type the command again "
                                    "with `confirm` as its last word", word=word,
                                    near=near[0]))
            return word, word
        known = ", ".join(sorted(self.directory.wis2)) or "none configured"
        raise UsageError(_t("{word!r} is neither a WIS 2.0 service id ({known}) nor a WIS2 "
                            "centre-id such as de-dwd-global-broker", word=word, known=known))

    def plan_outage(self, session: Session, service: str, start: datetime, end: datetime,
                    text: str, *, by_id: str, by_name: str) -> tuple[Reply, bool]:
        """Record a planned outage in ``session``'s transaction (and queue its WMEM when
        publishing): the room post and the private answer, and whether a WMEM was queued
        (then call :meth:`published`). Also used by an authorised change (changes.py)."""
        name, centre = self._resolve_service(service, confirm=True)  # the caller checked
        text = text.strip() or "Planned outage"
        now = _now(self.clock)
        s = self.settings
        row = WmemOutage(service=name, starts_at=start, ends_at=end, text=text[:2000],
                         announced_by=by_id[:128], created_at=now)
        queued = False
        topic = ""
        if s.wmem_publish and centre is not None:
            # the published WMEM is read by other systems: English
            doc = wmem.build(source=s.wmem_centre_id or "", subject=centre,
                             severity="INFO", title=text[:300], now=now,
                             interval=(start, end), subtype="planned-outage")
            queued = self._queue(session, doc, now)
            row.event_id = doc["id"] if queued else None
            topic = wmem.publish_topic(centre)

        def note() -> str:
            if not s.wmem_publish:
                return _t("not published (wmem_publish is off)")
            if centre is None:
                return _t("not published: set `centre_id` for wis2.{service} in the directory "
                          "(the WMEM's subject)", service=service)
            if queued:
                return _t("published on {topic}", topic=i18n.iso(topic))
            return _t("not published: the message would not be a valid WMEM (see the log)")

        session.add(row)

        def post() -> ReplyBuilder:
            b = ReplyBuilder(_t("Planned outage in the operations calendar"), kind="watch")
            b.line(bold(_t("{service}: {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC, "
                           "announced by {who}", service=i18n.iso(name), start=start,
                           end=end, who=i18n.iso(by_name))))
            b.line(user(_outage_text(text)[:500]))
            return b

        posts: dict[str, Reply] = {}
        deliveries = []
        for room in self.watch._duty_rooms(session, now):  # each room in its language
            lang = room_language(room)
            if lang not in posts:
                with i18n.use(lang):
                    posts[lang] = post().build()
            deliveries.append((room, posts[lang]))
        notify(session, kind="watch-outage", now=now, incident_id=None, deliveries=deliveries)
        b = post()  # the answer: in the caller's language
        b.line(_t("Tickets and anomaly flags for {service} are suppressed in the window; "
                  "WMEM {note}.", service=i18n.iso(name), note=note()))
        return b.build(private=True), queued

    def published(self) -> None:
        """Wake the publisher after a transaction that queued a WMEM committed."""
        for hook in self.on_queued:
            hook()

    def resolve_service(self, word: str) -> str:
        """The calendar name of a WIS 2.0 service or centre-id; UsageError otherwise."""
        return self._resolve_service(word)[0]

    async def add_outage(self, caller: Caller, service: str, start: datetime, end: datetime,
                         text: str, confirm: bool = False) -> Reply:
        if not (caller.is_secretariat or caller.contact.giscs or "watch" in caller.contact.roles):
            raise NotAllowed(_t("planned outages are announced by GISC focal points, watch "
                                "operators and the WMO Secretariat"))
        # refuses a typo (with the nearest names) unless confirmed; plan_outage resolves again
        await self.store.tx(lambda session: self._resolve_service(service, session, confirm))
        if end <= start:
            raise UsageError(_t("the outage ends ({end:%Y-%m-%d %H:%M}) before it starts "
                                "({start:%Y-%m-%d %H:%M})", end=end, start=start))
        if end - start > MAX_OUTAGE and not confirm:
            days = (end - start) / timedelta(days=1)
            raise UsageError(i18n.ngettext(
                "{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC is {n} day: the service's "
                "tickets and flags would be suppressed all that time. Check the dates; if "
                "they are right, type the command again with `confirm` as its last word",
                "{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC is {n} days: the "
                "service's tickets and flags would be suppressed all that time. Check the "
                "dates; if they are right, type the command again with `confirm` as its last "
                "word", round(days), start=start, end=end))
        text = text.strip() or "Planned outage"

        def work(session: Session) -> tuple[Reply, bool]:
            return self.plan_outage(session, service, start, end, text,
                                    by_id=caller.contact.id, by_name=caller.contact.name)

        reply, queued = await self.store.tx(work)
        if queued:
            for hook in self.on_queued:
                hook()
        return reply

    async def outages_reply(self) -> Reply:
        now = _now(self.clock)

        def work(session: Session) -> Reply:
            rows = session.exec(select(WmemOutage).where(
                or_(col(WmemOutage.ends_at).is_(None), col(WmemOutage.ends_at) > now))
                .order_by(col(WmemOutage.starts_at), col(WmemOutage.id)).limit(50)).all()
            b = ReplyBuilder(_t("Operations calendar: planned outages"), kind="watch")
            if not rows:
                b.line(_t("No planned outage now or ahead. Announce one with `watch outage "
                          "<service> <from> <to> <text>`."))
            for r in rows:
                active = (r.starts_at is None or r.starts_at <= now)
                now_mark = _t("NOW") if active else ""
                b.line(Span(text=f"{now_mark:<5}" + _window(r) + f"  {r.service}"
                            f" ({r.announced_by}{_unowned(r)}): "),
                       user(_outage_text(r.text)[:300]))
            return b.build(private=True)

        return await self.store.tx(work)

    # ----- publishing ----------------------------------------------------------------------
    def _queue(self, session: Session, doc: dict[str, Any], now: datetime) -> bool:
        """Queue a WMEM in the caller's transaction; also recorded as heard, so it coming
        back from the broker is not handled as news."""
        try:
            body = wmem.encode(doc)
        except ValueError as exc:
            log.error("WMEM not queued: %s", exc)
            return False
        session.add(WmemOutgoing(id=doc["id"], topic=wmem.publish_topic(doc["subject"]),
                                 payload=body.decode("utf-8"), created_at=now, next_at=now))
        session.add(WmemEvent(id=doc["id"], received_at=now, event_time=now, via="published",
                              source=doc["source"], subject=doc["subject"],
                              severity=doc["data"]["severity"],
                              subtype=doc["data"].get("subtype", ""),
                              title=doc["data"]["content"]["title"],
                              ref=doc["data"].get("ref"), outcome="published", doc=doc))
        return True

    def _probe_results(self, session: Session, results: Sequence[ProbeResult]) -> None:
        """A Global Service failing wisbot's probe → an ERROR WMEM; its recovery → an INFO
        follow-up naming it in ``data.ref``."""
        s = self.settings
        if not s.wmem_publish:
            return
        now = _now(self.clock)
        quiet = self.quiet(session, now)
        queued = False
        for r in results:
            if r.service in WIS1:
                continue
            centre = self.centre_of(r.centre)
            if centre is None:
                continue
            service = SERVICE_WORDS.get(r.service.value)  # a WMEM is published in English
            words = f"{str.__str__(service) if service else r.service.value} {r.centre}"
            state = session.get(WmemProbeState, r.centre)
            if r.status is ProbeStatus.FAIL and state is None and r.centre not in quiet:
                doc = wmem.build(source=s.wmem_centre_id or "", subject=centre,
                                 severity="ERROR", now=now, subtype="gisc-watch-probe",
                                 title=f"{words} fails the GISC Watch probe",
                                 description=(r.reason or "no answer")[:500])
                if self._queue(session, doc, now):
                    session.add(WmemProbeState(service=r.centre, event_id=doc["id"], since=now))
                    queued = True
            elif r.status is not ProbeStatus.FAIL and state is not None:
                doc = wmem.build(source=s.wmem_centre_id or "", subject=centre,
                                 severity="INFO", now=now, subtype="gisc-watch-probe",
                                 title=f"{words} answers the GISC Watch probe again",
                                 ref=state.event_id)
                if self._queue(session, doc, now):
                    session.delete(state)
                    queued = True
        if queued:
            for hook in self.on_queued:
                hook()

    async def pending(self, limit: int = 50) -> list[WmemOutgoing]:
        now = _now(self.clock)

        def work(session: Session) -> list[WmemOutgoing]:
            return list(session.exec(select(WmemOutgoing).where(
                col(WmemOutgoing.sent_at).is_(None), col(WmemOutgoing.next_at) <= now)
                .order_by(col(WmemOutgoing.created_at), col(WmemOutgoing.id))
                .limit(limit)).all())

        return await self.store.tx(work)

    async def mark(self, ids: Sequence[str], error: str | None = None) -> None:
        now = _now(self.clock)

        def work(session: Session) -> None:
            for ident in ids:
                row = session.get(WmemOutgoing, ident)
                if row is None or row.sent_at is not None:
                    continue
                if error is None:
                    row.sent_at = now
                else:
                    row.attempts += 1
                    row.last_error = error[:500]
                    row.next_at = now + timedelta(seconds=min(300, 2 ** min(row.attempts, 8)))
                session.add(row)

        await self.store.tx(work)

    # ----- retention -------------------------------------------------------------------------
    async def purge(self) -> int:
        """Delete events heard and WMEMs sent more than ``wmem_keep_days`` ago (the daily
        leader job); returns the rows deleted. Events of tickets still open stay (their
        follow-ups find the ticket by them), as does whatever is not sent yet. Never
        closer than the replay window, so a catch-up cannot bring a purged event back
        as news."""
        now = _now(self.clock)
        keep = max(timedelta(days=self.settings.wmem_keep_days),
                   timedelta(hours=self.settings.wmem_replay_max_hours, days=1))
        cutoff = now - keep
        e = WmemEvent.__table__  # type: ignore[attr-defined]
        o = WmemOutgoing.__table__  # type: ignore[attr-defined]

        def work(session: Session) -> int:
            open_ = select(WatchTicket.id).where(WatchTicket.state != TicketState.DONE.value)
            events: Any = session.execute(delete(e).where(
                e.c.received_at < cutoff,
                or_(e.c.ticket_id.is_(None), e.c.ticket_id.not_in(open_))))
            sent: Any = session.execute(delete(o).where(
                o.c.sent_at.is_not(None), o.c.sent_at < cutoff))
            gone = (events.rowcount or 0) + (sent.rowcount or 0)
            return int(gone or 0)

        gone = await self.store.tx(work)
        log.info("WMEM retention: %d rows older than %s purged", gone, cutoff.isoformat())
        return gone

    # ----- service levels and report sections ----------------------------------------------
    def levels(self, session: Session, lo: datetime, hi: datetime) -> list[Level]:
        """Availability of each Global Service over [lo, hi) from probes and events."""
        before = lo - timedelta(days=7)
        samples: dict[str, list[tuple[datetime, bool]]] = {}
        for r in session.exec(select(ProbeRecord).where(
                col(ProbeRecord.checked_at) >= before, col(ProbeRecord.checked_at) < hi,
                col(ProbeRecord.service).not_in([s.value for s in WIS1]))).all():
            samples.setdefault(r.centre, []).append((r.checked_at, r.status != "fail"))
        for e in session.exec(select(WmemEvent).where(
                col(WmemEvent.received_at) >= before, col(WmemEvent.received_at) < hi,
                col(WmemEvent.outcome).in_(["ticket", "update", "recovery",
                                            "suppressed"]))).all():
            if wmem.service_kind(e.subject) is None and self._key(e.subject) == e.subject:
                continue  # a WIS2 Node: not a Global Service
            at = min(e.event_time or e.received_at, e.received_at)
            samples.setdefault(self._key(e.subject), []).append(
                (at, e.outcome == "recovery"))
        outages: dict[str, list[tuple[datetime | None, datetime | None]]] = {}
        for o in session.exec(select(WmemOutage).where(col(WmemOutage.binding))).all():
            outages.setdefault(self._key(o.service), []).append((o.starts_at, o.ends_at))
        keys = sorted(set(samples) | {k for k in outages if k in samples
                                      or k in self.directory.wis2})
        out = []
        for key in keys:
            centre = self.centre_of(key)
            label = f"{key} ({centre})" if centre else key
            out.append(wmem.service_level(label, samples.get(key, []), outages.get(key, []),
                                          lo, hi))
        return out

    def _levels_section(self, session: Session, lo: datetime, hi: datetime,
                        kind: str) -> Section | None:
        if kind == "daily":
            period = rules.period_at(self.watch._periods(session), hi)
            if period is not None:
                lo = datetime.combine(period.start, time(), tzinfo=UTC)
        levels = self.levels(session, lo, hi)
        if not levels:
            return None
        title = _t("Global Service levels {start} – {end} UTC (target {target} %)",
                   start=f"{lo:%Y-%m-%d}", end=f"{hi:%Y-%m-%d %H:%M}",
                   target=f"{wmem.TARGET * 100:g}")
        return title, tuple(level.words() for level in levels)

    def _outages_section(self, session: Session, lo: datetime, hi: datetime,
                         kind: str) -> Section | None:
        until = hi + timedelta(days=7) if kind == "daily" else hi
        rows = session.exec(select(WmemOutage).where(
            or_(col(WmemOutage.starts_at).is_(None), col(WmemOutage.starts_at) < until),
            or_(col(WmemOutage.ends_at).is_(None), col(WmemOutage.ends_at) > lo))
            .order_by(col(WmemOutage.starts_at)).limit(30)).all()
        if not rows and kind == "daily":
            return None
        title = _t("Planned outages (operations calendar, next 7 days)") if kind == "daily" \
            else _t("Planned outages (operations calendar)")
        return title, tuple(f"{_window(r)} {r.service}: {_outage_text(r.text)[:200]} "
                            f"({r.announced_by}{_unowned(r)})" for r in rows)

    def _events_section(self, session: Session, lo: datetime, hi: datetime,
                        kind: str) -> Section | None:
        rows = session.exec(select(WmemEvent).where(
            col(WmemEvent.received_at) >= lo, col(WmemEvent.received_at) <= hi,
            col(WmemEvent.via) != "published")).all()
        if not rows:
            return None
        counts = Counter(r.severity for r in rows)
        lines = [", ".join(f"{counts[sv]} {sv}" for sv in reversed(wmem.SEVERITIES)
                           if counts[sv])
                 + _t(" (from {count} sources)", count=len({r.source for r in rows}))]
        tickets = sorted({r.ticket_id for r in rows if r.ticket_id is not None})
        if tickets:
            lines.append(_t("tickets: ") + ", ".join(f"#{n}" for n in tickets))
        summary = [r for r in rows if r.outcome == "summary"]
        grouped = Counter((r.severity, r.subject, r.title[:120]) for r in summary)
        for (sv, subject, title), n in sorted(grouped.items(),
                                              key=lambda x: (-wmem.SEVERITIES.index(x[0][0]),
                                                             -x[1]))[:15]:
            lines.append(f"{sv} {subject}: {title}" + (f" (×{n})" if n > 1 else ""))
        if len(grouped) > 15:
            lines.append(_t("… and {count} more kinds of WARNING/INFO event",
                            count=len(grouped) - 15))
        if kind == "report":
            return _t("WIS2 monitoring events"), tuple(lines[:3])
        return _t("WIS2 monitoring events (last 24 h)"), tuple(lines)


_UNOWNED = N_("; not the service's own notice: suppresses nothing")
"""Shown after who announced an outage that is not the service's own (str() translates)."""
DEFAULT_TEXTS = {str.__str__(t): t for t in (N_("Planned outage"), N_("Planned maintenance"))}
"""The text given to an outage announced without one: stored and published in English
(it is the WMEM's title), shown in the reader's language."""


def _unowned(r: WmemOutage) -> str:
    return "" if r.binding else str(_UNOWNED)


def _outage_text(text: str) -> str:
    default = DEFAULT_TEXTS.get(text)
    return str(default) if default is not None else text


def _window(r: WmemOutage) -> str:
    a = f"{r.starts_at:%Y-%m-%d %H:%M}" if r.starts_at else ".."
    z = f"{r.ends_at:%Y-%m-%d %H:%M}" if r.ends_at else ".."
    return f"{a} – {z} UTC"


def _id(ticket: WatchTicket) -> int:
    assert ticket.id is not None
    return ticket.id


# Ticket headlines told to the ticket's rooms, each in its language (the event's own
# words, source and title, are quoted as they came; isolated in right-to-left text).
def _reported(severity: str, source: str, title: str) -> Words:
    return Words(lambda: _t("{severity} reported by {source}: {title}",
                            severity=theirs(severity), source=theirs(source),
                            title=theirs(title, 250)))


def _follow_up(source: str, title: str) -> Words:
    return Words(lambda: _t("follow-up from {source}: {title}", source=theirs(source),
                            title=theirs(title, 250)))


def _recovery(source: str, title: str, number: int, *, before: bool) -> Words:
    if before:
        return Words(lambda: _t("recovery reported by {source} ({title}) before the failure "
                                "reached wisbot – close it with `watch ticket {number} done` "
                                "once confirmed", source=theirs(source),
                                title=theirs(title, 120), number=number))
    return Words(lambda: _t("recovery reported by {source} ({title}) – close it with "
                            "`watch ticket {number} done` once confirmed",
                            source=theirs(source), title=theirs(title, 120),
                            number=number))


# ----- the Global Replay ---------------------------------------------------------------------
async def replay_items(base: str, since: datetime, *, page_size: int = 500,
                       max_pages: int = 200, http_timeout: float = 30.0,
                       ) -> AsyncIterator[dict[str, Any]]:
    """WMEMs from a Global Replay (OGC API – Features, collection
    ``wis2-monitoring-event-messages``) published since ``since``, following ``next``
    links. Items are the WMEMs themselves or features carrying one in ``properties``."""
    import httpx

    url: str | None = f"{base.rstrip('/')}/collections/{COLLECTION}/items"
    params: dict[str, Any] | None = {
        "datetime": f"{since.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}/..", "limit": page_size}
    seen: set[str] = set()
    async with httpx.AsyncClient(timeout=http_timeout, follow_redirects=True) as client:
        for _ in range(max_pages):
            if url is None or url in seen:
                return
            seen.add(url)
            response = await client.get(url, params=params,
                                        headers={"Accept": "application/geo+json, "
                                                 "application/json"})
            response.raise_for_status()
            doc = response.json()
            for feature in doc.get("features") or []:
                if isinstance(feature, dict):
                    yield _unwrap(feature)
            url = next((link.get("href") for link in doc.get("links") or []
                        if isinstance(link, dict) and link.get("rel") == "next"), None)
            params = None


def _unwrap(feature: dict[str, Any]) -> dict[str, Any]:
    if "specversion" in feature:
        return feature
    props = feature.get("properties")
    if isinstance(props, dict):
        if "specversion" in props:
            return props
        for key in ("message", "wmem", "event"):
            if isinstance(props.get(key), dict):
                inner: dict[str, Any] = props[key]
                return inner
    return feature


# ----- the leader's workers ------------------------------------------------------------------
class Subscriber:
    """One MQTT client per Global Broker on ``wmem_topic``, one consumer handling what they
    hear in batches; after every (re)connection, a catch-up from the replay."""

    def __init__(self, service: WmemService, settings: Settings) -> None:
        self.service = service
        self.brokers = brokers(settings.wmem_brokers, settings)
        self.topic = settings.wmem_topic
        self.queue: asyncio.Queue[tuple[Event, str]] = asyncio.Queue(maxsize=20_000)
        self.connected: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._catching = asyncio.Lock()
        self._again = False
        self.caught_up = 0
        """Events the catch-ups brought that had not been heard."""
        self.subscribed = asyncio.Event()

    async def start(self) -> None:
        for b in self.brokers:
            self._tasks.append(asyncio.create_task(self._listen(b), name=f"wmem-{b.label}"))
        self._tasks.append(asyncio.create_task(self._consume(), name="wmem-consume"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def drain(self) -> None:
        await self.queue.join()

    async def _listen(self, broker: Broker) -> None:

        delay = 1.0
        while True:
            try:
                async with mqtt_client(broker.client_args("sub")) as client:
                    await client.subscribe(self.topic, qos=1)
                    self.connected.add(broker.url)
                    self.subscribed.set()
                    log.info("WMEM: subscribed to %s on %s", self.topic, broker.label)
                    delay = 1.0
                    asyncio.create_task(self._catch_up(), name="wmem-catch-up")  # noqa: RUF006
                    async for message in client.messages:
                        payload = message.payload if isinstance(message.payload, bytes) \
                            else str(message.payload or "").encode()
                        ev = self.service.accept(payload, str(message.topic),
                                                 f"broker {broker.label}")
                        if ev is not None:
                            await self.queue.put((ev, f"broker {broker.label}"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("WMEM: broker %s: %s; retrying in %g s", broker.label,
                            str(exc) or type(exc).__name__, delay)
            finally:
                self.connected.discard(broker.url)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)

    async def _catch_up(self) -> None:
        if self._catching.locked():
            self._again = True  # another broker (re)connected meanwhile: once more after
            return
        async with self._catching:
            while True:
                self._again = False
                try:
                    self.caught_up += await self.service.catch_up()
                except Exception as exc:
                    log.warning("WMEM: catch-up from the replay failed: %s", str(exc))
                if not self._again:
                    return

    async def _consume(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            delay = 1.0
            while True:
                try:
                    await self.service.receive(batch)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database is away: keep the batch, try again
                    log.warning("WMEM: storing %d events failed (%s); retrying in %g s",
                                len(batch), str(exc), delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
            for _ in batch:
                self.queue.task_done()


class Publisher:
    """Sends the queued WMEMs, oldest first, QoS 1, to every publish broker; a row is
    marked sent only when all brokers took it, so an outage delays it and a retry sends
    the same message id (receivers deduplicate by id)."""

    def __init__(self, service: WmemService, settings: Settings, poll: float = 5.0) -> None:
        self.service = service
        self.brokers = brokers(settings.wmem_publish_brokers, settings)
        self.poll = poll
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        service.on_queued.append(self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="wmem-publish")

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.service.on_queued.remove(self.wake)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("WMEM publisher pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)
            self._wake.clear()

    async def flush(self) -> int:
        """Send what is due; returns how many were sent."""
        import aiomqtt

        rows = await self.service.pending()
        if not rows:
            return 0
        try:
            for b in self.brokers:
                async with mqtt_client(b.client_args("pub")) as client:
                    for row in rows:
                        await client.publish(row.topic, row.payload.encode("utf-8"), qos=1)
        except (aiomqtt.MqttError, OSError) as exc:
            log.warning("WMEM: publishing %d messages failed, kept for retry: %s",
                        len(rows), str(exc))
            await self.service.mark([r.id for r in rows], error=str(exc) or type(exc).__name__)
            return 0
        await self.service.mark([r.id for r in rows])
        self.sent += len(rows)
        return len(rows)


class Workers:
    """The leader's part: the subscriber (when brokers are set) and the publisher (when
    publishing is on)."""

    def __init__(self, service: WmemService, settings: Settings) -> None:
        self.subscriber = Subscriber(service, settings) if settings.wmem_brokers else None
        self.publisher = Publisher(service, settings) if settings.wmem_publish else None

    async def start(self) -> None:
        if self.publisher is not None:
            await self.publisher.start()
        if self.subscriber is not None:
            await self.subscriber.start()

    async def stop(self) -> None:
        if self.subscriber is not None:
            await self.subscriber.stop()
        if self.publisher is not None:
            await self.publisher.stop()
