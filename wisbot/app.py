"""The composition root: ``async with App(settings) as app:`` wires store, directory,
services, commands, adapters and the outbox worker, and takes them down in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from wisbot import i18n
from wisbot.adapters.base import AdapterHost, ChatAdapter, HostAware
from wisbot.adapters.console import ConsoleAdapter
from wisbot.channels import DeliveryWorker, senders_from_settings
from wisbot.clock import Clock, utcnow
from wisbot.commands import build_registry
from wisbot.commands.dispatch import Dispatcher
from wisbot.directory import Directory, describe_change, load_directory
from wisbot.domain.incident_models import IncidentModels
from wisbot.domain.reach import warn_unreachable_oncall
from wisbot.errors import DirectoryError
from wisbot.integrations import AlertsJira
from wisbot.leader import Leadership, SplitAdapter, new_holder
from wisbot.metrics import MetricsServer
from wisbot.outbox import OutboxWorker
from wisbot.reply import Reply
from wisbot.scheduler import CronJobs, JobRuns, PagingScheduler, Scheduler
from wisbot.services.audits import AuditService
from wisbot.services.changes import ChangeService
from wisbot.services.consent import ConsentGate, room_may_read
from wisbot.services.continuity import ContinuityService
from wisbot.services.exchange import ExchangeConfig, ExchangeService
from wisbot.services.exchange_mail import Mailer, SmtpMailer
from wisbot.services.exposed import warn_exposed
from wisbot.services.holds import HoldRegistry, held_reply
from wisbot.services.incidents import IncidentService, query_page_card
from wisbot.services.kedb import KedbService
from wisbot.services.lessons import LessonService
from wisbot.services.mail import make_mailer
from wisbot.services.notify import ResponseHook, ResponseRequest, no_paging, notify
from wisbot.services.paging import Channels, PagingService
from wisbot.services.watch import WatchService
from wisbot.services.wmem import WmemService, Workers
from wisbot.settings import Settings
from wisbot.store.engine import Store, upgrade

if TYPE_CHECKING:
    from sqlmodel import Session

    from wisbot.web.server import WebServer
    from wisbot.wismon_server import WismonServer

log = logging.getLogger(__name__)


@dataclass
class Services:
    directory: Directory
    settings: Settings
    clock: Clock
    store: Store
    incidents: IncidentService
    lessons: LessonService
    watch: WatchService
    exchange: ExchangeService
    paging: PagingService | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class App:
    def __init__(self, settings: Settings, *, directory: Directory | None = None,
                 clock: Clock = utcnow, adapters: list[ChatAdapter] | None = None,
                 on_response: ResponseHook = no_paging, run_worker: bool = True,
                 mailer: Mailer | None = None, elect: bool | None = None) -> None:
        self.settings = settings
        i18n.set_default(settings.language)
        self.directory = directory or load_directory(settings.directory)
        self.incident_models = IncidentModels(settings.incident_models)
        self.clock = clock
        self.on_response = on_response
        self.run_worker = run_worker
        self.mailer = mailer
        self._adapters = adapters
        self.holds: HoldRegistry
        """Room keys whose deliveries wait (room integrity): held, never dropped; stored
        in the database, so a restart or another process sees them."""
        self.store: Store | None = None
        self.adapters: dict[str, ChatAdapter] = {}
        self.scheduler: Scheduler | None = None
        self.wismon: WismonServer | None = None
        self.metrics: MetricsServer | None = None
        self.web: WebServer | None = None
        self.cron: CronJobs | None = None
        self.wmem_workers: Workers | None = None
        self.elect = run_worker if elect is None else elect
        """Take part in the leader election (``wisbot run``); otherwise this process leads
        alone from the start (tests, tools)."""
        self.holder = new_holder()
        self.leadership: Leadership | None = None
        self.leading = False
        """Whether the leader's part (chat inbound, scheduler, watch jobs) runs here."""
        self.ready = False
        """Whether the leader's part has started here (its room checks have run)."""
        self._role = asyncio.Lock()
        self._stopping = False
        self._reload_lock = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> App:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    async def start(self) -> None:
        s = self.settings
        if s.auto_migrate:
            upgrade(s.database_url)
        self.store = Store(s.database_url)
        try:
            self.store.check_migrated()
        except Exception:
            self.store.close()
            raise
        self.holds = HoldRegistry(self.store, self.directory, self.clock)
        await self.holds.refresh()
        self.paging = PagingService(
            self.store, self.directory, self.clock, steps=s.paging_steps,
            channels=Channels(email=bool(s.smtp_host), webhook_url=s.paging_webhook_url),
            batch=s.paging_batch)
        hook: ResponseHook = self.paging.on_response
        if self.on_response is not no_paging:
            extra_hook, pager_hook = self.on_response, self.paging.on_response

            def both(session: Session, request: ResponseRequest) -> None:
                pager_hook(session, request)
                extra_hook(session, request)

            hook = both
        incidents = IncidentService(self.store, self.directory, self.clock,
                                    paging_threshold=s.paging_threshold,
                                    on_response=hook, settle=self.paging.settle,
                                    query_limit=s.query_limit,
                                    query_window=timedelta(minutes=s.query_window_minutes))
        try:
            watch = WatchService(self.store, self.directory, s, self.clock,
                                 on_response=hook, mailer=make_mailer(s),
                                 settle=self.paging.settle)
            self.paging.cards["handover"] = watch.page_card  # each person paged: theirs
            self.paging.cards["query"] = (  # the directory as reloaded
                lambda session, ref: query_page_card(self.directory, session, ref))
            self.wmem = WmemService(self.store, self.directory, s, self.clock, watch)
        except Exception:
            self.store.close()
            raise
        self.services = Services(
            directory=self.directory, settings=s, clock=self.clock, store=self.store,
            incidents=incidents,
            lessons=LessonService(self.store, self.directory, self.clock, incidents),
            watch=watch,
            exchange=ExchangeService(self.store, self.directory, self.clock,
                                     config=ExchangeConfig.from_settings(s),
                                     mailer=self.mailer or SmtpMailer(s),
                                     on_response=hook),
            paging=self.paging,
        )
        self.paging.cards["exchange"] = self.services.exchange.page_card
        self.services.extra["adapter_states"] = self._adapter_states
        self.services.extra["incident_models"] = self.incident_models
        self.services.extra["kedb"] = KedbService(self.store, self.directory, self.clock,
                                                  incidents)
        try:
            self.alerts_jira = AlertsJira.build(self.store, self.directory, s, watch,
                                                self.clock, holder=self.holder)
        except Exception:
            self.store.close()
            raise
        self.services.extra["alerts_jira"] = self.alerts_jira
        self.services.extra["reload"] = self.reload_directory
        self.services.extra["wmem"] = self.wmem
        self.services.extra["changes"] = ChangeService(
            self.store, self.directory, self.clock, agenda_hours=s.change_agenda_hours,
            remind_after_hours=s.change_remind_after_hours, wmem=self.wmem)
        self.services.extra["audits"] = AuditService(self.store, self.directory, self.clock,
                                                     holidays=s.audit_holiday_dates)
        self.services.extra["continuity"] = ContinuityService(self.store, self.directory,
                                                              self.clock, page=hook)
        self.registry = build_registry()
        self.dispatcher = Dispatcher(self.registry, self.directory, self.services,
                                     max_length=s.max_text_length)
        adapters = self._adapters if self._adapters is not None else self._configured_adapters()
        self.adapters = {a.platform: a for a in adapters}
        # Fail closed in every process, the followers' included: a closed room of a platform
        # whose adapter checks membership waits until a stored check has passed.
        self.holds.guard(a.platform for a in adapters if getattr(a, "checks_rooms", False))
        if self._adapters is None:
            self._warn_unserved_rooms()
        self.paging.platforms = frozenset(self.adapters)
        warn_unreachable_oncall(self.directory, self.paging.platforms,
                                email=self.paging.channels.email)
        self.consent = ConsentGate(self.store, self.directory)
        self.outbox = OutboxWorker(
            self.store, self.directory, self.adapters, self.clock,
            give_up_hours=s.outbox_give_up_hours, backoff_base=s.outbox_backoff_base,
            backoff_max=s.outbox_backoff_max, blocked_retry=s.outbox_blocked_retry_seconds,
            poll_interval=s.outbox_poll_interval, lease_seconds=s.outbox_lease_seconds,
            concurrency=s.outbox_concurrency, is_held=self._held,
            may_deliver=self.consent.outbox_row,
            mailer=make_mailer(s), mail_timeout=s.smtp_timeout + 5,
        )
        if s.outbox_max_attempts is not None:
            log.warning("outbox_max_attempts is ignored: giving up is time-based "
                        "(outbox_give_up_hours=%g)", s.outbox_give_up_hours)
        host = AdapterHost(directory=self.directory, store=self.store, clock=self.clock,
                           holds=self.holds, wake_outbox=self.outbox.wake)
        self.host = host
        for adapter in self.adapters.values():
            if isinstance(adapter, HostAware):
                adapter.bind(host)
        self.deliveries = DeliveryWorker(
            self.store, self.clock, senders_from_settings(s),
            max_attempts=s.paging_delivery_max_attempts, poll_interval=s.outbox_poll_interval,
            concurrency=s.paging_delivery_concurrency,
            give_up_hours=s.paging_delivery_give_up_hours,
            may_deliver=self.consent.page_delivery)
        self.pager = PagingScheduler(self.paging, tick=s.paging_tick)
        self.paging.on_fired += [self.outbox.wake, self.deliveries.wake]
        # Always on, leader or not: sending, the outbox, page delivery and the pager
        # (all safe across processes).
        for adapter in self.adapters.values():
            if isinstance(adapter, SplitAdapter):
                await adapter.start_outbound()
                continue
            if getattr(adapter, "checks_rooms", False):
                # Fail closed: held until the adapter's first check passes, which runs
                # in its start, before the outbox delivers anything.
                await self.holds.begin_checks(self.holds.closed_rooms(adapter.platform))
            await adapter.start(self.dispatch)
        self.holds.start()
        if self.run_worker:
            self.outbox.start()
            self.deliveries.start()
            self.pager.start()
        if s.metrics_port is not None:
            self.metrics = MetricsServer(self.store, self._adapter_states,
                                         host=s.metrics_host, port=s.metrics_port)
            self.metrics.start()
        if s.web_enabled:  # any process may serve: sessions are in the database
            from wisbot.web.server import WebServer

            web = WebServer(self)
            try:
                await web.start()
            except BaseException:
                await self.stop()
                raise
            self.web = web
        await self.services.watch.mark_installed()
        await self.alerts_jira.start(s, run_worker=self.run_worker)
        if not self.elect:
            self.jobs = JobRuns(self.store, self.clock, holder=self.holder)
            await self._lead(0)
            return
        self.leadership = Leadership(
            s.database_url, on_elected=self._lead, on_deposed=self._follow,
            lease=s.leader_lease_seconds, renew=s.leader_renew_seconds,
            max_skew=s.max_clock_skew, holder=self.holder)
        self.jobs = JobRuns(self.store, self.clock, holder=self.holder,
                            fence=self.leadership.holds)
        try:
            await self.leadership.start()
        except BaseException:
            self.leadership = None
            await self.stop()
            raise

    # ----- the leader's part ------------------------------------------------------------
    async def _lead(self, epoch: int) -> None:
        """Start the singletons: chat inbound (sync, sockets, E2E device), the cron jobs,
        the GISC Watch jobs."""
        async with self._role:
            if self.leading:
                return
            self.leading = True
            log.info("leading (epoch %d): starting chat inbound and the scheduled jobs", epoch)
            split = [a for a in self.adapters.values() if isinstance(a, SplitAdapter)]
            for adapter in split:
                if getattr(adapter, "checks_rooms", False):
                    # Fail closed: held until the adapter's first check passes, which runs
                    # in its start, before this process delivers anything there.
                    await self.holds.begin_checks(self.holds.closed_rooms(adapter.platform))
            for adapter in split:
                await adapter.start(self.dispatch)
            if self.run_worker:
                self.cron = CronJobs(annual_report=self._post_annual_report, runs=self.jobs,
                                     clock=self.clock)
                for job in [*self.services.exchange.scheduled_jobs(),
                            *self.services.extra["audits"].scheduled_jobs(),
                            *self.services.extra["continuity"].scheduled_jobs()]:
                    # Missed by less than 6 h (the bot was down then): run once on return.
                    self.cron.daily(job.name, job.run, hour=job.hour, minute=job.minute,
                                    misfire_grace_time=6 * 3600)
                self.cron.every("change-cab", self.services.extra["changes"].tick,
                                minutes=self.settings.change_tick_minutes,
                                misfire_grace_time=3600)
                self.cron.every("drills", self.services.extra["continuity"].run_due,
                                minutes=5, misfire_grace_time=300)
                self.cron.daily("wmem-purge", self.wmem.purge, hour=3, minute=17,
                                misfire_grace_time=24 * 3600)
                self.cron.start()
            await self._start_watch()
            self.wmem_workers = Workers(self.wmem, self.settings)
            await self.wmem_workers.start()
            self.ready = True
            if self.leadership is not None:
                self.leadership.ready = True
            log.info("leading (epoch %d): chat inbound and scheduled jobs running", epoch)
        self._wake_outbox()

    async def _follow(self, reason: str = "") -> None:
        """Stop the singletons (the lead was lost, or the app stops); sending goes on."""
        async with self._role:
            if not self.leading:
                return
            self.leading = self.ready = False
            if self.leadership is not None:
                self.leadership.ready = False
            if self.scheduler is not None:
                self.scheduler.stop()
                self.scheduler = None
            if self.cron is not None:
                self.cron.stop()
                self.cron = None
            if self.wmem_workers is not None:
                await self.wmem_workers.stop()
                self.wmem_workers = None
            if self.wismon is not None:
                await self.wismon.stop()
                self.wismon = None
            for adapter in self.adapters.values():
                if isinstance(adapter, SplitAdapter):
                    try:
                        if self._stopping:
                            await adapter.stop()  # no send-only login on the way out
                        else:
                            await adapter.stop_inbound()
                    except Exception:
                        log.exception("stopping the %s adapter's inbound side failed",
                                      adapter.platform)

    def _held(self, room_key: str) -> bool:
        """Whether the outbox leaves a room's rows waiting: a room hold, or a row this
        replica may not send (see :meth:`_leader_only`)."""
        return self.holds.is_held(room_key) or self._leader_only(room_key)

    def _leader_only(self, room_key: str) -> bool:
        """Rows a replica that does not lead leaves waiting: Matrix E2E rooms and direct
        chats (the crypto store is the leader's), and closed rooms of a platform whose
        membership checks run in the leader, until some leader has started (checked)."""
        if self.ready:
            return False
        room = None
        if not room_key.startswith("@"):
            try:
                room = self.directory.room(room_key)
            except Exception:
                return False
            adapters = [self.adapters.get(room.platform)]
        else:
            adapters = list(self.adapters.values())
        checked = self.leadership is not None and self.leadership.leader_ready
        for a in adapters:
            if not isinstance(a, SplitAdapter):
                continue
            if not a.follower_sends(room):
                return True
            if room is not None and room.closed and getattr(a, "checks_rooms", False) \
                    and not checked:
                return True
        return False

    async def _start_watch(self) -> None:
        """The WIS Monitor JSON server and the GISC Watch scheduler jobs."""
        s = self.settings
        watch = self.services.watch
        if s.wismon_port is not None:
            from wisbot.wismon_server import WismonServer

            folder = s.wismon_dir or Path("wismon")
            self.wismon = WismonServer(folder, s.wismon_host, s.wismon_port)
            watch.wismon_url = await self.wismon.start()
            log.info("WIS Monitor JSON served at %s", watch.wismon_url)
        if not s.watch_enabled:
            return
        hh, mm = (int(x) for x in s.watch_daily_time.split(":"))
        deadman = hh * 60 + mm + s.watch_deadman_minutes
        self.scheduler = Scheduler(self.jobs, clock=self.clock)
        self.scheduler.daily("watch-daily", watch.daily, hour=hh, minute=mm,
                             misfire_grace_time=s.watch_misfire_grace_s)
        self.scheduler.daily("watch-deadman", watch.deadman_check, hour=(deadman // 60) % 24,
                             minute=deadman % 60, misfire_grace_time=6 * 3600)
        self.scheduler.daily("watch-reminders", watch.remind_stalled, hour=(hh + 6) % 24,
                             minute=mm, misfire_grace_time=12 * 3600)
        self.scheduler.every("watch-handover", watch.handover_tick, minutes=15,
                             misfire_grace_time=900)
        if s.alerts_port is not None:
            self.scheduler.daily("alerts-digest", self.alerts_jira.alerts.digest, hour=hh,
                                 minute=mm, misfire_grace_time=s.watch_misfire_grace_s)
        self.scheduler.start()
        # after a restart: tell people now if yesterday's (or today's) run is missing
        try:
            await watch.deadman_check()
        except Exception:
            log.exception("dead-man's check at start failed")

    # ----- reload --------------------------------------------------------------------
    async def reload_directory(self, path: Path | None = None) -> list[str]:
        """Load the directory file again (SIGHUP, ``wisbot reload``) and, once it is valid,
        put it in place everywhere the old one is held. Returns what changed, in words.

        A bad file raises :class:`DirectoryError` naming every problem and nothing
        changes. Nothing queued is dropped: a file that removes a room or contact with
        messages still to deliver is refused."""
        async with self._reload_lock:
            if self.store is None:
                raise DirectoryError(str(path or self.settings.directory),
                                     ["wisbot is not running: nothing to reload"])
            path = path or self.settings.directory
            new = await asyncio.to_thread(load_directory, path)
            self._check_settings_against(new, str(path))
            await self._check_queued_against(new, str(path))
            models = await asyncio.to_thread(self.incident_models.load)
            old = self.directory
            changes = describe_change(old, new)
            if not changes:
                log.info("directory %s reloaded: no change", path)
                return self.incident_models.put(models)
            checked = [a for a in self.adapters.values() if getattr(a, "checks_rooms", False)]
            for adapter in checked:
                # Fail closed, as at start: audiences may have changed, so the closed
                # rooms wait until the check below passes.
                await self.holds.begin_checks([r.key for r in new.rooms
                                               if r.platform == adapter.platform and r.closed])
            # No await from here to the end of the swap: every coroutine sees either the
            # old directory everywhere or the new one everywhere.
            swapped = _replace_everywhere(self, old, new, also=self.adapters.values())
            log.info("directory %s reloaded (%d holders): %s", path, swapped,
                     "; ".join(changes))
            if self._adapters is None:
                self._warn_unserved_rooms()
            warn_unreachable_oncall(self.directory, frozenset(self.adapters),
                                    email=self.paging.channels.email)
            for adapter in self.adapters.values():
                check = getattr(adapter, "check_rooms", None)
                if check is not None:
                    self._spawn(check(), f"checking the {adapter.platform} rooms")
            return changes + self.incident_models.put(models)

    def _check_settings_against(self, new: Directory, source: str) -> None:
        s = self.settings
        problems = []
        if s.watch_escalation_contact and s.watch_escalation_contact not in {
                c.id for c in new.contacts}:
            problems.append(f"WISBOT_WATCH_ESCALATION_CONTACT names contact "
                            f"{s.watch_escalation_contact!r}, which this file removes")
        if s.watch_escalation_room and s.watch_escalation_room not in {r.key for r in new.rooms}:
            problems.append(f"WISBOT_WATCH_ESCALATION_ROOM names room "
                            f"{s.watch_escalation_room!r}, which this file removes")
        if s.wismon_centre and all(g.name.casefold() != s.wismon_centre.casefold()
                                   for g in new.giscs):
            problems.append(f"WISBOT_WISMON_CENTRE names GISC {s.wismon_centre!r}, which this "
                            "file removes")
        if problems:
            raise DirectoryError(source, problems)

    async def _check_queued_against(self, new: Directory, source: str) -> None:
        from sqlalchemy import func
        from sqlmodel import col, select

        from wisbot.store.tables import OutboxRow

        assert self.store is not None
        final = ("delivered", "dead", "withdrawn", "discarded")
        queued = await self.store.tx(lambda s: s.exec(
            select(OutboxRow.room_key, func.count()).where(col(OutboxRow.status).not_in(final))
            .group_by(col(OutboxRow.room_key))).all())
        rooms = {r.key for r in new.rooms}
        contacts = {c.id for c in new.contacts}
        problems = [f"{'contact' if key.startswith('@') else 'room'} "
                    f"{key.removeprefix('@')!r} has {n} message(s) still to deliver and this "
                    "file removes it; keep it until they are delivered (wisbot status shows "
                    "the outbox)"
                    for key, n in sorted(queued)
                    if (key[1:] not in contacts if key.startswith("@") else key not in rooms)]
        if problems:
            raise DirectoryError(source, problems)

    def _spawn(self, coro: Any, what: str) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception:
                log.exception("%s after the directory reload failed", what)

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _adapter_states(self) -> dict[str, bool]:
        return {p: bool(getattr(a, "connected", True)) for p, a in self.adapters.items()}

    async def _post_annual_report(self, year: int) -> None:
        from wisbot.services.reports import post_annual_report

        assert self.store is not None
        await post_annual_report(self.store, self.directory, self.clock, year)
        self.outbox.wake()

    async def dispatch(self, invocation: Any) -> Any:
        if self._held_room(invocation):
            return held_reply(self.directory.room_by_address(  # a held room answers nothing
                invocation.room.platform, invocation.room.address))
        reply = await self.dispatcher(invocation)
        self.outbox.wake()
        self.deliveries.wake()
        if not reply.private and not await self._may_post_in(invocation, reply):
            # The one reply rule: the answer is the caller's alone unless everyone the room
            # admits may read all of it. In a direct conversation it is the person's own
            # view (another person may be in that conversation); a held room has a
            # stranger in it.
            reply = reply.model_copy(update={"private": True})
        return await warn_exposed(self.store, self.directory, self.adapters, invocation, reply)

    def _held_room(self, invocation: Any) -> bool:
        ref = invocation.room
        if ref is None:
            return False
        room = self.directory.room_by_address(ref.platform, ref.address)
        return room is not None and room.key in self.holds

    async def _may_post_in(self, invocation: Any, reply: Reply) -> bool:
        """Whether ``reply`` may be posted for everyone in the room the command came from."""
        ref = invocation.room
        if ref is None:
            return False
        room = self.directory.room_by_address(ref.platform, ref.address)
        if room is None or room.key in self.holds:
            return False
        if not reply.reveals:
            return True
        assert self.store is not None
        return await self.store.tx(lambda s: room_may_read(s, room, reply))

    def _warn_unserved_rooms(self) -> None:
        """A room whose platform no running adapter serves gets no cascade: say so at start
        rather than only in dead letters later."""
        unserved: dict[str, list[str]] = {}
        for room in self.directory.rooms:
            if room.platform not in self.adapters:
                unserved.setdefault(room.platform, []).append(room.key)
        for platform, keys in sorted(unserved.items()):
            log.warning("%d room(s) are on %s, which WISBOT_ADAPTERS (%s) does not run: %s; "
                        "deliveries to them fail (retried, then dead letters)", len(keys), platform,
                        ",".join(self.adapters) or "none", ", ".join(keys))

    def _configured_adapters(self) -> list[ChatAdapter]:
        out: list[ChatAdapter] = []
        for name in self.settings.adapters:
            if name == "console":
                out.append(ConsoleAdapter())
            elif name == "slack":
                try:
                    from wisbot.adapters.slack import SlackAdapter
                except ImportError as exc:
                    raise ValueError("the slack adapter needs the slack extra: in wisbot's "
                                     "source tree, pip install '.[slack]'") from exc
                out.append(SlackAdapter.from_settings(
                    self.settings, directory=self.directory, holds=self.holds,
                    alert=self.alert_secretariat, on_release=self._wake_outbox,
                    direct_answer=self.direct_answer))
            elif name == "matrix":
                try:
                    from wisbot.adapters.matrix import MatrixAdapter
                except ImportError as exc:  # matrix-nio is an optional extra
                    raise ValueError("the matrix adapter needs matrix-nio: in wisbot's "
                                     "source tree, pip install '.[matrix]' (or '.[e2e]')"
                                     ) from exc
                out.append(MatrixAdapter.from_settings(self.settings))
            else:
                raise ValueError(f"adapter {name!r} is not available in this build; "
                                 "available adapters: console, matrix, slack")
        return out

    def _wake_outbox(self) -> None:
        if hasattr(self, "outbox"):
            self.outbox.wake()

    async def alert_secretariat(self, reply: Reply | Callable[[], Reply]) -> None:
        """Tell every Secretariat room (room integrity, operations alerts), via the outbox;
        ``reply`` may be a function building the notice, called in each room's language."""
        from wisbot.services.integrity import in_room_languages, rendered

        assert self.store is not None
        rooms = self.directory.rooms_with_role("secretariat")
        if not rooms:
            log.critical("no Secretariat room to alert: %s",
                         rendered(reply, "en").plain())  # the operator's log: English
            return
        now = self.clock()
        deliveries = in_room_languages(rooms, reply)
        await self.store.tx(lambda s: notify(s, kind="alert", now=now, incident_id=None,
                                             deliveries=deliveries))
        self._wake_outbox()

    async def direct_answer(self, contact_id: str, reply: Reply) -> None:
        """A command's answer to the person's direct chat, via the outbox (the platform's
        own answer path failed)."""
        assert self.store is not None
        now = self.clock()
        await self.store.tx(lambda s: notify(s, kind="answer", now=now, incident_id=None,
                                             deliveries=[], direct=[(contact_id, reply)]))
        self._wake_outbox()

    @property
    def console(self) -> ConsoleAdapter:
        adapter = self.adapters.get("console")
        if not isinstance(adapter, ConsoleAdapter):
            raise RuntimeError("no console adapter")
        return adapter

    async def stop(self) -> None:
        if self.store is None:
            return
        self._stopping = True
        if self.leadership is not None:
            await self.leadership.stop()  # stops the leader's part, hands the lease over
            self.leadership = None
        await self._follow("stopping")
        if getattr(self, "alerts_jira", None) is not None:
            await self.alerts_jira.stop()
        if self.metrics is not None:
            self.metrics.stop()
            self.metrics = None
        if self.web is not None:
            await self.web.stop()
            self.web = None
        if hasattr(self, "pager"):
            await self.pager.stop()
            await self.deliveries.stop()
        if hasattr(self, "outbox"):
            await self.outbox.stop()
        if hasattr(self, "holds"):
            await self.holds.stop()
        for adapter in self.adapters.values():
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping the %s adapter failed", adapter.platform)
        self.store.close()
        self.store = None
        self._stopping = False


def _replace_everywhere(root: object, old: Directory, new: Directory, *,
                        also: Iterable[object] = ()) -> int:
    """Point every attribute that holds ``old`` at ``new``, in the App and in every wisbot
    object it reaches (services, dispatcher, outbox, adapters and their host...), and in
    the objects ``also`` names (adapters from elsewhere): whoever holds the directory, now
    or after a later change, gets the new one. Returns how many attributes changed."""
    from pydantic import BaseModel

    seen: set[int] = set()
    swapped = 0

    def ours(value: object) -> bool:
        return (type(value).__module__.startswith("wisbot.")
                and not isinstance(value, (BaseModel, type)))

    def visit(obj: object) -> None:
        nonlocal swapped
        if id(obj) in seen:
            return
        seen.add(id(obj))
        attrs = getattr(obj, "__dict__", None)
        if not isinstance(attrs, dict):
            return
        for name, value in list(attrs.items()):
            if value is old:
                object.__setattr__(obj, name, new)  # frozen dataclasses too
                swapped += 1
                continue
            items = (value.values() if isinstance(value, dict) else value
                     if isinstance(value, (list, tuple, set)) else (value,))
            for item in items:
                if ours(item):
                    visit(item)

    visit(root)
    for obj in also:
        visit(obj)
    return swapped
