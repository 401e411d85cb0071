"""``incident``: report, update, resolve, close, reopen, share, show, list, query, answer."""

from __future__ import annotations

from typing import Any

from wisbot.commands import kedb, models
from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry
from wisbot.directory import Directory
from wisbot.domain import rsit
from wisbot.domain.confidentiality import SHARE_HELP, Share, Vis
from wisbot.domain.severity import DEFAULT_LEVEL
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, Reveal, Span, bold
from wisbot.services import widening
from wisbot.services.consent import has_anonymised_audience
from wisbot.services.incidents import Told
from wisbot.services.limits import summary_refusal
from wisbot.services.lists import WHICH
from wisbot.services.render import exposure, headline_words, incident_reply, incident_tlp

SHARES = tuple(s.value for s in Share)
SHARE_ARG = Arg("share", "option", "who may be told; required, there is no default",
                choices=SHARES, choice_help={s.value: SHARE_HELP[s] for s in Share})
LIST_HELP = {"open": "not yet resolved (the default)",
             "resolved": "resolved or closed", "closed": "the same as resolved",
             "all": "open, resolved and closed"}
ID = Arg("id", metavar="incident", help="an incident number, e.g. WIS-SEC-2026-7")


def told_reply(ctx: Ctx, told: Told, verb: str) -> Reply:
    inc = told.incident
    vis = ctx.caller.sees(exposure(inc))
    if vis is Vis.NONE:
        # Typed where the incident may not be shown: confirm without any detail.
        return ReplyBuilder(f"{inc.number} – {headline_words(verb)}",
                            tlp=incident_tlp(inc)).reveal(
            inc.number, named=False).line(
            _t("This room may not see this incident; the rooms entitled to it were told.")
        ).build(private=True)
    base = incident_reply(ctx.services.directory, inc, vis, verb)
    lines = list(base.lines)
    if vis is Vis.NAMED and told.asked_share is not None:
        lines.append((bold(_t("Sharing: ")), Span(text=_t(
            "recorded as {recorded}, not {asked}: only the focal points of the affected "
            "Member ({member}) may let more people know (`incident share {number} {asked}`); "
            "its room was told.", recorded=Share.SECRETARIAT.value,
            asked=told.asked_share.value, member=inc.member, number=inc.number))))
    if vis is Vis.NAMED:
        lines.append((bold(_t("Told, in order: ")),))
        for room, room_vis in told.rooms:
            how = _t("anonymised") if room_vis is Vis.ANONYMOUS else _t("named")
            lines.append((bold(f"  {room.key}"), Span(text=" ("), Span(
                text=f"{room.role}, {room.platform}", style="code"), Span(text=f", {how})")))
        warning = anonymity_warning(ctx.services.directory, inc.principal_gisc) \
            if inc.anonymous else None
        if warning:
            lines.append((bold(_t("Warning: ")), Span(text=warning)))
        if inc.anon_summary is None and has_anonymised_audience(ctx.services.directory,
                                                                exposure(inc)):
            lines.append((bold(_t("Anonymised rooms: ")), Span(text=_t(
                "they read none of the Member's words until a focal point of the "
                "affected Member confirms the wording shown in its room "
                "(`incident confirm {number}`).", number=inc.number))))
    return base.model_copy(update={"lines": tuple(lines), "private": True,
                                   "reveals": (Reveal(incident=inc.number,
                                                      named=vis is Vis.NAMED),)})


def anonymity_warning(directory: Directory, gisc: str) -> str | None:
    """Anonymity is thin when the GISC's area holds a single Member: the label names it."""
    members = {c.member for c in directory.centres if c.principal_gisc == gisc}
    if len(members) > 1:
        return None
    return _t("GISC {gisc}'s area has only one Member in the directory, so 'a WIS centre in "
              "the area of GISC {gisc}' identifies it to those who know the area. Consider "
              "a narrower share.", gisc=gisc)


