"""``ack <page|incident|query>``: stop a page and record who acknowledged it, and when.

An acknowledgement is deliberate: typed with a page number it acts on that page (the
Secretariat may answer any); by incident or query number, by a button, or by a reaction or
reply on a message (the adapter passes the message in ``Invocation.extra["ack_of"]``) it
acts only on pages of the person's own role, and a reaction acts only on a page message.
"""

from __future__ import annotations

from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry
from wisbot.errors import InvalidState, UsageError
from wisbot.i18n import _ as _t
from wisbot.reply import Reply

ACK_OF = "ack_of"
"""``Invocation.extra`` key: the platform id of the message reacted or replied to."""


async def ack(ctx: Ctx, a: dict[str, Any]) -> Reply:
    paging = ctx.services.paging
    if paging is None:
        raise InvalidState(_t("paging is not running in this wisbot"))
    extra = ctx.invocation.extra or {}
    if not a["ref"]:
        if extra.get(ACK_OF):
            by_message: Reply = await paging.ack_by_message(ctx.caller, extra[ACK_OF])
            return by_message
        raise UsageError(_t("missing <page|incident|query>\nUsage: ack <page|incident|query>, "
                            "e.g. `ack P-3`"))
    # A button, or a reaction or reply on a page (Matrix passes ``ack_message``), acts
    # only on the page of the person's own role; a typed page number is deliberate.
    implicit = extra.get("via") == "button" or bool(extra.get("ack_message"))
    reply: Reply = await paging.ack(ctx.caller, a["ref"], own_only=implicit)
    return reply


def register(reg: Registry) -> None:
    reg.group("ack", "acknowledge a page: stops it for everyone on the on-call chain")
    reg.add(Command(
        ("ack",),
        "Acknowledge a page (P-3), or your own pages of an incident (WIS-SEC-2026-7) or of "
        "a query (Q-2). Anyone on the paged chain may acknowledge; the WMO Secretariat may "
        "acknowledge any page by its number. A ✅ or a reply 'ack' on a page message "
        "acknowledges that page if it is your role's. The time is recorded for the "
        "service report.",
        "ack P-3", ack,
        (Arg("ref", metavar="page|incident|query", required=False,
             help="a page (P-3), an incident number or a query (Q-2)"),),
    ))
