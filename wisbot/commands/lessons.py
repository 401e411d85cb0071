"""``lessons``: add, confirm, list, search."""

from __future__ import annotations

from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry
from wisbot.reply import Reply
from wisbot.services import widening
from wisbot.services.lessons import LESSON_SHARES


async def add(ctx: Ctx, a: dict[str, Any]) -> Reply:
    if a["share"] == "named":
        question = await widening.gate(ctx.services).lesson(ctx.caller, a["id"], a["text"])
        if question is not None:
            return question
    reply: Reply = await ctx.services.lessons.add(ctx.caller, a["id"], a["share"] or "none",
                                                  a["text"])
    return reply


async def release(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await ctx.services.lessons.release(ctx.caller, a["lesson"])
    return reply


async def confirm(ctx: Ctx, a: dict[str, Any]) -> Reply:
    text = await widening.gate(ctx.services).take_lesson(ctx.caller, a["id"])
    reply: Reply = await ctx.services.lessons.add(ctx.caller, a["id"], "named", text)
    return reply


async def list_(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await ctx.services.lessons.list(ctx.caller, a["id"])
    return reply


async def search(ctx: Ctx, a: dict[str, Any]) -> Reply:
    reply: Reply = await ctx.services.lessons.search(ctx.caller, a["words"])
    return reply


def register(reg: Registry) -> None:
    reg.group("lessons", "lessons learned, shared named, anonymised or kept")
    reg.add(Command(
        ("lessons", "add"),
        "After resolution, record a lesson. share=none (default) keeps it for the Member and "
        "the Secretariat; anonymous shares it without naming the Member; named names it.",
        "lessons add WIS-SEC-2026-7 share=anonymous Rotate VPN keys after staff changes", add,
        (Arg("id", metavar="incident"),
         Arg("share", "option", required=False, choices=LESSON_SHARES,
             choice_help={"none": "only the affected Member and the Secretariat",
                          "anonymous": "the whole group, without naming the Member",
                          "named": "the whole group, naming the Member (only its "
                                   "focal points may choose it)",
                          "public": "everyone, TLP:CLEAR, anonymised: only once the "
                                    "affected Member releases it (`lessons release`)"}),
         Arg("text", "text", "the lesson")),
    ))
    reg.add(Command(
        ("lessons", "release"),
        "Release a lesson recorded share=public to everyone (TLP:CLEAR): the affected "
        "Member's focal points, or the WMO Secretariat when the Member asked for it.",
        "lessons release L-3", release, (Arg("lesson", metavar="lesson"),)))
    reg.add(Command(("lessons", "confirm"), "Record the named lesson you asked for just "
                    "before (a named lesson first says who will read it).",
                    "lessons confirm WIS-SEC-2026-7", confirm,
                    (Arg("id", metavar="incident"),)))
    reg.add(Command(("lessons", "list"), "Lessons you may see, or those of one incident.",
                    "lessons list WIS-SEC-2026-7", list_,
                    (Arg("id", required=False, metavar="incident"),)))
    reg.add(Command(("lessons", "search"), "Full-text search of the lessons you may see.",
                    "lessons search phishing vpn", search, (Arg("words", "text"),)))
