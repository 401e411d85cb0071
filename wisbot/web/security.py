"""Headers on every response and the CSRF check on every POST.

CSRF is a double-submit token: a random cookie (SameSite=Strict, HttpOnly, ``__Host-`` when
secure) and the same value in each form's hidden ``csrf`` field, which a page of another
site can neither read nor set. A POST without a matching pair is refused with 403 before
any route runs.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from wisbot import i18n
from wisbot.i18n import _
from wisbot.web.ui import resolve_language

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
MAX_FORM = 1024 * 1024
"""Forms are small; a POST is read whole (the CSRF check) only below this."""
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecurityMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: object, *, secure: bool, csrf_cookie: str) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.secure = secure
        self.csrf_cookie = csrf_cookie

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        known = request.cookies.get(self.csrf_cookie) or ""
        token = known if 20 <= len(known) <= 100 else secrets.token_urlsafe(32)
        request.state.csrf = token
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            length = request.headers.get("content-length", "")
            if not length.isdigit() or int(length) > MAX_FORM:
                with i18n.use(await resolve_language(request)):
                    return self._finish(request, PlainTextResponse(_(
                        "This form is too large (or its length was not given)."),
                        status_code=413), token, known)
            sent = ""
            if request.headers.get("content-type", "").startswith(
                    ("application/x-www-form-urlencoded", "multipart/form-data")):
                await request.body()  # read whole first: the route reads it again
                form = await request.form()
                value = form.get("csrf")
                sent = value if isinstance(value, str) else ""
            if not known or not sent or not hmac.compare_digest(sent, known):
                with i18n.use(await resolve_language(request)):
                    response: Response = PlainTextResponse(_(
                        "This form has expired or did not come from this site: go back, "
                        "reload the page and send it again."), status_code=403)
                return self._finish(request, response, token, known)
        response = await call_next(request)
        return self._finish(request, response, token, known)

    def _finish(self, request: Request, response: Response, token: str,
                known: str) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            # Every page may show what only its reader may see: never stored on the way.
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        if token != known:
            response.set_cookie(self.csrf_cookie, token, httponly=True, secure=self.secure,
                                samesite="strict", path="/")
        return response
