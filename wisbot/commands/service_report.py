"""``incident evidence <id>`` and ``incident stats [year]``: the 1-hour target's evidence
and the annual service report (kept apart from the incident process commands)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry
from wisbot.errors import InvalidState
from wisbot.i18n import _ as _t
from wisbot.reply import Reply
from wisbot.services.reports import AnnualReport, report_for, to_reply


async def evidence(ctx: Ctx, a: dict[str, Any]) -> Reply:
    paging = ctx.services.paging
    if paging is None:
        raise InvalidState(_t("paging is not running in this wisbot"))
    reply: Reply = await paging.evidence(ctx.caller, a["id"], details=bool(a["details"]))
    return reply


async def stats(ctx: Ctx, a: dict[str, Any]) -> Reply:
    """Live figures for the Secretariat (in its room or a direct chat); for everyone else
    the published figures of a closed year, or the figures of the incidents they may see
    here: a count that moved with a hidden report would reveal it."""
    now = ctx.services.clock()
    year = a["year"] if a["year"] is not None else now.year
    caller = ctx.caller

    def work(session: Session) -> tuple[AnnualReport, str]:
        return report_for(session, caller, year, now)

    report, scope = await ctx.services.store.tx(work)
    return to_reply(report, scope).model_copy(update={"private": True})


def register(reg: Registry) -> None:
    reg.add(Command(
        ("incident", "evidence"),
        "The notifications and pages of an incident, one line per event (how many rooms, "
        "all delivered and how fast; failures and pending ones named), and whether the "
        "1-hour target was met; `details` lists every message: to whom, on which platform, "
        "delivered when (Secretariat, the affected Member, its principal GISC).",
        "incident evidence WIS-SEC-2026-7 details", evidence,
        (Arg("id", metavar="incident", help="an incident number, e.g. WIS-SEC-2026-7"),
         Arg("details", "flag", required=False, choices=("details", "--all", "all"))),
    ))
    reg.add(Command(
        ("incident", "stats"),
        "The annual service report (default: this year): incidents by the highest severity "
        "they reached and month, time to notify and to acknowledge, pages that reached the "
        "Secretariat, hours the pager ran. Live figures are "
        "the Secretariat's; others get the incidents they may see, or a closed year's "
        "published figures.",
        "incident stats 2026", stats,
        (Arg("year", "int", required=False, int_range=(2000, 2100)),),
    ))
