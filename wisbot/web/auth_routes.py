"""Signing in and out, the minimal home page and the Secretariat's access log.

Three ways to prove the chat identity the directory names (no password store): a Matrix
homeserver's OpenID token, Sign in with Slack, a one-time link e-mailed to the directory's
address or given by ``web login`` in a direct chat. Every way ends in :func:`_signed_in`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any
from urllib.parse import quote

from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from wisbot import i18n
from wisbot.domain.audience import holds_role
from wisbot.i18n import N_, _
from wisbot.store.web_tables import WebAccess
from wisbot.web.auth import LINK_LIFETIME, WebAuth, contact_by_email
from wisbot.web.providers import (
    SignInRefused,
    matrix_user,
    slack_authorize_url,
    slack_enabled,
    slack_user,
)
from wisbot.web.ui import page

log = logging.getLogger(__name__)
SLACK_STATE_COOKIE = "wisbot-slack-state"
ACCESS_KINDS = {"incident": N_("Incident"), "register": N_("Incident register"),
                "lesson": N_("Lesson"), "lessons": N_("Lessons library"),
                "ticket": N_("Watch ticket"), "page": N_("On-call page"),
                "report": N_("Annual report")}
"""What the access log's rows record (``wisbot.web.access``), in the reader's words."""
_mails: set[asyncio.Task[None]] = set()


def auth_of(request: Request) -> WebAuth:
    bot = request.state.bot
    found: WebAuth | None = bot.services.extra.get("web_auth")
    if found is None:
        found = WebAuth(bot)
        bot.services.extra["web_auth"] = found
    return found


def client_ip(request: Request) -> str:
    """The peer, or with a trusted proxy (uvicorn ``forwarded_allow_ips``) the browser."""
    return request.client.host if request.client else "unknown"


def base_url(request: Request) -> str:
    configured = request.state.bot.settings.web_base_url
    return (configured or str(request.base_url)).rstrip("/")


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _message(request: Request, title: Any, text: Any, status: int = 200) -> Response:
    return await page(request, "message.html", status_code=status, title=title, text=text)


async def _signed_in(request: Request, contact_id: str, method: str) -> Response:
    auth = auth_of(request)
    earlier = request.cookies.get(auth.session_cookie)
    if earlier:  # a new sign-in in this browser ends the session it had
        await auth.revoke(earlier)
    raw = await auth.create_session(contact_id, method)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(auth.session_cookie, raw, max_age=int(auth.session_lifetime
                                                              .total_seconds()),
                        httponly=True, secure=auth.secure, samesite="lax", path="/")
    log.info("web: %s signed in (%s)", contact_id, method)
    return response


async def _too_many(request: Request) -> Response:
    return await _message(request, lambda: _("Too many attempts"), lambda: _(
        "Too many sign-in attempts: wait 15 minutes and try again."), 429)


# ----- pages ----------------------------------------------------------------------------

async def home(request: Request) -> Response:
    """The minimal home page (the pages of the facility replace its content)."""
    caller = request.state.caller
    if caller is None:
        return RedirectResponse("/login", status_code=303)
    return await page(request, "home.html", title=lambda: _("Home"),
                      greeting=lambda: _("Signed in as {name}", name=i18n.iso(caller.contact.name)),
                      other_sessions=lambda: _("Sign out everywhere (every browser)"))


async def login_page(request: Request) -> Response:
    settings = request.state.bot.settings
    return await page(request, "login.html", slack=slack_enabled(settings),
                      words=_login_words)


def _login_words() -> dict[str, str]:
    return {
        "title": _("Sign in"),
        "intro": _("Sign in with the identity wisbot knows from the directory: your "
                   "Matrix or Slack account, or your e-mail address. There is no password."),
        "matrix": _("With Matrix"),
        "matrix_chat": _("Type “web login” in your direct chat with wisbot. It answers with "
                         "a link valid for 15 minutes; open it, or paste its code here."),
        "code": _("Sign-in code"),
        "openid": _("Or paste an OpenID token your Matrix client obtained for you."),
        "server": _("Homeserver name"),
        "token": _("OpenID token"),
        "slack": _("With Slack"),
        "slack_go": _("Sign in with Slack"),
        "email": _("By e-mail"),
        "email_intro": _("wisbot e-mails a link, valid for 15 minutes, to the address "
                         "the directory gives for you."),
        "address": _("E-mail address"),
        "send": _("Send the link"),
        "go": _("Sign in"),
    }


async def login_email(request: Request) -> Response:
    form = await _form(request)
    address = form.get("email", "").strip()[:320]
    if not await auth_of(request).attempt(client_ip(request), f"email:{address}"):
        return await _too_many(request)
    bot = request.state.bot
    contact = contact_by_email(bot.directory, address)
    if contact is not None:
        # Sent in the background: the answer and its timing are the same for an address
        # the directory does not know (no account enumeration).
        task = asyncio.create_task(_mail_link(request, contact.id, address))
        _mails.add(task)
        task.add_done_callback(_mails.discard)
    return await _message(request, lambda: _("Check your e-mail"), lambda: _(
        "If the directory knows this address, a sign-in link is on its way to it. It "
        "works once, within 15 minutes."))


async def _mail_link(request: Request, contact_id: str, address: str) -> None:
    from wisbot.services.languages import person_language
    from wisbot.services.mail import make_mailer

    bot = request.state.bot
    mailer = make_mailer(bot.settings)
    if mailer is None:
        log.error("web: no SMTP server (WISBOT_SMTP_HOST): no sign-in e-mail sent to %s",
                  contact_id)
        return
    try:
        raw = await auth_of(request).issue_link(contact_id, "email")
        configured = bot.settings.web_base_url
        minutes = int(LINK_LIFETIME.total_seconds() // 60)
        language = await bot.store.tx(lambda s: person_language(s, bot.directory, contact_id))
        with i18n.use(language):
            subject = _("wisbot: your sign-in link")
            if configured:
                link = f"{configured.rstrip('/')}/login/link/{quote(raw)}"
                body = _("Open this link to sign in to wisbot (it works once, within "
                         "{minutes} minutes):\n\n{link}\n\nIf you did not ask for it, "
                         "ignore this e-mail.", minutes=minutes, link=link)
            else:
                # No configured address: a link built from the request's Host header would
                # point wherever the asker chose, so the mail carries the code alone.
                body = _("Paste this sign-in code on wisbot's sign-in page, under "
                         "“Sign-in code” (it works once, within {minutes} minutes):\n\n"
                         "{code}\n\nIf you did not ask for it, ignore this e-mail.",
                         minutes=minutes, code=raw)
        await mailer.send(to=[address], cc=[], subject=subject, body=body)
    except Exception:
        log.exception("web: the sign-in e-mail to %s failed", contact_id)


async def link_page(request: Request) -> Response:
    """A link shows a button, and only the button's POST uses it up: a mail scanner that
    follows links does not spend it."""
    raw = request.path_params["token"]
    contact_id = await auth_of(request).peek_link(raw)
    if contact_id is None:
        return await _link_refused(request)
    # Name the account, and warn of the session it replaces: a link forwarded by someone
    # else must not make the reader work as its sender unawares.
    names = {c.id: c.name for c in request.state.bot.directory.contacts}
    account = names.get(contact_id, contact_id)
    caller = request.state.caller
    current = None if caller is None or caller.contact.id == contact_id else caller.contact.name
    return await page(request, "link.html", token=raw, title=lambda: _("Sign in"),
                      text=lambda: _("This link signs in to wisbot as {name}. Press the "
                                     "button only if this is you.", name=i18n.iso(account)),
                      warning=(None if current is None else lambda: _(
                          "You are signed in as {current}: signing in as {name} ends that "
                          "session in this browser.", current=i18n.iso(current),
                          name=i18n.iso(account))),
                      go=lambda: _("Sign in as {name}", name=i18n.iso(account)))


async def _link_refused(request: Request) -> Response:
    return await _message(request, lambda: _("Link not valid"), lambda: _(
        "This sign-in link was already used, has expired, or is not one wisbot gave. Ask "
        "for a new one."), 400)


async def login_link(request: Request) -> Response:
    raw = (await _form(request)).get("token", "").strip()
    auth = auth_of(request)
    if not await auth.attempt(client_ip(request), None):
        return await _too_many(request)
    if not raw or len(raw) > 100:
        return await _link_refused(request)
    found = await auth.redeem_link(raw)
    if found is None:
        return await _link_refused(request)
    return await _signed_in(request, found[0], found[1])


async def login_matrix(request: Request) -> Response:
    form = await _form(request)
    bot = request.state.bot
    server = form.get("server", "").strip()
    # Per IP only: the identity is known after the homeserver vouched (one homeserver's
    # people must not share one allowance).
    if not await auth_of(request).attempt(client_ip(request), None):
        return await _too_many(request)
    try:
        user_id = await matrix_user(bot.settings, server, form.get("token", ""))
    except SignInRefused as exc:
        reason = exc.args[0]  # translated below, in the reader's language
        return await _message(request, lambda: _("Not signed in"), lambda: _(
            "Matrix sign-in refused: {reason}.", reason=str(reason)), 400)
    contact = bot.directory.contact_by_chat("matrix", user_id)
    if contact is None:
        return await _unknown_person(request)
    if not await auth_of(request).spend_openid(contact.id, form.get("token", "")):
        return await _message(request, lambda: _("Not signed in"), lambda: _(
            "Matrix sign-in refused: {reason}.", reason=_(
                "the token was refused (expired, used or not from this server)")), 400)
    return await _signed_in(request, contact.id, "matrix")


async def _unknown_person(request: Request) -> Response:
    return await _message(request, lambda: _("Not signed in"), lambda: _(
        "This account is not in wisbot's directory: ask the WMO Secretariat to add it."), 403)


async def login_slack(request: Request) -> Response:
    settings = request.state.bot.settings
    if not slack_enabled(settings):
        return await _message(request, lambda: _("Not signed in"),
                              lambda: _("Sign in with Slack is not configured here."), 404)
    if not await auth_of(request).attempt(client_ip(request), None):
        return await _too_many(request)
    state, nonce = await auth_of(request).new_state()
    response = RedirectResponse(slack_authorize_url(
        settings, base_url(request) + "/login/slack/callback", state, nonce), status_code=303)
    # Lax: Slack's redirect back is a top-level navigation from another site.
    response.set_cookie(SLACK_STATE_COOKIE, state, max_age=600, httponly=True,
                        secure=auth_of(request).secure, samesite="lax", path="/login/slack")
    return response


async def slack_callback(request: Request) -> Response:
    bot = request.state.bot
    state = request.query_params.get("state", "")
    code = request.query_params.get("code", "")
    cookie = request.cookies.get(SLACK_STATE_COOKIE, "")
    nonce = None
    if state and cookie and hmac.compare_digest(state, cookie) and code:
        nonce = await auth_of(request).take_state(state)
    if nonce is None:
        return await _message(request, lambda: _("Not signed in"), lambda: _(
            "This Slack sign-in was not started in this browser, or took too long: start "
            "again."), 400)
    try:
        who = await slack_user(bot.settings, code, base_url(request)
                               + "/login/slack/callback", nonce)
    except SignInRefused as exc:
        reason = exc.args[0]  # translated below, in the reader's language
        return await _message(request, lambda: _("Not signed in"), lambda: _(
            "Slack sign-in refused: {reason}.", reason=str(reason)), 400)
    contact = bot.directory.contact_by_chat("slack", who.user_id)
    if contact is None:
        return await _unknown_person(request)
    response = await _signed_in(request, contact.id, "slack")
    response.delete_cookie(SLACK_STATE_COOKIE, path="/login/slack")
    return response


async def logout(request: Request) -> Response:
    auth = auth_of(request)
    raw = request.cookies.get(auth.session_cookie)
    if raw:
        await auth.revoke(raw)
    everywhere = (await _form(request)).get("everywhere") == "1"
    caller = request.state.caller
    if everywhere and caller is not None:
        await auth.logout_all(caller.contact.id)
    response = await _message(request, lambda: _("Signed out"), lambda: _(
        "You are signed out."))
    response.delete_cookie(auth.session_cookie, path="/", secure=auth.secure, httponly=True)
    return response


async def access_log(request: Request) -> Response:
    """Who opened which incident or page, when: the Secretariat's; anyone else gets the
    404 of a page that does not exist."""
    caller = request.state.caller
    if caller is None or not holds_role(caller.contact, "secretariat"):
        return await not_found(request)
    bot = request.state.bot
    who = request.query_params.get("contact", "").strip()

    def work(session: Session) -> list[WebAccess]:
        q = select(WebAccess).order_by(col(WebAccess.at).desc(), col(WebAccess.id).desc())
        if who:
            q = q.where(WebAccess.contact_id == who)
        return list(session.exec(q.limit(500)).all())

    rows = await bot.store.tx(work)
    names = {c.id: c.name for c in bot.directory.contacts}
    return await page(request, "access_log.html", rows=rows, names=names, who=who,
                      kinds=lambda: {k: str(v) for k, v in ACCESS_KINDS.items()},
                      words=lambda: {
                          "title": _("Access log"),
                          "intro": _("Who opened which incident or page, and when (the "
                                     "newest 500)."),
                          "when": _("When (UTC)"), "who": _("Who"), "what": _("What"),
                          "ref": _("Which"), "page": _("Page"), "filter": _("Contact id"),
                          "show": _("Show"), "none": _("Nothing recorded yet.")})


async def not_found(request: Request) -> Response:
    return await _message(request, lambda: _("Not found"),
                          lambda: _("There is no such page."), 404)


async def not_allowed(request: Request) -> Response:
    return await _message(request, lambda: _("Not possible here"), lambda: _(
        "This address does not answer this kind of request: use the site's links and "
        "forms."), 405)


def auth_routes() -> list[BaseRoute]:
    return [
        Route("/", home),
        Route("/login", login_page),
        Route("/login/email", login_email, methods=["POST"]),
        Route("/login/link/{token}", link_page),
        Route("/login/link", login_link, methods=["POST"]),
        Route("/login/matrix", login_matrix, methods=["POST"]),
        Route("/login/slack", login_slack),
        Route("/login/slack/callback", slack_callback),
        Route("/logout", logout, methods=["POST"]),
        Route("/access-log", access_log),
    ]
