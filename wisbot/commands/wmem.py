"""``watch outages`` and ``watch outage``: the operations calendar of planned outages
(WIS2 monitoring events, docs/wmem.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry, tokenize
from wisbot.domain.wmem import Refused, parse_instant
from wisbot.errors import InvalidState, NotAllowed, UsageError
from wisbot.i18n import N_
from wisbot.i18n import _ as _t
from wisbot.reply import Reply

USAGE = N_("watch outage <service> <from> <to> <text>, e.g. `watch outage gb-dwd "
           "2026-03-05T09:00Z 2026-03-05T11:00Z broker upgrade`")
"""Translated where shown in a refusal; the help adds it in English and translates the
whole help (wisbot/i18n_runtime.py)."""


def _service(ctx: Ctx) -> Any:
    svc = ctx.services.extra.get("wmem")
    if svc is None:
        raise InvalidState(_t("WIS2 monitoring events are not running in this wisbot"))
    return svc


def _when(text: str, *, end: bool) -> datetime:
    try:
        value = parse_instant(text, end=end)
    except Refused:
        value = None
    if value is None:
        raise UsageError(_t("{text!r} is not a time: use 2026-03-05T09:00Z or 2026-03-05",
                            text=text))
    return value


async def outages(ctx: Ctx, a: dict[str, Any]) -> Reply:
    c = ctx.caller
    if not (c.is_secretariat or c.contact.giscs or "watch" in c.contact.roles):
        raise NotAllowed(_t("GISC Watch is for GISC focal points, watch operators and the WMO "
                            "Secretariat"))
    reply: Reply = await _service(ctx).outages_reply()
    return reply


async def outage(ctx: Ctx, a: dict[str, Any]) -> Reply:
    raw: str = a["rest"] or ""
    tokens = tokenize(raw)
    confirm = len(tokens) > 4 and tokens[-1].value.lower() == "confirm"
    if confirm:  # a typo-like centre or a long window, asked about just before
        raw = raw[:tokens[-1].start].rstrip()
        tokens = tokens[:-1]
    if len(tokens) < 4:
        raise UsageError(_t("give the service, start, end and a text. Usage: {usage}", usage=USAGE))
    start = _when(tokens[1].value, end=False)
    end = _when(tokens[2].value, end=True)
    text = raw[tokens[3].start:].strip().strip("\"'")
    reply: Reply = await _service(ctx).add_outage(ctx.caller, tokens[0].value, start, end,
                                                  text, confirm)
    return reply


def register(reg: Registry) -> None:
    reg.add(Command(("watch", "outages"), "The operations calendar: planned outages now "
                    "and ahead (from WIS2 monitoring events and `watch outage`).",
                    "watch outages", outages))
    reg.add(Command(("watch", "outage"), "Announce a planned outage of a WIS 2.0 service: "
                    "suppresses its tickets and flags in the window; published as a WMEM "
                    "when wmem_publish is on. " + USAGE,
                    "watch outage gb-dwd 2026-03-05T09:00Z 2026-03-05T11:00Z broker upgrade",
                    outage, (Arg("rest", "text", required=False,
                                 metavar="<service> <from> <to> <text>"),)))
