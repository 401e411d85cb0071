"""``change``: requests for change and the change advisory board (Annex 1 §4.4)."""

from __future__ import annotations

import difflib
from datetime import datetime, timedelta
from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry, tokenize
from wisbot.domain.changes import DECISIONS, FIELDS, PRIORITIES, RISK_LEVELS
from wisbot.domain.wmem import Refused, parse_instant
from wisbot.errors import InvalidState, UsageError
from wisbot.i18n import N_, _
from wisbot.reply import Reply

DEFAULT_WINDOW = timedelta(hours=1)


def _svc(ctx: Ctx) -> Any:
    svc = ctx.services.extra.get("changes")
    if svc is None:
        raise InvalidState(_("change management is not running in this wisbot"))
    return svc


def _time(name: str, text: str, *, end: bool = False) -> datetime:
    try:
        value = parse_instant(text, end=end)
    except Refused:
        value = None
    if value is None:
        raise UsageError(_("{name}={given} is not a time: use 2026-03-05T09:00Z or 2026-03-05",
                           name=name, given=text))
    return value


QUOTES = "\"'“”‘’"
OPTIONAL = ("until", "service")


def parse_fields(raw: str) -> dict[str, str]:
    """``key=value`` pairs; a value may be quoted (``what="Broker upgrade"``)."""
    out: dict[str, str] = {}
    for tok in tokenize(raw):
        key, eq, value = tok.value.partition("=")
        key = key.lower()
        if not eq or raw[tok.start] in QUOTES:
            raise UsageError(_("{word} is not a field: give key=value pairs, quoting values "
                               "with spaces", word=repr(tok.value)))
        if key not in (*FIELDS, *OPTIONAL):
            close = difflib.get_close_matches(key, (*FIELDS, *OPTIONAL), n=1)
            hint = _(" (did you mean {option}=?)", option=close[0]) if close else ""
            raise UsageError(_("unknown option {option}={hint}", option=key, hint=hint))
        if key in out:
            raise UsageError(_("{field}= is given twice", field=key))
        out[key] = value
    missing = [k for k in FIELDS if k not in out]
    if missing:
        raise UsageError(_("missing {what}", what=", ".join(f"{k}=" for k in missing))
                         + " (" + "; ".join(f"{k}: {FIELD_HELP[k].text()}" for k in missing) + ")")
    return out


async def request(ctx: Ctx, a: dict[str, Any]) -> Reply:
    try:
        f = parse_fields(a["fields"] or "")
    except UsageError as exc:
        raise UsageError(f"{exc}\n{REQUEST.usage_text()}") from None
    start = _time("when", f["when"])
    end = _time("until", f["until"], end=True) if f.get("until") else start + DEFAULT_WINDOW
    fields = {k: f[k] for k in FIELDS if k != "when"}
    reply: Reply = await _svc(ctx).request(ctx.caller, a["centre"], fields, start, end,
                                           f.get("service") or None)
    return reply


