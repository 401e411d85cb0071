"""The terminal as a chat surface: every room's traffic printed, prefixed by the room."""

from __future__ import annotations

import itertools
import sys
from collections import defaultdict
from typing import TextIO

from wisbot.adapters.base import Dispatch, Invocation, MessageRef, RoomRef, UserRef
from wisbot.clock import utcnow
from wisbot.ids import Platform
from wisbot.reply import Reply

PLATFORM = Platform("console")


def render_text(reply: Reply) -> str:
    """Plain text; control characters a person typed cannot reach the terminal."""
    return "".join(ch if ch in "\n\t" or ch.isprintable() else "�" for ch in reply.plain())


class ConsoleAdapter:
    """Prints every message as ``[room] text``; keeps a transcript per room and per person.

    Delivery keys already seen are not printed twice (the console's idempotency).
    """

    platform: Platform = PLATFORM

    def __init__(self, out: TextIO | None = None, *, echo: bool = True) -> None:
        self.out = out if out is not None else sys.stdout
        self.echo = echo
        self.dispatch: Dispatch | None = None
        self.rooms: dict[str, list[Reply]] = defaultdict(list)
        self.direct: dict[str, list[Reply]] = defaultdict(list)
        self.members: dict[str, set[str]] = defaultdict(set)
        self._seen: set[str] = set()
        self._ids = itertools.count(1)
        self.fail_rooms: set[str] = set()
        """Rooms whose sends fail (tests: a chat server outage)."""

    async def start(self, dispatch: Dispatch) -> None:
        self.dispatch = dispatch

    async def stop(self) -> None:
        self.dispatch = None

    def _print(self, where: str, reply: Reply) -> None:
        if not self.echo:
            return
        body = render_text(reply).replace("\n", "\n" + " " * (len(where) + 3))
        print(f"[{where}] {body}", file=self.out, flush=True)

    async def send(self, room: RoomRef, reply: Reply, *, key: str) -> MessageRef:
        from wisbot.adapters.base import DeliveryError

        if room.address in self.fail_rooms:
            raise DeliveryError(f"console room {room.address} is unavailable")
        if key not in self._seen:
            self._seen.add(key)
            self.rooms[room.address].append(reply)
            self._print(room.address, reply)
        return MessageRef(platform=self.platform, room=room.address, id=f"c{next(self._ids)}")

    async def send_direct(self, user: UserRef, reply: Reply, *, key: str) -> MessageRef:
        if key not in self._seen:
            self._seen.add(key)
            self.direct[user.address].append(reply)
            self._print(f"@{user.address}", reply)
        return MessageRef(platform=self.platform, room=f"@{user.address}",
                          id=f"c{next(self._ids)}")

    async def room_members(self, room: RoomRef) -> set[UserRef]:
        return {UserRef(platform=self.platform, address=a) for a in self.members[room.address]}

    async def type(self, who: str, text: str, room: str | None = None) -> Reply:
        """Run ``text`` as console user ``who`` typed it in ``room`` (None: direct)."""
        if self.dispatch is None:
            raise RuntimeError("console adapter is not started")
        inv = Invocation(platform=self.platform,
                         sender=UserRef(platform=self.platform, address=who), text=text,
                         room=RoomRef(platform=self.platform, address=room) if room else None,
                         received_at=utcnow())
        reply = await self.dispatch(inv)
        self._print(f"{room or '@' + who} → {who}", reply)
        return reply

    def transcript(self, room: str) -> str:
        return "\n\n".join(render_text(r) for r in self.rooms.get(room, []))
