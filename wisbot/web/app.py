"""The web application: Starlette with Jinja2 templates, no third-party assets.

``build_web_app`` is the composition point. ``authenticate`` maps a request to the
directory contact it proves (sessions, see ``wisbot.web.auth``); tests may inject one.
Every page reads ``request.state.caller``: a :class:`~wisbot.services.context.Caller`
with no room, so the person's own view applies (the same as their direct chat).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from wisbot.directory import Contact
from wisbot.domain.audience import person_roles
from wisbot.services.context import Caller
from wisbot.web.auth import cookie_names
from wisbot.web.security import SecurityMiddleware

if TYPE_CHECKING:
    from wisbot.app import App

Authenticate = Callable[[Request], Awaitable[Contact | None]]

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
STATIC = Path(__file__).parent / "static"


async def _nobody(request: Request) -> Contact | None:
    return None


class CallerMiddleware(BaseHTTPMiddleware):
    """Sets ``request.state.caller`` (or ``None``) from the authenticate seam."""

    def __init__(self, app: object, *, bot: App, authenticate: Authenticate) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.bot = bot
        self.authenticate = authenticate

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        # Static files are the same for everyone: no session lookup for them.
        static = request.url.path.startswith("/static/")
        contact = None if static else await self.authenticate(request)
        request.state.bot = self.bot
        request.state.caller = None if contact is None else Caller(
            contact=contact, room=None, platform="web",
            roles=person_roles(self.bot.directory, contact))
        return await call_next(request)


async def _not_found(request: Request, exc: Exception) -> Response:
    """Every unknown address gets the one 404 page a hidden record gets too."""
    from wisbot.web.auth_routes import not_found

    return await not_found(request)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    """A GET of a form's address (or a POST to a page): said in the reader's language,
    with the methods the address takes."""
    from wisbot.web.auth_routes import not_allowed

    response = await not_allowed(request)
    response.headers.update(getattr(exc, "headers", None) or {})
    return response


def build_web_app(bot: App, routes: Sequence[BaseRoute] = (), *,
                  authenticate: Authenticate | None = None) -> Starlette:
    """The web facility over a running (or started) :class:`~wisbot.app.App`: security
    headers and the CSRF check on everything (``wisbot.web.security``), ``/static``."""
    secure = not getattr(bot.settings, "web_dev", False)
    static = Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static")
    # The caller is known before the CSRF check, so a refused form is explained in the
    # signed-in person's language (the check itself does not depend on who it is).
    return Starlette(routes=[*routes, static],
                     exception_handlers={404: _not_found, 405: _not_allowed}, middleware=[
        Middleware(CallerMiddleware, bot=bot, authenticate=authenticate or _nobody),
        Middleware(SecurityMiddleware, secure=secure, csrf_cookie=cookie_names(secure)[1])])
