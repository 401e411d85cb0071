"""``incident evidence <id>`` and ``incident stats [year]``: the 1-hour target's evidence
and the annual service report (kept apart from the incident process commands)."""

from __future__ import annotations

from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry
from wisbot.errors import InvalidState
from wisbot.reply import Reply
from wisbot.services.reports import annual_report, to_reply


async def evidence(ctx: Ctx, a: dict[str, Any]) -> Reply:
    paging = ctx.services.paging
    if paging is None:
        raise InvalidState("paging is not running in this wisbot")
    reply: Reply = await paging.evidence(ctx.caller, a["id"])
    return reply


async def stats(ctx: Ctx, a: dict[str, Any]) -> Reply:
    now = ctx.services.clock()
    year = a["year"] if a["year"] is not None else now.year
    report = await ctx.services.store.tx(lambda s: annual_report(s, year, now))
    return to_reply(report).model_copy(update={"private": True})


def register(reg: Registry) -> None:
    reg.add(Command(
        ("incident", "evidence"),
        "Every notification and page of an incident: to whom, on which platform, sent, "
        "delivered, acknowledged, and whether the 1-hour target was met (Secretariat, the "
        "affected Member, its principal GISC).",
        "incident evidence WIS-SEC-2026-7", evidence,
        (Arg("id", metavar="incident", help="an incident number, e.g. WIS-SEC-2026-7"),),
    ))
    reg.add(Command(
        ("incident", "stats"),
        "The annual service report: incidents by severity and month, time to notify and "
        "to acknowledge, pages that reached the Secretariat, hours covered.",
        "incident stats 2026", stats,
        (Arg("year", "int", required=False, int_range=(2000, 2100)),),
    ))
