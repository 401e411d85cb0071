"""From an Invocation to a Reply: prefix, identity, parsing, the handler, and the one place
where every error becomes a message a person can act on."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from wisbot.adapters.base import Invocation
from wisbot.commands.registry import Registry, tokenize
from wisbot.directory import Directory
from wisbot.errors import UsageError, WisbotError
from wisbot.reply import Reply, text_reply
from wisbot.services.context import Caller, resolve_caller

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

    async def __call__(self, inv: Invocation) -> Reply:
        try:
            return await self._dispatch(inv)
        except UsageError as exc:
            return text_reply(str(exc), kind="error", private=True)
        except WisbotError as exc:
            return text_reply(f"Refused: {exc}", kind="error", private=True)
        except Exception:
            error_id = secrets.token_hex(4)
            # Never the command's text: it may hold a protected summary or a name.
            log.exception("command %s failed (error id %s) from %s", self._command_name(inv),
                          error_id, inv.sender.address)
            return text_reply(f"Something went wrong on wisbot's side; nothing you typed was "
                              f"lost. Error id {error_id} (give it to the operators).",
                              kind="error", private=True)

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
            raise UsageError(f"text too long ({len(text)} characters; the limit is "
                             f"{self.max_length}): shorten it or split it into updates")
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
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UsageError(f"unknown command {words[0]!r}.{hint} Type `help` for the list.")
        cmd, used = self.registry.find(words)
        if len(words) > 1 and words[1].lower() == "help" and (cmd is None or used == 1):
            return text_reply(self.registry.overview(top), private=True)
        if cmd is None:
            sub = words[1] if len(words) > 1 else ""
            close = self.registry.suggest(sub, within=top) if sub else []
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            what = f"unknown {top} command {sub!r}." if sub else f"{top} needs a sub-command."
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
