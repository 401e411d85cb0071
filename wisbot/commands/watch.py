"""``watch``: the GISC Watch – summary, probes, tickets, roster, handover, report, escalate."""

from __future__ import annotations

from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry, tokenize
from wisbot.domain.numbers import whole_number
from wisbot.domain.watch import STATE_WORDS, Impact, TicketState
from wisbot.errors import NotAllowed, UsageError
from wisbot.i18n import _ as _t
from wisbot.i18n_stored import REASONS
from wisbot.reply import Reply, ReplyBuilder, Span, user
from wisbot.services.watch import parse_day

MOVES = {"triage": TicketState.TRIAGE, "todo": TicketState.TODO,
         "progress": TicketState.PROGRESS, "review": TicketState.REVIEW,
         "done": TicketState.DONE}
TICKET_USAGE = ("watch ticket add <GISC> <finding> [impact=very-high|high|medium] · "
                "watch ticket <n> triage|todo|progress|review|done [note] · "
                "watch ticket <n> assign <who> · watch ticket <n>")


def _watcher(ctx: Ctx) -> None:
    c = ctx.caller
    if not (c.is_secretariat or c.contact.giscs or "watch" in c.contact.roles):
        raise NotAllowed(_t("GISC Watch is for GISC focal points, watch operators and the WMO "
                            "Secretariat"))


async def summary(ctx: Ctx, a: dict[str, Any]) -> Reply:
    _watcher(ctx)
    reply: Reply = await ctx.services.watch.summary()
    return reply


async def probe(ctx: Ctx, a: dict[str, Any]) -> Reply:
    _watcher(ctx)
    outcome = await ctx.services.watch.run("manual", a["target"])
    results = outcome.results
    if not results:
        raise UsageError(_t("nothing to probe for {target!r}: no service URL is configured",
                            target=a['target']))
    b = ReplyBuilder(_t("Probe results ({sum}/{count} OK)",
                        sum=sum(r.ok for r in results), count=len(results)))
    for r in results:
        latency = _t("{ms} ms", ms=round(r.latency_ms)) if r.latency_ms is not None else "–"
        figure = f", {r.figure:,.0f}" if r.figure is not None else ""
        line = f"{r.centre} / {r.service.value}: {r.status.value} ({latency}{figure})"
        # the probe's reason in the reader's language (a server's own words as they came)
        b.line(*((Span(text=line + " – "), user(REASONS.words(r.reason))) if r.reason
                 else (line,)))
    if outcome.opened:
        b.line(_t("Tickets opened: ") + ", ".join(f"#{n}" for n in outcome.opened))
    return b.build(private=True)


async def ticket(ctx: Ctx, a: dict[str, Any]) -> Reply:
    raw: str = a["rest"] or ""
    tokens = tokenize(raw)
    if not tokens:
        raise UsageError(_t("missing the ticket command. Usage: {ticket_usage}",
                            ticket_usage=TICKET_USAGE))
    svc = ctx.services.watch
    first = tokens[0].value
    if first.lower() == "add":
        if len(tokens) < 3:
            raise UsageError(_t("give the GISC and the finding. Usage: {ticket_usage}",
                                ticket_usage=TICKET_USAGE))
        impact = Impact.MEDIUM
        words = [t for t in tokens[2:]]
        kept = []
        for t in words:
            key, eq, value = t.value.partition("=")
            if eq and not t.quoted and key.lower() == "impact":
                try:
                    impact = Impact.parse(value)
                except ValueError as exc:
                    raise UsageError(str(exc)) from None
            else:
                kept.append(t)
        if not kept:
            raise UsageError(_t("the finding is missing, e.g. `watch ticket add Tokyo OAI "
                                "provider not active`"))
        finding = raw[kept[0].start:kept[-1].end].strip().strip("\"'")
        reply: Reply = await svc.add_ticket(ctx.caller, tokens[1].value, finding, impact)
        return reply
    number = whole_number(first.lstrip("#"))
    if number is None:
        raise UsageError(_t("{first!r} is not a ticket number. Usage: {ticket_usage}",
                            first=first, ticket_usage=TICKET_USAGE))
    if len(tokens) == 1:
        shown: Reply = await svc.show_ticket(number)
        return shown
    verb = tokens[1].value.lower()
    rest = raw[tokens[2].start:].strip() if len(tokens) > 2 else ""
    if verb == "assign":
        if not rest:
            raise UsageError(_t("assign to whom? A GISC or a contact id, e.g. `watch ticket 3 "
                                "assign Tokyo`"))
        assigned: Reply = await svc.assign_ticket(ctx.caller, number, rest)
        return assigned
    if verb not in MOVES:
        raise UsageError(_t("unknown ticket action {verb!r}: use {moves} or assign", verb=verb,
                            moves=", ".join(f"{k} ({STATE_WORDS[v]})"
                                            for k, v in MOVES.items())))
    moved: Reply = await svc.move_ticket(ctx.caller, number, MOVES[verb], rest)
    return moved


