"""``escalate exchange``: the near-real-time exchange dispute procedure (Annex 6).

Registered as the two-word path ``escalate exchange`` (``escalate <incident>`` and
``escalate oncall`` belong to paging); the case sub-verbs are parsed here:

* ``escalate exchange <metadata-id> <provider centre> [scope=…] <concern>`` – open (stage 1)
* ``escalate exchange <case> agreed <text>`` – closed by agreement (stage 1 or 2)
* ``escalate exchange <case> consult`` – stage 2, every other GISC is asked
* ``escalate exchange <case> accept|object [reason]`` – a GISC's answer (replaces its last)
* ``escalate exchange <case> refer [note]`` – stage 3, to the working group
* ``escalate exchange <case> resolve <outcome>`` – the conclusion reported
* ``escalate exchange list [open|all]``, ``escalate exchange show <case>``
"""

from __future__ import annotations

import difflib
from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry, tokenize
from wisbot.domain.exchange import SCOPES, looks_like_case
from wisbot.errors import UsageError
from wisbot.i18n import N_
from wisbot.i18n import _ as _t
from wisbot.reply import Reply

VERBS = ("agreed", "consult", "accept", "object", "refer", "resolve")
EXAMPLE = ("escalate exchange urn:x-wmo:md:int.wmo.wis::HHXA50EDZW DE-OF-NC "
           "scope=GlobalExchange 40 GB a day of NWP fields")
# The command lines are command words (never translated); what each does is.
USAGE_LINES: tuple[tuple[str, str], ...] = (
    ("escalate exchange <metadata-id> <provider centre> "
     "[scope=GlobalExchange|RegionalExchange|OriginatingCentre] <concern>",
     N_("open a case (stage 1: discussion with the provider); the provider's principal "
        "GISC or the Secretariat")),
    ("escalate exchange <case> agreed <text>", N_("closed: provider and GISC(s) agree")),
    ("escalate exchange <case> consult",
     N_("stage 2: the provider maintains its position; every other GISC is asked")),
    ("escalate exchange <case> accept|object [reason]",
     N_("a GISC's answer (a later one replaces it)")),
    ("escalate exchange <case> refer [note]",
     N_("stage 3: the case file goes to the working group")),
    ("escalate exchange <case> resolve <outcome>", N_("the working group's conclusion")),
    ("escalate exchange list [open|all]", N_("cases you may see")),
    ("escalate exchange show <case>", N_("the case file")),
)


def usage() -> str:
    """The usage in the reader's language (the commands as they are typed)."""
    lines = [_t("Usage:")]
    for command, what in USAGE_LINES:
        lines += [f"  {command}", f"      {what}"]
    lines.append(_t("Example: {example}", example=EXAMPLE))
    return "\n".join(lines)


def _usage(problem: str) -> UsageError:
    return UsageError(f"{problem}\n{usage()}")


async def handler(ctx: Ctx, a: dict[str, Any]) -> Reply:
    raw: str = a.get("what") or ""
    tokens = tokenize(raw)
    words = [t.value for t in tokens]
    svc = ctx.services.exchange

    def rest(n: int) -> str:
        if len(tokens) <= n:
            return ""
        if len(tokens) == n + 1 and tokens[n].quoted:
            return tokens[n].value
        return raw[tokens[n].start:].strip()

    if not words:
        raise _usage(_t("escalate exchange needs a case, a record to open one about, list or "
                         "show."))
    first = words[0].lower()
    reply: Reply
    if first == "list":
        which = words[1].lower() if len(words) > 1 else "open"
        if which not in ("open", "all") or len(words) > 2:
            raise _usage(_t("list takes open or all, not {given}",
                             given=repr(' '.join(words[1:]))))
        reply = await svc.list(ctx.caller, which)
        return reply
    if first == "show":
        if len(words) != 2:
            raise _usage(_t("show takes one case number, e.g. WIS-NRT-2026-1"))
        reply = await svc.show(ctx.caller, words[1])
        return reply
    if looks_like_case(words[0]):
        if len(words) < 2:
            raise _usage(_t("what about {case}? Give one of {verbs}, or use "
                            "`escalate exchange show {case}`", case=words[0],
                            verbs=', '.join(VERBS)))
        verb = words[1].lower()
        text = rest(2)
        if verb == "consult":
            if text:
                raise _usage(_t("consult takes no text"))
            reply = await svc.consult(ctx.caller, words[0])
        elif verb in ("accept", "object"):
            reply = await svc.answer(ctx.caller, words[0], verb, text)
        elif verb == "agreed":
            reply = await svc.agreed(ctx.caller, words[0], text)
        elif verb == "refer":
            reply = await svc.refer(ctx.caller, words[0], text)
        elif verb == "resolve":
            reply = await svc.resolve(ctx.caller, words[0], text)
        elif verb == "show":
            reply = await svc.show(ctx.caller, words[0])
        else:
            close = difflib.get_close_matches(verb, VERBS, n=1)
            hint = _t(" (did you mean {word}?)", word=close[0]) if close else ""
            raise _usage(_t("unknown case action {given}{hint}", given=repr(words[1]),
                            hint=hint))
        return reply
    if len(words) < 3:
        raise _usage(_t("to open a case give the record's metadata identifier, the provider "
                        "centre and the concern"))
    scope: str | None = None
    n = 2
    key, eq, value = words[2].partition("=")
    if eq and not tokens[2].quoted and key.lower() == "scope":
        matches = [s for s in SCOPES if s.casefold() == value.strip().casefold()]
        if not matches:
            close = difflib.get_close_matches(value, SCOPES, n=1)
            hint = _t(" (did you mean {word}?)", word=close[0]) if close else ""
            raise _usage(_t("scope must be one of {scopes}, not {given}{hint}",
                            scopes=', '.join(SCOPES), given=repr(value), hint=hint))
        scope = matches[0]
        n = 3
    concern = rest(n)
    if not concern:
        raise _usage(_t("missing <concern>: say what is abnormal (volume, frequency, "
                        "load)"))
    reply = await svc.open_case(ctx.caller, words[0], words[1], scope, concern)
    return reply


class _ExchangeCommand(Command):
    def usage_text(self) -> str:
        return usage()


def register(reg: Registry) -> None:
    if "escalate" not in reg.summaries:
        reg.group("escalate", N_("escalate now; near-real-time exchange disputes "
                                 "(`escalate exchange`)"))
    reg.add(_ExchangeCommand(
        ("escalate", "exchange"),
        N_("Near-real-time exchange disputes: open a case about a record, consult the GISCs, "
           "refer to the working group."),
        "escalate exchange urn:x-wmo:md:int.wmo.wis::HHXA50EDZW DE-OF-NC 40 GB a day",
        handler,
        (Arg("what", "text", required=False, metavar="case or record ..."),),
    ))
