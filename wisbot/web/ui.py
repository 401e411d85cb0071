"""Rendering a page in the reader's language: ``lang``/``dir`` of the base template, its
shared words (skip link, navigation, sign-out) and the CSRF token of every form.

Template text comes from Python through ``_()`` (extraction reads Python only), in
:func:`chrome`; a page passes its own words the same way.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from wisbot import i18n
from wisbot.domain.audience import holds_role
from wisbot.i18n import _


def request_language(request: Request) -> str:
    """The signed-in person's language (``language`` command, directory), else the
    browser's first language wisbot writes, else the deployment's."""
    language = getattr(request.state, "language", None)
    if isinstance(language, str):
        return language
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower().split("-")[0]
        if code in i18n.LANGUAGES:
            return code
    return i18n.default()


async def resolve_language(request: Request) -> str:
    caller = getattr(request.state, "caller", None)
    bot = getattr(request.state, "bot", None)
    if caller is not None and bot is not None and bot.store is not None:
        from wisbot.services.languages import person_language

        language = await bot.store.tx(
            lambda s: person_language(s, bot.directory, caller.contact.id))
        request.state.language = language
        return str(language)
    return request_language(request)


def chrome() -> dict[str, str]:
    """The base template's words, in the current language."""
    return {
        "site": _("WIS IT security"),
        "skip": _("Skip to the content"),
        "main_nav": _("Main"),
        "home": _("Home"),
        "sign_in": _("Sign in"),
        "sign_out": _("Sign out"),
        "access_log": _("Access log"),
        "signed_in_as": _("Signed in as {name}"),
    }


async def page(request: Request, template: str, status_code: int = 200,
               **context: Any) -> Response:
    """Render ``template`` for this request, in its reader's language."""
    from wisbot.web.app import TEMPLATES

    language = await resolve_language(request)
    with i18n.use(language):
        words = chrome()
        extra = {k: (v() if callable(v) else v) for k, v in context.items()}
        caller = getattr(request.state, "caller", None)
        return TEMPLATES.TemplateResponse(request, template, {
            "lang": language, "dir": "rtl" if i18n.is_rtl(language) else "ltr",
            "chrome": words, "csrf": getattr(request.state, "csrf", ""),
            "caller": caller,
            "is_secretariat": caller is not None and holds_role(caller.contact, "secretariat"),
            **extra}, status_code=status_code)
