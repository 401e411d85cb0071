"""``wisbot status``: the operator's view (leader, replicas, adapters, outbox, dead letters,
held rooms, open pages, scheduled runs, who is on call), for the Secretariat only.

The operator commands sit under ``wisbot`` (``/wisbot status`` on Slack): a top-level
``status`` would be a ``/status`` slash command, which Slack reserves for its own and
rejects in an app manifest."""

from __future__ import annotations

from typing import Any

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Command, Registry
from wisbot.errors import DirectoryError, InvalidState, NotAllowed
from wisbot.i18n import _ as _t
from wisbot.reply import Reply, ReplyBuilder, bold
from wisbot.services.status import Status, collect


def _secretariat_only(ctx: Ctx, what: str) -> None:
    """Refuse anyone else with the same words whatever the state, and the Secretariat in
    a room others sit in (held rooms, pages and on-call names are not theirs to read)."""
    caller = ctx.caller
    if not caller.is_secretariat:
        raise NotAllowed(_t("`{what}` is for the WMO Secretariat.", what=what))
    if caller.room is not None and caller.room.role != "secretariat":
        raise NotAllowed(_t("ask for `{what}` in the Secretariat room or a direct conversation "
                            "with wisbot.", what=what))


async def status(ctx: Ctx, a: dict[str, Any]) -> Reply:
    _secretariat_only(ctx, "wisbot status")
    s = ctx.services
    adapters = s.extra.get("adapter_states")
    states = adapters() if callable(adapters) else None
    now = s.clock()
    result: Status = await s.store.tx(
        lambda session: collect(session, s.directory, s.settings, now, adapters=states))
    return result.reply(s.directory)


async def reload(ctx: Ctx, a: dict[str, Any]) -> Reply:
    _secretariat_only(ctx, "wisbot reload")
    run = ctx.services.extra.get("reload")
    if run is None:
        raise InvalidState(_t("this wisbot cannot reload its directory"))
    try:
        changes: list[str] = await run()
    except DirectoryError as exc:
        b = ReplyBuilder(_t("Directory not reloaded"), kind="error")
        b.line(_t("{source} was refused; wisbot keeps the directory and incident models it has:",
                  source=exc.source))
        for problem in exc.problems:
            b.line(f"  • {problem}")
        return b.build(private=True)
    b = ReplyBuilder(_t("Directory reloaded"))
    d = ctx.services.directory
    b.line(bold(_t("{count} Members, {count_b} centres, {count_c} contacts, {count_d} rooms.",
                   count=len(d.members), count_b=len(d.centres), count_c=len(d.contacts),
                   count_d=len(d.rooms))))
    for line in changes or [_t("No change.")]:
        b.line(line)
    return b.build(private=True)


def register(reg: Registry) -> None:
    reg.group("wisbot", "wisbot itself: its state, reloading the directory (WMO Secretariat)")
    reg.add(Command(
        ("wisbot", "status"),
        "wisbot's own state: leader and replicas, adapters, outbox depth and age, dead "
        "letters, held rooms, open pages and their next step, last and next scheduled "
        "runs, who is on call now. WMO Secretariat only.",
        "wisbot status", status))
    reg.add(Command(
        ("wisbot", "reload"),
        "Load the directory file again without a restart (like SIGHUP): a file with errors "
        "is refused and the directory in use stays; nothing queued is dropped. WMO "
        "Secretariat only.",
        "wisbot reload", reload))
