"""``audit …`` (audits of WIS centres, Annex 2), ``continuity …`` (continuity plans) and
``drill …`` (reachability drills): each one command whose verbs are parsed here, like
``escalate exchange``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry, Token, tokenize
from wisbot.domain.audits import OUTCOMES
from wisbot.errors import InvalidState, UsageError
from wisbot.i18n import N_, Lazy
from wisbot.i18n import _ as _t
from wisbot.reply import Reply
from wisbot.services.audits import parse_day

# Each line: the command's words (never translated) and what it does (translated).
AUDIT_LINES: tuple[tuple[str, Lazy | None], ...] = (
    ("audit request <centre> [remote] [responsible=<role>] [reaudit=<years>] "
     "<questionnaire>", None),
    ("audit team <audit> lead=<contact> expert=<contact> [members=<contact,contact>]", None),
    ("audit assess <audit>", N_("phase 2: the pre-audit assessment starts")),
    ("audit ask <audit> <text>", N_("the team asks the centre for more information")),
    ("audit answer <audit> <text>", N_("the centre answers")),
    ("audit satisfied <audit>", N_("the team is satisfied: the audit may proceed")),
    ("audit stop <audit> <reasons>", N_("the team recommends not to proceed")),
    ("audit schedule <audit> <date>",
     N_("phase 3: the two-day audit starts that working day")),
    ("audit meeting <audit> opening|closing", None),
    ('audit report <audit> outcome=compliant|conditions|not-compliant [conditions="a; b"] '
     "<text>", None),
    ("audit evidence <audit> handed|destroyed", None),
    ("audit show <audit> | audit list", None),
)
AUDIT_EXAMPLE = "audit request DE-OF-NC remote https://example.org/de-of-nc-self-assessment.pdf"


def audit_usage() -> str:
    """The usage of ``audit`` in the current language (its command words as they are)."""
    lines = [_t("Usage:")]
    for words, what in AUDIT_LINES:
        lines.append(f"  {words:<31} {what}" if what is not None else f"  {words}")
    lines.append(_t("Example: {example}", example=AUDIT_EXAMPLE))
    return "\n".join(lines)


def _usage(lines: tuple[str, ...], example: str) -> Callable[[], str]:
    """A usage in the current language: "Usage:" and "Example:" translated, the command
    lines as typed."""
    def text() -> str:
        return "\n".join([_t("Usage:"), *(f"  {line}" for line in lines),
                          _t("Example: {example}", example=example)])
    return text


CONTINUITY_USAGE = _usage((
    "continuity set <centre> services=<text> mto=<4h> rto=<2h> rpo=<1h> site=<text> "
    "contacts=<text> [every=<days>] [tested=<date>]",
    "continuity tested <centre> <date>",
    "continuity show <centre> | continuity list"),
    'continuity set DE-OF-NC services="GTS switch, OAI-PMH" mto=8h rto=4h rpo=1h '
    'site="Offenbach backup hall" contacts="24/7 desk +49 69 0000"')

DRILL_USAGE = _usage((
    "drill schedule <first YYYY-MM-DDTHH:MMZ> every=<days> | drill schedule off",
    "drill now <role|all>",
    "drill results [count]"),
    "drill schedule 2026-12-07T09:00Z every=30")


class _Words:
    """Positional words and key=value options of a verb's text; the rest is free text."""

    def __init__(self, raw: str, options: tuple[str, ...],
                 usage: str | Callable[[], str]) -> None:
        self.raw = raw
        self.usage = usage
        self.tokens: list[Token] = tokenize(raw)
        self.options: dict[str, str] = {}
        self.words: list[Token] = []
        for tok in self.tokens:
            key, eq, value = tok.value.partition("=")
            # `key="quoted value"`: the key itself is typed bare, the value quoted
            if eq and key.lower() in options and raw[tok.start:].lower().startswith(
                    f"{key.lower()}="):
                self.options[key.lower()] = value
            else:
                self.words.append(tok)

    def fail(self, problem: str) -> UsageError:
        usage = self.usage() if callable(self.usage) else self.usage
        return UsageError(f"{problem}\n{usage}")

    def word(self, i: int, what: str) -> str:
        if len(self.words) <= i:
            raise self.fail(_t("missing {what}", what=f"<{what}>"))
        return self.words[i].value

    def text(self, i: int, what: str) -> str:
        """The free text from positional word ``i`` on (options left out)."""
        if len(self.words) <= i:
            raise self.fail(_t("missing {what}", what=f"<{what}>"))
        rest = self.words[i:]
        if len(rest) == 1:
            return rest[0].value
        return " ".join(t.value for t in rest)

    def need(self, key: str) -> str:
        value = self.options.get(key)
        if not value:
            raise self.fail(_t("missing {what}", what=f"{key}="))
        return value