async def report(ctx: Ctx, a: dict[str, Any]) -> Reply:
    refused = summary_refusal(a["summary"])
    if refused is not None:
        return refused
    model = models.model_for(ctx, a.get("model"))
    cls = rsit.parse(a["class"]) if a.get("class") else None
    if cls is None and model is not None:  # the model pre-fills the classification
        cls = rsit.parse(model.rsit)
    level = a["sev"] if a["sev"] is not None else DEFAULT_LEVEL
    told = await ctx.services.incidents.report(
        ctx.caller, a["centre"], Share.parse(a["share"]), level, bool(a["anonymous"]),
        a["summary"], rsit=cls, model=model)
    reply = told_reply(ctx, told, "reported")
    if model is not None and ctx.caller.sees(exposure(told.incident)) is Vis.NAMED:
        reply = models.with_model(reply, model, told.incident.number, level)
    return await kedb.with_suggestions(ctx, reply, a["summary"])


async def classify(ctx: Ctx, a: dict[str, Any]) -> Reply:
    told = await ctx.services.incidents.classify(ctx.caller, a["id"], rsit.parse(a["class"]))
    return told_reply(ctx, told, "classified")


def _change(kind: str, verb: str) -> Any:
    async def handler(ctx: Ctx, a: dict[str, Any]) -> Reply:
        told = await ctx.services.incidents.update(ctx.caller, a["id"], a.get("text") or "",
                                                   kind=kind)
        reply = told_reply(ctx, told, verb)
        return await kedb.with_suggestions(ctx, reply, a.get("text") or "") \
            if kind == "update" else reply

    return handler


async def share(ctx: Ctx, a: dict[str, Any]) -> Reply:
    anonymous = None if a["naming"] is None else a["naming"] == "anonymous"
    question = await widening.gate(ctx.services).share(
        ctx.caller, a["id"], Share.parse(a["level"]), anonymous, bool(a["confirm"]))
    if question is not None:
        return question
    told = await ctx.services.incidents.share(ctx.caller, a["id"], Share.parse(a["level"]),
                                              anonymous)
    return told_reply(ctx, told, "sharing changed")


