"""``wisbot shell``: type commands as a directory contact in a room (or a direct chat).

On a terminal: prompt_toolkit line editing, arrows and a history file; Ctrl-C clears the
line, Ctrl-C on an empty line twice or Ctrl-D leaves (status 0, with a word); messages
the outbox delivers while you type are printed above the prompt, never through it.
Without a terminal (piped input, scripts, tests) lines are read as they come and the
outbox is drained after each command, as before.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wisbot.directory import Contact, Directory, Room
from wisbot.errors import NotFound
from wisbot.i18n import N_, ngettext
from wisbot.i18n import _ as _t

if TYPE_CHECKING:
    from wisbot.app import App

LEAVE_WORD = N_("Left the wisbot shell.")
CTRL_C_HINT = N_("(Ctrl-C again or Ctrl-D to leave the shell)")


@dataclass
class Preflight:
    contact: Contact
    room: Room | None
    warnings: list[str] = field(default_factory=list)


def preflight(directory: Directory, source: Path | str, as_: str,
              room_key: str | None) -> Preflight:
    """The contact and room, or an error saying where contacts and rooms come from; a
    warning when the contact is outside the room's audience (the one rule decides)."""
    from wisbot.domain.audience import may_sit_in

    try:
        contact = directory.contact(as_)
    except NotFound:
        near = near_contacts(directory, as_)
        known = (_t("near matches: {ids}", ids=", ".join(near)) if near else
                 ngettext("{n} contact, e.g. {ids}", "{n} contacts, e.g. {ids}",
                          len(directory.contacts),
                          ids=", ".join(c.id for c in directory.contacts[:5])))
        raise NotFound(_t("no contact {given} ({known}). Contacts are the `contacts:` entries "
                          "(their `id`) of the directory file {source} (WISBOT_DIRECTORY or "
                          "--directory); `wisbot directory check` validates it and `wisbot "
                          "directory preview <centre> share=group` shows who reads what",
                          given=repr(as_), known=known, source=source)) from None
    room: Room | None = None
    warnings: list[str] = []
    if room_key:
        try:
            room = directory.room(room_key)
        except NotFound as exc:
            raise NotFound(_t("{error}. Rooms are the `rooms:` entries (their `key`) of "
                              "{source}; leave --room out for a direct conversation",
                              error=exc, source=source)) from None
        if not may_sit_in(directory, contact, room.role):
            warnings.append(_t(
                "{id} ({name}) is outside the audience of room {room} (role {role}): on a "
                "real chat server the bot would refuse the room as holding a stranger. "
                "Commands typed here act as if they were there.", id=contact.id,
                name=contact.name, room=room.key, role=room.role))
    return Preflight(contact, room, warnings)


def near_contacts(directory: Directory, given: str, limit: int = 5) -> list[str]:
    """Contact ids close to ``given``: by spelling, or containing it (id or name)."""
    import difflib

    word = given.casefold().strip()
    ids = [str(c.id) for c in directory.contacts]
    out = difflib.get_close_matches(word, [i.casefold() for i in ids], n=limit, cutoff=0.5)
    by_fold = {i.casefold(): i for i in ids}
    found = [by_fold[o] for o in out]
    for c in directory.contacts:
        if word and (word in c.id.casefold() or word in c.name.casefold()) \
                and c.id not in found:
            found.append(str(c.id))
    return found[:limit]


def history_path(database_url: str) -> Path:
    """The history file: beside the SQLite database, else in the user's data folder."""
    from sqlalchemy.engine import make_url

    from wisbot.store.engine import is_sqlite

    if is_sqlite(database_url):
        database = make_url(database_url).database
        if database and database != ":memory:":
            return Path(database).resolve().parent / ".wisbot-shell-history"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "wisbot" / "shell-history"


class _CurrentStdout:
    """Writes to whatever ``sys.stdout`` is at the moment: under ``patch_stdout`` that is
    prompt_toolkit's proxy, which prints above the prompt."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


CURRENT_STDOUT: Any = _CurrentStdout()


def _invocation(who: str, text: str, target: str | None) -> Any:
    from wisbot.adapters.base import Invocation, RoomRef, UserRef
    from wisbot.clock import utcnow
    from wisbot.ids import Platform

    p = Platform("console")
    return Invocation(platform=p, sender=UserRef(p, who), text=text,
                      room=RoomRef(p, target) if target else None, received_at=utcnow())


async def _run_line(bot: App, pre: Preflight, line: str, echo: Callable[[str], None]) -> None:
    from wisbot.adapters.console import render_text

    who = pre.contact.chat_id("console") or pre.contact.id
    reply = await bot.dispatch(_invocation(who, line, pre.room.target if pre.room else None))
    echo(render_text(reply))


async def run_piped(bot: App, pre: Preflight, echo: Callable[[str], None],
                    stdin: Any = None) -> int:
    """Lines from a pipe; the outbox is drained after each command (scripts see every
    room's traffic in order)."""
    stream = stdin if stdin is not None else sys.stdin
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def reader() -> None:  # a daemon thread: an interrupted shell does not wait for it
        try:
            for raw in stream:
                loop.call_soon_threadsafe(lines.put_nowait, raw.rstrip("\n"))
        finally:
            loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=reader, name="wisbot-shell-stdin", daemon=True).start()
    while (line := await lines.get()) is not None:
        if not line.strip():
            continue
        await _run_line(bot, pre, line, echo)
        await bot.outbox.drain()
    return 0


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)


async def run_tty(bot: App, pre: Preflight, echo: Callable[[str], None], *,
                  history: Path | None, input: Any = None, output: Any = None) -> int:
    """The interactive prompt (``input``/``output``: prompt_toolkit's, for tests)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.patch_stdout import patch_stdout

    keys = KeyBindings()

    @keys.add("c-c")
    def _ctrl_c(event: KeyPressEvent) -> None:
        buffer = event.app.current_buffer
        if buffer.text:
            buffer.reset()  # clear the line, stay at the prompt
        else:
            event.app.exit(exception=KeyboardInterrupt())

    store: Any = InMemoryHistory()
    if history is not None:
        try:
            await asyncio.to_thread(_touch, history)
            store = FileHistory(str(history))
        except OSError as exc:
            echo(_t("(no history file: cannot write {path}: {error})", path=history,
                    error=exc.strerror or exc))
    session: PromptSession[str] = PromptSession(history=store, key_bindings=keys,
                                                input=input, output=output)
    armed = False
    with patch_stdout(raw=True):
        while True:
            try:
                line = await session.prompt_async(f"{pre.contact.id}> ")
            except KeyboardInterrupt:
                if armed:
                    break
                armed = True
                echo(str(CTRL_C_HINT))
                continue
            except EOFError:
                break
            armed = False
            if not line.strip():
                continue
            await _run_line(bot, pre, line, echo)  # deliveries follow, above the prompt
    echo(str(LEAVE_WORD))
    return 0
