"""``severity``: the public scale, or set an incident's severity."""

from __future__ import annotations

from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.incident import told_reply
from wisbot.commands.registry import Arg, Command, Registry
from wisbot.domain.severity import SCALE
from wisbot.errors import UsageError
from wisbot.i18n import _
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, bold


def scale_reply() -> Reply:
    b = ReplyBuilder(_("WIS incident severity scale"))
    for s in SCALE:
        b.line(bold(s.words), _(" — recommended action for other Members: {action}",
                                action=s.advice))
    return b.build()


async def handler(ctx: Ctx, a: dict[str, Any]) -> Reply:
    if a["id"] is None:
        return scale_reply()
    if a["level"] is None:
        raise UsageError(_t("give the new severity, 0 to 5"))
    told = await ctx.services.incidents.set_severity(ctx.caller, a["id"], a["level"],
                                                     a["reason"] or "")
    return told_reply(ctx, told, "severity changed")


def register(reg: Registry) -> None:
    reg.group("severity", "the severity scale, or set an incident's severity")
    reg.add(Command(
        ("severity",),
        "Alone: the public scale. With an incident: set its severity and tell its rooms.",
        "severity WIS-SEC-2026-7 4 Lateral movement seen", handler,
        (Arg("id", required=False, metavar="incident"),
         Arg("level", "int", required=False, int_range=(0, 5), metavar="0-5"),
         Arg("reason", "text", required=False)),
    ))