async def roster(ctx: Ctx, a: dict[str, Any]) -> Reply:
    raw: str = a["rest"] or ""
    tokens = [t.value for t in tokenize(raw)]
    svc = ctx.services.watch
    if not tokens:
        shown: Reply = await svc.roster(None)
        return shown
    if tokens[0].lower() == "set":
        if len(tokens) < 4:
            raise UsageError(_t("usage: watch roster set <from> <to> <GISC>, e.g. `watch "
                                "roster set 2026-04-01 2026-04-15 Toulouse`"))
        start, end = parse_day(tokens[1]), parse_day(tokens[2])
        gisc = raw[tokenize(raw)[3].start:].strip().strip("\"'")
        changed: Reply = await svc.set_roster(ctx.caller, start, end, gisc)
        return changed
    roster_year = whole_number(tokens[0], 9999) if len(tokens) == 1 else None
    if roster_year is not None and len(tokens[0]) == 4:
        year: Reply = await svc.roster(roster_year)
        return year
    raise UsageError(_t("usage: watch roster [year] · watch roster set <from> <to> <GISC>"))


async def handover(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply, _problem = await ctx.services.watch.handover(ctx.caller, a["note"] or "")
    result: Reply = reply
    return result


async def accept(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await ctx.services.watch.accept(ctx.caller)
    return reply


async def escalate(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await ctx.services.watch.escalate(ctx.caller, a["text"])
    return reply


async def report(ctx: Ctx, a: dict[str, Any]) -> Reply:
    _watcher(ctx)
    start = parse_day(a["from"]) if a["from"] else None
    end = parse_day(a["to"]) if a["to"] else None
    rep = await ctx.services.watch.report(start, end)
    reply: Reply = ctx.services.watch.report_reply(rep)
    return reply.model_copy(update={"private": True})


def register(reg: Registry) -> None:
    reg.group("watch", "GISC Watch: daily probes, tickets, roster, handover, report")
    reg.add(Command(("watch",), "Duty GISC, watch period, today's probe summary, open tickets.",
                    "watch", summary))
    reg.add(Command(("watch", "probe"), "Probe now: every GISC and WIS 2.0 service, or one "
                    "GISC, one service kind (oaipmh, sru, portal, gdc, broker, cache, monitor, "
                    "wismon) or one WIS 2.0 service id.", "watch probe Tokyo", probe,
                    (Arg("target", required=False, metavar="GISC|service"),)))
    reg.add(Command(("watch", "ticket"), "Watch tickets: " + TICKET_USAGE,
                    "watch ticket add Tokyo OAI provider not active impact=high", ticket,
                    (Arg("rest", "text", required=False, metavar="add …|<n> …"),)))
    reg.add(Command(("watch", "roster"), "The roster of a year; `set` (Secretariat) puts a "
                    "GISC on duty for a period.", "watch roster set 2026-04-01 2026-04-15 "
                    "Toulouse", roster, (Arg("rest", "text", required=False,
                                             metavar="year|set <from> <to> <GISC>"),)))
    reg.add(Command(("watch", "handover"), "Duty GISC: send the period report to the next "
                    "GISC (room, e-mail, page); you stay on watch until it accepts.",
                    "watch handover Ticket 3 needs follow-up", handover,
                    (Arg("note", "text", required=False),)))
    reg.add(Command(("watch", "accept"), "Incoming GISC: accept the handover.",
                    "watch accept", accept))
    reg.add(Command(("watch", "escalate"), "Escalate a GISC Watch matter to the ET-WISOP "
                    "chair.", "watch escalate GISC X unreachable for two weeks", escalate,
                    (Arg("text", "text", "what needs escalating"),)))
    reg.add(Command(("watch", "report"), "The summary report (template table, Global "
                    "Services at start and end, ticket activity); default: this period.",
                    "watch report 2026-03-01 2026-03-15", report,
                    (Arg("from", required=False, metavar="from"),
                     Arg("to", required=False, metavar="to"))))
