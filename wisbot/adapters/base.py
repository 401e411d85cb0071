"""The contract between wisbot and a chat platform.

Adapters never decide who is told: the services write outbox rows for the rooms of an
audience, and the outbox worker calls :meth:`ChatAdapter.send` for each. An adapter only
turns its platform's events into :class:`Invocation` objects, hands them to ``dispatch``
and renders :class:`~wisbot.reply.Reply` objects, escaping user text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from wisbot.ids import Platform, RoomKey
from wisbot.reply import Reply

if TYPE_CHECKING:
    from wisbot.clock import Clock
    from wisbot.directory import Directory
    from wisbot.services.holds import HoldRegistry
    from wisbot.store.engine import Store


@dataclass(frozen=True)
class RoomRef:
    """A bound room: its directory key and its address on the platform.

    e.g. ``RoomRef("matrix", "!abc:example.org", "gisc-offenbach")``.
    """

    platform: Platform
    address: str
    key: RoomKey | None = None


@dataclass(frozen=True)
class UserRef:
    """A chat identity, e.g. ``UserRef("slack", "U024BE7LH")``."""

    platform: Platform
    address: str


@dataclass(frozen=True)
class MessageRef:
    """A message the platform accepted, e.g. a Matrix event id or a Slack ``ts``."""

    platform: Platform
    room: str
    id: str


@dataclass(frozen=True)
class Invocation:
    """One command as a person typed it, where they typed it.

    ``room`` is ``None`` for a direct message: the reply then goes to that person only.
    """

    platform: Platform
    sender: UserRef
    text: str
    room: RoomRef | None = None
    received_at: datetime | None = None
    reply_to: MessageRef | None = None
    extra: dict[str, str] = field(default_factory=dict)


Dispatch = Callable[[Invocation], Awaitable[Reply]]


class DeliveryError(Exception):
    """A send failed. ``retry_after`` (seconds): a rate limit, the platform said when to
    retry; ``transient``: the platform was unreachable or failed (timeout, 5xx) and the
    message may or may not have arrived; ``no_access``: the bot may not post in that room
    now (removed, not invited) and its queue waits for a fix; ``permanent``: this message
    can never be sent (bad content, unknown user). The outbox waits on the first three
    without counting an attempt and gives up at once only on the last."""

    def __init__(self, message: str, *, retry_after: float | None = None,
                 permanent: bool = False, transient: bool = False,
                 no_access: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.transient = transient
        self.no_access = no_access


@runtime_checkable
class ChatAdapter(Protocol):
    platform: Platform

    async def start(self, dispatch: Dispatch) -> None:
        """Connect and begin handing invocations to ``dispatch``; return once running."""

    async def stop(self) -> None: ...

    async def send(self, room: RoomRef, reply: Reply, *, key: str) -> MessageRef:
        """Post ``reply`` to ``room``. ``key`` is stable across retries of the same
        message, so a platform that dedupes (Matrix transaction ids) sends it once."""

    async def send_direct(self, user: UserRef, reply: Reply, *, key: str) -> MessageRef: ...

    async def room_members(self, room: RoomRef) -> set[UserRef]:
        """Who is in the room now (joined and invited)."""


@dataclass
class AdapterHost:
    """What the application lends an adapter that keeps its own durable state or guards
    rooms: the store (a sync token), the directory, the clock, the hold registry (room
    integrity: a held room's posts wait in the outbox and its commands are refused; stored
    in the database), and a way to wake the outbox after enqueuing an alert."""

    directory: Directory
    store: Store
    clock: Clock
    holds: HoldRegistry
    wake_outbox: Callable[[], None]


@runtime_checkable
class HostAware(Protocol):
    """An adapter that needs the :class:`AdapterHost`; the app calls ``bind`` before
    ``start``."""

    def bind(self, host: AdapterHost) -> None: ...
