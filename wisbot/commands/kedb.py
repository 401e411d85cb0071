"""``kedb``: the known-error database (add, link, show, list, search)."""

from __future__ import annotations

from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry
from wisbot.domain.audience import KNOWN_ERROR_SHARES
from wisbot.i18n import _
from wisbot.reply import Reply, bold
from wisbot.services.kedb import KedbService

KE = Arg("ke", metavar="K-id", help="a known error number, e.g. K-3")


def service(ctx: Ctx) -> KedbService:
    kedb: KedbService = ctx.services.extra["kedb"]
    return kedb


async def add(ctx: Ctx, a: dict[str, Any]) -> Reply:
    return await service(ctx).add(ctx.caller, a["title"], a["symptom"], a["workaround"],
                                  a["share"], a["member"])


async def link(ctx: Ctx, a: dict[str, Any]) -> Reply:
    return await service(ctx).link(ctx.caller, a["ke"], a["target"])


async def show(ctx: Ctx, a: dict[str, Any]) -> Reply:
    return await service(ctx).show(ctx.caller, a["ke"])


async def list_(ctx: Ctx, a: dict[str, Any]) -> Reply:
    return await service(ctx).list_known(ctx.caller)


async def search(ctx: Ctx, a: dict[str, Any]) -> Reply:
    return await service(ctx).search(ctx.caller, a["words"])


def register(reg: Registry) -> None:
    reg.group("kedb", "known errors and their workarounds")
    reg.add(Command(
        ("kedb", "add"),
        "Record a known error: a title and the symptom in quotes, then the workaround. "
        "share=none (default) keeps it for the Member and the Secretariat; anonymous "
        "shares it without naming the Member; named names it (only its focal points "
        "may share).",
        'kedb add "VPN drops" "tunnel to the GISC resets every ten minutes" Lower the '
        "rekey interval to 50 minutes", add,
        (Arg("title", help="a short name, in quotes"),
         Arg("symptom", help="what people see, in quotes"),
         Arg("share", "option", required=False, choices=KNOWN_ERROR_SHARES,
             choice_help={"none": "only the Member and the Secretariat",
                          "anonymous": "the whole group, without naming the Member",
                          "named": "the whole group, naming the Member (only its "
                                   "focal points may choose it)"}),
         Arg("member", "option", "the Member that met it (default: yours)", required=False,
             metavar="code"),
         Arg("workaround", "text", "what to do until it is fixed")),
    ))
    reg.add(Command(("kedb", "link"), "Link a known error to an incident or a lesson.",
                    "kedb link K-3 WIS-SEC-2026-7", link,
                    (KE, Arg("target", metavar="incident|lesson"))))
    reg.add(Command(("kedb", "show"), "A known error with its symptom, workaround and "
                    "links, as you may see it here.", "kedb show K-3", show, (KE,)))
    reg.add(Command(("kedb", "list"), "The known errors you may see here.", "kedb list",
                    list_))
    reg.add(Command(("kedb", "search"), "Search the known errors you may see, in any "
                    "script.", "kedb search vpn", search, (Arg("words", "text"),)))


async def with_suggestions(ctx: Ctx, reply: Reply, text: str) -> Reply:
    """The reporter's own answer with the known errors whose symptom reads like ``text``
    (a report, an update), those the reporter may see here only; the answer stays private."""
    kedb: KedbService | None = ctx.services.extra.get("kedb")
    lines = await kedb.suggestions(ctx.caller, text) if kedb is not None else []
    if not lines:
        return reply
    head = (bold(_("Known errors that may match (only you read this): ")),)
    return reply.model_copy(update={"lines": (*reply.lines, head, *lines), "private": True})
