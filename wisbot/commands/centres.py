"""``incident centres <Member>``: the centre codes ``incident report`` takes, so an operator
who typed an unknown centre finds the right one without the directory file."""

from __future__ import annotations

import difflib
from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Arg, Command, Registry
from wisbot.errors import NotFound
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, bold


async def centres(ctx: Ctx, a: dict[str, Any]) -> Reply:
    directory = ctx.services.directory
    text = a["member"]
    member = directory.find_member(text)
    if member is None:
        # A centre code gives its Member's centres too.
        found = next((c for c in directory.centres if c.code.casefold() == text.casefold()),
                     None)
        if found is None:
            known = {x.casefold(): x for m in directory.members for x in (m.code, m.name)}
            close = difflib.get_close_matches(text.casefold(), list(known), n=3, cutoff=0.6)
            hint = _t(" (did you mean {code}?)",
                      code=", ".join(repr(known[c]) for c in close)) if close else ""
            raise NotFound(_t("unknown Member {given}{hint}", given=repr(text), hint=hint))
        member = directory.member(found.member)
    own = directory.centres_of(member.code)
    b = ReplyBuilder(_t("Centres of {name} ({code})", name=member.name, code=member.code))
    if not own:
        b.line(_t("None in the directory."))
    for c in own:
        b.line(bold(c.code), _t(" · {name} · {kind} · principal GISC {principal_gisc}",
                                name=c.name, kind=c.kind, principal_gisc=c.principal_gisc))
    return b.build()


def register(reg: Registry) -> None:
    reg.add(Command(
        ("incident", "centres"),
        "The WIS centres of a Member (code, name or acronym), with the codes `incident "
        "report` takes.", "incident centres DE", centres,
        (Arg("member", metavar="Member", help="a Member's code, name or acronym"),),
    ))