NOT_RUNNING: dict[str, Lazy] = {
    "audits": N_("audits are not running in this wisbot"),
    "continuity": N_("continuity plans and drills are not running in this wisbot"),
}


def _svc(ctx: Ctx, name: str) -> Any:
    svc = ctx.services.extra.get(name)
    if svc is None:
        raise InvalidState(str(NOT_RUNNING[name]) if name in NOT_RUNNING
                           else _t("{service} are not running in this wisbot", service=name))
    return svc


async def audit(ctx: Ctx, a: dict[str, Any]) -> Reply:
    w = _Words(a["what"] or "", ("responsible", "reaudit", "lead", "expert", "members",
                                 "outcome", "conditions"), audit_usage)
    svc = _svc(ctx, "audits")
    c = ctx.caller
    verb = w.word(0, "request|team|assess|ask|answer|satisfied|stop|schedule|meeting|"
                     "report|evidence|show|list").lower()
    reply: Reply
    if verb == "list":
        reply = await svc.list_cases(c)
    elif verb == "request":
        centre = w.word(1, "centre")
        mode = "onsite"
        start = 2
        if len(w.words) > 2 and w.words[2].value.lower() in ("remote", "onsite"):
            mode, start = w.words[2].value.lower(), 3
        years = w.options.get("reaudit", "4")
        if not (years.isascii() and years.isdigit() and 1 <= int(years) <= 10):
            raise w.fail(_t("reaudit= is a number of years from 1 to 10, not {given}",
                            given=repr(years)))
        reply = await svc.request(c, centre, w.text(start, "questionnaire"), mode=mode,
                                  responsible=w.options.get("responsible"),
                                  reaudit_years=int(years))
    else:
        ref = w.word(1, "audit")
        if verb == "show":
            reply = await svc.show(c, ref)
        elif verb == "team":
            others = [x.strip() for x in w.options.get("members", "").split(",") if x.strip()]
            reply = await svc.team(c, ref, w.need("lead"), w.need("expert"), others)
        elif verb == "assess":
            reply = await svc.assess(c, ref)
        elif verb == "ask":
            reply = await svc.ask(c, ref, w.text(2, "text"))
        elif verb == "answer":
            reply = await svc.answer(c, ref, w.text(2, "text"))
        elif verb == "satisfied":
            reply = await svc.satisfied(c, ref)
        elif verb == "stop":
            reply = await svc.stop(c, ref, w.text(2, "reasons"))
        elif verb == "schedule":
            reply = await svc.schedule(c, ref, parse_day(w.word(2, "date")))
        elif verb == "meeting":
            which = w.word(2, "opening|closing").lower()
            if which not in ("opening", "closing"):
                raise w.fail(_t("meeting is opening or closing, not {given}",
                                given=repr(which)))
            reply = await svc.meeting(c, ref, which)
        elif verb == "report":
            outcome = w.need("outcome").lower()
            if outcome not in OUTCOMES:
                raise w.fail(_t("outcome must be one of {choices}, not {given}",
                                choices=", ".join(OUTCOMES), given=repr(outcome)))
            reply = await svc.report(c, ref, outcome, w.options.get("conditions"),
                                     w.text(2, "report text"))
        elif verb == "evidence":
            what = w.word(2, "handed|destroyed").lower()
            if what not in ("handed", "destroyed"):
                raise w.fail(_t("evidence is handed or destroyed, not {given}",
                                given=repr(what)))
            reply = await svc.evidence(c, ref, what)
        else:
            raise w.fail(_t("unknown audit verb {given}", given=repr(verb)))
    return reply


