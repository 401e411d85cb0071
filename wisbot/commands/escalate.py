"""``escalate``: jump a page to its next step, see who is on call, set overrides.

Sub-commands are two-word paths (``escalate oncall``, ``escalate override``), so later
ones (``escalate exchange ...``) slot in beside them; ``escalate <incident>`` is the bare
command.
"""

from __future__ import annotations

from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry
from wisbot.errors import InvalidState, UsageError
from wisbot.i18n import _ as _t
from wisbot.reply import Reply
from wisbot.services.paging import PagingService


def _paging(ctx: Ctx) -> PagingService:
    paging: PagingService | None = ctx.services.paging
    if paging is None:
        raise InvalidState(_t("paging is not running in this wisbot"))
    return paging


async def escalate(ctx: Ctx, a: dict[str, Any]) -> Reply:
    return await _paging(ctx).escalate(ctx.caller, a["id"], a["reason"] or "")


async def oncall(ctx: Ctx, a: dict[str, Any]) -> Reply:
    return await _paging(ctx).oncall(ctx.caller, a["role"])


async def override(ctx: Ctx, a: dict[str, Any]) -> Reply:
    paging = _paging(ctx)
    first = a["role"].lower()
    if first == "list":
        return await paging.list_overrides(ctx.caller)
    if first == "remove":
        if not a["contact"]:
            raise UsageError(_t("missing the override to remove, e.g. O-3"))
        return await paging.remove_override(ctx.caller, a["contact"])
    if not (a["contact"] and a["start"] and a["end"]):
        raise UsageError(_t("an override needs <role> <contact> <from> <to>"))
    return await paging.set_override(ctx.caller, a["role"], a["contact"], a["start"],
                                     a["end"], a["reason"] or "")


def register(reg: Registry) -> None:
    reg.group("escalate", "escalate a page now, see who is on call, set on-call overrides")
    reg.add(Command(
        ("escalate",),
        "Jump every open page of the incident to its next step now (or page the WMO "
        "Secretariat if none is open).",
        "escalate WIS-SEC-2026-7 No answer from the GISC desk", escalate,
        (Arg("id", metavar="incident", help="an incident number, e.g. WIS-SEC-2026-7"),
         Arg("reason", "text", "why", required=False)),
    ))
    reg.add(Command(
        ("escalate", "oncall"),
        "Who is on call now, and next, for a role (default: your own roles).",
        "escalate oncall gisc:Tokyo", oncall,
        (Arg("role", required=False, metavar="role",
             help="secretariat, gisc:<GISC> or member:<Member> (or just the name)"),),
    ))
    reg.add(Command(
        ("escalate", "override"),
        "Put a contact first on call for a role for a while (holidays): Secretariat or "
        "the role's focal points. `escalate override list`, `escalate override remove O-3`.",
        "escalate override gisc:Tokyo gisc-tokyo now 2026-12-27T09:00 holiday cover",
        override,
        (Arg("role", metavar="role|list|remove"),
         Arg("contact", required=False, metavar="contact"),
         Arg("start", required=False, metavar="from"),
         Arg("end", required=False, metavar="to"),
         Arg("reason", "text", required=False)),
    ))
