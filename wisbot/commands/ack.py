"""``ack <page|incident|query>``: stop a page and record who acknowledged it, and when."""

from __future__ import annotations

from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry
from wisbot.errors import InvalidState
from wisbot.reply import Reply


async def ack(ctx: Ctx, a: dict[str, Any]) -> Reply:
    paging = ctx.services.paging
    if paging is None:
        raise InvalidState("paging is not running in this wisbot")
    reply: Reply = await paging.ack(ctx.caller, a["ref"])
    return reply


def register(reg: Registry) -> None:
    reg.group("ack", "acknowledge a page: stops it for everyone on the on-call chain")
    reg.add(Command(
        ("ack",),
        "Acknowledge a page (P-3), every page of an incident you may acknowledge "
        "(WIS-SEC-2026-7) or of a query (Q-2). Anyone on the paged chain, or the WMO "
        "Secretariat, may acknowledge; the time is recorded for the service report.",
        "ack P-3", ack,
        (Arg("ref", metavar="page|incident|query",
             help="a page (P-3), an incident number or a query (Q-2)"),),
    ))