async def continuity(ctx: Ctx, a: dict[str, Any]) -> Reply:
    w = _Words(a["what"] or "", ("services", "mto", "rto", "rpo", "site", "contacts",
                                 "every", "tested"), CONTINUITY_USAGE)
    svc = _svc(ctx, "continuity")
    c = ctx.caller
    verb = w.word(0, "set|tested|show|list").lower()
    reply: Reply
    if verb == "list":
        reply = await svc.list_plans(c)
    elif verb == "show":
        reply = await svc.show(c, w.word(1, "centre"))
    elif verb == "tested":
        reply = await svc.tested(c, w.word(1, "centre"), parse_day(w.word(2, "date")))
    elif verb == "set":
        every = w.options.get("every", "365")
        if not (every.isascii() and every.isdigit() and 1 <= int(every) <= 3660):
            raise w.fail(_t("every= is a number of days from 1 to 3660, not {given}",
                            given=repr(every)))
        tested = w.options.get("tested")
        reply = await svc.set_plan(
            c, w.word(1, "centre"), services=w.need("services"), mto=w.need("mto"),
            rto=w.need("rto"), rpo=w.need("rpo"), site=w.need("site"),
            contacts=w.need("contacts"), every=int(every),
            tested=parse_day(tested) if tested else None)
    else:
        raise w.fail(_t("unknown continuity verb {verb}", verb=repr(verb)))
    return reply


async def drill(ctx: Ctx, a: dict[str, Any]) -> Reply:
    w = _Words(a["what"] or "", ("every",), DRILL_USAGE)
    svc = _svc(ctx, "continuity")
    c = ctx.caller
    verb = w.word(0, "schedule|now|results").lower()
    reply: Reply
    if verb == "schedule":
        first = w.word(1, "first YYYY-MM-DDTHH:MMZ|off")
        if first.lower() == "off":
            reply = await svc.set_schedule(c, None, 0)
        else:
            try:
                at = datetime.fromisoformat(first.replace("Z", "+00:00"))
            except ValueError:
                raise w.fail(_t("{given} is not a time: use 2026-12-07T09:00Z",
                                given=repr(first))) from None
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            every = w.need("every")
            if not (every.isascii() and every.isdigit() and 1 <= int(every) <= 366):
                raise w.fail(_t("every= is a number of days from 1 to 366, not {given}",
                                given=repr(every)))
            reply = await svc.set_schedule(c, at.astimezone(UTC), int(every))
    elif verb == "now":
        reply = await svc.drill_now(c, w.word(1, "role|all"))
    elif verb == "results":
        n = w.words[1].value if len(w.words) > 1 else "5"
        if not (n.isascii() and n.isdigit() and 1 <= int(n) <= 50):
            raise w.fail(_t("count is a number from 1 to 50, not {given}", given=repr(n)))
        reply = await svc.results(c, int(n))
    else:
        raise w.fail(_t("unknown drill verb {verb}", verb=repr(verb)))
    return reply


def register(reg: Registry) -> None:
    reg.group("audit", N_("audits of WIS centres: request, pre-audit, audit, report"))
    reg.group("continuity", N_("continuity plans of WIS centres and their tests"))
    reg.group("drill", N_("reachability drills: test pages through every 24/7 chain"))
    reg.add(Command(("audit",), N_("An audit of a WIS centre in four phases; the report is "
                                   "read only by the centre, WMO and the responsible body."),
                    "audit request DE-OF-NC remote https://example.org/self-assessment.pdf",
                    audit, (Arg("what", "text", required=False, metavar="verb …"),)))
    reg.add(Command(("continuity",), N_("Record a centre's continuity plan essentials and "
                                        "its last test; reminders come before a test is due."),
                    "continuity tested DE-OF-NC 2026-11-30", continuity,
                    (Arg("what", "text", required=False, metavar="verb …"),)))
    reg.add(Command(("drill",), N_("Reachability drills (WMO Secretariat): a test page "
                                   "marked DRILL through every role's 24/7 chain."),
                    "drill now gisc:Tokyo", drill,
                    (Arg("what", "text", required=False, metavar="verb …"),)))
