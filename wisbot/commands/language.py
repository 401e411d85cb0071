"""``language``: show or choose the language wisbot writes to you in."""

from __future__ import annotations

from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry
from wisbot.i18n import N_
from wisbot.reply import Reply
from wisbot.services.languages import LanguageService


def _service(ctx: Ctx) -> LanguageService:
    s = ctx.services
    found = s.extra.get("languages") if hasattr(s, "extra") else None
    if found is None:
        found = LanguageService(s.store, s.directory, s.clock)
        if hasattr(s, "extra"):
            s.extra["languages"] = found
    return found


async def handler(ctx: Ctx, a: dict[str, Any]) -> Reply:
    if a["code"] is None:
        return await _service(ctx).show(ctx.caller)
    return await _service(ctx).set(ctx.caller, a["code"])


def register(reg: Registry) -> None:
    reg.group("language", N_("show or choose the language wisbot writes to you in"))
    reg.add(Command(
        ("language",),
        N_("Alone: your language and this room's. With a code (ar zh en fr ru es): yours "
           "from now on, for pages, e-mail and direct replies."),
        "language fr", handler,
        (Arg("code", required=False, metavar="code", help=N_("a language code, e.g. fr")),),
    ))
