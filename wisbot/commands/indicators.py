"""``incident ioc``, ``incident seen``, ``incident export`` and ``lessons export``."""

from __future__ import annotations

from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry
from wisbot.domain.indicators import TYPE_HELP, TYPES
from wisbot.errors import UsageError
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, Span
from wisbot.services.export import FORMATS, ExportService
from wisbot.services.indicators import IndicatorService

ID = Arg("id", metavar="incident", help="an incident number, e.g. WIS-SEC-2026-7")
FORMAT = Arg("format", "text", "--format misp (a MISP event) or --format stix (a STIX 2.1 "
             "bundle)", metavar="--format misp|stix")


def _indicators(ctx: Ctx) -> IndicatorService:
    incidents = ctx.services.incidents
    return IndicatorService(incidents.store, incidents.directory, incidents.clock, incidents)


def _exports(ctx: Ctx) -> ExportService:
    incidents = ctx.services.incidents
    return ExportService(incidents.store, incidents.directory, incidents)


async def ioc(ctx: Ctx, a: dict[str, Any]) -> Reply:
    service = _indicators(ctx)
    if a["action"] == "list":
        if a["type"] is not None or a["value"] is not None:
            raise UsageError(_t("`incident ioc list` takes only the incident number"))
        reply: Reply = await service.list(ctx.caller, a["id"])
        return reply
    if a["type"] is None or a["value"] is None:
        raise UsageError(_t("give the indicator's type and value, e.g. `incident ioc add "
                            "WIS-SEC-2026-7 domain evil.example`"))
    added: Reply = await service.add(ctx.caller, a["id"], a["type"], a["value"], a["note"])
    return added


async def seen(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await _indicators(ctx).seen(ctx.caller, a["id"], a["indicator"], a["note"])
    return reply


def _format(raw: str | None) -> str:
    """``--format stix``, ``--format=stix``, ``format=stix`` or ``stix``."""
    words = (raw or "").replace("=", " ").split()
    if words and words[0].lower() in ("--format", "format", "-f"):
        words = words[1:]
    if len(words) != 1 or words[0].lower() not in FORMATS:
        raise UsageError(_t("give the format: --format {formats}", formats='|'.join(FORMATS)))
    return words[0].lower()


async def export_incident(ctx: Ctx, a: dict[str, Any]) -> Reply:
    service = _exports(ctx)
    reply: Reply = await service.incident_file(ctx.caller, a["id"], _format(a["format"]))
    return await _deliver(ctx, service, reply)


async def export_lesson(ctx: Ctx, a: dict[str, Any]) -> Reply:
    service = _exports(ctx)
    reply: Reply = await service.lesson_file(ctx.caller, a["lesson"], _format(a["format"]))
    return await _deliver(ctx, service, reply)


async def _deliver(ctx: Ctx, service: ExportService, reply: Reply) -> Reply:
    """Slack answers a slash command through its response_url, which carries no file:
    there the file goes to the person's direct chat through the outbox."""
    if ctx.invocation.platform != "slack" or not reply.attachments:
        return reply
    await service.send_direct(ctx.caller.contact.id, reply)
    return reply.model_copy(update={"attachments": (), "lines": (
        *reply.lines, (Span(text=_t("The file is in your direct chat with wisbot.")),))})


def register(reg: Registry) -> None:
    reg.add(Command(
        ("incident", "ioc"),
        "Indicators of compromise of an incident: `add` one (type and value, an optional "
        "note), or `list` them. Shown defanged (hxxp://evil[.]example), never as a link; "
        "anonymised rooms read them only once the affected Member confirms.",
        "incident ioc add WIS-SEC-2026-7 domain evil.example seen in phishing mails",
        ioc,
        (Arg("action", choices=("add", "list"),
             choice_help={"add": "record an indicator", "list": "the indicators you may see"}),
         ID,
         Arg("type", required=False, choices=TYPES, choice_help=TYPE_HELP),
         Arg("value", required=False, metavar="value"),
         Arg("note", "text", "where or how it was seen", required=False)),
    ))
    reg.add(Command(
        ("incident", "seen"),
        "Seen here too: another centre's sighting of an incident (optionally of one of its "
        "indicators, I-n or its value). The affected Member and the WMO Secretariat are "
        "told; only the Secretariat and your own Member read that it was yours.",
        "incident seen WIS-SEC-2026-7 I-1 same sender at our mail gateway",
        seen,
        (ID, Arg("indicator", required=False, metavar="indicator"),
         Arg("note", "text", "what you saw", required=False)),
    ))
    reg.add(Command(
        ("incident", "export"),
        "The incident as a file a CSIRT tool ingests (a MISP event or a STIX 2.1 bundle), "
        "exactly as you may see it here, marked with its TLP.",
        "incident export WIS-SEC-2026-7 --format stix",
        export_incident, (ID, FORMAT),
    ))
    reg.add(Command(
        ("lessons", "export"),
        "A lesson learned as a MISP event or a STIX 2.1 note, as you may see it here.",
        "lessons export L-3 --format misp",
        export_lesson, (Arg("lesson", metavar="lesson", help="a lesson number, e.g. L-3"),
                        FORMAT),
    ))