async def show(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await ctx.services.incidents.show(ctx.caller, a["id"])
    return reply


async def list_(ctx: Ctx, a: dict[str, Any]) -> Reply:
    cls = rsit.parse_filter(a["class"]) if a.get("class") else None
    reply: Reply = await ctx.services.incidents.list(ctx.caller, a["which"] or "open",
                                                     a["centre"], a["sev"], cls,
                                                     sort=a["sort"] or "number")
    return reply


async def query(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await ctx.services.incidents.query(ctx.caller, a["subject"])
    return reply


async def confirm(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await ctx.services.incidents.confirm(ctx.caller, a["id"], a["n"])
    return reply


async def anon_text(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await ctx.services.incidents.anon_text(ctx.caller, a["id"], a["n"],
                                                          a["text"])
    return reply


async def answer(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await ctx.services.incidents.answer(ctx.caller, a["query"], a["text"])
    return reply


def register(reg: Registry) -> None:
    reg.group("incident", "report and follow IT-security incidents")
    sev = Arg("sev", "option", "severity, default 2", required=False, int_range=(0, 5))
    reg.add(Command(
        ("incident", "report"),
        "Open an incident (default: Security incident severity 2 – Under investigation). "
        "Assess who may be told: share= is required.",
        "incident report DE-OF-NC share=principal-gisc sev=3 Phishing mails to operators",
        report,
        (Arg("centre", help="the affected WIS centre's code"), SHARE_ARG,
         Arg("class", "option", "the RSIT classification, e.g. fraud/phishing",
             required=False, metavar="class/type"),
         Arg("model", "option", "an incident model (`models`): classification, suggested "
             "severity and a checklist", required=False, metavar="name"), sev,
         Arg("anonymous", "flag", required=False,
             help="rooms beyond the Secretariat and principal GISC read 'a WIS centre in "
                  "the area of GISC X'"),
         Arg("summary", "text", "what happened, in a sentence")),
    ))
    for kind, name, verb, text_required, helptext in (
        ("update", "update", "updated", True, "Add an update to the timeline"),
        ("resolved", "resolve", "resolved", False, "Mark the incident resolved"),
        ("closed", "close", "closed", False, "Close the incident"),
        ("reopened", "reopen", "reopened", False, "Reopen a resolved or closed incident"),
    ):
        args: tuple[Arg, ...] = (ID,) if name == "close" else (
            ID, Arg("text", "text", "what changed", required=text_required))
        reg.add(Command(("incident", name), f"{helptext}; the incident's rooms are told.",
                        f"incident {name} WIS-SEC-2026-7" +
                        (" Malware removed, monitoring" if name != "close" else ""),
                        _change(kind, verb), args))
    reg.add(Command(
        ("incident", "share"),
        "Change who may be told. Narrowing (the Secretariat or the affected Member) is "
        "immediate; widening (only the affected Member's focal points) first says how many "
        "rooms and organisations will read it, then needs `confirm`.",
        "incident share WIS-SEC-2026-7 group anonymous",
        share,
        (ID, Arg("level", choices=SHARES, choice_help={s.value: SHARE_HELP[s] for s in Share}),
         Arg("naming", "flag", required=False, choices=("anonymous", "named")),
         Arg("confirm", "flag", "confirm a widening asked for just before", required=False)),
    ))
    reg.add(Command(("incident", "show"), "The incident and its timeline, as you may see it "
                    "here.", "incident show WIS-SEC-2026-7", show, (ID,)))
    reg.add(Command(
        ("incident", "list"), "Incidents you may see here, one line each with a short "
        "summary (the whole one: `incident show`); sev=2 lists severity 2 and above.",
        "incident list open sev=3", list_,
        (Arg("which", required=False, choices=tuple(WHICH), choice_help=LIST_HELP,
             metavar="|".join(WHICH)),
         Arg("centre", "option", required=False, metavar="code"),
         Arg("sev", "option", "minimum severity: sev=2 lists severity 2 and above",
             required=False, int_range=(0, 5)),
         Arg("class", "option", "an RSIT class or class/type", required=False,
             metavar="class[/type]"),
         Arg("sort", "option", "sightings: most seen elsewhere first", required=False,
             choices=("number", "sightings"))),
    ))
    reg.add(Command(
        ("incident", "classify"),
        "Classify with the Reference Security Incident Taxonomy (RSIT) used by CSIRTs, "
        "e.g. fraud/phishing, intrusions/system-compromise, availability/ddos; the "
        "incident's rooms are told; an unknown class gets the nearest ones.",
        "incident classify WIS-SEC-2026-7 fraud/phishing", classify,
        (ID, Arg("class", metavar="class/type")),
    ))
    reg.add(Command(
        ("incident", "query"),
        "Heard of a possible incident at a centre or Member? Shows what you may see, "
        "else asks the WMO Secretariat.",
        "incident query DE-OF-NC", query, (Arg("subject", metavar="centre or Member"),),
    ))
    reg.add(Command(
        ("incident", "confirm"),
        "Affected Member: confirm the wording anonymised rooms will read of your summary, "
        "an update or a lesson (review #n, or all waiting). Until then they read none of it.",
        "incident confirm WIS-SEC-2026-7 2", confirm,
        (ID, Arg("n", required=False, metavar="n", int_range=(1, 10**6),
                 help="the review number from the request (default: every one waiting)")),
    ))
    reg.add(Command(
        ("incident", "anon-text"),
        "Affected Member: give anonymised rooms your own wording instead of review #n's.",
        "incident anon-text WIS-SEC-2026-7 2 Phishing mails reached a centre's operators",
        anon_text,
        (ID, Arg("n", metavar="n", int_range=(1, 10**6), help="the review number"),
         Arg("text", "text", "what anonymised rooms read")),
    ))
    reg.add(Command(("incident", "answer"), "Secretariat: answer a query; the answer is "
                    "posted where it was asked.", "incident answer Q-3 No incident is known",
                    answer, (Arg("query", metavar="query"), Arg("text", "text"))))
