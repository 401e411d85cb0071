"""``web login`` and ``web logout-all``: a one-time sign-in link for the web facility,
given only in the person's direct chat (the chat platform has proved who they are)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from wisbot.commands.dispatch import Ctx
from wisbot.commands.registry import Command, Registry
from wisbot.errors import UsageError
from wisbot.i18n import N_, _
from wisbot.reply import Reply, ReplyBuilder, code
from wisbot.store.web_tables import WebLoginToken  # noqa: F401  (the table is registered)


class _Bot:
    """What :class:`~wisbot.web.auth.WebAuth` needs of the App, from the services."""

    def __init__(self, services: Any) -> None:
        self.settings = services.settings
        self.store = services.store
        self.clock = services.clock
        self.directory = services.directory


def _auth(ctx: Ctx) -> Any:
    from wisbot.web.auth import WebAuth

    s = ctx.services
    found = s.extra.get("web_auth")
    return found if found is not None else WebAuth(_Bot(s))  # type: ignore[arg-type]


async def login(ctx: Ctx, a: dict[str, Any]) -> Reply:
    if ctx.caller.room is not None:
        raise UsageError(_("Ask for a sign-in link in your direct chat with wisbot, never "
                           "in a room: anyone there could use it."))
    raw = await _auth(ctx).issue_link(ctx.caller.contact.id, "chat")
    b = ReplyBuilder(_("Web sign-in"))
    base = ctx.services.settings.web_base_url
    if base:
        b.line(_("Open this link within 15 minutes; it works once: "),
               code(f"{base.rstrip('/')}/login/link/{quote(raw)}"))
    b.line(_("Or paste this code on the sign-in page: "), code(raw))
    b.line(_("Do not share it: it signs you in as yourself."))
    return b.build(private=True)


async def logout_all(ctx: Ctx, a: dict[str, Any]) -> Reply:
    from wisbot.web.auth import logout_all as revoke_all

    now = ctx.services.clock()
    n = await ctx.services.store.tx(lambda s: revoke_all(s, ctx.caller.contact.id, now))
    return ReplyBuilder(_("Web sign-in")).line(
        _("Signed out of the web facility everywhere ({count} session(s) ended).",
          count=n)).build(private=True)


def register(reg: Registry) -> None:
    reg.group("web", N_("sign in to the web facility"))
    reg.add(Command(("web", "login"), N_("In your direct chat with wisbot: a one-time link "
                                         "(and code) to sign in to the web facility, valid "
                                         "15 minutes."), "web login", login, ()))
    reg.add(Command(("web", "logout-all"), N_("End every web session of yours (every "
                                              "browser)."), "web logout-all", logout_all, ()))
