"""``models`` and ``incident check``: incident models and the checklist they attach."""

from __future__ import annotations

from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry
from wisbot.domain import rsit
from wisbot.domain.incident_models import IncidentModel, IncidentModels
from wisbot.domain.severity import severity
from wisbot.i18n import _
from wisbot.reply import Reply, ReplyBuilder, Span, bold, code, user
from wisbot.services.checklists import Checklists


def models_of(ctx: Ctx) -> IncidentModels:
    models: IncidentModels = ctx.services.extra["incident_models"]
    return models


def model_for(ctx: Ctx, key: str | None) -> IncidentModel | None:
    """The model named in ``incident report … model=<key>`` (a clear error if unknown)."""
    return models_of(ctx).get(key) if key else None


HERE = "\x00"
"""Where a command goes in a translated sentence: the sentence is cut there and the command
shown as code wherever the language puts it."""


def with_model(reply: Reply, model: IncidentModel, number: str, level: int) -> Reply:
    """The reporter's answer with the model's suggested severity (in its words, with why)
    and the checklist to tick off. The model's title, why and checklist are data (the
    models file, in the Secretariat's words): shown as they are written."""
    lines: list[tuple[Span, ...]] = [(bold(_("Incident model: ")), user(model.title)),]
    if model.severity != level:
        lines.append((bold(_("Suggested severity: ")),
                      Span(text=f"{severity(model.severity).words} – "), user(model.why),
                      Span(text=" " + _("To set it: ")),
                      code(f"severity {number} {model.severity} <reason>")))
    before, _here, after = _("Checklist (tick with {command}):", command=HERE).partition(HERE)
    lines.append((bold(before), code(f"incident check {number} <n>"), bold(after)))
    lines += [(Span(text=f"☐ {i}. "), user(item)) for i, item in enumerate(model.checklist, 1)]
    return reply.model_copy(update={"lines": (*reply.lines, *lines), "private": True})


async def list_models(ctx: Ctx, a: dict[str, Any]) -> Reply:
    models = models_of(ctx)
    if a["model"]:
        m = models.get(a["model"])
        b = ReplyBuilder(f"{m.key} – {m.title}")  # the title: the models file's words
        b.field(_("Classification (RSIT)"), rsit.words(m.rsit))
        b.field(_("Suggested severity"), f"{severity(m.severity).words} – {m.why}")
        for i, item in enumerate(m.checklist, 1):
            b.line(f"{i}. ", user(item))
        b.line(code(f"incident report <centre> share=… model={m.key} <summary>"))
        return b.build(private=True)
    b = ReplyBuilder(_("Incident models"))
    for m in models.models.values():
        b.line(bold(m.key), Span(text=" – "), user(m.title), Span(text=f" · {m.rsit} · "),
               Span(text=severity(m.severity).words))
    b.line(_("Details: `models <name>`; use one: `incident report <centre> share=… "
             "model=<name> <summary>`."))
    return b.build(private=True)


async def check(ctx: Ctx, a: dict[str, Any]) -> Reply:
    return await Checklists(ctx.services.incidents).check(ctx.caller, a["id"], a["n"])


def register(reg: Registry) -> None:
    reg.group("models", "incident models: classification, severity and checklist")
    reg.add(Command(
        ("models",), "The incident models (`incident report … model=<name>` uses one), or "
        "one model with its checklist.", "models phishing", list_models,
        (Arg("model", required=False, metavar="name"),)))
    reg.add(Command(
        ("incident", "check"),
        "Tick item n of the checklist of an incident reported with a model (the timeline "
        "keeps who and when); without n, show the checklist.",
        "incident check WIS-SEC-2026-7 2", check,
        (Arg("id", metavar="incident", help="an incident number, e.g. WIS-SEC-2026-7"),
         Arg("n", required=False, metavar="n", int_range=(1, 99),
             help="the item's number")),
    ))