async def accept(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await _svc(ctx).accept(ctx.caller, a["change"], a["priority"], a["risk"],
                                          a["reason"] or "")
    return reply


async def reject(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await _svc(ctx).reject(ctx.caller, a["change"], a["reason"])
    return reply


async def assess(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await _svc(ctx).assess(ctx.caller, a["change"], a["risk"], a["assessment"])
    return reply


async def decide(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await _svc(ctx).decide(ctx.caller, a["change"], a["decision"],
                                          a["note"] or "")
    return reply


def _step(action: str) -> Any:
    async def handler(ctx: Ctx, a: dict[str, Any]) -> Reply:
        reply: Reply = await _svc(ctx).advance(ctx.caller, a["change"], action, a["text"] or "")
        return reply

    return handler


async def show(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await _svc(ctx).show(ctx.caller, a["change"])
    return reply


async def list_(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await _svc(ctx).list_changes(ctx.caller, a["which"] or "open")
    return reply


async def calendar(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await _svc(ctx).calendar(ctx.caller)
    return reply


CAB_USAGE = "change cab · change cab schedule <time>"


async def cab(ctx: Ctx, a: dict[str, Any]) -> Reply:
    words = [t.value for t in tokenize(a["rest"] or "")]
    reply: Reply
    if not words:
        reply = await _svc(ctx).meetings(ctx.caller)
        return reply
    if words[0].lower() == "schedule" and len(words) == 2:
        reply = await _svc(ctx).schedule(ctx.caller, _time("time", words[1]))
        return reply
    raise UsageError(_("usage: {usage}, e.g. `change cab schedule 2026-03-05T10:00Z`",
                       usage=CAB_USAGE))


CHANGE = Arg("change", metavar="change")
FIELD_HELP = {
    "what": N_("what changes"), "why": N_("why it is needed"),
    "who": N_("who carries it out"), "when": N_("when it starts (UTC)"),
    "how": N_("how it is done (and backed out)"), "risk": N_("the risk the centre sees"),
    "impact": N_("who and what it affects"),
    "cost": N_("what it costs (effort, money, downtime)"),
}


REQUEST = Command(
    ("change", "request"),
    "Step 1: request a change for a centre. Every field is required; quote values with "
    "spaces. until= (default: an hour after when=) ends the window; service= names a "
    "Global Service, announced as a planned outage once authorised.",
    'change request DE-OF-NC what="Broker upgrade" why="End of support" who="DWD ops" '
    'when=2026-03-05T09:00Z how="Rolling, with rollback" risk="Short reconnects" '
    'impact="Subscribers reconnect" cost="4 person-hours"', request,
    (Arg("centre", metavar="centre"),
     Arg("fields", "text",
         metavar="what=… why=… who=… when=… how=… risk=… impact=… cost=… [until=…] "
                 "[service=…]")))


def register(reg: Registry) -> None:
    reg.group("change", "changes and the change advisory board (CAB)")
    reg.add(REQUEST)
    reg.add(Command(
        ("change", "accept"),
        "Step 2 (Secretariat, CAB): accept a request with its priority; risk= records the "
        "risk assessment at once.",
        "change accept CHG-2026-1 priority=high risk=low Well understood upgrade", accept,
        (CHANGE, Arg("priority", "option", "urgent, high, medium or low", choices=PRIORITIES),
         Arg("risk", "option", "the assessed risk", required=False, choices=RISK_LEVELS),
         Arg("reason", "text", required=False))))
    reg.add(Command(("change", "reject"), "Step 2 (Secretariat, CAB): reject a request, "
                    "with the reason the centre reads.",
                    "change reject CHG-2026-1 Duplicate of CHG-2026-2", reject,
                    (CHANGE, Arg("reason", "text", "why it is rejected"))))
    reg.add(Command(("change", "assess"), "Step 2 (Secretariat, CAB): record the risk "
                    "assessment; without one the CAB cannot authorise a change.",
                    "change assess CHG-2026-1 risk=medium Rollback tested on staging", assess,
                    (CHANGE, Arg("risk", "option", "the assessed risk", choices=RISK_LEVELS),
                     Arg("assessment", "text", "what could go wrong, and how likely"))))
    reg.add(Command(("change", "decide"), "Step 3 (CAB members): authorise, refuse or "
                    "defer a change; the decision is recorded with your name.",
                    "change decide CHG-2026-1 authorise Outside the daily 00 UTC runs",
                    decide,
                    (CHANGE, Arg("decision", choices=DECISIONS, metavar="authorise|refuse|defer"),
                     Arg("note", "text", required=False))))
    reg.add(Command(("change", "tested"), "Step 4 (the requesting centre): the change "
                    "passed its tests.", "change tested CHG-2026-1 Passed on staging",
                    _step("tested"),
                    (CHANGE, Arg("text", "text", "the test result", metavar="result"))))
    reg.add(Command(("change", "implemented"), "Step 5 (the requesting centre): the change "
                    "is in production.", "change implemented CHG-2026-1",
                    _step("implemented"), (CHANGE, Arg("text", "text", required=False))))
    reg.add(Command(("change", "close"), "Step 6 (Secretariat, CAB): close after the "
                    "review.", "change close CHG-2026-1 Done as planned, no incident",
                    _step("close"), (CHANGE, Arg("text", "text", "the review", metavar="review"))))
    reg.add(Command(("change", "show"), "A change with its timeline.",
                    "change show CHG-2026-1", show, (CHANGE,)))
    reg.add(Command(("change", "list"), "Changes you may see (open by default).",
                    "change list all", list_,
                    (Arg("which", required=False, choices=("open", "all"), metavar="open|all"),)))
    reg.add(Command(("change", "calendar"), "Upcoming implementations: authorised changes "
                    "and their windows.", "change calendar", calendar))
    reg.add(Command(("change", "cab"), "CAB meetings and the changes waiting (Secretariat, "
                    "CAB); `schedule` adds a meeting, whose agenda wisbot posts before it.",
                    "change cab schedule 2026-03-05T10:00Z", cab,
                    (Arg("rest", "text", required=False, metavar="schedule <time>"),)))
