"""From an Invocation to a Reply: prefix, identity, parsing, the handler, and the one place
where every error becomes a message a person can act on."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from wisbot import i18n
from wisbot.adapters.base import Invocation
from wisbot.commands.registry import Registry, tokenize
from wisbot.directory import Directory
from wisbot.errors import UsageError, WisbotError
from wisbot.i18n import _
from wisbot.reply import Reply, text_reply
from wisbot.services.context import Caller, resolve_caller
from wisbot.services.languages import person_language, room_language

log = logging.getLogger(__name__)


@dataclass
class Ctx:
    """What a handler gets: the caller, the invocation, and the application's services."""

    caller: Caller
    invocation: Invocation
    services: Any


def strip_prefix(text: str) -> str:
    text = text.strip()
    for prefix in ("//", "!", "/"):
        if text.startswith(prefix):
            return text[len(prefix):].lstrip()
    return text


class Dispatcher:
    def __init__(self, registry: Registry, directory: Directory, services: Any, *,
                 max_length: int = 4000) -> None:
        self.registry = registry
        self.directory = directory
        self.services = services
        self.max_length = max_length
        self._languages: dict[str, tuple[str, float]] = {}

    LANGUAGE_TTL = 30.0
    """How long a person's stored language is reused (s): a direct command then costs no
    extra transaction; another process sees a change within this long."""

    async def __call__(self, inv: Invocation) -> Reply:
        # A reply in a room is read in the room's language; in a direct chat, the person's.
        with i18n.use(await self._language(inv)):
            reply = await self._answer(inv)
        if strip_prefix(inv.text).lower().startswith("language"):
            self._languages.clear()  # a choice just made applies to the next command
        return reply

    async def _answer(self, inv: Invocation) -> Reply:
        try:
            return await self._dispatch(inv)
        except UsageError as exc:
            return text_reply(str(exc), kind="error", private=True)
        except WisbotError as exc:
            return text_reply(_("Refused: {reason}", reason=str(exc)), kind="error",
                              private=True)
        except Exception:
            error_id = secrets.token_hex(4)
            # Never the command's text: it may hold a protected summary or a name.
            log.exception("command %s failed (error id %s) from %s", self._command_name(inv),
                          error_id, inv.sender.address)
            return text_reply(_("Something went wrong on wisbot's side; nothing you typed "
                                "was lost. Error id {error_id} (give it to the operators).",
                                error_id=error_id), kind="error", private=True)

    async def _language(self, inv: Invocation) -> str:
        """The reader's language; the default when anything is unknown (never fails)."""
        try:
            if inv.room is not None:
                room = self.directory.room_by_address(inv.platform, inv.room.address)
                return room_language(room)
            contact = self.directory.contact_by_chat(inv.platform, inv.sender.address)
            store = getattr(self.services, "store", None)
            if contact is None or store is None:
                return i18n.default()
            cached = self._languages.get(contact.id)
            now = time.monotonic()
            if cached is not None and now - cached[1] < self.LANGUAGE_TTL:
                return cached[0]
            directory = self.directory
            lang = str(await store.tx(
                lambda session: person_language(session, directory, contact.id)))
            if len(self._languages) > 10_000:
                self._languages.clear()
            self._languages[contact.id] = (lang, now)
            return lang
        except Exception:
            log.warning("could not look up the reader's language", exc_info=True)
            return i18n.default()

    def _command_name(self, inv: Invocation) -> str:
        """The command's words (``incident update``), never its arguments."""
        try:
            words = [t.value for t in tokenize(strip_prefix(inv.text))]
            cmd, _ = self.registry.find(words)
        except Exception:
            return "?"
        return cmd.name if cmd is not None else "?"

    async def _dispatch(self, inv: Invocation) -> Reply:
        text = strip_prefix(inv.text)
        if len(text) > self.max_length:
            raise UsageError(_("text too long ({length} characters; the limit is {limit}): "
                               "shorten it or split it into updates",
                               length=len(text),
                               limit=self.max_length))
        caller = resolve_caller(self.directory, inv.platform, inv.sender.address,
                                inv.room.address if inv.room else None)
        words = [t.value for t in tokenize(text)] if text else []
        if not words or words[0].lower() == "help":
            return text_reply(self.registry.overview(words[1].lower() if len(words) > 1
                                                     and words[1].lower()
                                                     in self.registry.top_level() else None),
                              private=True)
        top = words[0].lower()
        if top not in self.registry.top_level():
            close = self.registry.suggest(top)
            hint = _(" Did you mean {words}?", words=", ".join(close)) if close else ""
            raise UsageError(_("unknown command {word}.{hint} Type `help` for the list.",
                               word=repr(words[0]), hint=hint))
        cmd, used = self.registry.find(words)
        if len(words) > 1 and words[1].lower() == "help" and (cmd is None or used == 1):
            return text_reply(self.registry.overview(top), private=True)
        if cmd is None:
            sub = words[1] if len(words) > 1 else ""
            close = self.registry.suggest(sub, within=top) if sub else []
            hint = _(" Did you mean {words}?", words=", ".join(close)) if close else ""
            what = _("unknown {top} command {word}.", top=top, word=repr(sub)) if sub \
                else _("{top} needs a sub-command.", top=top)
            raise UsageError(f"{what}{hint}\n{self.registry.overview(top)}")
        rest = _after_words(text, used)
        if rest.strip().lower() == "help":
            return text_reply(cmd.usage_text(), private=True)
        try:
            args = self._parse(cmd, rest)
        except UsageError as exc:
            raise UsageError(f"{exc}\n{cmd.usage_text()}") from None
        log.info("%s (%s) in %s: %s", caller.contact.id, inv.platform, caller.where, cmd.name)
        return await cmd.handler(Ctx(caller=caller, invocation=inv, services=self.services),
                                 args)

    @staticmethod
    def _parse(cmd: Any, rest: str) -> dict[str, Any]:
        from wisbot.commands.registry import parse_args

        return parse_args(cmd, rest)


def _after_words(text: str, count: int) -> str:
    tokens = tokenize(text)
    if len(tokens) <= count:
        return ""
    return text[tokens[count].start:] if count else text
