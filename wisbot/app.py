"""The composition root: ``async with App(settings) as app:`` wires store, directory,
services, commands, adapters and the outbox worker, and takes them down in order."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from wisbot.adapters.base import ChatAdapter
from wisbot.adapters.console import ConsoleAdapter
from wisbot.clock import Clock, utcnow
from wisbot.commands import build_registry
from wisbot.commands.dispatch import Dispatcher
from wisbot.directory import Directory, load_directory
from wisbot.outbox import OutboxWorker
from wisbot.reply import Reply
from wisbot.services.incidents import IncidentService
from wisbot.services.lessons import LessonService
from wisbot.services.notify import ResponseHook, no_paging, notify
from wisbot.settings import Settings
from wisbot.store.engine import Store, upgrade

log = logging.getLogger(__name__)


@dataclass
class Services:
    directory: Directory
    settings: Settings
    clock: Clock
    store: Store
    incidents: IncidentService
    lessons: LessonService
    extra: dict[str, Any] = field(default_factory=dict)


class App:
    def __init__(self, settings: Settings, *, directory: Directory | None = None,
                 clock: Clock = utcnow, adapters: list[ChatAdapter] | None = None,
                 on_response: ResponseHook = no_paging, run_worker: bool = True) -> None:
        self.settings = settings
        self.directory = directory or load_directory(settings.directory)
        self.clock = clock
        self.on_response = on_response
        self.run_worker = run_worker
        self._adapters = adapters
        self.holds: set[str] = set()
        """Room keys whose deliveries wait (room integrity): held, never dropped."""
        self.store: Store | None = None
        self.adapters: dict[str, ChatAdapter] = {}

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
        incidents = IncidentService(self.store, self.directory, self.clock,
                                    paging_threshold=s.paging_threshold,
                                    on_response=self.on_response)
        self.services = Services(
            directory=self.directory, settings=s, clock=self.clock, store=self.store,
            incidents=incidents,
            lessons=LessonService(self.store, self.directory, self.clock, incidents),
        )
        self.registry = build_registry()
        self.dispatcher = Dispatcher(self.registry, self.directory, self.services,
                                     max_length=s.max_text_length)
        adapters = self._adapters if self._adapters is not None else self._configured_adapters()
        self.adapters = {a.platform: a for a in adapters}
        self.outbox = OutboxWorker(
            self.store, self.directory, self.adapters, self.clock,
            max_attempts=s.outbox_max_attempts, backoff_base=s.outbox_backoff_base,
            backoff_max=s.outbox_backoff_max, poll_interval=s.outbox_poll_interval,
            lease_seconds=s.outbox_lease_seconds,
            is_held=lambda key: key in self.holds,
        )
        for adapter in self.adapters.values():
            await adapter.start(self.dispatch)
        if self.run_worker:
            self.outbox.start()

    async def dispatch(self, invocation: Any) -> Any:
        reply = await self.dispatcher(invocation)
        self.outbox.wake()
        if not reply.private and not self._may_post_in(invocation):
            # The answer is the caller's alone: in a direct conversation it is the person's
            # own view (another person may be in that conversation), and a held room has
            # a stranger in it.
            reply = reply.model_copy(update={"private": True})
        return reply

    def _may_post_in(self, invocation: Any) -> bool:
        """Whether a reply may be posted for everyone in the room the command came from."""
        ref = invocation.room
        if ref is None:
            return False
        room = self.directory.room_by_address(ref.platform, ref.address)
        return room is not None and room.key not in self.holds

    def _configured_adapters(self) -> list[ChatAdapter]:
        out: list[ChatAdapter] = []
        for name in self.settings.adapters:
            if name == "console":
                out.append(ConsoleAdapter())
            elif name == "slack":
                try:
                    from wisbot.adapters.slack import SlackAdapter
                except ImportError as exc:
                    raise ValueError("the slack adapter needs the slack extras: "
                                     "pip install 'wisbot[slack]'") from exc
                out.append(SlackAdapter.from_settings(
                    self.settings, directory=self.directory, holds=self.holds,
                    alert=self.alert_secretariat, on_release=self._wake_outbox))
            else:
                raise ValueError(f"adapter {name!r} is not available in this build; "
                                 "configured adapters: console, slack")
        return out

    def _wake_outbox(self) -> None:
        if hasattr(self, "outbox"):
            self.outbox.wake()

    async def alert_secretariat(self, reply: Reply) -> None:
        """Tell every Secretariat room (room integrity, operations alerts), via the outbox."""
        assert self.store is not None
        rooms = self.directory.rooms_with_role("secretariat")
        if not rooms:
            log.critical("no Secretariat room to alert: %s", reply.plain())
            return
        now = self.clock()
        await self.store.tx(lambda s: notify(s, kind="alert", now=now, incident_id=None,
                                             deliveries=[(room, reply) for room in rooms]))
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
        if hasattr(self, "outbox"):
            await self.outbox.stop()
        for adapter in self.adapters.values():
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping the %s adapter failed", adapter.platform)
        self.store.close()
        self.store = None
